"""Weights stored by layer name, beside a project in ``<name>.runs/``.

Keyed by layer name rather than by position, so a project whose graph was edited still gets
the weights of every layer that kept its name and shapes.

File layout (HDF5): one group per layer name (percent-encoded), datasets ``0``, ``1``, ... in the order of
``layer.get_weights()``; the file attribute ``format`` is ``studio.weights``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

FORMAT = "studio.weights"


def layer_weights(model) -> dict[str, list[np.ndarray]]:
    """``{layer name: weights}`` for the top-level layers of a model that have weights."""
    out: dict[str, list[np.ndarray]] = {}
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            out[layer.name] = weights
    return out


def save_weights(weights: dict[str, list[np.ndarray]], path: str | Path) -> None:
    """Write atomically: a temporary file beside ``path``, then a rename."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            for name, arrays in weights.items():
                group = f.create_group(quote(name, safe=""))
                for i, a in enumerate(arrays):
                    group.create_dataset(str(i), data=a)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_weights(path: str | Path) -> dict[str, list[np.ndarray]]:
    import h5py

    out: dict[str, list[np.ndarray]] = {}
    with h5py.File(path, "r") as f:
        for key, group in f.items():
            out[unquote(key)] = [group[str(i)][()] for i in range(len(group))]
    return out


def apply_weights(model, weights: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Set the weights of every layer whose name and shapes match.

    Returns:
        ``{"loaded": [...], "skipped": {layer: reason}}``.
    """
    loaded: list[str] = []
    skipped: dict[str, str] = {}
    for layer in model.layers:
        arrays = weights.get(layer.name)
        if arrays is None:
            continue
        current = layer.get_weights()
        if [tuple(a.shape) for a in current] != [tuple(a.shape) for a in arrays]:
            skipped[layer.name] = "the shapes of its weights changed"
            continue
        layer.set_weights(arrays)
        loaded.append(layer.name)
    return {"loaded": loaded, "skipped": skipped}


def weights_from_model_file(path: str | Path, graph=None) -> dict[str, list[np.ndarray]]:
    """Load a ``.keras``/``.h5`` model with safe mode on and take its weights by layer.
    ``graph``: a project whose (trusted) code defines the model's custom layers."""
    from studio.engine import load_keras

    keras = load_keras()
    objects = None
    if graph is not None and getattr(graph, "code", None):
        from studio.engine.custom import custom_objects

        objects = custom_objects(graph)
    model = keras.saving.load_model(
        str(path), custom_objects=objects, compile=False, safe_mode=True
    )
    return layer_weights(model)
