"""The model summary: a table like ``model.summary()``, kept current as the graph changes.

Rows follow the graph (sources first); names, types and connections come from the document,
shapes and parameter counts from the engine's ShapeResult (``set_shapes``), read duck-typed.
Until a result arrives the shape cells read "computing…".
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.graph import Edge, Graph, GraphError
from studio.ui.document import Document
from studio.ui.panels import ERROR_COLOR, format_count, format_outputs, readable_size

NODE_ROLE = Qt.ItemDataRole.UserRole
COMPUTING = "computing…"

COL_LAYER, COL_SHAPE, COL_PARAMS, COL_CONNECTED = range(4)


def _port_order(e: Edge) -> tuple[str, int]:
    return (e.dst_port, e.slot)


def graph_order(graph: Graph) -> list[str]:
    """Node names sources first, ties in node order; node order when there is a cycle."""
    try:
        return graph.topological_order()
    except GraphError:
        return [n.name for n in graph.nodes]


def connected_text(graph: Graph, name: str, edges: list[Edge] | None = None) -> str:
    """The "Connected to" cell: ``conv2d[0][0], dense[0][1]`` as Keras prints it.
    ``edges``: the node's incoming edges, when the caller has them indexed."""
    edges = sorted(graph.in_edges(name) if edges is None else edges, key=_port_order)
    node = graph.node(name)
    parts = [f"{e.src}[0][{e.src_output}]" for e in edges]
    if node.shared_with:
        parts.append(f"(shares {node.shared_with})")
    return ", ".join(parts) if parts else "-"


class SummaryWidget(QWidget):
    """Layer (type), Output shape, Param #, Connected to; totals below.

    Signals:
        nodeActivated(str): a row was clicked or activated (select and centre that node).
    """

    nodeActivated = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setMinimumSize(300, 120)
        self._result: Any = None
        self._dirty = False

        self.table = QTreeWidget(self)
        self.table.setColumnCount(4)
        self.table.setHeaderLabels(["Layer (type)", "Output shape", "Param #", "Connected to"])
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.header()
        header.setStretchLastSection(True)
        for col in (COL_LAYER, COL_SHAPE, COL_PARAMS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.table.headerItem().setTextAlignment(
            COL_PARAMS, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.table.itemClicked.connect(self._on_item)
        self.table.itemActivated.connect(self._on_item)

        self.total_label = QLabel(self)
        self.trainable_label = QLabel(self)
        self.non_trainable_label = QLabel(self)
        bold = QFont(self.total_label.font())
        bold.setBold(True)
        self.total_label.setFont(bold)
        for label in (self.total_label, self.trainable_label, self.non_trainable_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.table, 1)
        layout.addSpacing(4)
        layout.addWidget(self.total_label)
        layout.addWidget(self.trainable_label)
        layout.addWidget(self.non_trainable_label)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._flush)
        document.graphChanged.connect(self._on_graph_changed)
        document.undoStackChanged.connect(self._flush)
        self.refresh()

    # ------------------------------------------------------------------ inputs
    def set_shapes(self, result: Any) -> None:
        """Show a ShapeResult-like object's shapes and counts (None: "computing…")."""
        self._result = result
        if self.isVisible():
            self.refresh()
        else:  # a hidden (tabbed-away) summary catches up when it is shown
            self._dirty = True

    # ------------------------------------------------------------------ drawing
    def refresh(self) -> None:
        """Rebuild the rows from the graph and the last shape result."""
        self._dirty = False
        self._timer.stop()
        graph = self.document.graph
        nodes = getattr(self._result, "nodes", None)
        current = self.table.currentItem()
        current_name = current.data(0, NODE_ROLE) if current is not None else None
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        self.table.setUpdatesEnabled(False)
        try:
            self.table.clear()
            items = []
            restore = None
            incoming: dict[str, list[Edge]] = {}
            for e in graph.edges:
                incoming.setdefault(e.dst, []).append(e)
            for name in graph_order(graph):
                node = graph.node(name)
                connected = connected_text(graph, name, incoming.get(name, []))
                item = QTreeWidgetItem([f"{name} ({node.type})", COMPUTING, "…", connected])
                item.setData(0, NODE_ROLE, name)
                item.setTextAlignment(COL_PARAMS, right)
                item.setToolTip(COL_LAYER, f"{name} ({node.type})")
                info = nodes.get(name) if nodes is not None else None
                if info is not None:
                    error = getattr(info, "error", None)
                    blocked = getattr(info, "blocked_by", None)
                    if error:
                        item.setText(COL_SHAPE, "error")
                        item.setForeground(COL_SHAPE, QBrush(ERROR_COLOR))
                        item.setToolTip(COL_SHAPE, str(error))
                        item.setText(COL_PARAMS, "-")
                    elif blocked:
                        item.setText(COL_SHAPE, "?")
                        item.setToolTip(COL_SHAPE, f"Unknown until '{blocked}' is fixed.")
                        item.setText(COL_PARAMS, "-")
                    else:
                        item.setText(COL_SHAPE, format_outputs(info))
                        item.setText(COL_PARAMS, format_count(getattr(info, "params", 0)))
                items.append(item)
                if name == current_name:
                    restore = item
            self.table.addTopLevelItems(items)
            if restore is not None:
                self.table.setCurrentItem(restore)
        finally:
            self.table.setUpdatesEnabled(True)
        self._update_totals()

    def _update_totals(self) -> None:
        r = self._result
        if r is None:
            self.total_label.setText(f"Total params: {COMPUTING}")
            self.trainable_label.setText("Trainable params: …")
            self.non_trainable_label.setText("Non-trainable params: …")
            return
        total = getattr(r, "total_params", 0)
        trainable = getattr(r, "trainable_params", 0)
        non_trainable = getattr(r, "non_trainable_params", 0)
        self.total_label.setText(f"Total params: {format_count(total)} ({readable_size(total)})")
        self.trainable_label.setText(
            f"Trainable params: {format_count(trainable)} ({readable_size(trainable)})"
        )
        self.non_trainable_label.setText(
            f"Non-trainable params: {format_count(non_trainable)} ({readable_size(non_trainable)})"
        )

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The table's text, row by row (for tests and copying)."""
        if self._dirty:
            self.refresh()
        out = []
        for i in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(i)
            out.append(tuple(item.text(c) for c in range(4)))
        return out

    # ------------------------------------------------------------------ slots
    def _on_graph_changed(self, event: Any) -> None:
        if getattr(event, "kind", "") == "node_moved":
            return
        self._dirty = True
        self._timer.start()  # in case no undoStackChanged follows

    def _flush(self) -> None:
        if self._dirty and self.isVisible():
            self.refresh()

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        name = item.data(0, NODE_ROLE)
        if name:
            self.nodeActivated.emit(name)


__all__ = ["SummaryWidget", "connected_text", "graph_order"]
