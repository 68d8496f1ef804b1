"""What the training settings panel and the data panel share: the page they are built on
(:class:`SettingsPage`), their sections, fields and combo boxes, and the red lines that say
what is wrong with a setting.

A panel edits one part of the project's settings (``settings["training"]`` or
``settings["data"]``); :class:`SettingsPage` reads it with the defaults filled in, stores each
edit as one undoable step and shows :func:`~studio.core.settings.check_settings`' verdict
under the fields it names (or, for a setting without a field, at the top of the page).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.catalog import ParamSpec
from studio.core.validation import Diagnostic
from studio.ui.document import Document
from studio.ui.panels import ERROR_COLOR, muted_color
from studio.ui.panels.inspector import (
    NamedEditor,
    ParamEditor,
    _UndoPassThrough,
    _WheelGuard,
    doc_tooltip,
    make_editor,
    same_value,
)


# =========================================================================== helpers
def error_label(parent: QWidget | None = None) -> QLabel:
    """A red, word-wrapped, selectable label, hidden until it has a message."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    set_text_color(label, ERROR_COLOR)
    label.hide()
    return label


def set_text_color(label: QLabel, color) -> QLabel:
    pal = label.palette()
    pal.setColor(QPalette.ColorRole.WindowText, color)
    label.setPalette(pal)
    return label


def muted(label: QLabel) -> QLabel:
    return set_text_color(label, muted_color(label.palette()))


def bold(widget: QWidget) -> QWidget:
    font = QFont(widget.font())
    font.setBold(True)
    widget.setFont(font)
    return widget


def make_form() -> QFormLayout:
    form = QFormLayout()
    form.setContentsMargins(0, 0, 0, 0)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(4)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return form


def discard(widget: QWidget) -> None:
    """Hide ``widget`` and delete it later (it may hold the sender of the signal being
    handled)."""
    widget.hide()
    widget.setProperty("discarded", True)
    widget.deleteLater()


def with_error(widget: QWidget, parent: QWidget | None = None) -> tuple[QWidget, QLabel]:
    """``widget`` with an :func:`error_label` under it: the widget holding both, and the
    label."""
    box = QWidget(parent)
    v = QVBoxLayout(box)
    v.setContentsMargins(0, 0, 0, 0)
    v.setSpacing(1)
    widget.setParent(box)
    v.addWidget(widget)
    error = error_label(box)
    v.addWidget(error)
    return box, error


def show_on(label: QLabel) -> Callable[[str | None], None]:
    """A diagnostics sink: shows a message in ``label`` (None hides it)."""

    def show(message: str | None) -> None:
        label.setText(message or "")
        label.setVisible(bool(message))

    return show


def diagnostic_target(key: str, targets: Iterable[str]) -> str | None:
    """The most specific target that ``key`` (a dotted setting path) falls under."""
    best = None
    for t in targets:
        if (key == t or key.startswith(t + ".")) and (best is None or len(t) > len(best)):
            best = t
    return best


def editing_spec(p: ParamSpec, value: Any) -> ParamSpec:
    """The spec a field is made from: an ``any`` parameter holding a number or a flag (a
    schedule's ``decay_steps``) gets a spin box or a check box rather than a JSON field."""
    if p.kind != "any":
        return p
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "float"
    else:
        return p
    default = value if p.required or p.default is None else p.default
    return replace(p, kind=kind, default=default, nullable=False)


