"""The inspector: the selected node's name and parameters, as a form made from the catalog.

Every field commits on Enter / focus-out (spin box arrows after a short pause, combo boxes
and check boxes at once) as one undoable command. Before a value is pushed it is checked by
the validator on a copy of the graph: a value the layer would reject is not pushed; its
reason shows in red under the field, and the field keeps the text so the user can fix it.

A value equal to the catalog default *unsets* the parameter (nodes store only non-default
parameters, see docs/architecture.md). The form is rebuilt only when the node's structure
changes (another type, sharing, constant ports); otherwise document changes (edits, undo,
redo) update the values of the fields that are not being edited, so focus is never lost.
"""

from __future__ import annotations

import ast
import copy
import json
import math
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeySequence, QPalette, QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.catalog import LayerSpec, ParamSpec
from studio.core.commands import Command, Rename, SetCallArgs, SetParams, in_graph
from studio.core.graph import MODEL_TYPE, Graph, GraphError, Node
from studio.core.validation import ERROR, validate, wrappable_types
from studio.ui.document import Document
from studio.ui.panels import ERROR_COLOR, format_count, format_shape, muted_color

#: Parameters shown under "Advanced" (collapsed): rarely changed in a first model.
ADVANCED_PARAMS = frozenset(
    {
        "dtype",
        "seed",
        "lora_rank",
        "lora_alpha",
        "quantization_config",
        "activity_regularizer",
        "bias_regularizer",
        "recurrent_regularizer",
        "sparse",
        "ragged",
        "batch_shape",
        "batch_size",
        "optional",
        "unroll",
        "stateful",
        "use_cudnn",
        "noise_shape",
        "autocast",
    }
)
ADVANCED_SUFFIXES = ("_constraint",)

INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e15
STEP_COMMIT_MS = 400
NAMED_KINDS = ("activation", "initializer", "regularizer", "constraint")
TUPLE_KINDS = ("int_tuple", "int_or_tuple", "float_or_tuple", "shape", "int_list", "float_list")
DEFAULT_DTYPE_TEXT = "(default)"


