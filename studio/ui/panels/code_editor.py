"""The Custom Code panel: the project's own layers, losses and metrics, written in Python.

The panel lists the project's definitions (``Graph.code``) and edits one at a time in a
:class:`CodeEdit`: a plain-text editor with a line-number gutter, Python colours
(:class:`PythonHighlighter`), a monospace font, Tab as four spaces and indentation after
a ``:``. As the user types, every edit is an undoable ``SetCode`` (consecutive keystrokes
merge into one step) and, 300 ms after the last key, :func:`studio.core.code.check_source`
(pure ``ast``, nothing runs) reports problems: a red wavy underline on the line, a red
line number in the gutter and a message under the editor ("Line 7, column 5: invalid
syntax"; click it to go there). Errors that the engine raises from user code (shape
inference, training) name the definition and the user's line ("MyLayer, line 12: ...");
:meth:`CustomCodeWidget.set_shapes` marks those lines the same way.

A project opened from a file runs none of its code until the user trusts it; while it is
not trusted a bar at the top of the panel says so and offers to trust it
(:attr:`CustomCodeWidget.trustRequested`).
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels import ERROR_COLOR, muted_color

CHECK_MS = 300
INDENT = "    "
NAME_ROLE = Qt.ItemDataRole.UserRole

#: How each kind of definition is labelled in the list and on the New buttons.
KIND_LABELS = {"layer": "Layer", "loss": "Loss", "metric": "Metric"}
#: A short badge per kind, drawn before the name in the list.
KIND_BADGES = {"layer": "L", "loss": "ƒ", "metric": "M"}
KIND_COLORS = {"layer": "#2f6fd0", "loss": "#b3261e", "metric": "#2e9d57"}

NOT_RUN_TEXT = "This project's code has not been run."
NOT_EVALUATED_TIP = "code not evaluated: trust the project to run it"


# ====================================================================== highlighting
def _fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


_KEYWORDS = frozenset(keyword.kwlist) | frozenset(getattr(keyword, "softkwlist", ()))
_CONSTANTS = frozenset({"True", "False", "None", "Ellipsis", "NotImplemented"})
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_")) - _CONSTANTS
_NUMBER = re.compile(
    r"(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|"
    r"(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?)[jJ]?"
)
_IDENT = re.compile(r"[A-Za-z_]\w*")
_STRING_PREFIX = re.compile(r"([rRbBuUfF]{1,2})(?=['\"])")

# Block states: inside a triple-quoted string that continues on the next line.
_IN_SINGLE3, _IN_DOUBLE3 = 1, 2


class PythonHighlighter(QSyntaxHighlighter):
    """Python colours from a small scanner: keywords, builtins, ``self``/``cls``, strings
    (triple-quoted ones over several lines), comments, numbers, decorators and the names
    that ``def``/``class`` define. A ``#`` inside a string is not a comment."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self.formats = {
            "keyword": _fmt("#8250df", bold=True),
            "builtin": _fmt("#0969da"),
            "constant": _fmt("#0550ae", bold=True),
            "self": _fmt("#953800", italic=True),
            "number": _fmt("#0550ae"),
            "string": _fmt("#0a3069"),
            "comment": _fmt("#6e7781", italic=True),
            "decorator": _fmt("#953800", bold=True),
            "defname": _fmt("#6639ba", bold=True),
        }

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt API
        state = self.previousBlockState()
        self.setCurrentBlockState(0)
        i, n = 0, len(text)
        if state in (_IN_SINGLE3, _IN_DOUBLE3):
            quote = "'''" if state == _IN_SINGLE3 else '"""'
            end = _find_close(text, 0, quote)
            if end < 0:
                self.setFormat(0, n, self.formats["string"])
                self.setCurrentBlockState(state)
                return
            self.setFormat(0, end, self.formats["string"])
            i = end
        previous_word = ""
        while i < n:
            c = text[i]
            if c == "#":
                self.setFormat(i, n - i, self.formats["comment"])
                return
            prefix = _STRING_PREFIX.match(text, i) if c.isalpha() else None
            if c in "'\"" or prefix:
                start = i
                if prefix:
                    i = prefix.end()
                quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else text[i]
                end = _find_close(text, i + len(quote), quote)
                if end < 0:
                    self.setFormat(start, n - start, self.formats["string"])
                    if len(quote) == 3:
                        self.setCurrentBlockState(_IN_SINGLE3 if quote == "'''" else _IN_DOUBLE3)
                    return
                self.setFormat(start, end - start, self.formats["string"])
                i = end
                previous_word = ""
                continue
            if c == "@" and not text[:i].strip():
                m = re.compile(r"@[\w.]*").match(text, i)
                self.setFormat(i, m.end() - i, self.formats["decorator"])
                i = m.end()
                continue
            if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
                m = _NUMBER.match(text, i)
                if m and m.end() > i:
                    self.setFormat(i, m.end() - i, self.formats["number"])
                    i = m.end()
                    continue
            if c.isalpha() or c == "_":
                m = _IDENT.match(text, i)
                word = m.group(0)
                kind = None
                if previous_word in ("def", "class"):
                    kind = "defname"
                elif word in _CONSTANTS:
                    kind = "constant"
                elif word in _KEYWORDS:
                    kind = "keyword"
                elif word in ("self", "cls"):
                    kind = "self"
                elif word in _BUILTINS and not (i > 0 and text[i - 1] == "."):
                    kind = "builtin"
                if kind:
                    self.setFormat(i, len(word), self.formats[kind])
                previous_word = word
                i = m.end()
                continue
            if not c.isspace():
                previous_word = ""
            i += 1


