"""The problems panel: what stops the graph from becoming a model, and what looks wrong.

Rows come from two places: the validator's diagnostics (``Document.diagnosticsChanged``)
and Keras' own verdict from shape inference (``set_shapes(result)``: a node's ``error`` is an
error row "Keras: ...", its ``warnings`` warning rows). Errors come first. Clicking a row
that names a node emits :attr:`ProblemsWidget.nodeActivated`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.document import Document
from studio.ui.panels import ERROR_COLOR, WARNING_COLOR

NODE_ROLE = Qt.ItemDataRole.UserRole

COL_SEVERITY, COL_NODE, COL_MESSAGE = range(3)


@dataclass(frozen=True)
class Problem:
    """One row: from the validator (``source == "studio"``) or shape inference ("keras")."""

    severity: str  # "error" | "warning"
    message: str
    node: str | None = None
    source: str = "studio"
    code: str = ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def count_text(errors: int, warnings: int) -> str:
    """``"2 errors, 1 warning"``, ``"1 error"``, ``"No problems"``."""
    parts = []
    if errors:
        parts.append(plural(errors, "error"))
    if warnings:
        parts.append(plural(warnings, "warning"))
    return ", ".join(parts) if parts else "No problems"


class ProblemsWidget(QWidget):
    """A list of the document's problems.

    Signals:
        nodeActivated(str): a row naming a node was clicked or activated (select and centre
            that node).
    """

    nodeActivated = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMinimumSize(240, 100)
        self._diagnostics: list[Any] = list(document.diagnostics)
        self._shape_problems: list[Problem] = []

        self.count_label = QLabel(self)
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count_icon = QLabel(self)

        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Severity", "Node", "Message"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COL_SEVERITY, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_NODE, QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(COL_NODE, self.fontMetrics().horizontalAdvance("M" * 10))
        self.tree.itemClicked.connect(self._on_item)
        self.tree.itemActivated.connect(self._on_item)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.count_icon)
        top.addWidget(self.count_label, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)

        document.diagnosticsChanged.connect(self._on_diagnostics)
        document.graphChanged.connect(self._on_graph_changed)
        self._rebuild()

    # ------------------------------------------------------------------ inputs
    def set_shapes(self, result: Any) -> None:
        """Take Keras' errors and warnings from a ShapeResult-like object (None clears)."""
        problems: list[Problem] = []
        nodes = getattr(result, "nodes", None) or {}
        for name, info in nodes.items():
            error = getattr(info, "error", None)
            if error:
                problems.append(Problem("error", f"Keras: {error}", name, "keras"))
            for warning in getattr(info, "warnings", None) or []:
                problems.append(Problem("warning", f"Keras: {warning}", name, "keras"))
        self._shape_problems = problems
        self._rebuild()

    def problems(self) -> list[Problem]:
        """The rows, in display order: errors first, each group in graph order."""
        rows = [
            Problem(d.severity, d.message, d.node, "studio", getattr(d, "code", ""))
            for d in self._diagnostics
        ]
        graph = self.document.graph
        # Shape results can lag behind an edit: leave out nodes that are gone. Keras' error
        # on a node the validator already faults repeats it in other words: leave it out.
        faulted = {d.node for d in self._diagnostics if d.severity == "error" and d.node}
        rows += [
            p
            for p in self._shape_problems
            if (p.node is None or p.node in graph)
            and not (p.severity == "error" and p.node in faulted)
        ]
        order = {n.name: i for i, n in enumerate(graph.nodes)}
        indexed = list(enumerate(rows))
        indexed.sort(
            key=lambda ir: (
                ir[1].severity != "error",
                ir[1].source != "studio",
                order.get(ir[1].node, -1) if ir[1].node else -1,
                ir[0],
            )
        )
        return [r for _, r in indexed]

    # ------------------------------------------------------------------ slots
    def _on_diagnostics(self, diagnostics: list) -> None:
        self._diagnostics = list(diagnostics)
        self._rebuild()

    def _on_graph_changed(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if getattr(event, "path", ()):
            return  # inside a nested graph: not a top-level node's problem rows
        if kind == "node_renamed" and self._shape_problems:
            old, new = event.old, event.node
            self._shape_problems = [
                Problem(p.severity, p.message, new, p.source, p.code) if p.node == old else p
                for p in self._shape_problems
            ]
        # Every other change is followed by diagnosticsChanged, which rebuilds the list
        # (and drops shape rows of nodes that are gone).

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        name = item.data(0, NODE_ROLE)
        if name:
            self.nodeActivated.emit(name)

    # ------------------------------------------------------------------ drawing
    def _rebuild(self) -> None:
        rows = self.problems()
        current = self.tree.currentItem()
        keep = (
            (current.data(0, NODE_ROLE), current.text(COL_MESSAGE)) if current is not None else None
        )
        style = self.style()
        error_icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical)
        warning_icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.tree.setUpdatesEnabled(False)
        try:
            self.tree.clear()
            items = []
            restore = None
            for p in rows:
                is_error = p.severity == "error"
                item = QTreeWidgetItem(
                    ["Error" if is_error else "Warning", p.node or "", p.message]
                )
                item.setIcon(COL_SEVERITY, error_icon if is_error else warning_icon)
                item.setForeground(COL_SEVERITY, QBrush(ERROR_COLOR if is_error else WARNING_COLOR))
                item.setData(0, NODE_ROLE, p.node)
                item.setToolTip(COL_MESSAGE, p.message)
                item.setToolTip(COL_NODE, "Click to show this node" if p.node else "")
                items.append(item)
                if keep is not None and (p.node, p.message) == keep:
                    restore = item
            self.tree.addTopLevelItems(items)
            if restore is not None:
                self.tree.setCurrentItem(restore)
        finally:
            self.tree.setUpdatesEnabled(True)
        errors = sum(p.severity == "error" for p in rows)
        warnings = len(rows) - errors
        self.count_label.setText(count_text(errors, warnings))
        size = self.fontMetrics().height()
        if errors:
            self.count_icon.setPixmap(error_icon.pixmap(size, size))
        elif warnings:
            self.count_icon.setPixmap(warning_icon.pixmap(size, size))
        else:
            self.count_icon.setPixmap(
                style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton).pixmap(size, size)
            )

    def row_count(self) -> int:
        return self.tree.topLevelItemCount()


__all__ = ["Problem", "ProblemsWidget", "count_text"]