# =========================================================================== values
def same_value(a: Any, b: Any) -> bool:
    """Equality of JSON-like values, lists and tuples alike, booleans apart from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple, dict)) or isinstance(b, (list, tuple, dict)):
        return False
    return a == b


def shown_default(spec: LayerSpec, p: ParamSpec) -> Any:
    """The default a field shows: a serialized default (``GlorotUniform``) by its short name
    (``glorot_uniform``), a dtype policy as "(default)"."""
    if p.name in spec.defaults:
        d = spec.defaults[p.name]
        if isinstance(d, dict):
            if p.kind == "dtype":
                return None
            if p.default is not None:
                return p.default
        return d
    return p.default


def is_default(spec: LayerSpec, p: ParamSpec, value: Any) -> bool:
    """True when ``value`` means the same as leaving the parameter unset."""
    if p.kind == "dtype" and value is None:
        return True
    candidates = [p.default, shown_default(spec, p)]
    if p.name in spec.defaults:
        candidates.append(spec.defaults[p.name])
    if p.required and value is None:
        return True  # unset: the validator then says the value is needed
    for c in candidates:
        if same_value(value, c):
            return True
        # ``3`` and ``[3, 3]`` are the same kernel size.
        if (
            p.kind in ("int_or_tuple", "float_or_tuple")
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and isinstance(c, (list, tuple))
            and c
            and all(same_value(value, x) for x in c)
        ):
            return True
    return False


def format_number(v: Any) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        text = format(v, ".10g")
        if re.fullmatch(r"-?\d+", text):
            text += ".0"
        return text
    return str(v)


def format_tuple(value: Any) -> str:
    """``[3, 3]`` -> ``"3, 3"``, ``[None, 28]`` -> ``"None, 28"``, ``[[1, 1], [2, 2]]`` ->
    ``"(1, 1), (2, 2)"``; None -> ``""``."""

    def item(x: Any) -> str:
        if x is None:
            return "None"
        if isinstance(x, (list, tuple)):
            inner = ", ".join(item(y) for y in x)
            return f"({inner},)" if len(x) == 1 else f"({inner})"
        return format_number(x)

    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(item(x) for x in value)
    return item(value)


_TUPLE_HINTS = {
    "shape": "Type sizes separated by commas, None for any size: for example None, 28.",
    "float_or_tuple": "Type a number or numbers separated by commas: for example 0.5, 0.5.",
    "float_list": "Type numbers separated by commas: for example 0.5, 0.25.",
}


def parse_tuple(text: str, kind: str) -> Any:
    """Parse what a user types into a tuple field: ``"3, 3"`` -> ``[3, 3]``, ``"3"`` -> ``3``
    (or ``[3]`` for list kinds), ``"None, 28"`` -> ``[None, 28]``, ``"(1, 1), (2, 2)"`` ->
    ``[[1, 1], [2, 2]]``, ``""`` -> None. Raises ValueError with a hint."""
    t = text.strip()
    if not t or t.lower() in ("none", "null"):
        return None
    bracketed = t[0] in "[("
    src = re.sub(r"\bnone\b", "null", t, flags=re.IGNORECASE)
    src = src.replace("(", "[").replace(")", "]")
    src = re.sub(r"(?<![\d\w])\.(\d)", r"0.\1", src)  # .5 -> 0.5
    src = re.sub(r",\s*\]", "]", src)  # (3,) -> [3]
    src = re.sub(r",\s*$", "", src)  # 3, -> 3
    try:
        wrapped = json.loads("[" + src + "]")
    except json.JSONDecodeError:
        raise ValueError(
            _TUPLE_HINTS.get(kind, "Type whole numbers separated by commas: for example 3, 3.")
        ) from None
    if bracketed and len(wrapped) == 1 and isinstance(wrapped[0], list):
        return wrapped[0]
    if kind in ("int_or_tuple", "float_or_tuple") and len(wrapped) == 1:
        return wrapped[0]
    return wrapped


def format_json(value: Any) -> str:
    if value is None:
        return ""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def parse_json(text: str) -> Any:
    """JSON, or a Python literal (``None``, ``(1, 2)``), or a bare word as a string."""
    t = text.strip()
    if not t:
        return None
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        pass
    try:
        value = ast.literal_eval(t)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if re.fullmatch(r"[A-Za-z_][\w.\-]*", t):
            return t
        raise ValueError(
            "Type a number, a list like [1, 2], a quoted string or null (JSON)."
        ) from None
    return json.loads(json.dumps(value))  # tuples -> lists; non-JSON values raise


def dict_label(value: dict) -> str:
    """How a serialized object shows in a combo box: its class name (a dtype policy: its
    policy name)."""
    cfg = value.get("config")
    if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(cfg, dict):
        return str(cfg.get("name", value.get("class_name")))
    return str(value.get("class_name", "?"))


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def doc_tooltip(p: ParamSpec) -> str:
    parts = []
    if p.doc:
        parts.append(html_escape(p.doc).replace("\n", "<br>"))
    if p.required:
        parts.append("<i>Required.</i>")
    if p.min is not None or p.max is not None:
        lo = "" if p.min is None else format_number(p.min)
        hi = "" if p.max is None else format_number(p.max)
        if lo and hi:
            parts.append(f"<i>Between {lo} and {hi}.</i>")
        elif lo:
            parts.append(f"<i>At least {lo}.</i>")
        else:
            parts.append(f"<i>At most {hi}.</i>")
    return "<p>" + "<br>".join(parts) + "</p>" if parts else ""


def is_advanced(p: ParamSpec) -> bool:
    return not p.required and (p.name in ADVANCED_PARAMS or p.name.endswith(ADVANCED_SUFFIXES))


# =========================================================================== editors
class ParamEditor(QWidget):
    """A field for one value. ``value()`` raises ValueError with a sentence when the text
    cannot be read; ``committed`` is emitted when the user is done with an edit."""

    committed = Signal()

    def __init__(self, p: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.p = p
        self.dirty = False  # the user changed the text since it was last set or committed
        self.doc_tip = doc_tooltip(p)
        self._setting = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)

    def main_widget(self) -> QWidget:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError

    def _set(self, value: Any) -> None:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        self._setting = True
        try:
            self._set(value)
        finally:
            self._setting = False
        self.dirty = False

    def is_editing(self) -> bool:
        w = QApplication.focusWidget()
        return w is not None and (w is self or self.isAncestorOf(w))

    def _edited(self, *_args: Any) -> None:
        if not self._setting:
            self.dirty = True

    def _commit(self, *_args: Any) -> None:
        if not self._setting:
            self.committed.emit()


class _WheelGuard:
    """Mixin: a wheel turned over an unfocused field scrolls the panel, not the value."""

    def wheelEvent(self, event):  # noqa: N802 - Qt override
        if not self.hasFocus():  # type: ignore[attr-defined]
            event.ignore()
            return
        super().wheelEvent(event)  # type: ignore[misc]


class _NarrowSpin(_WheelGuard):
    """Mixin: a spin box over a huge range still fits a narrow dock."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()  # type: ignore[misc]
        narrow = self.fontMetrics().horizontalAdvance("00000000") + 24  # type: ignore[attr-defined]
        return QSize(min(hint.width(), narrow), hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()  # type: ignore[misc]
        return QSize(min(hint.width(), self.minimumSizeHint().width() + 40), hint.height())

    # Shared by the int and float spin boxes: the arrows stay in [soft_min, soft_max]
    # (stepping below soft_min reaches the "None" value when there is one).
    def _stepped_value(self, value, steps):
        return value + steps * self.singleStep()  # type: ignore[attr-defined]

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        v = self.value()  # type: ignore[attr-defined]
        if self.none_value is not None and v == self.none_value:
            new = self.soft_min if steps > 0 else v
        else:
            new = self._stepped_value(v, steps)
            if new < self.soft_min:
                new = self.none_value if self.none_value is not None else self.soft_min
            new = min(new, self.soft_max)
        if new != v:
            self.setValue(new)  # type: ignore[attr-defined]
            self.selectAll()  # type: ignore[attr-defined]
            self.stepped.emit()  # type: ignore[attr-defined]

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802 - Qt override
        v = self.value()  # type: ignore[attr-defined]
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        bottom = self.none_value if self.none_value is not None else self.soft_min
        if v < self.soft_max:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        if v > bottom:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags


class _IntSpin(_NarrowSpin, QSpinBox):
    """A spin box whose arrows stay in [soft_min, soft_max] but whose text takes any integer,
    so that an out-of-range value reaches the validator and gets a reason."""

    stepped = Signal()

    def __init__(self, soft_min: int, soft_max: int, none_value: int | None) -> None:
        super().__init__()
        self.soft_min, self.soft_max, self.none_value = soft_min, soft_max, none_value
        lo = none_value if none_value is not None else -INT_LIMIT
        self.setRange(lo, INT_LIMIT)
        if none_value is not None:
            self.setSpecialValueText("None")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccelerated(True)


class _FloatSpin(_NarrowSpin, QDoubleSpinBox):
    """Like :class:`_IntSpin` for numbers; shows ``0.5`` rather than ``0.500000`` and takes
    ``1e-07``."""

    stepped = Signal()

    def __init__(self, soft_min: float, soft_max: float, none_value: float | None) -> None:
        super().__init__()
        self.soft_min, self.soft_max, self.none_value = soft_min, soft_max, none_value
        self.setDecimals(12)
        lo = none_value if none_value is not None else -FLOAT_LIMIT
        self.setRange(lo, FLOAT_LIMIT)
        if none_value is not None:
            self.setSpecialValueText("None")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccelerated(True)

    def _stepped_value(self, value, steps):
        return round(value + steps * self.singleStep(), 10)  # no 0.30000000000000004

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return format_number(float(value))

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        t = text.strip()
        if self.none_value is not None and t.lower() in ("none", ""):
            return self.none_value
        try:
            return float(t)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # noqa: D102 - Qt override
        t = text.strip()
        if self.none_value is not None and "none".startswith(t.lower()):
            state = (
                QValidator.State.Acceptable
                if t.lower() == "none"
                else QValidator.State.Intermediate
            )
            return state, text, pos
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", t):
            try:
                v = float(t)
            except ValueError:
                return QValidator.State.Invalid, text, pos
            if abs(v) <= FLOAT_LIMIT:
                return QValidator.State.Acceptable, text, pos
            return QValidator.State.Invalid, text, pos
        if re.fullmatch(r"[+-]?(\d*\.?\d*)([eE][+-]?)?", t):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def fixup(self, text: str) -> str:
        return text


class _Combo(_WheelGuard, QComboBox):
    def __init__(self) -> None:
        super().__init__()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(5)


class _SpinEditor(ParamEditor):
    """Shared by the int and float editors: commit on Enter/focus-out and after arrows."""

    def _setup_spin(self, spin: QAbstractSpinBox) -> None:
        self.spin = spin
        self.layout().addWidget(spin, 1)
        spin.lineEdit().textEdited.connect(self._edited)
        spin.editingFinished.connect(self._finish)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(STEP_COMMIT_MS)
        self._timer.timeout.connect(self._commit)
        spin.stepped.connect(self._on_step)

    def main_widget(self) -> QWidget:
        return self.spin

    def _on_step(self) -> None:
        if not self._setting:
            self.dirty = True
            self._timer.start()

    def _finish(self) -> None:
        self._timer.stop()
        self._commit()

    def flush(self) -> None:
        """Commit a pending arrow step now."""
        if self._timer.isActive():
            self._finish()


class IntEditor(_SpinEditor):
    def __init__(self, p: ParamSpec, allow_none: bool, parent: QWidget | None = None) -> None:
        super().__init__(p, parent)
        soft_min = int(p.min) if p.min is not None else -INT_LIMIT + 1
        soft_max = int(p.max) if p.max is not None else INT_LIMIT
        none_value = -INT_LIMIT if allow_none else None
        if allow_none and p.min is not None:
            none_value = soft_min - 1
        self._setup_spin(_IntSpin(soft_min, soft_max, none_value))

    def value(self) -> Any:
        self.spin.interpretText()
        v = self.spin.value()
        if self.spin.none_value is not None and v == self.spin.none_value:
            return None
        return int(v)

    def _set(self, value: Any) -> None:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            if self.spin.none_value is not None:
                self.spin.setValue(self.spin.none_value)
            return
        self.spin.setValue(int(value))


class FloatEditor(_SpinEditor):
    def __init__(self, p: ParamSpec, allow_none: bool, parent: QWidget | None = None) -> None:
        super().__init__(p, parent)
        soft_min = float(p.min) if p.min is not None else -FLOAT_LIMIT + 1
        soft_max = float(p.max) if p.max is not None else FLOAT_LIMIT
        none_value = -FLOAT_LIMIT if allow_none else None
        if allow_none and p.min is not None:
            none_value = soft_min - 1
        spin = _FloatSpin(soft_min, soft_max, none_value)
        if p.min is not None and p.max is not None and p.max - p.min <= 1:
            spin.setSingleStep(0.05)
        else:
            spin.setSingleStep(0.1)
        self._setup_spin(spin)

    def value(self) -> Any:
        self.spin.interpretText()
        v = self.spin.value()
        if self.spin.none_value is not None and v == self.spin.none_value:
            return None
        return float(v)

    def _set(self, value: Any) -> None:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            if self.spin.none_value is not None:
                self.spin.setValue(self.spin.none_value)
            return
        self.spin.setValue(float(value))


class BoolEditor(ParamEditor):
    def __init__(self, p: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(p, parent)
        self.box = QCheckBox(self)
        self.layout().addWidget(self.box)
        self.layout().addStretch(1)
        self.box.clicked.connect(self._commit)

    def main_widget(self) -> QWidget:
        return self.box

    def value(self) -> Any:
        return self.box.isChecked()

    def _set(self, value: Any) -> None:
        self.box.setChecked(bool(value))
        self.box.setText("" if isinstance(value, bool) or value is None else repr(value))


class ChoiceEditor(ParamEditor):
    """One of ``p.choices`` (any JSON scalars, None as "None")."""

    def __init__(self, p: ParamSpec, parent: QWidget | None = None) -> None:
        super().__init__(p, parent)
        self.combo = _Combo()
        self.layout().addWidget(self.combo, 1)
        for c in p.choices or ():
            self.combo.addItem(self._text(c), c)
        self._fixed = self.combo.count()
        self.combo.activated.connect(self._commit)

    @staticmethod
    def _text(c: Any) -> str:
        if c is None:
            return "None"
        if isinstance(c, bool):
            return "True" if c else "False"
        return str(c)

    def main_widget(self) -> QWidget:
        return self.combo

    def value(self) -> Any:
        return self.combo.currentData()

    def _set(self, value: Any) -> None:
        while self.combo.count() > self._fixed:
            self.combo.removeItem(self.combo.count() - 1)
        for i in range(self._fixed):
            if same_value(self.combo.itemData(i), value):
                self.combo.setCurrentIndex(i)
                return
        self.combo.addItem(self._text(value), value)  # a value the catalog does not list
        self.combo.setCurrentIndex(self.combo.count() - 1)


class NamedEditor(ParamEditor):
    """An activation/initializer/regularizer/constraint (or dtype) by name, typed or picked;
    a serialized value (a dict) shows as its class name and is kept unless changed."""

    def __init__(
        self,
        p: ParamSpec,
        names: list[str],
        none_text: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(p, parent)
        self.none_text = none_text
        self.combo = _Combo()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.layout().addWidget(self.combo, 1)
        if none_text is not None:
            self.combo.addItem(none_text)
        for n in names:
            self.combo.addItem(str(n))
        completer = self.combo.completer()
        if completer is not None:  # inline: typing "tanh" then Enter gives tanh
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._dict: dict | None = None
        self._dict_text = ""
        self.combo.activated.connect(self._commit)
        self.combo.lineEdit().textEdited.connect(self._edited)
        self.combo.lineEdit().editingFinished.connect(self._commit)

    def main_widget(self) -> QWidget:
        return self.combo

    def value(self) -> Any:
        text = self.combo.currentText().strip()
        if self._dict is not None and text == self._dict_text:
            return self._dict
        if not text or (self.none_text is not None and text == self.none_text):
            return None
        if text.lower() == "none":
            return None
        return text

    def _set(self, value: Any) -> None:
        if isinstance(value, dict):
            self._dict = value
            self._dict_text = dict_label(value)
            self.combo.setEditText(self._dict_text)
            config = html_escape(format_json(value))
            self.combo.setToolTip(self.doc_tip + f"<p><i>Current value:</i> {config}</p>")
        else:
            self._dict = None
            self.combo.setToolTip(self.doc_tip)
            self.combo.setEditText((self.none_text or "") if value is None else str(value))
        self.combo.lineEdit().setCursorPosition(0)


class LineEditor(ParamEditor):
    """A text field with a parser: tuples and shapes, strings, JSON."""

    def __init__(self, p: ParamSpec, mode: str, parent: QWidget | None = None) -> None:
        super().__init__(p, parent)
        self.mode = mode  # "tuple" | "str" | "json"
        self.edit = QLineEdit(self)
        self.layout().addWidget(self.edit, 1)
        if mode == "tuple":
            example = {
                "shape": "e.g. 28, 28, 1",
                "float_or_tuple": "e.g. 0.5 or 0.5, 0.5",
                "float_list": "e.g. 0.5, 0.25",
                "int_or_tuple": "e.g. 3 or 3, 3",
            }.get(p.kind, "e.g. 3, 3")
            self.edit.setPlaceholderText("None" if p.nullable or p.default is None else example)
        elif mode == "json":
            self.edit.setPlaceholderText("None (JSON value)")
        elif p.nullable:
            self.edit.setPlaceholderText("None")
        self.edit.textEdited.connect(self._edited)
        self.edit.editingFinished.connect(self._commit)

    def main_widget(self) -> QWidget:
        return self.edit

    def value(self) -> Any:
        text = self.edit.text()
        if self.mode == "tuple":
            return parse_tuple(text, self.p.kind)
        if self.mode == "json":
            return parse_json(text)
        if not text and (self.p.nullable or self.p.default is None):
            return None
        return text

    def _set(self, value: Any) -> None:
        if self.mode == "tuple":
            text = format_tuple(value)
        elif self.mode == "json":
            text = format_json(value)
        else:
            text = "" if value is None else str(value)
        if self.edit.text() != text:
            self.edit.setText(text)
            self.edit.setCursorPosition(0)


# =========================================================================== wrapped layers
def keras_name(class_name: str) -> str:
    """The name Keras gives a layer of this class: ``LSTM`` -> ``lstm``, ``ConvLSTM2D`` ->
    ``conv_lstm2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def serialized_layer(spec: LayerSpec, config: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": spec.module,
        "class_name": spec.class_name,
        "config": config,
        "registered_name": None,
    }


def switch_layer_class(catalog: Any, value: Any, class_name: str) -> dict[str, Any] | None:
    """``value`` (a serialized layer, or None) as a ``class_name``: the parameters the new
    class also has are kept (``units``, ``return_sequences``... from LSTM to GRU), required
    ones that are still missing come from the catalog's starter, defaults are left out."""
    spec = catalog.get(class_name)
    if spec is None:
        return None
    old_config = value.get("config") if isinstance(value, dict) else None
    old_config = old_config if isinstance(old_config, dict) else {}
    old_class = str(value.get("class_name", "")) if isinstance(value, dict) else ""
    name = old_config.get("name")
    if not isinstance(name, str) or name in ("", old_class.lower(), keras_name(old_class)):
        name = keras_name(spec.class_name)  # a name that followed the class follows it still
    config: dict[str, Any] = {"name": name}
    for key, v in old_config.items():
        p = spec.param(key)
        if key == "name" or p is None:
            if key != "name" and key in spec.defaults and not same_value(v, spec.defaults[key]):
                config[key] = copy.deepcopy(v)  # trainable=False and the like
            continue
        if p.length and isinstance(v, list) and len(v) != p.length:
            continue  # ConvLSTM2D's kernel_size [3, 3] does not fit ConvLSTM1D
        if not is_default(spec, p, v):
            config[key] = copy.deepcopy(v)
    for key, v in spec.starter.items():
        config.setdefault(key, copy.deepcopy(v))
    return serialized_layer(spec, config)


def mirrored_layer(value: dict[str, Any]) -> dict[str, Any]:
    """A copy of a recurrent layer that reads the sequence the other way (a Bidirectional's
    backward layer)."""
    out = copy.deepcopy(value)
    config = dict(out.get("config") or {})
    if config.get("go_backwards"):
        config.pop("go_backwards")
    else:
        config["go_backwards"] = True
    out["config"] = config
    return out


class InnerValueError(ValueError):
    """A value a wrapped layer's field cannot read; ``path`` names the field ("units",
    "layer.units" in a wrapper in a wrapper)."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class LayerEditor(ParamEditor):
    """A wrapped layer (Bidirectional's ``layer``, TimeDistributed's ``layer``...): a combo
    box for its class, then one row per parameter of that class, made by :func:`make_editor`
    like the inspector's own rows, the rarely changed ones folded under "Advanced".

    ``value()`` is the whole serialized layer after the edit that was just committed (one
    field, the class, or the "separate" box of a nullable layer), so that each edit is one
    undoable command on the node's parameter. The config keeps non-default values only.
    Errors are shown by path (see :meth:`show_errors`): "" is the layer itself (under the
    class), "units" the row of that parameter.
    """

    advanced_open = False  # remembered across nodes, apart from the inspector's own

    def __init__(
        self,
        p: ParamSpec,
        catalog: Any,
        owner: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(p, parent)
        self.catalog = catalog
        self.owner = owner
        #: For a nullable layer: what the "separate" box starts from (Bidirectional's
        #: forward layer); set by whoever places the editor.
        self.template: Callable[[], Any] | None = None
        self.last_path = ""  # the path of the edit ``value()`` last returned
        self._value: Any = None
        self._pending: tuple[str, Any] | None = None
        self._class: Any = False  # the class the rows are built for (False: none yet)
        self._rows: dict[str, _Field] = {}
        self._advanced_keys: list[str] = []
        self._errors: dict[str, str] = {}
        self.types = self._types()

        box = QVBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(3)
        self.layout().addLayout(box, 1)
        header = _inner_form()
        box.addLayout(header)
        self.header_label = QLabel(p.name + (" *" if p.required else ""), self)
        self.class_combo = _Combo()
        self.class_combo.setParent(self)
        self.class_combo.setPlaceholderText("Choose a layer…")
        self.class_combo.setMaxVisibleItems(20)
        for t in self.types:
            self.class_combo.addItem(t, t)
        self._fixed = self.class_combo.count()
        self.class_combo.activated.connect(self._class_chosen)
        self.separate_box: QCheckBox | None = None
        self.class_label: QLabel | None = None
        if p.nullable:
            self.separate_box = QCheckBox("Separate layer", self)
            self.separate_box.setToolTip(
                "Ticked: a layer of its own, which starts as a copy of the forward layer that "
                "reads backwards (go_backwards). Unticked: Keras makes the backward layer from "
                "the forward one."
                if p.name == "backward_layer"
                else "Ticked: a layer of its own; unticked: none."
            )
            self.separate_box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.separate_box.clicked.connect(self._separate_clicked)
            header.addRow(self.header_label, self.separate_box)
        else:
            header.addRow(self.header_label, self.class_combo)
        self.error_label = _error_label(self)
        box.addWidget(self.error_label)

        # The inner layer's rows, indented under a thin line.
        self.body = QWidget(self)
        body = QHBoxLayout(self.body)
        body.setContentsMargins(4, 0, 0, 0)
        body.setSpacing(6)
        rule = QFrame(self.body)
        rule.setFrameShape(QFrame.Shape.VLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)
        body.addWidget(rule)
        self.rows_host = QWidget(self.body)
        self.rows_layout = QVBoxLayout(self.rows_host)
        self.rows_layout.setContentsMargins(0, 2, 0, 2)
        self.rows_layout.setSpacing(4)
        if p.nullable:
            class_form = _inner_form()
            self.class_label = QLabel("class", self.rows_host)
            class_form.addRow(self.class_label, self.class_combo)
            self.rows_layout.addLayout(class_form)
        body.addWidget(self.rows_host, 1)
        box.addWidget(self.body)
        self._rows_widget: QWidget | None = None
        self.advanced_button: QToolButton | None = None
        self.advanced_box: QWidget | None = None

    # ------------------------------------------------------------------ classes
    def _types(self) -> list[str]:
        layers = getattr(self.catalog, "layers", None)
        if not isinstance(layers, dict):
            return []
        types = wrappable_types(self.catalog, self.owner or "")
        if self.owner not in ("Bidirectional", "SpectralNormalization"):
            # A layer applied to each time step takes one tensor.
            types = [
                t
                for t in types
                if len(self.catalog[t].inputs) >= 1
                and not self.catalog[t].inputs[0].variadic
                and sum(1 for port in self.catalog[t].inputs if not port.optional) == 1
            ]
        return types

    def inner_spec(self) -> LayerSpec | None:
        value = self._value
        if isinstance(value, dict) and isinstance(value.get("class_name"), str):
            return self.catalog.get(value["class_name"])
        return None

    def _class_chosen(self, index: int) -> None:
        if self._setting or index < 0:
            return
        class_name = self.class_combo.itemData(index)
        if isinstance(self._value, dict) and self._value.get("class_name") == class_name:
            return
        new = switch_layer_class(self.catalog, self._value, class_name)
        if new is not None:
            self._pending = ("", new)
            self._commit()

    def _separate_clicked(self, checked: bool) -> None:
        if self._setting:
            return
        new: Any = None
        if checked:
            template = self.template() if self.template is not None else None
            if isinstance(template, dict) and isinstance(template.get("config"), dict):
                new = mirrored_layer(template)
            elif self.types:
                new = switch_layer_class(self.catalog, None, self.types[0])
        self._pending = ("", new)
        self._commit()

    # ------------------------------------------------------------------ rows
    def _build_rows(self, spec: LayerSpec | None) -> None:
        if self._rows_widget is not None:
            self._rows_widget.hide()
            self._rows_widget.deleteLater()
        self._rows = {}
        self._advanced_keys = []
        self.advanced_button = None
        self.advanced_box = None
        widget = QWidget(self.rows_host)
        self._rows_widget = widget
        self.rows_layout.addWidget(widget)
        outer = QVBoxLayout(widget)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        if spec is None:
            return
        config = self._config()
        main = [q for q in spec.params if not is_advanced(q)]
        advanced = [q for q in spec.params if is_advanced(q)]
        if main:
            form = _inner_form()
            outer.addLayout(form)
            for q in main:
                self._add_row(form, widget, spec, q, config)
        if advanced:
            button = QToolButton(widget)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setChecked(LayerEditor.advanced_open)
            adv = QWidget(widget)
            form = _inner_form()
            adv.setLayout(form)
            for q in advanced:
                self._add_row(form, adv, spec, q, config)
            adv.setVisible(LayerEditor.advanced_open)
            button.toggled.connect(self._toggle_advanced)
            outer.addWidget(button)
            outer.addWidget(adv)
            self.advanced_button, self.advanced_box = button, adv
            self._advanced_keys = [q.name for q in advanced]
        if not main and not advanced:
            outer.addWidget(_muted(QLabel(f"{spec.type} has no parameters.", widget)))
        labels = [f.label for f in self._rows.values() if f.label is not None]
        if self.class_label is not None:
            labels.append(self.class_label)
        if labels:
            width = max(label.sizeHint().width() for label in labels)
            for label in labels:
                label.setMinimumWidth(width)

    def _add_row(
        self, form: QFormLayout, parent: QWidget, spec: LayerSpec, q: ParamSpec, config: dict
    ) -> None:
        current = config.get(q.name, shown_default(spec, q))
        editor = make_editor(q, self.catalog, current, owner=spec.type)
        field = _Field(q.name, q, "inner", editor)
        if isinstance(editor, LayerEditor):
            editor.template = lambda: self._config().get("layer")
        _place_field(form, parent, field, q.name)
        editor.committed.connect(lambda f=field: self._row_committed(f))
        self._rows[q.name] = field

    def _toggle_advanced(self, on: bool) -> None:
        LayerEditor.advanced_open = on
        if self.advanced_box is not None:
            self.advanced_box.setVisible(on)
        self._update_advanced_text()

    def _update_advanced_text(self) -> None:
        if self.advanced_button is None:
            return
        config = self._config()
        n = sum(1 for k in self._advanced_keys if k in config)
        self.advanced_button.setText("Advanced" + (f" ({n} set)" if n else ""))
        self.advanced_button.setArrowType(
            Qt.ArrowType.DownArrow if self.advanced_button.isChecked() else Qt.ArrowType.RightArrow
        )

    def _config(self) -> dict[str, Any]:
        config = self._value.get("config") if isinstance(self._value, dict) else None
        return config if isinstance(config, dict) else {}

    def _row_committed(self, field: _Field) -> None:
        if self._setting:
            return
        self._pending = ("row", field)
        self._commit()

    # ------------------------------------------------------------------ ParamEditor
    def main_widget(self) -> QWidget:
        return self.class_combo

    def value(self) -> Any:
        pending, self._pending = self._pending, None
        if pending is None:
            self.last_path = ""
            return self._value
        what, data = pending
        if what == "":
            self.last_path = ""
            return data
        field: _Field = data
        self.last_path = field.key
        spec = self.inner_spec()
        if spec is None or not isinstance(self._value, dict):
            return self._value
        try:
            v = field.editor.value()
        except InnerValueError as exc:
            raise InnerValueError(str(exc), f"{field.key}.{exc.path}") from None
        except ValueError as exc:
            raise InnerValueError(str(exc), field.key) from None
        if isinstance(field.editor, LayerEditor) and field.editor.last_path:
            self.last_path = f"{field.key}.{field.editor.last_path}"
        field.editor.dirty = False
        config = dict(self._config())
        if is_default(spec, field.p, v):
            config.pop(field.key, None)
        else:
            config[field.key] = v
        return {**self._value, "config": config}

    def _set(self, value: Any) -> None:
        self._value = value
        self._pending = None
        is_layer = isinstance(value, dict)
        if self.separate_box is not None:
            self.separate_box.setChecked(is_layer)
            self.body.setVisible(is_layer)
        class_name = value.get("class_name") if is_layer else None
        while self.class_combo.count() > self._fixed:
            self.class_combo.removeItem(self.class_combo.count() - 1)
        index = self.class_combo.findData(class_name) if class_name is not None else -1
        if class_name is not None and index < 0:
            self.class_combo.addItem(str(class_name), class_name)  # one the list leaves out
            index = self.class_combo.count() - 1
        self.class_combo.setCurrentIndex(index)
        spec = self.inner_spec()
        if class_name != self._class:
            self._class = class_name
            self._build_rows(spec)
            self._errors = {}
        if spec is not None:
            config = self._config()
            for key, field in self._rows.items():
                editor = field.editor
                if editor.dirty and editor.is_editing():
                    continue  # the user is typing here
                editor.set_value(config.get(key, shown_default(spec, field.p)))
        self._update_advanced_text()

    # ------------------------------------------------------------------ errors
    def show_errors(self, errors: dict[str, str]) -> None:
        """Show errors by path ("" the layer itself, "units" a row); none clears them."""
        self._errors = dict(errors)
        header: list[str] = []
        per_row: dict[str, dict[str, str]] = {}
        for path, message in errors.items():
            if not message:
                continue
            head, _, rest = path.partition(".")
            if not path or head not in self._rows:
                header.append(message)
            else:
                per_row.setdefault(head, {})[rest] = message
        for key, field in self._rows.items():
            sub = per_row.get(key, {})
            if isinstance(field.editor, LayerEditor):
                field.editor.show_errors(sub)
            else:
                field.show_error(next(iter(sub.values()), None), local=False)
        if any(k in per_row for k in self._advanced_keys) and self.advanced_box is not None:
            self.advanced_box.show()  # an error is never folded away
            if self.advanced_button is not None:
                self.advanced_button.setArrowType(Qt.ArrowType.DownArrow)
        self.error_label.setText(header[0] if header else "")
        self.error_label.setVisible(bool(header))

    def error_text(self, path: str = "") -> str:
        """The red text shown for a path ("" under the class, "units" under that row)."""
        if not path:
            return "" if self.error_label.isHidden() else self.error_label.text()
        head, _, rest = path.partition(".")
        field = self._rows.get(head)
        if field is None:
            return ""
        if isinstance(field.editor, LayerEditor):
            return field.editor.error_text(rest)
        return "" if field.error_label.isHidden() else field.error_label.text()

    def row_editor(self, path: str) -> QWidget | None:
        """The input widget of a row by path ("units", "layer.units"), or None."""
        head, _, rest = path.partition(".")
        field = self._rows.get(head)
        if field is None:
            return None
        if rest and isinstance(field.editor, LayerEditor):
            return field.editor.row_editor(rest)
        return field.editor.main_widget()

    def row_keys(self) -> list[str]:
        return list(self._rows)


def _place_field(form: QFormLayout, parent: QWidget, field: _Field, text: str) -> None:
    """Add a field's row to a form: its label (with " *" when required) and its editor with
    the error line under it; a wrapped layer spans the form with a label of its own."""
    editor = field.editor
    field.container.setParent(parent)
    tip = editor.doc_tip
    editor.setToolTip(tip)
    editor.main_widget().setToolTip(tip)
    if isinstance(editor, LayerEditor):
        editor.header_label.setText(text + (" *" if field.p.required else ""))
        editor.header_label.setToolTip(tip)
        field.label = editor.header_label
        form.addRow(field.container)
        return
    if field.p.required:
        text += " *"
    lab = QLabel(text, parent)
    lab.setToolTip(tip)
    field.label = lab
    form.addRow(lab, field.container)


def make_editor(p: ParamSpec, catalog: Any, current: Any, owner: str | None = None) -> ParamEditor:
    """The field for a parameter kind (``owner``: the type whose parameter it is, which
    tells a wrapped layer's field the classes it may hold)."""
    kind = p.kind
    allow_none = p.nullable or p.default is None
    if kind == "int" and (
        current is None or (isinstance(current, int) and not isinstance(current, bool))
    ):
        return IntEditor(p, allow_none)
    if kind == "float" and (
        current is None or (isinstance(current, (int, float)) and not isinstance(current, bool))
    ):
        return FloatEditor(p, allow_none)
    if kind == "bool" and (current is None or isinstance(current, bool)):
        return BoolEditor(p)
    if kind == "choice" and p.choices:
        return ChoiceEditor(p)
    if kind in NAMED_KINDS:
        none_text = "None" if (p.nullable or p.default is None) else None
        return NamedEditor(p, list(catalog.choices.get(kind, [])), none_text)
    if kind == "dtype":
        return NamedEditor(p, list(catalog.choices.get("dtype", [])), DEFAULT_DTYPE_TEXT)
    if kind in TUPLE_KINDS:
        return LineEditor(p, "tuple")
    if kind == "str":
        return LineEditor(p, "str")
    if kind == "layer":
        return LayerEditor(p, catalog, owner)
    return LineEditor(p, "json")


# =========================================================================== rows
class _Field:
    """One row of the form: a parameter, a call argument, or an op's constant operand."""

    def __init__(self, key: str, p: ParamSpec, section: str, editor: ParamEditor) -> None:
        self.key = key
        self.p = p
        self.section = section  # "param" | "call" | "const"
        self.editor = editor
        self.shown: Any = None  # the node's value the field last showed
        self.error: str | None = None  # a refusal that is still on screen
        self.container = QWidget()
        box = QVBoxLayout(self.container)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(editor)
        self.error_label = _error_label(self.container)
        box.addWidget(self.error_label)
        self.label: QLabel | None = None

    def show_error(self, message: str | None, local: bool = True, path: str = "") -> None:
        """Show (or with None clear) the red text; a wrapped layer shows it on the row that
        ``path`` names ("units"), or under its class ("")."""
        if local:
            self.error = message
        if isinstance(self.editor, LayerEditor):
            self.editor.show_errors({path: message} if message else {})
            return
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))


def _error_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, ERROR_COLOR)
    label.setPalette(pal)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    label.hide()
    return label


def _muted(label: QLabel) -> QLabel:
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, muted_color(pal))
    label.setPalette(pal)
    return label


