"""Colours, fonts, sizes and text formatting shared by the canvas items.

Nothing here holds model state. :class:`Theme` is derived from the scene's palette, so the
canvas follows a light or dark application palette; category header colours are fixed and
chosen to read with white or black text (whichever contrasts more) on either background.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPalette

# ----------------------------------------------------------------------------- geometry
NODE_W = 160.0
HEADER_H = 20.0
LINE_H = 14.0
PAD = 5.0
PORT_ROW_H = 14.0
PORT_R = 4.5
PORT_HIT = 10.0  # how close (scene units) a press must be to a port's centre
CORNER = 6.0
TAB_H = 14.0  # the "output" tab above a model output's header
#: Where the single input/output port sits: level with the node's name line, so a chain of
#: nodes laid out on one row has straight edges.
SINGLE_PORT_Y = HEADER_H + PAD + LINE_H / 2
MAX_PARAM_LINES = 2

#: Gaps for the canvas' automatic layout: a column is a node plus room for an edge label.
LAYOUT_X_GAP = 280.0  # the core layout's default: room for a shape label per edge
LAYOUT_Y_GAP = 110.0

# ----------------------------------------------------------------------------- colours
#: Header colour of each catalog category (unknown categories and unknown types: "Other").
CATEGORY_COLORS: dict[str, str] = {
    "Inputs": "#2e7d32",
    "Core": "#1565c0",
    "Convolution": "#6a1b9a",
    "Pooling": "#00838f",
    "Recurrent": "#ad1457",
    "Wrappers": "#a21caf",
    "Attention": "#c2410c",
    "Normalization": "#5d4037",
    "Regularization": "#546e7a",
    "Merging": "#a16207",
    "Reshaping": "#4527a0",
    "Activation": "#c62828",
    "Preprocessing": "#4d7c0f",
    "Image Preprocessing": "#6b7a12",
    "Augmentation": "#7a5c00",
    "Operations": "#37474f",
    "Models": "#283593",
    "Applications": "#4e342e",
    "Custom": "#00695c",
    "Pretrained": "#0369a1",
    "Other": "#616161",
}
#: Every header colour reads with white text (contrast 4.5:1 or better, WCAG AA).
UNKNOWN_COLOR = "#757575"
ACCENT = "#2f81f7"
ERROR_COLOR = "#d1242f"
WARNING_COLOR = "#e3a008"


def category_color(category: str | None) -> QColor:
    return QColor(CATEGORY_COLORS.get(category or "Other", CATEGORY_COLORS["Other"]))


def text_on(color: QColor) -> QColor:
    """White or near-black, whichever reads better on ``color``."""
    r, g, b = color.redF(), color.greenF(), color.blueF()

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
    # Contrast against white vs. against #1f2328.
    white = 1.05 / (lum + 0.05)
    black = (lum + 0.05) / (0.0157 + 0.05)
    return QColor("#ffffff") if white >= black else QColor("#1f2328")


class Theme:
    """Colours of the canvas for one palette (light or dark)."""

    def __init__(self, palette: QPalette | None = None) -> None:
        base = palette.color(QPalette.ColorRole.Base) if palette is not None else QColor("#ffffff")
        self.dark = base.lightness() < 128
        if self.dark:
            self.canvas = QColor("#1e1f22")
            self.grid_minor = QColor("#232427")
            self.grid_major = QColor("#2b2d32")
            self.node_body = QColor("#2b2d31")
            self.node_border = QColor("#4a4e55")
            self.text = QColor("#e6e6e6")
            self.faint = QColor("#9aa0a6")
            self.edge = QColor("#7d8590")
            self.edge_hover = QColor("#b1bac4")
            self.label_bg = QColor(30, 31, 34, 225)
            self.port_empty = QColor("#2b2d31")
        else:
            self.canvas = QColor("#f6f7f9")
            self.grid_minor = QColor("#eef0f3")
            self.grid_major = QColor("#e2e5e9")
            self.node_body = QColor("#ffffff")
            self.node_border = QColor("#b8bec7")
            self.text = QColor("#1f2328")
            self.faint = QColor("#656d76")
            self.edge = QColor("#8a93a0")
            self.edge_hover = QColor("#4b535d")
            self.label_bg = QColor(246, 247, 249, 230)
            self.port_empty = QColor("#ffffff")
        self.port_fill = self.edge
        self.accent = QColor(ACCENT)
        self.error = QColor(ERROR_COLOR)
        self.warning = QColor(WARNING_COLOR)


class Fonts:
    """The fonts the items draw with, in pixel sizes (so layout is in scene units)."""

    _instance: Fonts | None = None
    DEFAULT_SIZE = 11
    _size = DEFAULT_SIZE  # the body text's pixel size (Preferences > Canvas font size)

    def __init__(self, size: int | None = None) -> None:
        body = size or Fonts._size
        self.size = body
        self.header = QFont()
        self.header.setPixelSize(body + 1)
        self.header.setBold(True)
        self.body = QFont()
        self.body.setPixelSize(body)
        self.small = QFont()
        self.small.setPixelSize(max(body - 1, 6))
        self.small_bold = QFont(self.small)
        self.small_bold.setBold(True)
        self.italic = QFont(self.small)
        self.italic.setItalic(True)
        self.label = QFont()
        self.label.setPixelSize(max(body - 2, 6))
        self.m_header = QFontMetricsF(self.header)
        self.m_body = QFontMetricsF(self.body)
        self.m_small = QFontMetricsF(self.small)
        self.m_small_bold = QFontMetricsF(self.small_bold)
        self.m_italic = QFontMetricsF(self.italic)
        self.m_label = QFontMetricsF(self.label)

    @classmethod
    def get(cls) -> Fonts:
        if cls._instance is None:
            cls._instance = Fonts()
        return cls._instance

    @classmethod
    def set_size(cls, size: int) -> bool:
        """Use ``size`` pixels for body text (the others follow); True if it changed. Items
        drawn already need a relayout (:meth:`GraphScene.refresh_fonts`)."""
        size = int(size) or cls.DEFAULT_SIZE
        if size == cls._size and cls._instance is not None:
            return False
        cls._size = size
        cls._instance = Fonts(size)
        return True


# ----------------------------------------------------------------------------- text
def snake_case(type_name: str) -> str:
    """A node name for a layer type, as Keras names layers: ``Conv2D`` -> ``conv2d``,
    ``GlobalAveragePooling2D`` -> ``global_average_pooling2d``, ``ops.Add`` -> ``add``,
    ``custom.CustomLayer`` -> ``custom_layer``."""
    name = type_name.removeprefix("ops.").removeprefix("custom.")
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return re.sub(r"[^a-z0-9_]+", "_", name).strip("_") or "node"


def shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    try:
        return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
    except TypeError:
        return str(shape)


def outputs_text(outputs: list) -> str:
    """``[(shape, dtype), ...]`` as ``(None, 10)`` or ``[(None, 10), (None, 64)]``."""
    texts = [shape_text(spec[0] if isinstance(spec, (tuple, list)) and spec else None)
             for spec in outputs]  # fmt: skip
    if not texts:
        return "?"
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def count_text(n: int) -> str:
    """A parameter count, short: ``320``, ``12,544``, ``225.0k``, ``3.51M``."""
    if n < 100_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1e3:.1f}k"
    if n < 1_000_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n / 1e9:.2f}B"


#: Parameters worth showing on a node, in order, with a short label ("" shows the value alone).
KEY_PARAMS: list[tuple[str, str]] = [
    ("shape", "shape"),
    ("batch_shape", "shape"),
    ("units", "units"),
    ("filters", "filters"),
    ("kernel_size", "kernel"),
    ("pool_size", "pool"),
    ("strides", "stride"),
    ("rate", "rate"),
    ("input_dim", "in"),
    ("output_dim", "dim"),
    ("num_heads", "heads"),
    ("key_dim", "key"),
    ("target_shape", "to"),
    ("dims", "dims"),
    ("axis", "axis"),
    ("size", "size"),
    ("padding", ""),
    ("activation", ""),
    ("return_sequences", "seq"),
    ("layer", ""),
]
_TUPLE_X = {"kernel_size", "pool_size", "strides", "size"}


def _value_text(key: str, value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, str)) or value is None:
        if isinstance(value, float):
            return f"{value:g}"
        return "None" if value is None else str(value)
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float)) or v is None for v in value
    ):
        if key in _TUPLE_X and value:
            return "×".join(str(v) for v in value)
        return "(" + ", ".join("None" if v is None else str(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        # A serialized object (a wrapped layer, an activation): its class name.
        name = value.get("class_name")
        if isinstance(name, str):
            cfg = value.get("config") or {}
            units = cfg.get("units") if isinstance(cfg, dict) else None
            return f"{name}({units})" if units is not None else name
    return None


def pretrained_items(type_: str, config: dict[str, Any]) -> list[str]:
    """What a Backbone or PreprocessInput node says about itself: the network, and for a
    backbone whether it trains and which weights it starts from."""
    model = str(config.get("model"))
    if type_ != "Backbone":
        return [model]
    start = config.get("fine_tune_from")
    if not config.get("trainable"):
        state = "frozen"
    elif start not in (None, ""):
        state = f"fine-tune from {start}"
    else:
        state = "trainable"
    return [model, state, f"weights {config.get('weights') or 'none'}"]


def key_param_items(params: dict[str, Any], limit: int = 3) -> list[str]:
    """Up to ``limit`` short "label value" texts for the node's most telling parameters."""
    out: list[str] = []
    for key, label in KEY_PARAMS:
        if key not in params:
            continue
        text = _value_text(key, params[key])
        if text is None:
            continue
        out.append(f"{label} {text}" if label else text)
        if len(out) >= limit:
            break
    return out
