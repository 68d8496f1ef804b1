"""The editor's side panels: layer palette, inspector, problems and model summary.

Each panel is a plain ``QWidget`` that the main window puts in a dock:

* :class:`PaletteWidget` (``palette.py``): every layer of the catalog, searchable; items drag
  onto the canvas with the :data:`LAYER_MIME` mime type.
* :class:`InspectorWidget` (``inspector.py``): the selected node's name and parameters, as a
  form generated from the catalog; every edit is an undoable command, checked by the
  validator before it is pushed.
* :class:`ProblemsWidget` (``problems.py``): the validator's diagnostics and Keras' shape
  errors.
* :class:`SummaryWidget` (``summary.py``): a table like ``model.summary()``.

Panels that show shapes take the engine's ``ShapeResult`` through ``set_shapes(result)`` and
read it duck-typed, so the UI never imports the engine (nor TensorFlow). The widget classes
are imported lazily, so ``from studio.ui.panels import ERROR_COLOR`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QPalette

#: Mime type of a palette drag: the layer type name, UTF-8.
LAYER_MIME = "application/x-studio-layer"

#: Text colour for errors; a mid red that reads on light and dark window backgrounds.
ERROR_COLOR = QColor("#e5484d")
#: Text colour for warnings; an amber that reads on light and dark backgrounds.
WARNING_COLOR = QColor("#c77700")

_LAZY = {
    "PaletteWidget": "palette",
    "InspectorWidget": "inspector",
    "ProblemsWidget": "problems",
    "SummaryWidget": "summary",
}

__all__ = [
    "ERROR_COLOR",
    "LAYER_MIME",
    "WARNING_COLOR",
    "InspectorWidget",
    "PaletteWidget",
    "ProblemsWidget",
    "SummaryWidget",
    "format_count",
    "muted_color",
    "format_shape",
    "format_outputs",
    "readable_size",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def muted_color(palette: QPalette) -> QColor:
    """Secondary text: the text colour 40% of the way to the background, in any theme."""
    a = palette.color(QPalette.ColorRole.WindowText)
    b = palette.color(QPalette.ColorRole.Window)
    t = 0.4
    return QColor.fromRgbF(
        a.redF() * (1 - t) + b.redF() * t,
        a.greenF() * (1 - t) + b.greenF() * t,
        a.blueF() * (1 - t) + b.blueF() * t,
    )


def format_shape(shape: Any) -> str:
    """``(None, 28, 28, 1)`` as Keras prints a shape; ``?`` when unknown."""
    if shape is None:
        return "?"
    if isinstance(shape, (list, tuple)):
        dims = ["None" if d is None else str(d) for d in shape]
        if len(dims) == 1:
            return f"({dims[0]},)"
        return "(" + ", ".join(dims) + ")"
    return str(shape)


def format_outputs(info: Any) -> str:
    """The output shape(s) of a NodeInfo-like object (``outputs``: ``[(shape, dtype)]``)."""
    outputs = list(getattr(info, "outputs", None) or [])
    texts = [format_shape(o[0] if isinstance(o, (list, tuple)) and o else o) for o in outputs]
    if not texts:
        return "?"
    return texts[0] if len(texts) == 1 else ", ".join(texts)


def format_count(n: Any) -> str:
    """``225034`` -> ``225,034``."""
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return "?"


def readable_size(n_params: Any, bytes_per_param: int = 4) -> str:
    """Memory of ``n_params`` float32 weights as Keras' summary prints it (``879.04 KB``)."""
    try:
        size = float(n_params) * bytes_per_param
    except (TypeError, ValueError):
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"