def _form() -> QFormLayout:
    form = QFormLayout()
    form.setContentsMargins(0, 0, 0, 0)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
    return form


def _inner_form() -> QFormLayout:
    """A form nested in a wrapped layer's editor, spaced like the inspector's own (a nested
    layout would otherwise take its parent layout's tighter spacing)."""
    form = _form()
    form.setHorizontalSpacing(6)
    form.setVerticalSpacing(6)
    # Indented, so narrower than the inspector's forms: in a narrow dock a row whose field
    # does not fit beside its label goes under it rather than out of sight.
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def _section_title(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


# =========================================================================== inspector
class _UndoPassThrough(QObject):
    """Ctrl+Z / Ctrl+Shift+Z in an inspector field whose own text has nothing to undo go to
    the window's Edit > Undo/Redo: a committed value's history is the document's."""

    def __init__(self, inspector: QWidget) -> None:
        super().__init__(inspector)
        self.inspector = inspector

    @staticmethod
    def _line_edit(widget) -> QLineEdit | None:
        if isinstance(widget, QLineEdit):
            return widget
        if isinstance(widget, (QAbstractSpinBox, QComboBox)):
            return widget.lineEdit()
        return None

    def watch(self, _old, new) -> None:
        if (
            new is not None
            and self._line_edit(new) is not None
            and self.inspector.isAncestorOf(new)
        ):
            new.removeEventFilter(self)
            new.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() != QEvent.Type.ShortcutOverride:
            return False
        line = self._line_edit(obj)
        if line is None:
            return False
        if event.matches(QKeySequence.StandardKey.Undo) and not line.isUndoAvailable():
            return True  # not accepted: the shortcut goes to the window's action
        if event.matches(QKeySequence.StandardKey.Redo) and not line.isRedoAvailable():
            return True
        return False


class InspectorWidget(QWidget):
    """The selected node's name and parameters.

    Signals:
        openNested(list): the "Open" button of a nested model: the path of the graph to show
            (the current path plus the Model node's name).
    """

    openNested = Signal(list)

    advanced_open = False  # remembered across nodes

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._undo_passthrough = _UndoPassThrough(self)
        # Filter only the field that has focus, not every event of the application.
        QApplication.instance().focusChanged.connect(self._undo_passthrough.watch)
        self.document = document
        self.catalog = document.catalog
        self.setMinimumWidth(260)
        self._path: list[str] = []
        self._names: list[str] = []
        self._shapes: Any = None
        self._fields: dict[tuple[str, str], _Field] = {}
        self._built_key: tuple | None = None
        self._dirty = False
        self._last_refusal: str | None = None
        self._name_shown: str | None = None

        self.stack = QStackedWidget(self)
        self.hint = QLabel("Select a layer on the canvas to see and edit its parameters.", self)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setMargin(16)
        _muted(self.hint)
        self.multi = QLabel(self)
        self.multi.setWordWrap(True)
        self.multi.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.multi.setMargin(16)

        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.page = QWidget()
        self.page_layout = QVBoxLayout(self.page)
        self.page_layout.setContentsMargins(8, 8, 8, 8)
        self.page_layout.setSpacing(6)
        self._build_header()
        self.form_host = QWidget(self.page)
        self.form_host_layout = QVBoxLayout(self.form_host)
        self.form_host_layout.setContentsMargins(0, 0, 0, 0)
        self.page_layout.addWidget(self.form_host)
        self.page_layout.addStretch(1)
        self.scroll.setWidget(self.page)
        self._form_widget: QWidget | None = None

        self.stack.addWidget(self.hint)
        self.stack.addWidget(self.multi)
        self.stack.addWidget(self.scroll)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._flush)
        document.graphChanged.connect(self._on_graph_changed)
        document.undoStackChanged.connect(self._flush)
        document.diagnosticsChanged.connect(self._on_diagnostics)
        document.refused.connect(self._on_refused)
        self.refresh()

    def _build_header(self) -> None:
        page = self.page
        self.type_label = QLabel(page)
        font = QFont(self.type_label.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.type_label.setFont(font)
        self.type_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description_label = _muted(QLabel(page))
        self.description_label.setWordWrap(True)
        self.shape_label = QLabel(page)
        self.shape_label.setWordWrap(True)
        self.shape_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.shape_error_label = _error_label(page)

        self.name_edit = QLineEdit(page)
        self.name_edit.setToolTip("The layer's name in the model; press Enter to rename")
        self.name_edit.editingFinished.connect(self._commit_name)
        self.name_error = _error_label(page)
        name_form = _form()
        name_box = QWidget(page)
        box = QVBoxLayout(name_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(1)
        box.addWidget(self.name_edit)
        box.addWidget(self.name_error)
        self.name_label = QLabel("Name", page)
        name_form.addRow(self.name_label, name_box)

        self.shared_label = QLabel(page)
        self.shared_label.setWordWrap(True)
        self.shared_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.model_row = QWidget(page)
        row = QHBoxLayout(self.model_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.model_label = QLabel(self.model_row)
        self.open_button = QPushButton("Open", self.model_row)
        self.open_button.setToolTip("Show the nested model's graph")
        self.open_button.clicked.connect(self._open_nested)
        row.addWidget(self.model_label, 1)
        row.addWidget(self.open_button)
        # How the nested model compiles (studio.core.blocks): a keras.Model, or its layers.
        self.compile_combo = QComboBox(page)
        self.compile_combo.addItem("Compile as: nested model", "nested")
        self.compile_combo.addItem("Compile as: inline layers", "inline")
        self.compile_combo.setToolTip(
            "Nested: one keras.Model layer. Inline: its layers go into this model, named "
            "<node>_<layer>."
        )
        self.compile_combo.activated.connect(self._set_compile)
        self.model_label.setWordWrap(True)

        self.page_layout.addWidget(self.type_label)
        self.page_layout.addWidget(self.description_label)
        self.page_layout.addWidget(self.shape_label)
        self.page_layout.addWidget(self.shape_error_label)
        self.page_layout.addLayout(name_form)
        self.page_layout.addWidget(self.shared_label)
        self.page_layout.addWidget(self.model_row)
        self.page_layout.addWidget(self.compile_combo)

    # ------------------------------------------------------------------ public
    def set_node(self, path: list[str], name: str | list[str] | None) -> None:
        """Show one node (``name`` in the graph at ``path``), or none; a list of names is a
        selection of several (see :meth:`set_nodes`)."""
        if isinstance(name, (list, tuple)):
            self.set_nodes(path, list(name))
        else:
            self.set_nodes(path, [name] if name else [])

    def set_nodes(self, path: list[str], names: list[str]) -> None:
        """Show the selection: none (a hint), one node (its form), several (a count)."""
        names = list(names)
        if list(path) != self._path or names != self._names:
            for field in self._fields.values():
                field.editor.dirty = False
                field.show_error(None)
            self.name_error.hide()
        self._path = list(path)
        self._names = names
        self.refresh()

    def set_shapes(self, result: Any) -> None:
        """Take a ShapeResult-like object (``nodes[name]``: outputs, params, error...)."""
        self._shapes = result
        self._update_shapes()

    @property
    def path(self) -> list[str]:
        return list(self._path)

    @property
    def node_name(self) -> str | None:
        return self._names[0] if len(self._names) == 1 else None

    def editor(self, key: str, section: str = "param") -> QWidget | None:
        """The input widget of a parameter (a spin box, combo box, line edit...); a wrapped
        layer's by path: "layer" is its class combo box, "layer.units" its units field."""
        head, _, rest = key.partition(".")
        field = self._fields.get((section, head))
        if field is None:
            return None
        if rest:
            editor = field.editor
            return editor.row_editor(rest) if isinstance(editor, LayerEditor) else None
        return field.editor.main_widget()

    def layer_editor(self, key: str = "layer", section: str = "param") -> LayerEditor | None:
        """The editor of a wrapped layer parameter (its class, rows, errors)."""
        field = self._fields.get((section, key))
        return field.editor if field is not None and isinstance(field.editor, LayerEditor) else None

    def error_text(self, key: str, section: str = "param") -> str:
        """The red text under a field ("" when none shows); "layer.units" is the text under
        a wrapped layer's units row, "layer" the text under its class."""
        head, _, rest = key.partition(".")
        field = self._fields.get((section, head))
        if field is None:
            return ""
        if isinstance(field.editor, LayerEditor):
            return field.editor.error_text(rest)
        if rest or field.error_label.isHidden():
            return ""
        return field.error_label.text()

    def name_error_text(self) -> str:
        return "" if self.name_error.isHidden() else self.name_error.text()

    def field_keys(self, section: str = "param") -> list[str]:
        return [k for (s, k) in self._fields if s == section]

    # ------------------------------------------------------------------ model access
    def _graph(self) -> Graph | None:
        graph = self.document.graph
        for name in self._path:
            if name not in graph:
                return None
            sub = graph.node(name).subgraph
            if sub is None:
                return None
            graph = sub
        return graph

    def _node(self) -> Node | None:
        if len(self._names) != 1:
            return None
        graph = self._graph()
        if graph is None or self._names[0] not in graph:
            return None
        return graph.node(self._names[0])

    def _spec(self, node: Node) -> LayerSpec | None:
        return self.catalog.get(node.type)

    def _source(self, node: Node) -> Node:
        """Whose parameters the form shows: a shared node's owner."""
        graph = self._graph()
        if node.shared_with and graph is not None and node.shared_with in graph:
            return graph.node(node.shared_with)
        return node

    def _source_params(self) -> dict[str, Any]:
        node = self._node()
        return self._source(node).params if node is not None else {}

    def _open_ports(self, node: Node, spec: LayerSpec) -> list[str]:
        """An op's ports that take a constant: those with one, and unconnected ones."""
        if not node.is_op:
            return []
        graph = self._graph()
        connected = {e.dst_port for e in graph.in_edges(node.name)} if graph is not None else set()
        return [
            p.name
            for p in spec.inputs
            if p.name in node.call_args or (p.name not in connected and not p.variadic)
        ]

    # ------------------------------------------------------------------ refresh
    def _on_graph_changed(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind == "node_moved":
            return
        path = list(getattr(event, "path", ()))
        if kind == "node_renamed":
            if path:
                if path == self._path and event.old in self._names:
                    self._names = [event.node if n == event.old else n for n in self._names]
            elif self._path and self._path[0] == event.old:
                self._path[0] = event.node
            elif not self._path and event.old in self._names:
                self._names = [event.node if n == event.old else n for n in self._names]
        self._dirty = True
        self._timer.start()

    def _flush(self) -> None:
        if self._dirty:
            self.refresh()

    def _on_diagnostics(self, _diagnostics: list) -> None:
        if self._node() is not None:
            self._show_document_errors()

    def _on_refused(self, reason: str) -> None:
        self._last_refusal = reason

    def refresh(self) -> None:
        """Bring the panel in line with the document (rebuilding the form only when the
        node's structure changed)."""
        self._dirty = False
        self._timer.stop()
        if len(self._names) > 1:
            self.multi.setText(
                f"{len(self._names)} nodes selected\n\nSelect a single node to edit its parameters."
            )
            self.stack.setCurrentWidget(self.multi)
            return
        node = self._node()
        if node is None:
            self.stack.setCurrentWidget(self.hint)
            return
        spec = self._spec(node)
        key = self._structure_key(node, spec)
        if key != self._built_key:
            self._rebuild(node, spec)
            self._built_key = key
        self._update_header(node, spec)
        self._update_values(node, spec)
        self._update_shapes()
        self._show_document_errors()
        self.stack.setCurrentWidget(self.scroll)

    def _structure_key(self, node: Node, spec: LayerSpec | None) -> tuple:
        ports = tuple(self._open_ports(node, spec)) if spec is not None else ()
        return (tuple(self._path), node.type, node.shared_with, ports, node.subgraph is not None)

    def _update_header(self, node: Node, spec: LayerSpec | None) -> None:
        self.type_label.setText(node.type)
        description = spec.description if spec is not None else "Studio does not know this type."
        self.description_label.setText(description)
        self.description_label.setVisible(bool(description))
        typing = self.name_edit.hasFocus() and self.name_edit.isModified()
        if not typing or node.name != self._name_shown:
            # Keep what the user is typing (or a refused name and its reason) unless the
            # node's name itself changed meanwhile (undo, a rename elsewhere).
            if node.name != self._name_shown:
                self.name_error.hide()
            if self.name_edit.text() != node.name:
                self.name_edit.setText(node.name)
            self.name_edit.setModified(False)
        self._name_shown = node.name
        if node.shared_with:
            self.shared_label.setText(
                f"Shares layer of: <b>{html_escape(node.shared_with)}</b><br>"
                "Its parameters (and weights) are that node's; edit them there."
            )
            self.shared_label.show()
        else:
            self.shared_label.hide()
        if node.type == MODEL_TYPE:
            sub = node.subgraph
            if sub is None:
                self.model_label.setText("Nested model with no content")
                self.open_button.setEnabled(False)
            else:
                n = len(sub)
                style = getattr(sub, "style", "functional")
                self.model_label.setText(f"Nested {style} model: {n} node{'s' if n != 1 else ''}")
                if node.block is not None:
                    self.model_label.setText(
                        f"Block '{node.block}': {n} node{'s' if n != 1 else ''}; editing it "
                        "edits every use"
                    )
                self.open_button.setEnabled(True)
            self.compile_combo.setCurrentIndex(1 if node.params.get("compile") == "inline" else 0)
            self.model_row.show()
            self.compile_combo.show()
        else:
            self.model_row.hide()
            self.compile_combo.hide()

    def _update_shapes(self) -> None:
        node = self._node()
        self.shape_error_label.hide()
        if node is None:
            return
        if self._path:
            self.shape_label.setText("Shapes are shown for the top-level model.")
            return
        nodes = getattr(self._shapes, "nodes", None)
        info = nodes.get(node.name) if nodes is not None else None
        if info is None:
            self.shape_label.setText("Output: computing…")
            return
        error = getattr(info, "error", None)
        blocked = getattr(info, "blocked_by", None)
        if error:
            self.shape_label.setText("Output: unknown")
            self.shape_error_label.setText(f"Keras: {error}")
            self.shape_error_label.show()
            return
        if blocked:
            self.shape_label.setText(f"Output: unknown until '{blocked}' is fixed")
            return
        outputs = list(getattr(info, "outputs", None) or [])
        shapes = [format_shape(o[0]) if isinstance(o, (list, tuple)) else str(o) for o in outputs]
        spec = self._spec(node)
        if len(shapes) == 1:
            text = f"Output: {shapes[0]}"
        elif shapes:
            names = list(spec.output_names(node.params)) if spec is not None else []
            if len(names) != len(shapes):
                names = [str(i) for i in range(len(shapes))]
            text = "Outputs: " + ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        else:
            text = "Output: ?"
        params = getattr(info, "params", 0) or 0
        non_trainable = getattr(info, "non_trainable", 0) or 0
        text += f"\nParams: {format_count(params)}"
        if non_trainable:
            text += f" ({format_count(non_trainable)} non-trainable)"
        self.shape_label.setText(text)

    def _show_document_errors(self) -> None:
        """The validator's verdict on fields that show no refusal of their own."""
        node = self._node()
        if node is None:
            return
        if self._path:
            diags = [
                d
                for d in validate(self._graph(), self.catalog)
                if d.node == node.name and d.param and d.severity == ERROR
            ]
        else:
            diags = [
                d
                for d in self.document.diagnostics
                if d.node == node.name and d.param and d.severity == ERROR
            ]
        by_key: dict[str, str] = {}
        for d in diags:
            by_key.setdefault(d.param, d.message)
        for (_section, key), field in self._fields.items():
            if field.error is not None:
                continue
            if isinstance(field.editor, LayerEditor):
                # "layer.units" goes to the wrapped layer's units row.
                field.editor.show_errors(
                    {
                        param[len(key) + 1 :] if param != key else "": message
                        for param, message in by_key.items()
                        if param == key or param.startswith(key + ".")
                    }
                )
            else:
                field.show_error(by_key.get(key), local=False)

    # ------------------------------------------------------------------ building
    def _rebuild(self, node: Node, spec: LayerSpec | None) -> None:
        if self._form_widget is not None:
            self._form_widget.hide()
            self._form_widget.deleteLater()
        self._fields = {}
        form_widget = QWidget(self.form_host)
        outer = QVBoxLayout(form_widget)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(6)
        self._form_widget = form_widget
        self.form_host_layout.addWidget(form_widget)
        if spec is None:
            return
        source = self._source(node)
        read_only = source is not node

        params = list(spec.params)
        if node.type == "InputLayer":
            params.sort(key=lambda p: p.name != "shape")
        main = [p for p in params if not is_advanced(p)]
        advanced = [p for p in params if is_advanced(p)]

        if main:
            outer.addWidget(_section_title("Parameters", form_widget))
            form = _form()
            outer.addLayout(form)
            for p in main:
                self._add_field(form, form_widget, spec, p, "param", source)
        if advanced:
            self.advanced_button = QToolButton(form_widget)
            self.advanced_button.setCheckable(True)
            self.advanced_button.setAutoRaise(True)
            self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.advanced_button.setChecked(InspectorWidget.advanced_open)
            adv = QWidget(form_widget)
            form = _form()
            adv.setLayout(form)
            for p in advanced:
                self._add_field(form, adv, spec, p, "param", source)
            adv.setVisible(InspectorWidget.advanced_open)
            self.advanced_box = adv
            self.advanced_button.toggled.connect(self._toggle_advanced)
            outer.addWidget(self.advanced_button)
            outer.addWidget(adv)
            self._advanced_keys = [p.name for p in advanced]
        else:
            self._advanced_keys = []
        call_params = list(spec.call_params)
        ports = self._open_ports(node, spec)
        if call_params or ports:
            outer.addWidget(_section_title("Call arguments", form_widget))
            form = _form()
            outer.addLayout(form)
            for p in call_params:
                self._add_field(form, form_widget, spec, p, "call", node)
            for port in ports:
                p = ParamSpec(
                    name=port,
                    kind="any",
                    nullable=True,
                    doc=f"A constant for input '{port}' instead of a connection "
                    "(a number or a nested list; empty to connect a tensor instead).",
                )
                self._add_field(
                    form, form_widget, spec, p, "const", node, label=f"{port} (constant)"
                )
        if not main and not advanced and not call_params and not ports and node.type != MODEL_TYPE:
            outer.addWidget(_muted(QLabel("This layer has no parameters.", form_widget)))
        if read_only:
            for field in self._fields.values():
                if field.section == "param":
                    field.editor.setEnabled(False)
        self._align_labels()

    def _align_labels(self) -> None:
        """One label column for the name row and every section's form."""
        labels = [self.name_label] + [f.label for f in self._fields.values() if f.label]
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)

    def _add_field(
        self,
        form: QFormLayout,
        parent: QWidget,
        spec: LayerSpec,
        p: ParamSpec,
        section: str,
        source: Node,
        label: str | None = None,
    ) -> None:
        current = self._current(spec, p, section, source)
        editor = make_editor(p, self.catalog, current, owner=spec.type)
        field = _Field(p.name, p, section, editor)
        if isinstance(editor, LayerEditor):
            # Bidirectional's "separate backward layer" starts from the forward layer.
            editor.template = lambda: self._source_params().get("layer")
        _place_field(form, parent, field, label or p.name)
        editor.committed.connect(lambda f=field: self._commit_field(f))
        self._fields[(section, p.name)] = field

    def _toggle_advanced(self, on: bool) -> None:
        InspectorWidget.advanced_open = on
        self.advanced_box.setVisible(on)
        self._update_advanced_text()

    def _update_advanced_text(self) -> None:
        node = self._node()
        if node is None or not self._advanced_keys:
            return
        source = self._source(node)
        n = sum(1 for k in self._advanced_keys if k in source.params)
        text = "Advanced" + (f" ({n} set)" if n else "")
        self.advanced_button.setText(text)
        self.advanced_button.setArrowType(
            Qt.ArrowType.DownArrow if self.advanced_button.isChecked() else Qt.ArrowType.RightArrow
        )

    # ------------------------------------------------------------------ values
    def _current(self, spec: LayerSpec, p: ParamSpec, section: str, node: Node) -> Any:
        if section == "param":
            return node.params.get(p.name, shown_default(spec, p))
        if section == "call":
            return node.call_args.get(p.name, p.default)
        return node.call_args.get(p.name)

    def _update_values(self, node: Node, spec: LayerSpec | None) -> None:
        if spec is None:
            return
        source = self._source(node)
        for field in self._fields.values():
            target = source if field.section == "param" else node
            value = self._current(spec, field.p, field.section, target)
            editor = field.editor
            if editor.dirty and editor.is_editing():
                continue  # the user is typing here
            if field.error is not None and same_value(value, field.shown):
                continue  # keep the refused text and its reason until the user fixes it
            field.show_error(None)
            field.shown = value
            editor.set_value(value)
        self._update_advanced_text()

    # ------------------------------------------------------------------ commits
    def _check(self, command: Command, key: str, path: str = "") -> tuple[str, str] | None:
        """The validator's reason to refuse ``command`` for ``key`` and the parameter path it
        is about, or None. ``path`` narrows a wrapped layer's edit to the row edited
        ("units": errors on "layer.units" refuse it, those of other rows do not)."""
        graph = self._graph()
        node = self._node()
        if graph is None or node is None:
            return "The node is no longer in the model.", key
        trial = graph.copy()
        try:
            command.redo(trial)
        except GraphError as exc:
            return str(exc), key
        prefix = f"{key}.{path}" if path else key
        for d in validate(trial, self.catalog):
            if d.severity != ERROR or d.node != node.name or not d.param:
                continue
            if d.param in (key, prefix) or d.param.startswith(prefix + "."):
                return d.message, d.param
        return None

    def _set_compile(self, index: int) -> None:
        node = self._node()
        if node is None or node.type != MODEL_TYPE:
            return
        mode = self.compile_combo.itemData(index)
        if (node.params.get("compile") or "nested") == mode:
            return
        if mode == "nested":
            self._push(SetParams(node.name, {}, unset=("compile",)))
        else:
            self._push(SetParams(node.name, {"compile": mode}))

    def _push(self, command: Command) -> str | None:
        """Push a command at the current path; the refusal's reason, or None."""
        self._last_refusal = None
        if self.document.push(in_graph(self._path, command)):
            return None
        return self._last_refusal or "The edit was refused."

    def _commit_field(self, field: _Field) -> None:
        node = self._node()
        if node is None:
            return
        spec = self._spec(node)
        if spec is None:
            return
        if field.section == "param" and self._source(node) is not node:
            return
        try:
            value = field.editor.value()
        except ValueError as exc:
            field.show_error(str(exc), path=getattr(exc, "path", ""))
            return
        path = getattr(field.editor, "last_path", "")  # a wrapped layer's row
        # Read: from here the document is the truth, so the refresh that the push triggers
        # updates this field too (a refusal keeps it through ``field.error``).
        field.editor.dirty = False
        key = field.key
        if field.section == "param":
            if is_default(spec, field.p, value):
                if key not in node.params:
                    self._accepted(field, value)
                    return
                command: Command = SetParams(node.name, {}, unset=(key,))
            else:
                if key in node.params and same_value(node.params[key], value):
                    self._accepted(field, value)
                    return
                command = SetParams(node.name, {key: value})
        else:
            call_args = dict(node.call_args)
            if value is None or (field.section == "call" and same_value(value, field.p.default)):
                call_args.pop(key, None)
            else:
                call_args[key] = value
            if same_value(call_args, node.call_args):
                self._accepted(field, value)
                return
            command = SetCallArgs(node.name, call_args)
        refusal = self._check(command, key, path)
        if refusal is None:
            reason = self._push(command)
            refusal = (reason, key) if reason is not None else None
        if refusal is not None:
            reason, param = refusal
            sub = param[len(key) + 1 :] if param.startswith(key + ".") else ""
            field.show_error(reason, path=sub)
            field.shown = self._current(
                spec,
                field.p,
                field.section,
                self._source(node) if field.section == "param" else node,
            )
            return
        self._accepted(field, value)

    def _accepted(self, field: _Field, value: Any) -> None:
        field.editor.dirty = False
        field.show_error(None)
        node = self._node()
        spec = self._spec(node) if node is not None else None
        if node is not None and spec is not None:
            target = self._source(node) if field.section == "param" else node
            field.shown = self._current(spec, field.p, field.section, target)
        self._show_document_errors()

    def _commit_name(self) -> None:
        node = self._node()
        if node is None:
            return
        new = self.name_edit.text().strip()
        self.name_edit.setModified(False)
        if new == node.name:
            self.name_edit.setText(new)
            self.name_error.hide()
            return
        reason = None
        if not new:
            reason = "A node needs a name."
        elif "/" in new:
            reason = "A layer name cannot contain '/'."
        else:
            graph = self._graph()
            if graph is not None and new in graph:
                reason = f"A node named '{new}' already exists."
        if reason is None:
            old = node.name
            self._names = [new]  # before the push: the refresh it triggers looks for `new`
            reason = self._push(Rename(old, new))
            if reason is not None:
                self._names = [old]
        if reason is not None:
            self.name_error.setText(reason)
            self.name_error.show()
            self.name_edit.setModified(True)
            return
        self.name_error.hide()
        self.refresh()

    def _open_nested(self) -> None:
        node = self._node()
        if node is not None and node.type == MODEL_TYPE and node.subgraph is not None:
            self.openNested.emit([*self._path, node.name])


__all__ = [
    "InspectorWidget",
    "LayerEditor",
    "format_tuple",
    "is_default",
    "parse_json",
    "parse_tuple",
    "same_value",
    "shown_default",
]
