"""The data panel: where the training data comes from, how it is split, which field feeds
each model input and output, and a preview of it.

The panel edits ``settings["data"]`` (schema in ``docs/training.md``), always starting from
:func:`studio.core.settings.data_settings`, so every model input and output has a row. Every
change is one ``document.set_setting("data", ...)`` call: undoable, and merged with the next
change of the same field. :func:`~studio.core.settings.check_settings`' verdict on the data
settings shows in red under the field it names.

The validation and test data are a fraction of the training data, a separate source (edited
by a second :class:`SourceEditor`, the same editor as the training source's) or, for the test
data of keras.datasets, the dataset's own test set.

The preview runs in the engine process (``engine.run("data-preview", data, graph,
project_folder)``, see :func:`studio.engine.data.preview`): when the Preview button is
pressed and, 400 ms after the last change, whenever the settings or the model change while
the panel is visible. Its answer shows as a summary line, the shape check of every model
input and output, a grid of sample images with their labels, the class balance and the first
rows; while the engine downloads or loads the data, its ``jobProgress`` shows as a bar. The
panel imports neither TensorFlow nor the engine: without an engine (or before TensorFlow has
loaded) it says so instead of previewing.
"""

from __future__ import annotations

import copy
import csv
import math
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.catalog import ParamSpec
from studio.core.settings import (
    BUNDLED,
    ENCODINGS,
    KERAS_DATASETS,
    check_settings,
    data_settings,
    input_names,
    output_kind,
)
from studio.core.validation import ERROR, Diagnostic
from studio.ui.document import Document
from studio.ui.panels import ERROR_COLOR, WARNING_COLOR, format_shape, muted_color
from studio.ui.panels.inspector import _WheelGuard, format_number
from studio.ui.training.forms import (
    Combo,
    Section,
    SettingsPage,
    bold,
    discard,
    error_label,
    make_field,
    make_form,
    muted,
    set_text_color,
    show_on,
    with_error,
)

PREVIEW_DELAY_MS = 400
THUMB = 64  # thumbnail side in pixels
SUCCESS_COLOR = QColor("#2e9d57")

KINDS = (
    ("bundled", "Bundled dataset"),
    ("csv", "CSV file"),
    ("npz", "NumPy .npz"),
    ("npy", "NumPy .npy files"),
    ("image_folder", "Image folder"),
    ("text_folder", "Text folder"),
    ("keras", "keras.datasets"),
)
KIND_TIPS = {
    "bundled": "Small datasets that ship with Studio and scikit-learn: no download.",
    "csv": "A table with a header row: one column is the target, the others the features.",
    "npz": "A NumPy .npz archive: one field per array in it.",
    "npy": "NumPy .npy files, one per field (for example x.npy and y.npy).",
    "image_folder": "A folder with one subfolder of images per class.",
    "text_folder": "A folder with one subfolder of .txt files per class.",
    "keras": "The datasets of keras.datasets; downloaded on first use into ~/.keras/datasets.",
}
BUNDLED_TEXT = {
    "digits": "digits: 1,797 handwritten digits",
    "iris": "iris: 150 flowers, 4 features",
    "wine": "wine: 178 wines, 13 features",
    "breast_cancer": "breast_cancer: 569 tumours, 30 features",
    "reviews": "reviews: short product reviews",
    "multi_io": "multi_io: two inputs, two outputs",
    "shapes_segmentation": "shapes_segmentation: 600 images with masks",
    "timeseries": "timeseries: 2,000 windows of a series",
    "interactions": "interactions: 8,000 user-item ratings",
    "shapes_rgb": "shapes_rgb: 900 colour shapes, 3 classes",
}
KERAS_TEXT = {
    "mnist": "mnist: 70,000 handwritten digits",
    "fashion_mnist": "fashion_mnist: 70,000 clothes",
    "cifar10": "cifar10: 60,000 colour images",
    "cifar100": "cifar100: 60,000 colour images",
    "imdb": "imdb: 50,000 movie reviews",
    "reuters": "reuters: 11,228 newswires",
    "boston_housing": "boston_housing: 506 houses",
}
#: Where the validation or test data comes from (see :func:`part_mode`).
PART_MODES = (
    ("split", "Fraction of the training data"),
    ("source", "Separate source"),
    ("builtin", "Built-in test set"),
)
PART_MODE_TIPS = {
    "split": "Hold out a part of the training data (after shuffling) as the {part} data.",
    "source": "Read the {part} data from a separate source: a file, a folder or a dataset.",
    "builtin": "keras.datasets come with a separate test set.",
}
#: The main source editor's widgets, which the panel also has under the same names.
_EDITOR_WIDGETS = (
    "kind_combo", "kind_error", "bundled_combo", "digits_size", "flatten", "path_edit",
    "browse_button", "path_row", "path_error", "path_box", "target_combo", "features_list",
    "features_edit", "delimiter_edit", "npy_table", "npy_add", "npy_remove", "npy_box",
    "image_h", "image_w", "image_size_row", "color_combo", "keras_combo", "num_words",
)  # fmt: skip
#: The fields a source gives (docs/training.md), as (input fields, target fields), so the
#: mapping can be filled in before the first preview.
_IMAGE = (["image"], ["label"])
_TABLE = (["features"], ["label"])


def known_fields(source: dict | None) -> tuple[list[str], list[str]]:
    if not isinstance(source, dict):
        return [], []
    kind, name = source.get("kind"), source.get("name")
    if kind == "bundled":
        return {
            "digits": _IMAGE,
            "reviews": (["text"], ["label"]),
            "multi_io": (["input1", "input2"], ["regression", "classification"]),
        }.get(name, _TABLE)
    if kind == "keras":
        if name in ("imdb", "reuters"):
            return ["sequence"], ["label"]
        if name == "boston_housing":
            return ["features"], ["target"]
        return _IMAGE
    if kind == "csv":
        return ["features"], ["target"]
    if kind == "image_folder":
        return _IMAGE
    if kind == "text_folder":
        return ["text"], ["label"]
    if kind == "npy":
        return list((source.get("paths") or {}).keys()), []
    return [], []


def part_mode(spec: Any) -> str:
    """How a validation or test part is given: ``"source"`` (a separate source),
    ``"builtin"`` (the dataset's own test set) or ``"split"`` (a fraction)."""
    if isinstance(spec, dict) and "source" in spec:
        return "source"
    if isinstance(spec, dict) and spec.get("builtin"):
        return "builtin"
    return "split"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def default_scale(source: dict | None, field: str) -> float | None:
    """A scale for image fields whose range is known: digits are 0..16, 8-bit images 0..255."""
    if not isinstance(source, dict) or field != "image":
        return None
    if source.get("kind") == "bundled" and source.get("name") == "digits":
        return 1 / 16
    if source.get("kind") in ("keras", "image_folder"):
        return 1 / 255
    return None


def scale_text(value: Any) -> str:
    """``0.0625`` -> ``1/16``, ``0.00392156...`` -> ``1/255``, ``0.5`` -> ``0.5``."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        inverse = 1 / value
        n = round(inverse)
        if n > 1 and math.isclose(inverse, n, rel_tol=1e-6):
            return f"1/{n}"
        return format_number(value)
    return str(value)


def parse_scale(text: str) -> float | None:
    """``"1/255"``, ``"0.5"``, ``"2"``; empty or "none" -> None. Raises ValueError."""
    t = text.strip().lower()
    if not t or t in ("none", "—", "-"):
        return None
    try:
        if "/" in t:
            a, b = t.split("/", 1)
            return float(a) / float(b)
        return float(Fraction(t)) if t.count(".") <= 1 else float(t)
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            "Type the scale as a number or a fraction: 1/255 for 8-bit images."
        ) from None


def stored_path(path: str, project_file: Path | None) -> str:
    """A chosen file as the settings keep it: relative to the project's folder when it is
    under it (so the project can move with its data), absolute otherwise."""
    p = Path(path).expanduser()
    if project_file is not None and p.is_absolute():
        try:
            return p.resolve().relative_to(project_file.parent.resolve()).as_posix()
        except ValueError:
            pass
    return str(p) if p.is_absolute() else p.as_posix()


def resolve_path(path: str, project_file: Path | None) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and project_file is not None:
        p = project_file.parent / p
    return p


def read_csv_header(path: Path, delimiter: str | None = None) -> list[str]:
    """The column names in a CSV file's first row (only that row is read)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        first = f.readline()
    if not first.strip():
        return []
    if delimiter in ("\\t", "tab", "TAB"):  # what people type for a tab
        delimiter = "\t"
    if not delimiter or len(delimiter) != 1:  # a wrong delimiter is reported by the checks
        try:
            delimiter = csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    row = next(csv.reader([first], delimiter=delimiter), [])
    return [c.strip() for c in row if c.strip()]