class Combo(_WheelGuard, QComboBox):
    """A combo box that a wheel turned over it while unfocused does not change."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(8)


class Disclosure(QToolButton):
    """A flat "▸ More options" button that shows and hides ``body``."""

    def __init__(self, text: str, body: QWidget, open_: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.body = body
        self._text = text
        self.setCheckable(True)
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("QToolButton { border: none; padding: 1px 2px; }")
        self.toggled.connect(self._toggled)
        self.setChecked(open_)
        self._toggled(open_)

    def set_label(self, text: str) -> None:
        self._text = text
        self.setText(text)

    def _toggled(self, on: bool) -> None:
        self.body.setVisible(on)
        self.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.setText(self._text)


class Section(QWidget):
    """A titled, collapsible part of a panel: a bold header with a rule, then the body."""

    def __init__(self, title: str, parent: QWidget | None = None, open_: bool = True) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        self.body = QWidget(self)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(4, 2, 0, 8)
        self.body_layout.setSpacing(4)
        self.button = Disclosure(title, self.body, open_, self)
        bold(self.button)
        rule = QFrame(self)
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setFrameShadow(QFrame.Shadow.Sunken)
        header.addWidget(self.button)
        header.addWidget(rule, 1)
        outer.addLayout(header)
        outer.addWidget(self.body)


# =========================================================================== fields
class ParamField:
    """One row of a form: an editor with its error line under it."""

    def __init__(self, key: str, p: ParamSpec, editor: ParamEditor, parent: QWidget) -> None:
        self.key = key  # the setting's dotted path, as check_settings names it
        self.p = p
        self.editor = editor
        self.local_error: str | None = None  # text that could not be read
        self.diagnostic: str | None = None
        self.shown: Any = None
        self.container, self.error_label = with_error(editor, parent)
        self.label: QLabel | None = None

    def show_local(self, message: str | None) -> None:
        self.local_error = message
        self._show()

    def show_diagnostic(self, message: str | None) -> None:
        self.diagnostic = message
        self._show()

    def _show(self) -> None:
        text = self.local_error or self.diagnostic or ""
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def set_value(self, value: Any) -> None:
        editor = self.editor
        if editor.dirty and editor.is_editing():
            return  # the user is typing here
        if self.local_error is not None and same_value(value, self.shown):
            return  # keep the unreadable text and its reason until the user fixes it
        self.local_error = None
        self._show()
        self.shown = value
        editor.set_value(value)

    def error_text(self) -> str:
        return self.error_label.text() if self.error_label.isVisibleTo(self.container) else ""


def make_field(
    key: str,
    p: ParamSpec,
    value: Any,
    parent: QWidget,
    form: QFormLayout,
    label: str | None = None,
    commit: Callable[[ParamField, Any], None] | None = None,
    catalog: Any = None,
) -> ParamField:
    """A field for ``p`` in ``form``, showing ``value``; ``commit(field, value)`` is called
    with each value the user settles on (an unreadable text shows its reason instead)."""
    spec = editing_spec(p, value)
    if p.kind == "str" and p.name == "monitor":  # an editable list of the logged quantities
        editor: ParamEditor = NamedEditor(spec, ["val_loss", "loss"], None)
    else:
        editor = make_editor(spec, catalog, value)
    field = ParamField(key, p, editor, parent)
    text = label or p.name
    if p.required:
        text += " *"
    lab = QLabel(text, parent)
    tip = editor.doc_tip or doc_tooltip(p)
    for w in (lab, editor, editor.main_widget()):
        w.setToolTip(tip)
    field.label = lab
    form.addRow(lab, field.container)
    field.set_value(value)

    def committed() -> None:
        try:
            v = field.editor.value()
        except ValueError as exc:
            field.show_local(str(exc))
            return
        field.editor.dirty = False
        field.local_error = None
        field._show()
        if commit is not None:
            commit(field, v)

    editor.committed.connect(committed)
    return field


# =========================================================================== the page
class SettingsPage(QWidget):
    """A panel that edits ``settings[section]`` of ``document``: a scrolling page of
    sections under a line for the problems that no field shows.

    A subclass sets :attr:`section` and :attr:`complete_settings`, fills :attr:`page_layout`,
    calls :meth:`_finish` and implements ``refresh()`` (show the document's settings) and
    ``_on_settings_changed(key)``.

    Signals:
        settingsEdited(str): after the panel changed the settings (the undo text).
    """

    settingsEdited = Signal(str)

    #: The part of the settings the panel edits ("training", "data").
    section = ""
    #: ``complete_settings(project_settings, graph)``: the part with the defaults filled in.
    complete_settings: Callable[[dict, Any], dict[str, Any]]
    #: What an edit's ``mutate`` raises when what it changes has just gone (an output removed
    #: by an undo while its field had focus): the edit is dropped.
    edit_errors: tuple[type[Exception], ...] = (KeyError, IndexError, TypeError, AttributeError)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.diagnostics: list[Diagnostic] = []
        self._open: dict[str, bool] = {}
        self._sinks: dict[str, Callable[[str | None], None]] = {}
        self._shown: dict[str, str] = {}
        self._read_error: str | None = None
        self.setMinimumWidth(280)
        self._undo_passthrough = _UndoPassThrough(self)
        QApplication.instance().focusChanged.connect(self._undo_passthrough.watch)

        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.page = QWidget()
        self.page_layout = QVBoxLayout(self.page)
        self.page_layout.setContentsMargins(8, 8, 8, 8)
        self.page_layout.setSpacing(6)
        self.problems_label = error_label(self.page)
        self.page_layout.addWidget(self.problems_label)

    def _finish(self) -> None:
        """Put the filled page in the scroll area and follow the document's changes."""
        self.page_layout.addStretch(1)
        self.scroll.setWidget(self.page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)

        self._graph_timer = QTimer(self)
        self._graph_timer.setSingleShot(True)
        self._graph_timer.setInterval(0)
        self._graph_timer.timeout.connect(self._on_graph_settled)
        self.document.settingsChanged.connect(self._on_settings_changed)
        self.document.graphChanged.connect(self._on_graph_changed)

    # ------------------------------------------------------------------ reading
    def settings(self) -> dict[str, Any]:
        """The complete settings the panel shows (defaults filled in)."""
        try:
            out = self.complete_settings(self._project_settings(), self.document.graph)
        except Exception as exc:  # a hand-edited file with the wrong structure
            self._read_error = (
                f"The project's {self.section} settings cannot be read ({exc}); the panel "
                "shows the defaults, and the next edit replaces them."
            )
            return self.complete_settings({}, self.document.graph)
        self._read_error = None
        return out

    def _project_settings(self) -> dict[str, Any]:
        """The project's settings, with a :attr:`section` value that is not an object left
        out (check_settings reports it; the panel shows the defaults)."""
        settings = self.document.project.settings
        if self.section in settings and not isinstance(settings[self.section], dict):
            return {k: v for k, v in settings.items() if k != self.section}
        return settings

    def _shown_text(self, key: str) -> str:
        """The red text shown for the setting ``key`` by the line it falls under (the top of
        the page when no line takes it)."""
        target = diagnostic_target(key, self._sinks)
        if target is None:
            return self.problems_label.text() if self.problems_label.isVisibleTo(self) else ""
        return self._shown.get(target, "")

    # ------------------------------------------------------------------ refreshing
    def _on_graph_changed(self, event) -> None:
        if getattr(event, "kind", "") != "node_moved":
            self._graph_timer.start()  # once per command, not once per graph event

    def _on_graph_settled(self) -> None:
        self.refresh()

    def _route_diagnostics(
        self, sinks: dict[str, Callable[[str | None], None]]
    ) -> dict[str, list[Diagnostic]]:
        """Show each of :attr:`diagnostics` with the most specific of ``sinks`` (a setting's
        dotted path -> what shows a message there) that it falls under, and the others, after
        the settings' read error, in :attr:`problems_label`. Returns them by sink."""
        self._sinks = sinks
        by_sink: dict[str, list[Diagnostic]] = {}
        loose: list[Diagnostic] = []
        for d in self.diagnostics:
            target = diagnostic_target(d.param, sinks)
            if target is None:
                loose.append(d)
            else:
                by_sink.setdefault(target, []).append(d)
        self._shown = {k: "\n".join(d.message for d in ds) for k, ds in by_sink.items()}
        for key, show in sinks.items():
            show(self._shown.get(key))
        lines = [d.message for d in loose]
        if self._read_error:
            lines.insert(0, self._read_error)
        self.problems_label.setText("\n".join(lines))
        self.problems_label.setVisible(bool(lines))
        return by_sink

    # ------------------------------------------------------------------ open/closed states
    def is_open(self, key: str) -> bool:
        return self._open.get(key, False)

    def remember(self, key: str, on: bool) -> None:
        self._open[key] = on

    # ------------------------------------------------------------------ edits
    def change(self, text: str, merge_key: str, mutate: Callable[[dict], None]) -> bool:
        """Apply ``mutate`` to a copy of the complete settings and store the result as one
        undoable step (merged with the previous step of the same ``merge_key``)."""
        current = self.settings()
        new = copy.deepcopy(current)
        try:
            mutate(new)
        except self.edit_errors:
            self.refresh()  # what the field belongs to has just gone: nothing to change
            return False
        if same_value(new, current):
            self.refresh()  # e.g. a field whose text changed back: show the stored value
            return False
        done = self.document.set_setting(self.section, new, text=text,
                                         merge_key=f"{self.section}.{merge_key}")  # fmt: skip
        if done:
            self.settingsEdited.emit(text)
        return done