def _find_close(text: str, start: int, quote: str) -> int:
    """The index just after the closing ``quote`` from ``start`` (backslashes escape), or -1."""
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        i += 1
    return -1


# ====================================================================== the editor
@dataclass(frozen=True)
class Mark:
    """A problem shown in the editor: 1-based line, 1-based column (0: whole line)."""

    line: int
    column: int
    message: str

    def text(self) -> str:
        where = f"Line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class _Gutter(QWidget):
    """The line numbers left of the text (the Qt Code Editor example's LineNumberArea)."""

    def __init__(self, editor: CodeEdit) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        self.editor.paint_gutter(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        # A click on a marked line number shows that line's problem.
        block = self.editor.cursorForPosition(event.position().toPoint()).block()
        self.editor.go_to(block.blockNumber() + 1, 0)


class CodeEdit(QPlainTextEdit):
    """A Python editor: line numbers, colours, four-space indentation, problem marks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self.highlighter = PythonHighlighter(self.document())
        self.gutter = _Gutter(self)
        self.marks: list[Mark] = []
        self.blockCountChanged.connect(self._update_gutter_width)
        self.updateRequest.connect(self._update_gutter)
        self.cursorPositionChanged.connect(self._update_selections)
        self._update_gutter_width()
        self._update_selections()

    # ------------------------------------------------------------------ gutter
    def gutter_width(self) -> int:
        digits = max(2, len(str(max(1, self.blockCount()))))
        return 14 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_gutter_width(self, _count: int = 0) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _update_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())
        if rect.contains(self.viewport().rect()):
            self._update_gutter_width()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        r = self.contentsRect()
        self.gutter.setGeometry(QRect(r.left(), r.top(), self.gutter_width(), r.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        painter = QPainter(self.gutter)
        pal = self.palette()
        painter.fillRect(event.rect(), pal.window())
        marked = {m.line for m in self.marks}
        current = self.textCursor().blockNumber()
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        height = self.fontMetrics().height()
        width = self.gutter.width()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                line = number + 1
                if line in marked:
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(ERROR_COLOR)
                    d = min(8, height - 4)
                    painter.drawEllipse(3, top + (height - d) // 2, d, d)
                    painter.setPen(ERROR_COLOR)
                elif number == current:
                    painter.setPen(pal.text().color())
                else:
                    painter.setPen(muted_color(pal))
                painter.drawText(0, top, width - 5, height, Qt.AlignmentFlag.AlignRight, str(line))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        painter.end()

    # ------------------------------------------------------------------ marks
    def set_marks(self, marks: list[Mark]) -> None:
        """Underline these lines (from the mark's column) with a red wave."""
        if marks == self.marks:
            return
        self.marks = list(marks)
        self._update_selections()
        self.gutter.update()

    def _update_selections(self) -> None:
        selections = []
        if not self.isReadOnly():
            line = QTextEdit.ExtraSelection()
            line.format.setBackground(QColor(128, 128, 128, 24))
            line.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            line.cursor = self.textCursor()
            line.cursor.clearSelection()
            selections.append(line)
        doc = self.document()
        for mark in self.marks:
            block = doc.findBlockByNumber(mark.line - 1)
            if not block.isValid():
                block = doc.lastBlock()
            text = block.text()
            start = max(0, mark.column - 1) if mark.column else len(text) - len(text.lstrip())
            if start >= len(text):  # at the end of the line: underline its last character
                start = max(0, len(text) - 1)
            cursor = QTextCursor(block)
            cursor.setPosition(block.position() + start)
            cursor.setPosition(
                block.position() + max(len(text), start + 1), QTextCursor.MoveMode.KeepAnchor
            )
            if not text:  # an empty line: mark the line itself
                cursor.setPosition(block.position())
                sel = QTextEdit.ExtraSelection()
                sel.format.setBackground(QColor(229, 72, 77, 40))
                sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                sel.cursor = cursor
                selections.append(sel)
                continue
            sel = QTextEdit.ExtraSelection()
            sel.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            sel.format.setUnderlineColor(ERROR_COLOR)
            sel.format.setToolTip(mark.message)
            sel.cursor = cursor
            selections.append(sel)
        self.setExtraSelections(selections)

    def go_to(self, line: int, column: int = 0) -> None:
        """Put the cursor on ``line`` (1-based) at ``column`` (1-based; 0: its text)."""
        block = self.document().findBlockByNumber(max(0, line - 1))
        if not block.isValid():
            return
        text = block.text()
        offset = max(0, column - 1) if column else len(text) - len(text.lstrip())
        cursor = QTextCursor(block)
        cursor.setPosition(block.position() + min(offset, len(text)))
        self.setTextCursor(cursor)
        self.centerCursor()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------ typing
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if self.isReadOnly():
            super().keyPressEvent(event)
            return
        key = event.key()
        mods = event.modifiers()
        if key == Qt.Key.Key_Tab and not (mods & Qt.KeyboardModifier.ControlModifier):
            if self.textCursor().hasSelection():
                self._indent_selection(+1)
            else:
                cursor = self.textCursor()
                column = cursor.positionInBlock()
                cursor.insertText(" " * (4 - column % 4))
            return
        if key == Qt.Key.Key_Backtab:
            self._indent_selection(-1)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            mods & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        ):
            cursor = self.textCursor()
            before = cursor.block().text()[: cursor.positionInBlock()]
            indent = before[: len(before) - len(before.lstrip(" \t"))]
            code = _strip_comment(before).rstrip()
            if code.endswith(":"):
                indent += INDENT
            elif code.split() and code.split()[0] in (
                "return",
                "pass",
                "break",
                "continue",
                "raise",
            ):
                indent = indent[:-4] if indent.endswith(INDENT) else indent
            cursor.beginEditBlock()
            cursor.insertText("\n" + indent)
            cursor.endEditBlock()
            self.ensureCursorVisible()
            return
        if key == Qt.Key.Key_Backspace and not mods and not self.textCursor().hasSelection():
            cursor = self.textCursor()
            before = cursor.block().text()[: cursor.positionInBlock()]
            if before and not before.strip(" "):
                n = len(before) % 4 or 4
                cursor.movePosition(
                    QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, n
                )
                cursor.removeSelectedText()
                return
        super().keyPressEvent(event)

    def _indent_selection(self, direction: int) -> None:
        cursor = self.textCursor()
        doc = self.document()
        first = doc.findBlock(cursor.selectionStart())
        last = doc.findBlock(
            max(
                cursor.selectionStart(), cursor.selectionEnd() - (1 if cursor.hasSelection() else 0)
            )
        )
        cursor.beginEditBlock()
        block = first
        while block.isValid():
            c = QTextCursor(block)
            if direction > 0:
                c.insertText(INDENT)
            else:
                text = block.text()
                n = min(4, len(text) - len(text.lstrip(" ")))
                if n:
                    c.movePosition(
                        QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor, n
                    )
                    c.removeSelectedText()
            if block == last:
                break
            block = block.next()
        cursor.endEditBlock()


def _strip_comment(line: str) -> str:
    """``line`` without a trailing comment (a ``#`` inside a string is kept)."""
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#":
            return line[:i]
        i += 1
    return line


class _MessageLabel(QLabel):
    """The problem line under the editor: a click goes to the line."""

    clicked = Signal()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


# ====================================================================== the panel
_LINE_RE = re.compile(r"\bline (\d+)(?:, column (\d+))?")


def runtime_marks(name: str, message: str) -> list[Mark]:
    """The user-code lines an engine error names for definition ``name``: the engine says
    "Name, line N: ..." (also inside a longer message)."""
    marks = []
    for m in re.finditer(
        rf"(?<![\w.]){re.escape(name)}(?:\.\w+)?, line (\d+)(?:, column (\d+))?:?\s*", message
    ):
        rest = message[m.end() :].strip()
        marks.append(Mark(int(m.group(1)), int(m.group(2) or 0), rest or message))
    return marks


class CustomCodeWidget(QWidget):
    """The project's custom layers, losses and metrics, with an editor for each.

    Signals:
        trustRequested(): the user pressed "Trust and Run" on the not-run bar.
        definitionSelected(str): the definition on show changed ("" for none).
    """

    trustRequested = Signal()
    definitionSelected = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setAutoFillBackground(True)  # opaque: nothing of the dock area shows through
        self._current: str | None = None
        self._loading = False
        self._check_marks: dict[str, list[Mark]] = {}
        self._runtime_marks: dict[str, list[Mark]] = {}

        # The not-run bar.
        self.banner = QFrame(self)
        self.banner.setObjectName("trust_banner")
        self.banner.setStyleSheet(
            "#trust_banner { background: #fff4ce; border: 1px solid #e0c060; border-radius: 3px; }"
            "#trust_banner QLabel { color: #5c4400; }"
        )
        bar = QHBoxLayout(self.banner)
        bar.setContentsMargins(8, 4, 4, 4)
        self.banner_label = QLabel(NOT_RUN_TEXT)
        self.banner_label.setWordWrap(True)
        bar.addWidget(self.banner_label, 1)
        self.trust_button = QPushButton("Trust and Run")
        self.trust_button.setToolTip("Run this project's code: shapes and training use it")
        self.trust_button.clicked.connect(self.trustRequested.emit)
        bar.addWidget(self.trust_button)

        # The definitions and their buttons.
        self.list = QListWidget()
        self.list.setMinimumWidth(140)
        self.list.currentItemChanged.connect(self._on_current_item)
        self.new_buttons: dict[str, QPushButton] = {}
        buttons = QGridLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(4)
        for i, kind in enumerate(("layer", "loss", "metric")):
            button = QPushButton(f"New {KIND_LABELS[kind]}")
            button.setToolTip(f"Add a custom {KIND_LABELS[kind].lower()} from a starter")
            button.clicked.connect(lambda _=False, k=kind: self.new_definition(k))
            self.new_buttons[kind] = button
            buttons.addWidget(button, i // 2, i % 2)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete this definition (undoable)")
        self.delete_button.clicked.connect(self.delete_current)
        buttons.addWidget(self.delete_button, 1, 1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(4)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(buttons)

        # The editor.
        self.title = QLabel()
        title_font = QFont(self.title.font())
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.editor = CodeEdit()
        self.editor.textChanged.connect(self._on_text_changed)
        self.message = _MessageLabel()
        self.message.setWordWrap(True)
        self.message.setCursor(Qt.CursorShape.PointingHandCursor)
        self.message.setStyleSheet(f"color: {ERROR_COLOR.name()};")
        self.message.setToolTip("Click to go to the line")
        self.message.clicked.connect(self._go_to_first_mark)
        self.message.hide()
        self.empty = QLabel("No custom code yet.\nAdd a layer, a loss or a metric.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pal = self.empty.palette()
        pal.setColor(self.empty.foregroundRole(), muted_color(pal))
        self.empty.setPalette(pal)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(4)
        right_layout.addWidget(self.title)
        right_layout.addWidget(self.editor, 1)
        right_layout.addWidget(self.empty, 1)
        right_layout.addWidget(self.message)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([190, 600])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_MS)
        self._check_timer.timeout.connect(self.check_now)

        document.graphChanged.connect(self._on_graph_changed)
        trust_signal = getattr(document, "trustChanged", None)
        if trust_signal is not None:
            trust_signal.connect(lambda _t: self._update_banner())
        self.refresh()

    # ------------------------------------------------------------------ model access
    @property
    def graph(self):
        return self.document.graph

    def _code(self) -> dict[str, Any]:
        return dict(getattr(self.graph, "code", None) or {})

    def definitions(self) -> list[str]:
        """The names in the list, in display order."""
        return [self.list.item(i).data(NAME_ROLE) for i in range(self.list.count())]

    def current(self) -> str | None:
        return self._current

    def source(self) -> str:
        return self.editor.toPlainText()

    def marks(self) -> list[Mark]:
        return list(self.editor.marks)

    # ------------------------------------------------------------------ refresh
    def refresh(self) -> None:
        """Bring the list, the editor and the bar in line with the graph's code."""
        code = self._code()
        names = sorted(
            code,
            key=lambda n: (
                list(KIND_LABELS).index(code[n].kind) if code[n].kind in KIND_LABELS else 9,
                n.lower(),
            ),
        )
        if names != self.definitions() or any(
            self.list.item(i).data(Qt.ItemDataRole.UserRole + 1) != code[n].kind
            for i, n in enumerate(names)
        ):
            self.list.blockSignals(True)
            self.list.clear()
            for name in names:
                item = QListWidgetItem(self._label(name, code[name].kind))
                item.setData(NAME_ROLE, name)
                item.setData(Qt.ItemDataRole.UserRole + 1, code[name].kind)
                item.setForeground(QColor(KIND_COLORS.get(code[name].kind, "#555555")))
                item.setToolTip(
                    f"Custom {KIND_LABELS.get(code[name].kind, code[name].kind).lower()}"
                )
                self.list.addItem(item)
            self.list.blockSignals(False)
        current = self._current if self._current in code else (names[0] if names else None)
        self._show(current)
        self._update_banner()

    @staticmethod
    def _label(name: str, kind: str) -> str:
        return f"{KIND_BADGES.get(kind, '?')}  {name}   ({KIND_LABELS.get(kind, kind).lower()})"

    def _update_banner(self) -> None:
        code = self._code()
        trusted = bool(getattr(self.graph, "trusted_code", True))
        self.banner.setVisible(bool(code) and not trusted)

    def _show(self, name: str | None) -> None:
        """Put definition ``name`` in the editor (keeping the cursor when it is on show)."""
        code = self._code()
        changed = name != self._current
        self._current = name
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(NAME_ROLE) == name and self.list.currentItem() is not item:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
        has = name is not None and name in code
        self.editor.setVisible(has)
        self.empty.setVisible(not has)
        self.delete_button.setEnabled(has)
        if not has:
            self.title.setText("")
            self._set_text("")
            self._show_marks()
            if changed:
                self.definitionSelected.emit("")
            return
        definition = code[name]
        self.title.setText(f"{KIND_LABELS.get(definition.kind, definition.kind)} {name}")
        if self.editor.toPlainText() != definition.source:
            self._set_text(definition.source, keep_cursor=not changed)
            self._check_marks.pop(name, None)  # undo, redo or a new definition
        if name not in self._check_marks:
            self._check(name, definition.source, definition.kind)
        self._show_marks()
        if changed:
            self.definitionSelected.emit(name)

    def _set_text(self, text: str, keep_cursor: bool = False) -> None:
        position = self.editor.textCursor().position()
        scroll = self.editor.verticalScrollBar().value()
        self._loading = True
        try:
            self.editor.setPlainText(text)
        finally:
            self._loading = False
        if keep_cursor:
            cursor = self.editor.textCursor()
            cursor.setPosition(min(position, len(text)))
            self.editor.setTextCursor(cursor)
            self.editor.verticalScrollBar().setValue(scroll)

    # ------------------------------------------------------------------ editing
    def new_definition(self, kind: str) -> str | None:
        """Add a definition of ``kind`` from its starter, with a name not yet taken."""
        from studio.core.code import STARTERS, CodeDef, defined_name

        source = STARTERS[kind]
        base = (
            defined_name(source, kind)
            or {"layer": "CustomLayer", "loss": "custom_loss", "metric": "custom_metric"}[kind]
        )
        name = self._unique_name(base)
        if name != base:
            source = re.sub(rf"\b{re.escape(base)}\b", name, source)
        if not self._push_code(name, CodeDef(name, kind, source), merge=False):
            return None
        self._show(name)
        self.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        return name

    def delete_current(self) -> None:
        name = self._current
        if name is None or name not in self._code():
            return
        self._push_code(name, None, merge=False)

    def _unique_name(self, base: str) -> str:
        code = self._code()
        if base not in code:
            return base
        i = 2
        while f"{base}{i}" in code:
            i += 1
        return f"{base}{i}"

    def _push_code(self, name: str, definition, merge: bool) -> bool:
        from studio.core.commands import SetCode

        return self.document.push(SetCode(self.graph, name, definition), merge=merge)

    def _on_text_changed(self) -> None:
        if self._loading:
            return
        name = self._current
        code = self._code()
        if name is None or name not in code:
            return
        from studio.core.code import CodeDef, defined_name

        definition = code[name]
        source = self.editor.toPlainText()
        if source == definition.source:
            return
        # The definition follows the class or function the code defines: SetCode moves it
        # (and re-types the layer's nodes) when the new code names another one.
        new = defined_name(source, definition.kind) or name
        if new != name and new in code:
            new = name  # that name is taken: keep this one until the clash is gone
        if self._push_code(name, CodeDef(new, definition.kind, source), merge=True) and new != name:
            self._rename_local(name, new)
        self._runtime_marks.pop(new, None)  # its lines have moved
        self._check_timer.start()

    def _rename_local(self, old: str, new: str) -> None:
        if old in self._check_marks:
            self._check_marks[new] = self._check_marks.pop(old)
        self._runtime_marks.pop(old, None)
        if self._current == old:
            self._current = new
            self.refresh()

    def check_now(self) -> None:
        """Check the definition on show now (the typing timer calls this)."""
        self._check_timer.stop()
        name = self._current
        code = self._code()
        if name is None or name not in code:
            return
        definition = code[name]
        self._check(name, definition.source, definition.kind)
        self._show_marks()

    def _check(self, name: str, source: str, kind: str) -> None:
        from studio.core.code import check_source

        try:
            problems = check_source(source, kind)
        except Exception as exc:  # the checker must never take the editor down
            self._check_marks[name] = [Mark(1, 0, f"Cannot check this code: {exc}")]
            return
        self._check_marks[name] = [
            Mark(
                int(getattr(p, "line", 1) or 1),
                int(getattr(p, "column", 0) or 0),
                str(getattr(p, "message", p)),
            )
            for p in problems
        ]

    # ------------------------------------------------------------------ problems
    def set_shapes(self, result: Any) -> None:
        """Mark the lines that the engine's errors name (``"Name, line N: ..."``)."""
        marks: dict[str, list[Mark]] = {}
        nodes = getattr(result, "nodes", None) or {}
        names = list(self._code())
        for info in nodes.values():
            error = getattr(info, "error", None)
            if not error:
                continue
            for name in names:
                for mark in runtime_marks(name, str(error)):
                    if mark not in marks.setdefault(name, []):
                        marks[name].append(mark)
        self._runtime_marks = marks
        self._show_marks()

    def show_error(self, message: str) -> bool:
        """Mark the lines an error from user code names (training errors); True if any."""
        found = [name for name in self._code() if runtime_marks(name, message)]
        for name in found:
            self._runtime_marks[name] = runtime_marks(name, message)
        if found and self._current not in found:
            self._show(found[0])  # show the definition the error is in
        self._show_marks()
        return bool(found)

    def _show_marks(self) -> None:
        name = self._current
        marks = list(self._check_marks.get(name, [])) if name else []
        if name and not marks:
            marks = list(self._runtime_marks.get(name, []))
        self.editor.set_marks(marks)
        if not marks:
            self.message.setText("")
            self.message.hide()
            return
        text = marks[0].text()
        if len(marks) > 1:
            text += f"  (+{len(marks) - 1} more)"
        self.message.setText(text)
        self.message.setToolTip("\n".join(m.text() for m in marks) + "\n\nClick to go to the line")
        self.message.show()

    def _go_to_first_mark(self) -> None:
        if self.editor.marks:
            mark = self.editor.marks[0]
            self.editor.go_to(mark.line, mark.column)

    # ------------------------------------------------------------------ slots
    def _on_current_item(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is None:
            return
        self._check_timer.stop()
        if self._current is not None and self._current in self._code():
            self.check_now()
        self._show(item.data(NAME_ROLE))

    def _on_graph_changed(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind not in ("code_changed", "reset"):
            return
        name, old = getattr(event, "node", None), getattr(event, "old", None)
        if kind == "code_changed" and old and self._current == old:
            self._rename_local(old, name)  # renamed by undo/redo: follow it
            return
        if kind == "code_changed" and name != self._current:
            self._check_marks.pop(name, None)  # changed elsewhere: check it again
        self.refresh()


__all__ = [
    "NOT_EVALUATED_TIP",
    "NOT_RUN_TEXT",
    "CodeEdit",
    "CustomCodeWidget",
    "Mark",
    "PythonHighlighter",
    "runtime_marks",
]