def image_from_array(array: Any) -> QImage | None:
    """A QImage of an (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) array (uint8, or numbers that
    are scaled into 0..255)."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or 0 in a.shape:
        return None
    if a.dtype != np.uint8:
        a = a.astype("float64")
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        a = np.zeros(a.shape) if hi <= lo else (a - lo) / (hi - lo) * 255
        a = np.nan_to_num(a).clip(0, 255).astype(np.uint8)
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 2:
        fmt = QImage.Format.Format_Grayscale8
    elif a.shape[-1] == 3:
        fmt = QImage.Format.Format_RGB888
    else:
        fmt = QImage.Format.Format_RGBA8888
    return QImage(a.data, w, h, a.strides[0], fmt).copy()


# =========================================================================== small widgets
class _EditCombo(Combo):
    """An editable combo box whose value is its text; ``committed`` when the user picks an
    item or finishes typing."""

    committed = Signal()

    def __init__(self, parent: QWidget | None = None, placeholder: str = "") -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMinimumContentsLength(4)
        self.lineEdit().setPlaceholderText(placeholder)
        completer = self.completer()
        if completer is not None:
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._setting = False
        self.activated.connect(self._commit)
        self.lineEdit().editingFinished.connect(self._commit)

    def _commit(self, *_args) -> None:
        if not self._setting:
            self.committed.emit()

    def text(self) -> str:
        return self.currentText().strip()

    def is_editing(self) -> bool:
        return self.lineEdit().hasFocus() and self.lineEdit().isModified()

    def set_items(self, items: list[tuple[str, str]]) -> None:
        """``[(text, tooltip)]``; the typed text stays."""
        current = [self.itemText(i) for i in range(self.count())]
        if current == [t for t, _ in items]:
            return
        text = self.currentText()
        self._setting = True
        try:
            self.clear()
            for t, tip in items:
                self.addItem(t)
                if tip:
                    self.setItemData(self.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            self.setEditText(text)
        finally:
            self._setting = False

    def set_text(self, text: str) -> None:
        if self.is_editing() or self.currentText() == text:
            return
        self._setting = True
        try:
            self.setEditText(text)
            self.lineEdit().setCursorPosition(0)
            self.lineEdit().setModified(False)
        finally:
            self._setting = False


class _PercentSpin(_WheelGuard, QDoubleSpinBox):
    """A fraction (0.2) shown as a percentage (20 %)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(0, 95)
        self.setDecimals(1)
        self.setSingleStep(5)
        self.setSuffix(" %")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return format(value, ".1f").removesuffix(".0")

    def fraction(self) -> float:
        return round(self.value() / 100, 4)

    def set_fraction(self, f: Any) -> None:
        if isinstance(f, (int, float)) and not isinstance(f, bool):
            self.blockSignals(True)
            self.setValue(f * 100)
            self.blockSignals(False)


