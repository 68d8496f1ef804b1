"""Datasets Studio generates from a fixed seed: pure NumPy, so that both the engine (which
loads them as bundled data sources) and the script generator (which writes their source into
an exported script, so that the script trains on the same data) can use them.

Each function returns ``(fields, classes, description)``: arrays of equal length by field
name, the class names of label fields, and one line for the Data panel. Each runs in well
under a second and gives the same arrays on every call.
"""

from __future__ import annotations

import numpy as np


def multi_io() -> tuple[dict, dict, str]:
    """Two inputs, two targets, generated from a fixed seed.

    Eight hidden factors drive everything: ``input1`` mixes the first four, ``input2`` the
    other four (each feature standard normal: 90 % signal, 10 % noise), so a model needs
    both inputs. ``regression`` is a fixed linear function of all eight factors plus a little
    noise, ``classification`` the argmax of a fixed linear map of them to 5 classes. A small
    MLP learns both (about 90 % accuracy).
    """
    rng = np.random.default_rng(20240611)
    n = 2000
    factors = rng.standard_normal((n, 8))

    def mix(part: np.ndarray, width: int) -> np.ndarray:
        weights = rng.standard_normal((part.shape[1], width))
        weights *= np.sqrt(0.9 / (weights**2).sum(axis=0))  # each feature: variance 0.9 ...
        noise = np.sqrt(0.1) * rng.standard_normal((n, width))  # ... plus 0.1 of noise
        return (part @ weights + noise).astype("float32")

    input1 = mix(factors[:, :4], 64)
    input2 = mix(factors[:, 4:], 128)
    regression = factors @ rng.standard_normal((8, 1)) / np.sqrt(8)
    regression = (regression + 0.1 * rng.standard_normal((n, 1))).astype("float32")
    classification = np.argmax(factors @ rng.standard_normal((8, 5)), axis=1).astype("int32")
    return (
        {
            "input1": input1,
            "input2": input2,
            "regression": regression,
            "classification": classification,
        },
        {"classification": [str(i) for i in range(5)]},
        (
            "Generated multi-input data: 2,000 samples, inputs of 64 and 128 numbers, "
            "a regression target and 5 classes"
        ),
    )


def shapes_segmentation() -> tuple[dict, dict, str]:
    """600 grey 32x32 images of 1-3 filled circles and rectangles on a noisy background;
    ``mask`` marks the shapes' pixels (1) against the background (0)."""
    rng = np.random.default_rng(20240612)
    n, side = 600, 32
    yy, xx = np.mgrid[0:side, 0:side]
    images = np.empty((n, side, side), dtype="float32")
    masks = np.zeros((n, side, side), dtype="float32")
    for i in range(n):
        image = rng.uniform(0.0, 0.3, size=(side, side))  # background with noise
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.integers(4, side - 4, size=2)
            if rng.random() < 0.5:
                r = rng.integers(3, 8)
                shape = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            else:
                h, w = rng.integers(3, 8, size=2)
                shape = (abs(yy - cy) <= h) & (abs(xx - cx) <= w)
            image[shape] = rng.uniform(0.6, 1.0) + rng.normal(0.0, 0.05, size=int(shape.sum()))
            masks[i][shape] = 1.0
        images[i] = image
    return (
        {"image": np.clip(images, 0, 1)[..., None], "mask": masks[..., None]},
        {},
        (
            "Generated shapes for segmentation: 600 grey 32x32 images of circles and "
            "rectangles in 0..1, a 0/1 mask of the shapes' pixels for each"
        ),
    )


def timeseries() -> tuple[dict, dict, str]:
    """Windows of 30 steps of a noisy series with two seasons (12 and 50 steps) and a slow
    trend; ``next`` is the value right after each window."""
    rng = np.random.default_rng(20240613)
    steps, width = 2030, 30
    t = np.arange(steps, dtype="float64")
    series = (
        np.sin(2 * np.pi * t / 12)
        + 0.5 * np.sin(2 * np.pi * t / 50)
        + 0.3 * np.sin(2 * np.pi * t / 500)
        + 0.1 * rng.standard_normal(steps)
    )
    index = np.arange(steps - width)[:, None] + np.arange(width)[None, :]
    windows = series[index][..., None].astype("float32")  # (2000, 30, 1)
    target = series[width:][:, None].astype("float32")  # (2000, 1)
    return (
        {"window": windows, "next": target},
        {},
        (
            f"Generated time series: {len(windows):,} windows of 30 steps of a noisy series "
            "with seasons of 12 and 50 steps; the target is the next value"
        ),
    )


def interactions() -> tuple[dict, dict, str]:
    """8,000 ratings of 100 items by 200 users, from 4 hidden taste factors per user and
    item: rating = 3 + 1.2 * (user . item) + noise, clipped to 1..5; ``clicked`` is
    rating >= 3.5."""
    rng = np.random.default_rng(20240614)
    users, items, n, k = 200, 100, 8000, 4
    taste = rng.standard_normal((users, k)) / np.sqrt(k) * 1.5
    traits = rng.standard_normal((items, k)) / np.sqrt(k) * 1.5
    user = rng.integers(0, users, size=n)
    item = rng.integers(0, items, size=n)
    score = (taste[user] * traits[item]).sum(axis=1)
    rating = np.clip(3 + 1.2 * score + 0.3 * rng.standard_normal(n), 1, 5)
    return (
        {
            "user": user[:, None].astype("int32"),
            "item": item[:, None].astype("int32"),
            "rating": rating[:, None].astype("float32"),
            "clicked": (rating >= 3.5).astype("int32"),
        },
        {"clicked": ["no", "yes"]},
        (
            "Generated interactions: 8,000 ratings (1..5) of 100 items by 200 users, "
            "from hidden tastes an embedding model can learn"
        ),
    )


def shapes_rgb() -> tuple[dict, dict, str]:
    """900 colour 32x32 images (0..255) of one circle, square or triangle each, in a random
    colour on a random background; ``label`` is the shape."""
    rng = np.random.default_rng(20240615)
    n, side = 900, 32
    yy, xx = np.mgrid[0:side, 0:side]
    labels = np.arange(n) % 3
    rng.shuffle(labels)
    images = np.empty((n, side, side, 3), dtype="float32")
    for i, label in enumerate(labels):
        background = rng.uniform(0, 255, size=3)
        colour = (background + rng.uniform(80, 175, size=3)) % 256  # differs from the background
        cy, cx = rng.integers(10, side - 10, size=2)
        r = rng.integers(5, 10)
        if label == 0:
            shape = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif label == 1:
            shape = (abs(yy - cy) <= r * 0.85) & (abs(xx - cx) <= r * 0.85)
        else:  # a triangle pointing up
            shape = (yy >= cy - r) & (yy <= cy + r) & (abs(xx - cx) <= (yy - (cy - r)) / 2)
        image = np.empty((side, side, 3))
        image[:] = background
        image[shape] = colour
        images[i] = np.clip(image + rng.normal(0, 8, size=image.shape), 0, 255)
    return (
        {"image": images, "label": labels.astype("int32")},
        {"label": ["circle", "square", "triangle"]},
        (
            "Generated colour shapes: 900 32x32 RGB images (0..255) of circles, squares "
            "and triangles, 3 classes"
        ),
    )


#: Bundled source name -> generator.
GENERATORS = {
    "multi_io": multi_io,
    "shapes_segmentation": shapes_segmentation,
    "timeseries": timeseries,
    "interactions": interactions,
    "shapes_rgb": shapes_rgb,
}
