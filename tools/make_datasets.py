"""Write Studio's small bundled datasets in resources/datasets/.

Run ``python tools/make_datasets.py``; ``--check`` exits 1 when a committed file differs from
what this script writes. Only the standard library is used, and every random choice comes
from a ``random.Random`` with a fixed seed, so the output is the same on every machine.

``reviews.csv`` holds about 2,000 short, made-up product reviews (columns ``text,label``,
labels ``negative``/``positive``) for the text-classification example. Reviews are composed
from word lists so that no single word separates the classes: most reviews mention good and
bad aspects, adjectives are negated ("not bad", "not great"), some reviews carry no verdict
at all and a few labels are flipped, as in real data. A bag-of-words or LSTM model still
learns the labels to about 90 % accuracy.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASETS = ROOT / "resources" / "datasets"

SEED = 20240611
REVIEWS = 2000
LABEL_NOISE = 0.03  # share of reviews whose label is flipped

PRODUCTS = [
    "headphones",
    "phone",
    "blender",
    "kettle",
    "backpack",
    "lamp",
    "keyboard",
    "mouse",
    "speaker",
    "charger",
    "jacket",
    "tent",
    "camera",
    "watch",
    "toaster",
    "vacuum",
    "drill",
    "monitor",
    "printer",
    "mattress",
    "chair",
    "desk",
    "router",
    "tablet",
    "coffee maker",
]
ASPECTS = [
    "battery",
    "screen",
    "sound",
    "price",
    "build",
    "design",
    "fit",
    "material",
    "delivery",
    "packaging",
    "setup",
    "app",
    "cable",
    "buttons",
    "motor",
    "handle",
    "finish",
    "size",
    "weight",
    "manual",
    "warranty",
    "color",
    "zipper",
    "lid",
    "noise level",
    "customer service",
]
GOOD = [
    "great",
    "excellent",
    "solid",
    "sturdy",
    "reliable",
    "fantastic",
    "lovely",
    "superb",
    "perfect",
    "impressive",
    "decent",
    "nice",
    "good",
    "wonderful",
    "smooth",
    "quick",
]
BAD = [
    "poor",
    "flimsy",
    "terrible",
    "awful",
    "cheap",
    "disappointing",
    "noisy",
    "weak",
    "horrible",
    "bad",
    "useless",
    "slow",
    "broken",
    "mediocre",
    "annoying",
    "faulty",
]
INTENSIFIERS = ["", "", "", "really ", "very ", "quite ", "pretty ", "surprisingly "]
GOOD_VERDICTS = [
    "Would buy again.",
    "Highly recommend.",
    "Five stars.",
    "Love it.",
    "Worth every penny.",
    "Very happy with it.",
    "Exactly what I needed.",
    "Great value overall.",
    "Glad I bought it.",
    "My family loves it.",
]
BAD_VERDICTS = [
    "Returned it.",
    "Would not recommend.",
    "One star.",
    "Waste of money.",
    "Very disappointed.",
    "Not worth the price.",
    "Avoid this one.",
    "Sent it back.",
    "Regret buying it.",
    "Stopped working after a week.",
]
MIXED_VERDICTS = [
    "It does the job.",
    "Hard to say more yet.",
    "We will see how it lasts.",
    "Nothing special.",
    "It is okay I guess.",
    "Time will tell.",
]
FILLERS = [
    "Bought this for my son.",
    "Got it as a gift.",
    "Arrived on Tuesday.",
    "I use it every day.",
    "Ordered the blue one.",
    "My second one from this brand.",
    "Replaced my old one.",
    "Took a while to arrive.",
    "Bought it on sale.",
    "Using it at work.",
    "",
]


def _clause(rng: random.Random, good: bool) -> str:
    """One sentence about one aspect, good or bad; sometimes through a negation."""
    aspect = rng.choice(ASPECTS)
    if rng.random() < 0.12:  # "not bad" is mildly good, "not great" is bad
        word = rng.choice(BAD if good else GOOD)
        return rng.choice([f"The {aspect} is not {word}.", f"The {aspect} was not {word} at all."])
    word = rng.choice(GOOD if good else BAD)
    intensity = rng.choice(INTENSIFIERS)
    return rng.choice(
        [
            f"The {aspect} is {intensity}{word}.",
            f"{intensity.capitalize() or ''}{word if intensity else word.capitalize()} {aspect}.",
            f"The {aspect} feels {intensity}{word}.",
            f"I found the {aspect} {intensity}{word}.",
        ]
    )


def _review(rng: random.Random, positive: bool) -> str:
    parts = []
    if rng.random() < 0.5:
        parts.append(rng.choice(FILLERS))
    product = rng.choice(PRODUCTS)
    if rng.random() < 0.4:
        parts.append(
            f"This {product} is {rng.choice(['', 'mostly ', 'overall '])}"
            f"{rng.choice(GOOD if positive else BAD)}."
        )
    # Two or three aspects; each agrees with the review's sentiment four times in five.
    for _ in range(rng.choice([2, 2, 3])):
        parts.append(_clause(rng, positive if rng.random() < 0.8 else not positive))
    roll = rng.random()
    if roll < 0.65:
        parts.append(rng.choice(GOOD_VERDICTS if positive else BAD_VERDICTS))
    elif roll < 0.75:
        parts.append(rng.choice(MIXED_VERDICTS))
    return " ".join(p for p in parts if p)


def reviews_csv() -> str:
    """The text of reviews.csv: a header and REVIEWS rows, half of each label."""
    rng = random.Random(SEED)
    rows = []
    for i in range(REVIEWS):
        positive = i % 2 == 0
        text = _review(rng, positive)
        if rng.random() < LABEL_NOISE:
            positive = not positive
        rows.append((text, "positive" if positive else "negative"))
    rng.shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue()


FILES = {"reviews.csv": reviews_csv}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for name, make in FILES.items():
        path = DATASETS / name
        text = make()
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {path.relative_to(ROOT)} ({len(text.encode('utf-8')):,} bytes)")
    if stale:
        print(
            f"out of date: {', '.join(stale)} (run python tools/make_datasets.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