def _row_widget(*widgets: QWidget, stretch: int | None = None) -> QWidget:
    """``widgets`` side by side; the one at index ``stretch`` takes the spare room."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    for i, w in enumerate(widgets):
        row.addWidget(w, 1 if i == stretch else 0)
    return box


# =========================================================================== mapping rows
class _InputRow:
    """One model input in the mapping grid: field, scale, normalize, reshape, text, pad."""

    def __init__(self, panel: DataWidget, grid: QGridLayout, row: int, name: str, shape) -> None:
        self.panel = panel
        self.name = name
        self.key = f"data.inputs.{name}"
        self.local_error: str | None = None  # a scale that could not be read
        parent = grid.parentWidget()
        self.label = bold(QLabel(name, parent))
        self.label.setToolTip(f"Model input '{name}', shape {format_shape(shape)}")
        self.field = _EditCombo(parent, "field")
        self.field.setToolTip(f"The field of the data that feeds input '{name}'.")
        self.field.committed.connect(lambda: panel.set_input_field(name, self.field.text()))
        self.scale = _EditCombo(parent, "none")
        self.scale.setMinimumContentsLength(3)
        self.scale.set_items([("none", "No scaling"), ("1/255", "8-bit images (0..255) to 0..1"),
                              ("1/16", "scikit-learn digits (0..16) to 0..1")])  # fmt: skip
        self.scale.setToolTip("Multiply the values by this number (1/255 for 8-bit images).")
        self.scale.committed.connect(self._commit_scale)
        self.normalize = QCheckBox(parent)
        self.normalize.setToolTip(
            "Normalize: a Normalization layer adapted on the training split (mean 0, variance 1)."
        )
        self.normalize.clicked.connect(lambda on: panel.set_input_option(name, "normalize", on))
        self.reshape = QCheckBox(parent)
        self.reshape.setToolTip(
            "Reshape each sample to the input's shape when the sizes agree (784 values into "
            "28x28x1)."
        )
        self.reshape.clicked.connect(lambda on: panel.set_input_option(name, "reshape", on))
        self.more = QToolButton(parent)
        self.more.setAutoRaise(True)
        self.more.setCheckable(True)
        self.more.setArrowType(Qt.ArrowType.RightArrow)
        self.more.setToolTip("Text and sequence preprocessing")
        self.more.setStyleSheet("QToolButton { border: none; }")

        # Second line: text vectorization and padding.
        self.details = QWidget(parent)
        d = QGridLayout(self.details)
        d.setContentsMargins(12, 0, 0, 4)
        d.setHorizontalSpacing(4)
        d.setVerticalSpacing(2)
        self.text_check = QCheckBox("Text → token ids", self.details)
        self.text_check.setToolTip(
            "A TextVectorization layer adapted on the training split turns strings into token ids."
        )
        self.text_check.clicked.connect(self._commit_text)
        self.max_tokens = _small_spin(self.details, 0, 10_000_000, "default",
                                      "Vocabulary size (max_tokens; default 10,000)")  # fmt: skip
        self.length = _small_spin(self.details, 0, 1_000_000, "input",
                                  "Tokens per sample (sequence_length; default: the input's "
                                  "length)")  # fmt: skip
        self.pad_check = QCheckBox("Pad sequences", self.details)
        self.pad_check.setToolTip(
            "Pad or truncate integer sequences of different lengths (pad_sequences)."
        )
        self.pad_check.clicked.connect(self._commit_pad)
        self.maxlen = _small_spin(
            self.details, 0, 1_000_000, "input",
            "Length after padding (maxlen; default: the input's length)",
        )  # fmt: skip
        for spin in (self.max_tokens, self.length):
            spin.editingFinished.connect(self._commit_text)
        self.maxlen.editingFinished.connect(self._commit_pad)
        d.addWidget(self.text_check, 0, 0)
        d.addWidget(muted(QLabel("tokens", self.details)), 0, 1, Qt.AlignmentFlag.AlignRight)
        d.addWidget(self.max_tokens, 0, 2)
        d.addWidget(muted(QLabel("length", self.details)), 1, 1, Qt.AlignmentFlag.AlignRight)
        d.addWidget(self.length, 1, 2)
        d.addWidget(self.pad_check, 2, 0)
        d.addWidget(muted(QLabel("maxlen", self.details)), 2, 1, Qt.AlignmentFlag.AlignRight)
        d.addWidget(self.maxlen, 2, 2)
        d.setColumnStretch(0, 1)
        self.details.hide()
        self.more.toggled.connect(self._toggle)
        self.error = error_label(parent)

        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.field, row, 1)
        grid.addWidget(self.scale, row, 2)
        grid.addWidget(self.normalize, row, 3, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.reshape, row, 4, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.more, row, 5)
        grid.addWidget(self.details, row + 1, 0, 1, 6)
        grid.addWidget(self.error, row + 2, 0, 1, 6)
        self.widgets = [self.label, self.field, self.scale, self.normalize, self.reshape,
                        self.more, self.details, self.error]  # fmt: skip

    def _toggle(self, on: bool) -> None:
        self.details.setVisible(on)
        self.more.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.panel.remember(f"input.{self.name}", on)

    def _commit_scale(self) -> None:
        try:
            value = parse_scale(self.scale.text())
        except ValueError as exc:
            self.local_error = str(exc)
            self.error.setText(str(exc))
            self.error.show()
            return
        self.local_error = None
        self.panel.set_input_option(self.name, "scale", value)

    def _commit_text(self) -> None:
        if not self.text_check.isChecked():
            self.panel.set_input_option(self.name, "text", None)
            return
        opts = {}
        if self.max_tokens.value() > 0:
            opts["max_tokens"] = self.max_tokens.value()
        if self.length.value() > 0:
            opts["sequence_length"] = self.length.value()
        self.panel.set_input_option(self.name, "text", opts or True)

    def _commit_pad(self) -> None:
        if not self.pad_check.isChecked():
            self.panel.set_input_option(self.name, "pad", None)
            return
        maxlen = self.maxlen.value()
        self.panel.set_input_option(self.name, "pad", {"maxlen": maxlen} if maxlen else True)

    def update_from(self, mapping: dict, fields: list[tuple[str, str]]) -> None:
        self.field.set_items(fields)
        self.field.set_text(str(mapping.get("field") or ""))
        scale = mapping.get("scale")
        if not self.scale.is_editing() and self.local_error is None:
            self.scale.set_text(scale_text(scale) if scale is not None else "none")
        self.normalize.setChecked(bool(mapping.get("normalize")))
        self.reshape.setChecked(bool(mapping.get("reshape")))
        text = mapping.get("text")
        self.text_check.setChecked(bool(text))
        opts = text if isinstance(text, dict) else {}
        _set_spin(self.max_tokens, opts.get("max_tokens"))
        _set_spin(self.length, opts.get("sequence_length"))
        self.max_tokens.setEnabled(bool(text))
        self.length.setEnabled(bool(text))
        pad = mapping.get("pad")
        self.pad_check.setChecked(bool(pad))
        _set_spin(self.maxlen, pad.get("maxlen") if isinstance(pad, dict) else None)
        self.maxlen.setEnabled(bool(pad))
        if (text or pad) and not self.more.isChecked():
            self.more.setChecked(True)

    def show_diagnostic(self, message: str | None) -> None:
        if self.local_error is not None:
            return
        self.error.setText(message or "")
        self.error.setVisible(bool(message))


class _OutputRow:
    """One model output in the mapping grid: field and encoding."""

    def __init__(self, panel: DataWidget, grid: QGridLayout, row: int, name: str, kind: str):
        self.panel = panel
        self.name = name
        self.key = f"data.outputs.{name}"
        parent = grid.parentWidget()
        self.label = bold(QLabel(name, parent))
        self.label.setToolTip(f"Model output '{name}' ({kind})")
        self.field = _EditCombo(parent, "field")
        self.field.setToolTip(f"The field of the data that holds the targets of '{name}'.")
        self.field.committed.connect(lambda: panel.set_output_field(name, self.field.text()))
        self.encoding = Combo(parent)
        self.encoding.setMinimumContentsLength(5)
        tips = {
            "sparse": "Integer class ids (SparseCategoricalCrossentropy)",
            "onehot": "One-hot vectors (to_categorical; CategoricalCrossentropy)",
            "raw": "The numbers as they are (regression, multi-label)",
        }
        for e in ENCODINGS:
            self.encoding.addItem(e, e)
            self.encoding.setItemData(self.encoding.count() - 1, tips[e],
                                      Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        self.encoding.setToolTip("How the targets are encoded.")
        self.encoding.activated.connect(
            lambda _i: panel.set_output_encoding(name, self.encoding.currentData())
        )
        self.error = error_label(parent)
        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.field, row, 1)
        grid.addWidget(self.encoding, row, 2, 1, 3)
        grid.addWidget(self.error, row + 1, 0, 1, 6)
        self.widgets = [self.label, self.field, self.encoding, self.error]

    def update_from(self, mapping: dict, fields: list[tuple[str, str]]) -> None:
        self.field.set_items(fields)
        self.field.set_text(str(mapping.get("field") or ""))
        _select(self.encoding, mapping.get("encoding", "sparse"))

    def show_diagnostic(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))


def _small_spin(parent, lo: int, hi: int, special: str, tip: str) -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(lo, hi)
    spin.setSpecialValueText(special)
    spin.setToolTip(tip)
    spin.setKeyboardTracking(False)
    spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    return spin


def _set_spin(spin, value: Any) -> None:
    if spin.hasFocus():
        return
    spin.blockSignals(True)
    spin.setValue(int(value) if isinstance(value, int) and not isinstance(value, bool) else 0)
    spin.blockSignals(False)


# =========================================================================== source editor
class SourceEditor(QWidget):
    """Edits one data source: its kind and that kind's fields (``docs/training.md``,
    *Source kinds*).

    ``where`` names the source in the data settings: ``("source",)`` for the training data
    (the panel's main editor), ``("validation", "source")`` or ``("test", "source")`` for a
    separate validation or test source. Every edit is one :meth:`DataWidget.change` step;
    the diagnostics under :attr:`key` (``data.source``, ``data.validation.source``) show
    under its kind and its path.
    """

    def __init__(
        self, panel: DataWidget, where: tuple[str, ...] = ("source",),
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.panel = panel
        self.where = where
        self.main = where == ("source",)
        self.part = "training" if self.main else where[0]
        self.key = "data." + ".".join(where)
        self._merge = ".".join(where)
        self._memory: dict[str, dict] = {}  # the last source of each kind, to switch back
        self._header: list[str] = []
        self._header_path: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        form = make_form()
        layout.addLayout(form)
        self.form = form
        self.kind_combo = Combo()
        if self.main:
            self.kind_combo.addItem("Choose a source…", None)
        for kind, text in KINDS:
            self.kind_combo.addItem(text, kind)
            self.kind_combo.setItemData(self.kind_combo.count() - 1, KIND_TIPS[kind],
                                        Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        self.kind_combo.setToolTip(f"Where the {self.part} data comes from.")
        self.kind_combo.activated.connect(lambda _i: self.set_kind(self.kind_combo.currentData()))
        kind_box, self.kind_error = with_error(self.kind_combo)
        form.addRow("Kind", kind_box)

        # bundled
        self.bundled_combo = Combo()
        for name in BUNDLED:
            self.bundled_combo.addItem(BUNDLED_TEXT.get(name, name), name)
        self.bundled_combo.setToolTip("A dataset that ships with Studio (no download).")
        self.bundled_combo.activated.connect(
            lambda _i: self.set_source_key(
                "name", self.bundled_combo.currentData(), "Choose bundled dataset"
            )  # fmt: skip
        )
        self.digits_size = Combo()
        self.digits_size.addItem("8 × 8 (original)", 8)
        self.digits_size.addItem("28 × 28 (upscaled, like MNIST)", 28)
        self.digits_size.setToolTip("The digits are 8x8 images; 28 upscales them to MNIST's size.")
        self.digits_size.activated.connect(
            lambda _i: self.set_source_key(
                "image_size", self.digits_size.currentData(), "Set image size"
            )  # fmt: skip
        )
        self.flatten = QCheckBox("Flatten to vectors")
        self.flatten.setToolTip("Give each image as one vector of s*s values, for Dense models.")
        self.flatten.clicked.connect(
            lambda on: self.set_source_key("flatten", True if on else None, "Set flatten")
        )
        # files and folders
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("path")
        self.path_edit.setToolTip("Relative paths are relative to the project file's folder.")
        self.path_edit.editingFinished.connect(self._commit_path)
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.browse)
        self.path_row = _row_widget(self.path_edit, self.browse_button)
        self.path_box, self.path_error = with_error(self.path_row)
        # csv
        self.target_combo = _EditCombo(placeholder="column")
        self.target_combo.setToolTip("The column that holds the targets.")
        self.target_combo.committed.connect(
            lambda: self.set_source_key(
                "target", self.target_combo.text() or None, "Set target column"
            )  # fmt: skip
        )
        self.features_list = QListWidget()
        self.features_list.setToolTip(
            "The feature columns (none ticked: every column but the target)."
        )
        self.features_list.setMaximumHeight(110)
        self.features_list.itemChanged.connect(self._commit_features)
        self.features_edit = QLineEdit()
        self.features_edit.setPlaceholderText("all but the target")
        self.features_edit.setToolTip(
            "Feature columns, separated by commas (empty: every column but the target)."
        )
        self.features_edit.editingFinished.connect(self._commit_features_text)
        self.delimiter_edit = QLineEdit()
        self.delimiter_edit.setPlaceholderText("guess")
        self.delimiter_edit.setMaxLength(2)
        self.delimiter_edit.setToolTip("The column separator (empty: guessed from the file).")
        self.delimiter_edit.editingFinished.connect(
            lambda: self.set_source_key(
                "delimiter", self.delimiter_edit.text() or None, "Set delimiter"
            )  # fmt: skip
        )
        # npy
        self.npy_table = QTableWidget(0, 2)
        self.npy_table.setHorizontalHeaderLabels(["Field", "File"])
        self.npy_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.npy_table.verticalHeader().hide()
        self.npy_table.setMaximumHeight(110)
        self.npy_table.itemChanged.connect(self._commit_npy)
        self.npy_add = QPushButton("Add file…")
        self.npy_add.clicked.connect(self._browse_npy)
        self.npy_remove = QPushButton("Remove")
        self.npy_remove.clicked.connect(self._remove_npy)
        self.npy_box = QWidget()
        v = QVBoxLayout(self.npy_box)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(self.npy_table)
        buttons = QHBoxLayout()
        buttons.addWidget(self.npy_add)
        buttons.addWidget(self.npy_remove)
        buttons.addStretch(1)
        v.addLayout(buttons)
        # image folder
        self.image_h = _small_spin(None, 1, 4096, "", "Height the images are resized to")
        self.image_w = _small_spin(None, 1, 4096, "", "Width the images are resized to")
        for spin in (self.image_h, self.image_w):
            spin.editingFinished.connect(self._commit_image_size)
        self.image_size_row = _row_widget(self.image_h, QLabel("×"), self.image_w)
        self.color_combo = Combo()
        for mode in ("rgb", "grayscale", "rgba"):
            self.color_combo.addItem(mode, mode)
        self.color_combo.activated.connect(
            lambda _i: self.set_source_key(
                "color_mode", self.color_combo.currentData(), "Set colour mode"
            )  # fmt: skip
        )
        # keras
        self.keras_combo = Combo()
        for name in KERAS_DATASETS:
            self.keras_combo.addItem(KERAS_TEXT.get(name, name), name)
        self.keras_combo.setToolTip("Downloaded on first use into ~/.keras/datasets.")
        self.keras_combo.activated.connect(
            lambda _i: self.set_source_key(
                "name", self.keras_combo.currentData(), "Choose Keras dataset"
            )  # fmt: skip
        )
        self.num_words = _small_spin(None, 1, 10_000_000, "", "Keep the most frequent words")
        self.num_words.editingFinished.connect(
            lambda: self.set_source_key("num_words", self.num_words.value(), "Set num_words")
        )

        self.rows: dict[str, tuple[QLabel, QWidget]] = {}
        for key, label, widget in (
            ("bundled", "Dataset", self.bundled_combo),
            ("digits_size", "Image size", self.digits_size),
            ("flatten", "", self.flatten),
            ("path", "File", self.path_box),
            ("target", "Target", self.target_combo),
            ("features", "Features", self.features_list),
            ("features_text", "Features", self.features_edit),
            ("delimiter", "Delimiter", self.delimiter_edit),
            ("npy", "Files", self.npy_box),
            ("image_size", "Image size", self.image_size_row),
            ("color", "Colour", self.color_combo),
            ("keras", "Dataset", self.keras_combo),
            ("num_words", "Words", self.num_words),
        ):
            lab = QLabel(label)
            form.addRow(lab, widget)
            self.rows[key] = (lab, widget)
        # The training source explains its kind in a line; a separate source stays compact.
        self.note = muted(QLabel())
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.note.setVisible(False)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        # In a form layout (a separate source's place) the height is at least the minimum,
        # which counts the error lines as wrapped at the narrowest: use the current width.
        hint = super().minimumSizeHint()
        if self.hasHeightForWidth() and self.width() > hint.width():
            hint.setHeight(min(hint.height(), self.heightForWidth(self.width())))
        return hint

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width() and self.hasHeightForWidth():
            self.updateGeometry()  # the minimum height depends on the width

    # ------------------------------------------------------------------ reading
    def source(self, d: dict | None = None) -> Any:
        """The source in the data settings ``d`` (default: the document's), or None."""
        node: Any = self.panel.settings() if d is None else d
        for k in self.where:
            node = node.get(k) if isinstance(node, dict) else None
        return node

    def _source_to_change(self, d: dict) -> dict:
        """The source in ``d`` that an edit changes; TypeError when it has gone (an undo
        while a field had focus), which :meth:`DataWidget.change` answers with a refresh."""
        source = self.source(d)
        if not isinstance(source, dict):
            raise TypeError(f"{self.key} is not a source")
        return source

    def _text(self, text: str) -> str:
        """An undo text; a separate source says whose it is."""
        return text if self.main else f"{text} ({self.part} source)"

    def sinks(self) -> dict[str, Callable[[str | None], None]]:
        """Where the diagnostics of this source show: the path's under the path, the rest
        under the kind."""
        return {self.key: show_on(self.kind_error), f"{self.key}.path": show_on(self.path_error)}

    # ------------------------------------------------------------------ refreshing
    def update_from(self, source: Any) -> None:
        """Show ``source`` (a field being edited keeps its text)."""
        kind = source.get("kind") if isinstance(source, dict) else None
        i = self.kind_combo.findData(kind)
        if i < 0:
            self.kind_combo.addItem(
                "Choose a source…" if kind is None else f"{kind} (unknown)", kind
            )  # fmt: skip
            i = self.kind_combo.count() - 1
        self.kind_combo.setCurrentIndex(i)
        source = source if isinstance(source, dict) else {}
        name = source.get("name")
        visible = set()
        if kind == "bundled":
            visible.add("bundled")
            _select(self.bundled_combo, name)
            if name == "digits":
                visible |= {"digits_size", "flatten"}
                _select(self.digits_size, source.get("image_size", 8))
                self.flatten.setChecked(bool(source.get("flatten")))
        elif kind in ("csv", "npz", "image_folder", "text_folder"):
            visible.add("path")
            if not self.path_edit.hasFocus():
                self.path_edit.setText(str(source.get("path") or ""))
            self.rows["path"][0].setText("Folder" if "folder" in kind else "File")
            if kind == "csv":
                visible |= {"target", "delimiter"}
                self._read_header(source)
                visible.add("features" if self._header else "features_text")
                self._update_csv(source)
            elif kind == "image_folder":
                visible |= {"image_size", "color"}
                size = source.get("image_size") or [256, 256]
                if isinstance(size, int):
                    size = [size, size]
                if isinstance(size, list) and len(size) == 2:
                    _set_spin(self.image_h, size[0])
                    _set_spin(self.image_w, size[1])
                _select(self.color_combo, source.get("color_mode") or "rgb")
        elif kind == "npy":
            visible.add("npy")
            self._update_npy(source.get("paths") or {})
        elif kind == "keras":
            visible.add("keras")
            _select(self.keras_combo, name)
            if name in ("imdb", "reuters"):
                visible.add("num_words")
                _set_spin(self.num_words, source.get("num_words", 10000))
        for key, (_label, widget) in self.rows.items():
            self.form.setRowVisible(widget, key in visible)
        note = ""
        if self.main:
            note = {
                None: "Choose where the training data comes from.",
                "keras": "Downloaded on first use into ~/.keras/datasets.",
                "image_folder": "One subfolder of images per class; the folder names are the "
                "classes.",
                "text_folder": "One subfolder of .txt files per class.",
            }.get(kind, "")
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def _update_csv(self, source: dict) -> None:
        target = source.get("target") or ""
        self.target_combo.set_items([(c, "") for c in self._header])
        self.target_combo.set_text(str(target))
        features = source.get("features")
        if self._header:
            self.features_list.blockSignals(True)
            names = [self.features_list.item(i).text() for i in range(self.features_list.count())]
            if names != self._header:
                self.features_list.clear()
                for c in self._header:
                    item = QListWidgetItem(c)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    self.features_list.addItem(item)
            for i in range(self.features_list.count()):
                item = self.features_list.item(i)
                c = item.text()
                on = c in features if features else c != target
                item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                item.setFlags(
                    item.flags() & ~Qt.ItemFlag.ItemIsEnabled
                    if c == target
                    else item.flags() | Qt.ItemFlag.ItemIsEnabled
                )
            self.features_list.blockSignals(False)
        elif not self.features_edit.hasFocus():
            self.features_edit.setText(", ".join(features or []))
        if not self.delimiter_edit.hasFocus():
            self.delimiter_edit.setText(str(source.get("delimiter") or ""))

    def forget_header(self) -> None:
        """Read the CSV header again at the next refresh (the project file moved)."""
        self._header_path = None

    def _read_header(self, source: dict) -> None:
        path = source.get("path")
        key = f"{path}|{source.get('delimiter')}"
        if key == self._header_path:
            return
        self._header_path = key
        self._header = []
        if source.get("kind") == "csv" and path:
            try:
                self._header = read_csv_header(resolve_path(str(path), self.panel.document.path),
                                               source.get("delimiter") or None)  # fmt: skip
            except (OSError, UnicodeDecodeError, csv.Error):
                self._header = []

    def _update_npy(self, paths: dict) -> None:
        rows = [(str(k), str(v)) for k, v in paths.items()]
        current = [
            (self.npy_table.item(r, 0).text() if self.npy_table.item(r, 0) else "",
             self.npy_table.item(r, 1).text() if self.npy_table.item(r, 1) else "")
            for r in range(self.npy_table.rowCount())
        ]  # fmt: skip
        if current == rows:
            return
        self.npy_table.blockSignals(True)
        self.npy_table.setRowCount(len(rows))
        for r, (k, v) in enumerate(rows):
            self.npy_table.setItem(r, 0, QTableWidgetItem(k))
            self.npy_table.setItem(r, 1, QTableWidgetItem(v))
        self.npy_table.blockSignals(False)

    # ------------------------------------------------------------------ edits
    def set_kind(self, kind: str | None) -> None:
        current = self.source()
        if isinstance(current, dict) and current.get("kind"):
            self._memory[current["kind"]] = copy.deepcopy(current)
        if kind is None:
            if self.main:
                self.panel.change("Clear the data source", "source.kind",
                                  lambda d: d.update(source=None))  # fmt: skip
            else:  # a separate source always has a kind: back to the fraction instead
                self.panel.refresh()
            return
        source = copy.deepcopy(self._memory.get(kind)) or self.new_source(kind)

        def mutate(d: dict) -> None:
            if self.main:
                old = d["source"]
                d["source"] = source
                self.panel._main_source_changed(d, old)
            else:
                if part_mode(d.get(self.part)) != "source":
                    raise KeyError(self.part)  # no longer a separate source (an undo)
                d[self.part] = {"source": source}

        label = dict(KINDS).get(kind, kind).lower()
        text = f"Use {label} as data" if self.main else f"Use {label} as {self.part} data"
        self.panel.change(text, f"{self._merge}.kind", mutate)

    def new_source(self, kind: str) -> dict:
        """A new source of ``kind`` with what the model suggests filled in."""
        if kind == "bundled":
            return {"kind": "bundled", "name": "digits", "image_size": 8}
        if kind == "keras":
            return {"kind": "keras", "name": "mnist"}
        if kind == "npy":
            return {"kind": "npy", "paths": {}}
        source: dict[str, Any] = {"kind": kind, "path": ""}
        if kind == "image_folder":
            shape = self.panel._first_input_shape()
            if shape is not None and len(shape) == 3:
                source["image_size"] = [int(shape[0]), int(shape[1])]
                source["color_mode"] = "grayscale" if shape[2] == 1 else "rgb"
        return source

    def set_source_key(self, key: str, value: Any, text: str) -> None:
        def mutate(d: dict) -> None:
            source = self._source_to_change(d)
            old = copy.deepcopy(source)
            if value is None or value == "":
                source.pop(key, None)
            else:
                source[key] = value
            if key == "name" and source.get("kind") == "bundled":
                if value == "digits":
                    source.setdefault("image_size", 8)
                else:
                    source.pop("image_size", None)
                    source.pop("flatten", None)
            if key == "name" and self.main:
                self.panel._refill_mapping(d, old)

        self.panel.change(self._text(text), f"{self._merge}.{key}", mutate)

    def set_path(self, path: str) -> None:
        """Use ``path`` (a file or folder) for the source, stored relative to the project's
        folder when it is under it."""
        value = stored_path(path, self.panel.document.path) if path else ""

        def mutate(d: dict) -> None:
            self._source_to_change(d)["path"] = value

        self.panel.change(self._text("Set data path"), f"{self._merge}.path", mutate)

    def _commit_path(self) -> None:
        if self.path_edit.isModified():
            self.path_edit.setModified(False)
            self.set_path(self.path_edit.text().strip())
            source = self.source()
            if isinstance(source, dict) and isinstance(source.get("path"), str):
                self.path_edit.setText(source["path"])  # as stored: relative to the project

    def browse(self) -> None:
        source = self.source() or {}
        kind = source.get("kind")
        document = self.panel.document
        start = ""
        if source.get("path"):
            start = str(resolve_path(str(source["path"]), document.path))
        elif document.path is not None:
            start = str(document.path.parent)
        if kind in ("image_folder", "text_folder"):
            path = QFileDialog.getExistingDirectory(self, f"Choose the {self.part} data folder",
                                                    start)  # fmt: skip
        else:
            filters = {"csv": "CSV files (*.csv *.tsv *.txt)", "npz": "NumPy archives (*.npz)"}
            path, _ = QFileDialog.getOpenFileName(
                self, f"Choose the {self.part} data file", start,
                filters.get(kind, "All files (*)"),
            )  # fmt: skip
        if path:
            self.set_path(path)

    def _commit_features(self, _item=None) -> None:
        checked = [
            self.features_list.item(i).text()
            for i in range(self.features_list.count())
            if self.features_list.item(i).checkState() == Qt.CheckState.Checked
            and self.features_list.item(i).flags() & Qt.ItemFlag.ItemIsEnabled
        ]
        source = self.source()
        target = source.get("target") if isinstance(source, dict) else None
        everything = [c for c in self._header if c != target]
        self.set_source_key("features", None if checked == everything else checked,
                            "Choose feature columns")  # fmt: skip

    def _commit_features_text(self) -> None:
        names = [n.strip() for n in self.features_edit.text().split(",") if n.strip()]
        self.set_source_key("features", names or None, "Choose feature columns")

    def _commit_image_size(self) -> None:
        self.set_source_key("image_size", [self.image_h.value(), self.image_w.value()],
                            "Set image size")  # fmt: skip

    def _commit_npy(self, _item=None) -> None:
        paths = {}
        for r in range(self.npy_table.rowCount()):
            k = self.npy_table.item(r, 0)
            v = self.npy_table.item(r, 1)
            if k is not None and k.text().strip():
                paths[k.text().strip()] = v.text().strip() if v is not None else ""
        self.set_source_key("paths", paths, "Set .npy files")

    def _browse_npy(self) -> None:
        document = self.panel.document
        start = str(document.path.parent) if document.path else ""
        files, _ = QFileDialog.getOpenFileNames(self, "Choose .npy files", start,
                                                "NumPy arrays (*.npy)")  # fmt: skip
        if files:
            self.add_npy_files(files)

    def add_npy_files(self, files: list[str]) -> None:
        def mutate(d: dict) -> None:
            paths = self._source_to_change(d).setdefault("paths", {})
            for f in files:
                paths[Path(f).stem] = stored_path(f, self.panel.document.path)
            if self.main:
                self.panel._fill_mapping(d)

        self.panel.change(self._text("Add .npy files"), f"{self._merge}.paths", mutate)

    def _remove_npy(self) -> None:
        r = self.npy_table.currentRow()
        item = self.npy_table.item(r, 0) if r >= 0 else None
        if item is None:
            return
        key = item.text()

        def mutate(d: dict) -> None:
            self._source_to_change(d).get("paths", {}).pop(key, None)

        self.panel.change(self._text("Remove a .npy file"), f"{self._merge}.paths", mutate)


# =========================================================================== the panel
class DataWidget(SettingsPage):
    """Edits ``settings["data"]`` of ``document`` and previews the data with ``engine`` (an
    :class:`~studio.ui.engine_client.EngineClient`, or None).

    Signals:
        previewReady(object): a preview's result dict arrived (also when it reports an error;
            an engine failure gives ``{"error": message}``).
        settingsEdited(str): after the panel changed the settings (the undo text).
    """

    previewReady = Signal(object)

    section = "data"
    complete_settings = staticmethod(data_settings)
    edit_errors = (*SettingsPage.edit_errors, ValueError)

    def __init__(self, document: Document, engine=None, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.engine = None
        self.preview_result: dict | None = None
        self._job: int | None = None
        self._job_started = 0.0
        self._want_preview = False  # run a preview once the engine has loaded
        self._stale = False  # settings changed while the panel was hidden
        # The last fraction and separate source of each part, to switch back to.
        self._fractions: dict[str, float] = {"validation": 0.2, "test": 0.1}
        self._separate: dict[str, dict] = {}
        page = self.page_layout
        self._build_source(page)
        self._build_splits(page)
        self._build_mapping(page)
        self._build_preview(page)
        self._finish()

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(lambda: self.preview(auto=True))
        document.pathChanged.connect(self._on_path_changed)
        self.set_engine(engine)
        self.refresh()
        if self.settings()["source"]:
            self._stale = True  # preview when first shown

    # ------------------------------------------------------------------ building
    def _build_source(self, page: QVBoxLayout) -> None:
        section = Section("Source", self.page)
        self.source_section = section
        editor = SourceEditor(self, ("source",), section.body)
        section.body_layout.addWidget(editor)
        self.source_editor = editor
        # The main editor's widgets under the panel's own names (tests and callers use them).
        for name in _EDITOR_WIDGETS:
            setattr(self, name, getattr(editor, name))
        self.source_form = editor.form
        self.source_note = editor.note
        page.addWidget(section)

    def _build_splits(self, page: QVBoxLayout) -> None:
        section = Section("Splits", self.page)
        self.splits_section = section
        form = make_form()
        section.body_layout.addLayout(form)
        self.splits_form = form
        self.part_modes: dict[str, Combo] = {}
        self.part_spins: dict[str, _PercentSpin] = {}
        self.part_errors: dict[str, QLabel] = {}
        self.part_sources: dict[str, SourceEditor] = {}
        spin_tips = {
            "validation": "The part of the data held out to validate after every epoch (after "
            "shuffling).",
            "test": "The part of the data held out to test the final model.",
        }
        for part in ("validation", "test"):
            mode = Combo()
            mode.setMinimumContentsLength(6)
            for key, text in PART_MODES:
                if key != "builtin":
                    mode.addItem(text, key)
                    mode.setItemData(mode.count() - 1, PART_MODE_TIPS[key].format(part=part),
                                     Qt.ItemDataRole.ToolTipRole)  # fmt: skip
            mode.setToolTip(f"Where the {part} data comes from.")
            mode.activated.connect(
                lambda _i, p=part: self.set_part_mode(p, self.part_modes[p].currentData())
            )
            spin = _PercentSpin()
            spin.setToolTip(spin_tips[part])
            spin.valueChanged.connect(
                lambda _v, p=part: self.set_split(p, self.part_spins[p].fraction())
            )
            box, error = with_error(_row_widget(mode, spin, stretch=0))
            form.addRow(part.capitalize(), box)
            # A separate source: the same editor as the training source's, under its choice
            # with a rule on its left, shown only while that is chosen.
            editor = SourceEditor(self, (part, "source"))
            editor.setObjectName("separateSource")
            editor.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
            editor.setStyleSheet("#separateSource { border-left: 2px solid palette(mid); }")
            editor.layout().setContentsMargins(6, 2, 0, 2)
            form.addRow("", editor)
            form.setRowVisible(editor, False)
            self.part_modes[part] = mode
            self.part_spins[part] = spin
            self.part_errors[part] = error
            self.part_sources[part] = editor
        self.validation_mode, self.test_mode = self.part_modes.values()
        self.validation_spin, self.test_spin = self.part_spins.values()
        self.validation_error, self.test_error = self.part_errors.values()
        self.validation_source, self.test_source = self.part_sources.values()
        self.shuffle = QCheckBox("Shuffle")
        self.shuffle.setToolTip("Shuffle once before splitting (with the seed) and every epoch.")
        self.shuffle.clicked.connect(lambda on: self.set_option("shuffle", on))
        form.addRow("", self.shuffle)
        self.seed = make_field(
            "data.seed", ParamSpec("seed", "int", 42, min=0,
                                   doc="The random seed of the shuffle and the splits."),
            42, section.body, form, label="Seed",
            commit=lambda _f, v: self.set_option("seed", 42 if v is None else v),
        )  # fmt: skip
        self.cache = QCheckBox("Cache")
        self.cache.setToolTip("tf.data's cache(): read and preprocess the data once.")
        self.cache.clicked.connect(lambda on: self.set_option("cache", on))
        self.prefetch = QCheckBox("Prefetch")
        self.prefetch.setToolTip("tf.data's prefetch(AUTOTUNE): prepare the next batches early.")
        self.prefetch.clicked.connect(lambda on: self.set_option("prefetch", on))
        form.addRow("Pipeline", _row_widget(self.cache, self.prefetch, stretch=1))
        page.addWidget(section)

    def _build_mapping(self, page: QVBoxLayout) -> None:
        section = Section("Mapping", self.page)
        self.mapping_section = section
        self.mapping_hint = muted(QLabel())
        self.mapping_hint.setWordWrap(True)
        section.body_layout.addWidget(self.mapping_hint)
        self.mapping_host = QVBoxLayout()
        self.mapping_host.setContentsMargins(0, 0, 0, 0)
        section.body_layout.addLayout(self.mapping_host)
        self.mapping_widget: QWidget | None = None
        self.input_rows: dict[str, _InputRow] = {}
        self.output_rows: dict[str, _OutputRow] = {}
        self._mapping_key: tuple | None = None
        page.addWidget(section)

    def _build_preview(self, page: QVBoxLayout) -> None:
        section = Section("Preview", self.page)
        self.preview_section = section
        body = section.body_layout
        top = QHBoxLayout()
        self.preview_button = QPushButton("Preview")
        self.preview_button.setToolTip("Load the data as training will, and check its shapes.")
        self.preview_button.clicked.connect(lambda: self.preview(auto=False))
        self.status_label = muted(QLabel())
        self.status_label.setWordWrap(True)
        top.addWidget(self.preview_button)
        top.addWidget(self.status_label, 1)
        body.addLayout(top)
        # A download or a slow load of the preview's data: what and how far (jobProgress).
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        body.addWidget(self.progress_bar)
        self.preview_error = error_label()
        body.addWidget(self.preview_error)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        body.addWidget(self.summary_label)
        self.checks_box = QWidget()
        self.checks_layout = QVBoxLayout(self.checks_box)
        self.checks_layout.setContentsMargins(0, 0, 0, 0)
        self.checks_layout.setSpacing(2)
        body.addWidget(self.checks_box)
        self.check_labels: list[QLabel] = []
        self.images_box = QWidget()
        self.images_grid = QGridLayout(self.images_box)
        self.images_grid.setContentsMargins(0, 4, 0, 0)
        self.images_grid.setSpacing(4)
        body.addWidget(self.images_box)
        self.image_labels: list[QLabel] = []
        self.balance_box = QWidget()
        self.balance_layout = QVBoxLayout(self.balance_box)
        self.balance_layout.setContentsMargins(0, 4, 0, 0)
        self.balance_layout.setSpacing(2)
        body.addWidget(self.balance_box)
        self.balance_plots: dict[str, Any] = {}
        self.rows_table = QTableWidget(0, 0)
        self.rows_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.rows_table.verticalHeader().setDefaultSectionSize(20)
        self.rows_table.horizontalHeader().setStretchLastSection(True)
        self.rows_table.setMaximumHeight(180)
        self.rows_table.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        body.addWidget(self.rows_table)
        for w in (self.checks_box, self.images_box, self.balance_box, self.rows_table):
            w.hide()
        page.addWidget(section)

    # ------------------------------------------------------------------ reading
    def error_text(self, key: str) -> str:
        """The red text shown for the setting ``key`` (or for the line it falls under)."""
        if key == self.seed.key:
            return self.seed.error_text()
        return self._shown_text(key)

    def _fields(self) -> list[tuple[str, str]]:
        """Field names for the mapping combos, with a tooltip each: the last preview's, else
        what the source is documented to give."""
        out: list[tuple[str, str]] = []
        result = self.preview_result or {}
        for f in result.get("fields") or []:
            if isinstance(f, dict) and f.get("name"):
                shape = f.get("shape")
                shape_text = (
                    format_shape((None, *shape)) if isinstance(shape, (list, tuple)) else ""
                )
                tip = " ".join(str(x) for x in (f.get("kind", ""), shape_text, f.get("dtype", "")))
                out.append((str(f["name"]), tip.strip()))
        if not out:
            ins, outs = known_fields(self.settings()["source"])
            out = [(n, "") for n in ins + outs]
        return out

    # ------------------------------------------------------------------ refreshing
    def _on_settings_changed(self, key: str) -> None:
        if key == "data":
            self.refresh()
            self._schedule_preview()

    def _on_graph_settled(self) -> None:
        self.refresh()
        if self.preview_result is not None:
            self._schedule_preview()  # the shape checks depend on the model

    def _on_path_changed(self, _path=None) -> None:
        for editor in self.source_editors():
            editor.forget_header()  # relative CSV paths now point elsewhere
        self.refresh()

    def source_editors(self) -> list[SourceEditor]:
        """The training source's editor and the separate validation and test sources'."""
        return [self.source_editor, *self.part_sources.values()]

    def refresh(self) -> None:
        """Show the document's data settings (the field being edited keeps its text)."""
        self._graph_timer.stop()
        d = self.settings()
        self.source_editor.update_from(d["source"])
        self._update_splits(d)
        self._update_mapping(d)
        self._show_diagnostics()

    def _update_splits(self, d: dict) -> None:
        source = d.get("source")
        is_keras = isinstance(source, dict) and source.get("kind") == "keras"
        for part in ("validation", "test"):
            spec = d.get(part) if isinstance(d.get(part), dict) else {}
            mode = part_mode(spec)
            if mode == "split" and _is_number(spec.get("split")):
                self._fractions[part] = spec["split"]  # to come back to from another choice
            elif mode == "source" and isinstance(spec["source"], dict):
                self._separate[part] = copy.deepcopy(spec["source"])
            combo = self.part_modes[part]
            offered = part == "test" and (is_keras or mode == "builtin")
            i = combo.findData("builtin")
            if offered and i < 0:
                combo.addItem(dict(PART_MODES)["builtin"], "builtin")
                combo.setItemData(combo.count() - 1, PART_MODE_TIPS["builtin"],
                                  Qt.ItemDataRole.ToolTipRole)  # fmt: skip
            elif not offered and i >= 0:
                combo.removeItem(i)
            _select(combo, mode)
            spin = self.part_spins[part]
            spin.setVisible(mode == "split")
            spin.setEnabled(mode == "split")
            if not spin.hasFocus():
                fraction = spec.get("split", 0) if mode == "split" else self._fractions[part]
                spin.set_fraction(fraction)
            editor = self.part_sources[part]
            self.splits_form.setRowVisible(editor, mode == "source")
            if mode == "source":
                editor.update_from(spec.get("source"))
        self.shuffle.setChecked(bool(d.get("shuffle")))
        self.seed.set_value(d.get("seed"))
        self.cache.setChecked(bool(d.get("cache")))
        self.prefetch.setChecked(bool(d.get("prefetch")))

    def _update_mapping(self, d: dict) -> None:
        graph = self.document.graph
        inputs = list(d["inputs"])
        outputs = list(d["outputs"])
        shapes = {}
        for name in inputs:
            node = graph.node(name) if name in graph else None
            shape = (node.params.get("shape") or node.params.get("batch_shape")) if node else None
            if isinstance(shape, list) and node is not None and "shape" in node.params:
                shape = [None, *shape]
            shapes[name] = shape
        kinds = {name: output_kind(graph, name) for name in outputs}
        key = (tuple((n, str(shapes[n])) for n in inputs), tuple(kinds.items()))
        if key != self._mapping_key:
            self._rebuild_mapping(inputs, outputs, shapes, kinds)
            self._mapping_key = key
        fields = self._fields()
        for name, row in self.input_rows.items():
            row.update_from(d["inputs"].get(name) or {}, fields)
        for name, row in self.output_rows.items():
            row.update_from(d["outputs"].get(name) or {}, fields)
        if not inputs and not outputs:
            self.mapping_hint.setText("The model has no inputs or outputs yet.")
        else:
            self.mapping_hint.setText("Which field of the data feeds each model input and "
                                      "holds the targets of each output.")  # fmt: skip

    def _rebuild_mapping(self, inputs, outputs, shapes, kinds) -> None:
        if self.mapping_widget is not None:
            discard(self.mapping_widget)
        w = QWidget(self.mapping_section.body)
        grid = QGridLayout(w)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(2, 2)
        self.input_rows = {}
        self.output_rows = {}
        row = 0
        if inputs:
            for col, (text, tip) in enumerate((
                ("Input", ""), ("Field", ""), ("Scale", "Multiply by"),
                ("Norm.", "Normalize"), ("Resh.", "Reshape to the input's shape"),
            )):  # fmt: skip
                lab = muted(QLabel(text, w))
                lab.setToolTip(tip)
                grid.addWidget(lab, row, col)
            row += 1
            for name in inputs:
                r = _InputRow(self, grid, row, name, shapes.get(name))
                if self._open.get(f"input.{name}"):
                    r.more.setChecked(True)
                self.input_rows[name] = r
                row += 3
        if outputs:
            for col, text in enumerate(("Output", "Field", "Encoding")):
                grid.addWidget(muted(QLabel(text, w)), row, col)
            row += 1
            for name in outputs:
                self.output_rows[name] = _OutputRow(self, grid, row, name, kinds[name])
                row += 2
        self.mapping_widget = w
        self.mapping_host.addWidget(w)
        w.show()

    def _show_diagnostics(self) -> None:
        try:
            # Only this panel's part: a broken training section is the training panel's.
            mine = {"data": self.document.project.settings.get("data") or {}}
            if not isinstance(mine["data"], dict) or self._read_error:
                mine = {}
            diagnostics = check_settings(mine, self.document.graph)
        except Exception as exc:  # a settings file no check foresaw: say so, never crash
            diagnostics = [Diagnostic(ERROR, f"The data settings cannot be checked: {exc}",
                                      param="data")]  # fmt: skip
        self.diagnostics = [d for d in diagnostics if (d.param or "").startswith("data")]
        sinks: dict[str, Callable[[str | None], None]] = {
            "data.validation": show_on(self.validation_error),
            "data.test": show_on(self.test_error),
            self.seed.key: self.seed.show_diagnostic,
        }
        for editor in self.source_editors():
            sinks.update(editor.sinks())
        for row in [*self.input_rows.values(), *self.output_rows.values()]:
            sinks[row.key] = row.show_diagnostic
        by_sink = self._route_diagnostics(sinks)
        for editor in self.source_editors():
            warn_only = all(d.severity != ERROR for d in by_sink.get(editor.key, []))
            set_text_color(editor.kind_error, WARNING_COLOR if warn_only else ERROR_COLOR)

    # ------------------------------------------------------------------ edits
    # The main source's edits, kept under the panel's names.
    def set_kind(self, kind: str | None) -> None:
        self.source_editor.set_kind(kind)

    def set_source_key(self, key: str, value: Any, text: str) -> None:
        self.source_editor.set_source_key(key, value, text)

    def set_path(self, path: str) -> None:
        """Use ``path`` (a file or folder) for the training source, stored relative to the
        project's folder when it is under it."""
        self.source_editor.set_path(path)

    def browse(self) -> None:
        self.source_editor.browse()

    def add_npy_files(self, files: list[str]) -> None:
        self.source_editor.add_npy_files(files)

    def _main_source_changed(self, d: dict, old: Any) -> None:
        """The training source became another kind (in ``d``, the settings being changed):
        keras.datasets bring their own test set, and the mapping follows the fields."""
        test = d.get("test") or {}
        kind = d["source"].get("kind")
        if kind == "keras" and "split" in test and "source" not in test:
            d["test"] = {"builtin": True}
        elif kind != "keras" and test.get("builtin"):
            d["test"] = {"split": self._fractions["test"]}
        self._refill_mapping(d, old)

    def _first_input_shape(self) -> tuple | None:
        graph = self.document.graph
        for name in input_names(graph):
            shape = graph.node(name).params.get("shape")
            if isinstance(shape, list) and all(isinstance(s, int) for s in shape):
                return tuple(shape)
        return None

    def _fill_mapping(self, d: dict) -> None:
        """Give inputs and outputs that are not mapped yet the source's documented fields
        (in order), and image inputs the scale their range needs."""
        ins, outs = known_fields(d["source"])
        taken = {m.get("field") for m in d["inputs"].values()}
        for name, mapping in d["inputs"].items():
            if mapping.get("field"):
                continue
            free = [f for f in ins if f not in taken]
            field = name if name in free else (free[0] if free else None)
            if field is None:
                continue
            taken.add(field)
            mapping["field"] = field
            scale = default_scale(d["source"], field)
            if scale is not None and "scale" not in mapping:
                mapping["scale"] = scale
            if field == "text" and "text" not in mapping:
                mapping["text"] = True
            if field == "sequence" and "pad" not in mapping:
                mapping["pad"] = True
        taken = {m.get("field") for m in d["outputs"].values()}
        for name, mapping in d["outputs"].items():
            if mapping.get("field"):
                continue
            free = [f for f in outs if f not in taken]
            field = name if name in free else (free[0] if free else None)
            if field is not None:
                taken.add(field)
                mapping["field"] = field

    def _refill_mapping(self, d: dict, old_source: Any) -> None:
        """Another source: mappings that were filled in for the old one (and not changed
        since), or that name a field the new one does not have, are filled in anew."""
        ins, outs = known_fields(d["source"])
        before = self._auto_mapping(d, old_source)
        for section, names in (("inputs", ins), ("outputs", outs)):
            for name, mapping in d[section].items():
                auto = before[section].get(name)
                field = mapping.get("field")
                if (field and auto is not None and mapping == auto) or (
                    field and names and field not in names
                ):
                    keep = {"encoding": mapping["encoding"]} if "encoding" in mapping else {}
                    d[section][name] = keep if section == "outputs" else {}
        self._fill_mapping(d)

    def _auto_mapping(self, d: dict, source: Any) -> dict:
        """The mapping :meth:`_fill_mapping` gives ``source`` from scratch."""
        trial = copy.deepcopy(d)
        trial["source"] = source
        trial["inputs"] = {name: {} for name in d["inputs"]}
        trial["outputs"] = {
            name: {k: v for k, v in m.items() if k == "encoding"}
            for name, m in d["outputs"].items()
        }
        self._fill_mapping(trial)
        return {"inputs": trial["inputs"], "outputs": trial["outputs"]}

    def set_split(self, part: str, fraction: float) -> None:
        def mutate(d: dict) -> None:
            d[part] = {"split": fraction}

        self.change(f"Set {part} split", f"{part}.split", mutate)

    def set_part_mode(self, part: str, mode: str | None) -> None:
        """Take the ``part`` ("validation" or "test") as a fraction of the training data
        (``"split"``: the last fraction it had), from a separate source (``"source"``: the
        last one it had, else one like the training source without its files) or, for the
        test part, from the dataset's own test set (``"builtin"``)."""
        if mode == "split":
            value: dict = {"split": self._fractions[part]}
            text = f"Split the {part} data off the training data"
        elif mode == "source":
            source = copy.deepcopy(self._separate.get(part)) or self._separate_source()
            value = {"source": source}
            text = f"Use a separate {part} source"
        elif mode == "builtin" and part == "test":
            value = {"builtin": True}
            text = "Use the built-in test set"
        else:
            self.refresh()
            return

        def mutate(d: dict) -> None:
            d[part] = copy.deepcopy(value)

        self.change(text, f"{part}.mode", mutate)

    def _separate_source(self) -> dict:
        """A new separate source: the training source's kind and options (a CSV file's
        target and features, an image size), without its files."""
        main = self.settings()["source"]
        if not isinstance(main, dict) or main.get("kind") not in dict(KINDS):
            return self.source_editor.new_source("bundled")
        source = copy.deepcopy(main)
        if "path" in source:
            source["path"] = ""
        if "paths" in source:
            source["paths"] = {}
        return source

    def set_builtin_test(self, on: bool) -> None:
        self.set_part_mode("test", "builtin" if on else "split")

    def set_option(self, key: str, value: Any) -> None:
        def mutate(d: dict) -> None:
            d[key] = value

        self.change(f"Set {key}", key, mutate)

    def set_input_field(self, name: str, field: str) -> None:
        def mutate(d: dict) -> None:
            mapping = d["inputs"][name]
            if field:
                if mapping.get("field") != field and "scale" not in mapping:
                    scale = default_scale(d["source"], field)
                    if scale is not None:
                        mapping["scale"] = scale
                mapping["field"] = field
            else:
                mapping.pop("field", None)

        self.change(f"Feed input '{name}'", f"inputs.{name}.field", mutate)

    def set_input_option(self, name: str, key: str, value: Any) -> None:
        def mutate(d: dict) -> None:
            mapping = d["inputs"][name]
            if value is None or value is False:
                mapping.pop(key, None)
            else:
                mapping[key] = value

        self.change(f"Set {key} of input '{name}'", f"inputs.{name}.{key}", mutate)

    def set_output_field(self, name: str, field: str) -> None:
        def mutate(d: dict) -> None:
            mapping = d["outputs"][name]
            if field:
                mapping["field"] = field
            else:
                mapping.pop("field", None)

        self.change(f"Set targets of '{name}'", f"outputs.{name}.field", mutate)

    def set_output_encoding(self, name: str, encoding: str) -> None:
        def mutate(d: dict) -> None:
            d["outputs"][name]["encoding"] = encoding

        self.change(f"Set encoding of '{name}'", f"outputs.{name}.encoding", mutate)

    # ------------------------------------------------------------------ preview
    def _engine_slots(self) -> tuple[tuple[str, Callable], ...]:
        return (
            ("jobDone", self._on_job_done),
            ("jobProgress", self._on_job_progress),
            ("loaded", self._on_engine_loaded),
            ("loadFailed", self._on_engine_failed),
        )

    def set_engine(self, engine) -> None:
        """Use ``engine`` (an EngineClient or None) for previews. Of its signals, those it
        has are used: ``jobDone``, ``jobProgress`` (a download's progress), ``loaded``,
        ``loadFailed``."""
        if self.engine is not None:
            for name, slot in self._engine_slots():
                signal = getattr(self.engine, name, None)
                if signal is None:
                    continue
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.engine = engine
        self._job = None  # the old engine's job numbers mean nothing to this one
        self._hide_progress()
        if engine is not None:
            for name, slot in self._engine_slots():
                signal = getattr(engine, name, None)
                if signal is not None:
                    signal.connect(slot)

    def _engine_ready(self) -> bool:
        return self.engine is not None and bool(getattr(self.engine, "is_loaded", True))

    def _schedule_preview(self) -> None:
        if not self.settings()["source"]:
            return
        if self.isVisible():
            self._preview_timer.start()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._preview_timer.start()

    def preview(self, auto: bool = False) -> bool:
        """Ask the engine for a preview of the current data settings; False (with the reason
        in the status line) when it cannot run now."""
        self._preview_timer.stop()
        d = self.settings()
        if not d["source"]:
            if not auto:
                self._status("Choose a data source first.")
            return False
        if self.engine is None:
            self._status("No engine: the preview needs TensorFlow, which runs in the engine "
                         "process of the Studio window.")  # fmt: skip
            return False
        if not self._engine_ready():
            self._want_preview = True
            self._status("TensorFlow is still loading; the preview runs when it is ready.")
            return False
        base = str(self.document.path.parent) if self.document.path is not None else None
        self._hide_progress()  # an older preview's download no longer matters
        try:
            self._job = self.engine.run("data-preview", d, self.document.graph.copy(), base)
        except Exception as exc:  # a stopped engine: say so
            self._job = None
            self._status(f"The preview could not start: {exc}", error=True)
            return False
        self._job_started = time.perf_counter()
        self._status("Loading the preview…")
        return True

    def _on_engine_loaded(self, *_args) -> None:
        if self._want_preview:
            self._want_preview = False
            self.preview(auto=True)

    def _on_engine_failed(self, message: str) -> None:
        if self._want_preview or self._job is not None:
            self._want_preview = False
            self._job = None
            self._hide_progress()
            self._status(f"No preview: {message}", error=True)

    def _on_job_progress(self, job_id: int, fraction: float, text: str) -> None:
        """The preview's job reports progress (a dataset downloading or loading): a bar
        with what it does and how far it got; other jobs' progress is not the panel's."""
        if self._job is None or job_id != self._job:
            return
        bar = self.progress_bar
        text = str(text or "")
        try:
            value = float(fraction)
        except (TypeError, ValueError):
            value = math.nan
        if math.isfinite(value) and value >= 0:
            bar.setRange(0, 1000)
            bar.setValue(round(min(value, 1.0) * 1000))
            bar.setFormat(f"{text} · %p%" if text else "%p%")
        else:  # the size is not known: a busy bar
            bar.setRange(0, 0)
            bar.setFormat(text)
        bar.setToolTip(text)
        bar.show()

    def _hide_progress(self) -> None:
        self.progress_bar.hide()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.reset()

    def _on_job_done(self, job_id: int, result: Any, error: str) -> None:
        if job_id != self._job:
            return  # another job, or an older preview
        self._job = None
        self._hide_progress()
        seconds = time.perf_counter() - self._job_started
        if error or not isinstance(result, dict):
            result = {"error": _first_lines(error or "The engine gave no preview.")}
        self.preview_result = result
        try:
            self._show_preview(result)
        except Exception as exc:  # a result this panel does not understand: never crash
            self.preview_error.setText(f"The preview could not be shown: {exc}")
            self.preview_error.show()
        if result.get("error"):
            self._status("")
        else:
            self._status(f"Previewed in {seconds:.1f} s.")
        # Field names from the preview fill the mapping combos.
        fields = self._fields()
        for row in [*self.input_rows.values(), *self.output_rows.values()]:
            row.field.set_items(fields)
        self.previewReady.emit(result)

    def _status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        if error:
            set_text_color(self.status_label, ERROR_COLOR)
        else:
            muted(self.status_label)

    def _show_preview(self, result: dict) -> None:
        error = str(result.get("error") or "")
        checks = result.get("checks") or []
        if any(isinstance(c, dict) and c.get("message") == error for c in checks):
            error = ""  # the failed check says it, in its place
        self.preview_error.setText(error)
        self.preview_error.setVisible(bool(error))
        # summary
        parts = []
        if result.get("description"):
            parts.append(str(result["description"]))
        splits = result.get("splits") or {}
        if splits:
            sizes = " · ".join(f"{k} {int(splits.get(k) or 0):,}"
                               for k in ("train", "validation", "test"))  # fmt: skip
            parts.append(f"<span style='color:{muted_color(self.palette()).name()}'>"
                         f"{sizes}</span>")  # fmt: skip
        self.summary_label.setText("<br>".join(parts))
        self.summary_label.setVisible(bool(parts))
        self._show_checks(result.get("checks") or [])
        self._show_images(result.get("images") or [])
        self._show_balance(result.get("balance") or {})
        self._show_rows(result.get("rows") or [])

    def _show_checks(self, checks: list) -> None:
        for label in self.check_labels:
            discard(label)
        self.check_labels = []
        for c in checks:
            if not isinstance(c, dict):
                continue
            ok = bool(c.get("ok"))
            role = "Input" if c.get("role") == "input" else "Output"
            message = c.get("message") or (
                f"{role} '{c.get('name')}' gets {c.get('got') or '?'}"
                + (f" (expects {c.get('expected')})" if c.get("expected") else "")
            )
            label = QLabel(("✓ " if ok else "✗ ") + str(message))
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            set_text_color(label, SUCCESS_COLOR if ok else ERROR_COLOR)
            label.setToolTip(f"expects {c.get('expected', '?')}, gets {c.get('got') or '?'}")
            self.checks_layout.addWidget(label)
            self.check_labels.append(label)
        self.checks_box.setVisible(bool(self.check_labels))

    def _show_images(self, images: list) -> None:
        for label in self.image_labels:
            discard(label)
        self.image_labels = []
        columns = 4
        for i, item in enumerate(images[:16]):
            try:
                array, caption = item
            except (TypeError, ValueError):
                continue
            image = image_from_array(array)
            if image is None:
                continue
            scale = max(1, THUMB // max(image.width(), image.height()))
            size = QSize(image.width() * scale, image.height() * scale)
            if max(size.width(), size.height()) > THUMB:
                size.scale(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio)
            pixmap = QPixmap.fromImage(image.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            ))  # fmt: skip
            cell = QLabel()
            cell.setPixmap(pixmap)
            cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.setFixedSize(THUMB + 4, THUMB + 4)
            cell.setFrameShape(QFrame.Shape.Box)
            cell.setToolTip(str(caption))
            text = QLabel(str(caption))
            text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text.setMaximumWidth(THUMB + 4)
            box = QWidget()
            v = QVBoxLayout(box)
            v.setContentsMargins(0, 0, 0, 0)
            v.setSpacing(0)
            v.addWidget(cell)
            v.addWidget(text)
            self.images_grid.addWidget(box, i // columns, i % columns)
            self.image_labels.append(box)
        self.images_box.setVisible(bool(self.image_labels))

    def _show_balance(self, balance: dict) -> None:
        for plot in self.balance_plots.values():
            discard(plot)
        self.balance_plots = {}
        if not balance:
            self.balance_box.hide()
            return
        import pyqtgraph as pg

        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        for field, counts in balance.items():
            if not isinstance(counts, dict) or not counts:
                continue
            names = [str(k) for k in counts]
            values = [float(v) for v in counts.values()]
            plot = pg.PlotWidget(background=pal.color(QPalette.ColorRole.Base))
            plot.setMinimumHeight(120)
            plot.setMaximumHeight(150)
            plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setMenuEnabled(False)
            item = plot.getPlotItem()
            item.setTitle(f"<span style='font-size:9pt'>Class balance: {field}</span>",
                          color=fg)  # fmt: skip
            bars = pg.BarGraphItem(
                x=list(range(len(values))), height=values, width=0.7,
                brush=pal.color(QPalette.ColorRole.Highlight), pen=None,
            )  # fmt: skip
            plot.addItem(bars)
            step = max(1, math.ceil(len(names) / 12))
            ticks = [(i, n) for i, n in enumerate(names) if i % step == 0]
            for side in ("bottom", "left"):
                axis = item.getAxis(side)
                axis.setPen(fg)
                axis.setTextPen(fg)
            item.getAxis("bottom").setTicks([ticks])
            plot.setXRange(-0.6, len(values) - 0.4, padding=0)
            plot.setYRange(0, max(values) * 1.1 if max(values) > 0 else 1, padding=0)
            plot.setToolTip(", ".join(f"{n}: {int(v):,}" for n, v in zip(names, values)))
            self.balance_layout.addWidget(plot)
            self.balance_plots[field] = plot
        self.balance_box.setVisible(bool(self.balance_plots))

    def _show_rows(self, rows: list) -> None:
        columns: list[str] = []
        for r in rows:
            if isinstance(r, dict):
                columns += [str(k) for k in r if str(k) not in columns]
        self.rows_table.clear()
        self.rows_table.setColumnCount(len(columns))
        self.rows_table.setRowCount(len(rows))
        self.rows_table.setHorizontalHeaderLabels(columns)
        for i, r in enumerate(rows):
            if not isinstance(r, dict):
                continue
            for j, c in enumerate(columns):
                text = str(r.get(c, ""))
                item = QTableWidgetItem(text if len(text) <= 200 else text[:199] + "…")
                item.setToolTip(text[:2000])
                self.rows_table.setItem(i, j, item)
        self.rows_table.resizeColumnsToContents()
        for j in range(len(columns)):
            self.rows_table.setColumnWidth(j, min(self.rows_table.columnWidth(j), 160))
        self.rows_table.setVisible(bool(rows and columns))


def _select(combo: QComboBox, value: Any) -> None:
    i = combo.findData(value)
    if i < 0:
        combo.addItem(f"{value} (unknown)", value)
        i = combo.count() - 1
    combo.setCurrentIndex(i)


def _first_lines(text: str, n: int = 6) -> str:
    """An engine error for the user: never a whole traceback."""
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    if any(line.startswith("Traceback") for line in lines):
        lines = lines[-1:]
    return "\n".join(lines[:n])


__all__ = ["DataWidget"]
