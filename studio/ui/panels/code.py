"""The Code panel: the Python script the project exports, kept up to date as it is edited.

The script comes from :func:`studio.core.codegen.generate_script` (pure Python, no
TensorFlow), regenerated 300 ms after the last edit and only while the panel is visible.
Keywords, strings, numbers, comments and decorators are highlighted.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal
from PySide6.QtGui import (
    QFontDatabase,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels.code_editor import PythonHighlighter

STYLE_NAMES = {"functional": "Functional", "sequential": "Sequential", "subclass": "Subclass"}
DEBOUNCE_MS = 300



class _Results(QObject):
    ready = Signal(int, str, str)  # generation, script, error


class _Generate(QRunnable):
    """One script generation in the thread pool (a snapshot of the project is taken here)."""

    def __init__(self, generation: int, project, style: str, results: _Results) -> None:
        super().__init__()
        import copy
        import dataclasses

        self.generation = generation
        # A snapshot: the GUI may edit the original meanwhile (a Graph copy has no listeners).
        self.project = dataclasses.replace(
            project, graph=project.graph.copy(), settings=copy.deepcopy(project.settings)
        )
        self.style = style
        self.results = results

    def run(self) -> None:
        from studio.core.codegen import CodegenError, generate_script

        try:
            text, error = generate_script(self.project, style=self.style), ""
        except CodegenError as exc:
            text, error = "", str(exc)
        except Exception as exc:  # a graph the generator does not know yet: say so
            text, error = "", f"The script cannot be written for this graph: {exc}"
        self.results.ready.emit(self.generation, text, error)


class CodePreviewWidget(QWidget):
    """A read-only, highlighted view of the exported script, with a style choice."""

    codeChanged = Signal(str)

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Style:"))
        self.style_combo = QComboBox()
        self.style_combo.setToolTip(
            "Functional: the graph as layer calls. Sequential: a list of layers (a single "
            "chain only). Subclass: a keras.Model with layers in __init__ and the flow in call."
        )
        self.style_combo.currentIndexChanged.connect(lambda _i: self.refresh())
        row.addWidget(self.style_combo)
        row.addStretch(1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the script to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        row.addWidget(self.copy_button)
        layout.addLayout(row)
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = PythonHighlighter(self.editor.document())
        layout.addWidget(self.editor, 1)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b3261e;")
        self.message.hide()
        layout.addWidget(self.message)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh)
        self._stale = True
        self._generation = 0
        self._sync = False  # True: generate on the calling thread (tests)
        self._results = _Results()
        self._results.ready.connect(self._on_result)
        document.graphChanged.connect(self._changed)
        document.settingsChanged.connect(self._changed)
        self._fill_styles()

    # ------------------------------------------------------------------ public
    def code(self) -> str:
        return self.editor.toPlainText()

    def style(self) -> str:
        return self.style_combo.currentData() or "functional"

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code())

    def refresh(self) -> None:
        """Generate the script for the chosen style, off the GUI thread (formatting it runs
        ruff, a separate program); the newest request wins."""
        self._stale = False
        self._fill_styles()
        self._generation += 1
        job = _Generate(self._generation, self.document.project, self.style(), self._results)
        if self._sync:
            job.run()
        else:
            QThreadPool.globalInstance().start(job)

    def _on_result(self, generation: int, text: str, error: str) -> None:
        if generation != self._generation:
            return  # an older request: the graph has changed since
        if error:
            self._show_message(error)
            return
        self._show_message("")
        if text != self.editor.toPlainText():
            bar = self.editor.verticalScrollBar()
            position = bar.value()
            self.editor.setPlainText(text)
            bar.setValue(position)
        self.codeChanged.emit(text)

    # ------------------------------------------------------------------ internals
    def _fill_styles(self) -> None:
        from studio.core.codegen import available_styles

        try:
            styles = available_styles(self.document.graph)
        except Exception:
            styles = ["functional"]
        current = [self.style_combo.itemData(i) for i in range(self.style_combo.count())]
        if current == styles:
            return
        chosen = self.style_combo.currentData()
        self.style_combo.blockSignals(True)
        self.style_combo.clear()
        for style in styles:
            self.style_combo.addItem(STYLE_NAMES.get(style, style), style)
        index = self.style_combo.findData(chosen)
        self.style_combo.setCurrentIndex(max(0, index))
        self.style_combo.blockSignals(False)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _changed(self, *_args) -> None:
        self._stale = True
        if self.isVisible():
            self._timer.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._stale:
            self._timer.start()
