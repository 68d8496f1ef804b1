"""The canvas view: zoom, pan, grid, keyboard, quick add and in-place rename.

Keys are handled in :meth:`GraphView.keyPressEvent` rather than by shortcuts on the view, so
the view works on its own (tests) and the main window can bind the same keys to its menu
actions without Qt reporting them as ambiguous: a window action takes the key first and
calls the same scene method.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QKeySequence, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.graph import MODEL_TYPE
from studio.ui.canvas.items import NodeItem
from studio.ui.canvas.scene import GraphScene

MIN_ZOOM = 0.1
MAX_ZOOM = 4.0
ZOOM_STEP = 1.2
GRID = 20.0


class QuickAddPopup(QFrame):
    """A search box over the catalog: type, pick with Up/Down, Enter adds the layer."""

    chosen = Signal(str)
    MAX_ROWS = 60

    def __init__(self, catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("quickAdd")
        self.catalog = catalog
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Add layer…")
        self.edit.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid); font-size: 11px;")
        layout.addWidget(self.edit)
        layout.addWidget(self.list)
        layout.addWidget(self.hint)
        self.resize(300, 340)
        self._types = sorted(
            (t for t in catalog.layers if t != MODEL_TYPE),
            key=lambda t: (not catalog.layers[t].common, t.startswith("ops."), t.lower()),
        )
        self.edit.textChanged.connect(self._filter)
        self.edit.returnPressed.connect(self._accept)
        self.list.itemActivated.connect(lambda _item: self._accept())
        self.list.currentItemChanged.connect(self._show_hint)
        self.edit.installEventFilter(self)
        self._filter("")

    def matches(self, text: str) -> list[str]:
        """Types matching ``text``: exact, then prefix, then substring; common ones first."""
        q = text.strip().lower().replace(" ", "")
        if not q:
            return self._types[: self.MAX_ROWS]
        scored = []
        for i, t in enumerate(self._types):
            low = t.lower()
            bare = low.removeprefix("ops.")
            if q == low or q == bare:
                rank = 0
            elif bare.startswith(q) or low.startswith(q):
                rank = 1
            elif q in low:
                rank = 2
            else:
                continue
            scored.append((rank, i, t))
        scored.sort()
        return [t for _r, _i, t in scored[: self.MAX_ROWS]]

    def _filter(self, text: str) -> None:
        self.list.clear()
        for t in self.matches(text):
            spec = self.catalog.layers[t]
            item = QListWidgetItem(f"{t}   ·  {spec.category}")
            item.setData(Qt.ItemDataRole.UserRole, t)
            item.setToolTip(spec.description)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.hint.setText("No layer matches.")

    def _show_hint(self, current, _previous=None) -> None:
        if current is None:
            return
        spec = self.catalog.layers.get(current.data(Qt.ItemDataRole.UserRole))
        text = spec.description if spec else ""
        self.hint.setText(text[:160] + ("…" if len(text) > 160 else ""))

    def current_type(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _accept(self) -> None:
        t = self.current_type()
        self.close()
        if t:
            self.chosen.emit(t)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1,
                        Qt.Key.Key_PageDown: 8, Qt.Key.Key_PageUp: -8}[key]  # fmt: skip
                row = max(0, min(self.list.count() - 1, self.list.currentRow() + step))
                self.list.setCurrentRow(row)
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(obj, event)


class RenameEditor(QLineEdit):
    """The line edit laid over a node's name while renaming it."""

    committed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.node_name = ""
        self.hide()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.committed.emit(self.text())
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        super().focusOutEvent(event)
        if self.isVisible() and event.reason() not in (Qt.FocusReason.PopupFocusReason,
                                                       Qt.FocusReason.ActiveWindowFocusReason):  # fmt: skip
            self.committed.emit(self.text())


class GraphView(QGraphicsView):
    """Shows a :class:`GraphScene`: wheel zoom around the cursor, middle-button or
    Space+drag panning, rubber-band selection and the canvas' keys."""

    zoomChanged = Signal(float)

    def __init__(self, scene: GraphScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(QGraphicsView.OptimizationFlag.DontSavePainterState)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self._pan_from: QPoint | None = None
        self._space = False
        self.rename_editor = RenameEditor(self.viewport())
        self.rename_editor.committed.connect(self._commit_rename)
        self.rename_editor.cancelled.connect(self._end_rename)
        self.quick_add: QuickAddPopup | None = None
        self._quick_add_pos = QPointF()
        self._quick_add_from: tuple[str, int] | None = None
        self.centerOn(0, 0)

    def graph_scene(self) -> GraphScene:
        return self.scene()

    # ================================================================== zoom
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, value: float, anchor: QPoint | None = None) -> None:
        """Zoom to ``value`` (clamped to 0.1–4), keeping the scene point under ``anchor``
        (viewport coordinates; default the centre) where it is."""
        value = max(MIN_ZOOM, min(MAX_ZOOM, value))
        current = self.zoom()
        if abs(value - current) < 1e-9:
            return
        if anchor is None:
            anchor = self.viewport().rect().center()
        before = self.mapToScene(anchor)
        factor = value / current
        self.scale(factor, factor)
        after = self.mapFromScene(before)
        delta = after - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        self.zoomChanged.emit(self.zoom())

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / ZOOM_STEP)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        pixels = event.pixelDelta()
        if not pixels.isNull() and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            # A touchpad scrolls (pans); pinch or Ctrl+scroll zooms.
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - pixels.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - pixels.y())
            event.accept()
            return
        delta = event.angleDelta().y() or pixels.y()
        if not delta:
            event.ignore()
            return
        factor = math.pow(1.0015, delta)
        self.set_zoom(self.zoom() * factor, event.position().toPoint())
        event.accept()

    def fit_rect(self, rect: QRectF, max_zoom: float = 1.0) -> None:
        if rect.isNull() or rect.isEmpty():
            self.set_zoom(1.0)
            self.centerOn(rect.center() if not rect.isNull() else QPointF(0, 0))
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        vp = self.viewport().rect()
        if vp.width() < 2 or vp.height() < 2:
            self.centerOn(rect.center())
            return
        scale = min(vp.width() / rect.width(), vp.height() / rect.height())
        scale = max(MIN_ZOOM, min(max_zoom, scale))
        self.set_zoom(scale)
        self.centerOn(rect.center())

    def fit_all(self) -> None:
        """Show every node (at most at 100%)."""
        self.fit_rect(self.scene().items_rect())

    def zoom_to_selection(self) -> None:
        rect = self.scene().items_rect(selected_only=True)
        if rect.isNull():
            self.fit_all()
        else:
            self.fit_rect(rect, max_zoom=1.5)

    # ================================================================== background
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        theme = self.scene().theme
        painter.fillRect(rect, theme.canvas)
        zoom = self.zoom()
        step = GRID
        while step * zoom < 12:
            step *= 5
        major = step * 5
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        minor_lines: list[QLineF] = []
        major_lines: list[QLineF] = []
        x = left
        while x < rect.right():
            (major_lines if abs(math.remainder(x, major)) < 1e-6 else minor_lines).append(
                QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            (major_lines if abs(math.remainder(y, major)) < 1e-6 else minor_lines).append(
                QLineF(rect.left(), y, rect.right(), y))
            y += step
        pen = QPen(theme.grid_minor, 0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLines(minor_lines)
        pen = QPen(theme.grid_major, 0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawLines(major_lines)

    # ================================================================== mouse
    def mousePressEvent(self, event) -> None:  # noqa: N802
        pan = event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        )
        if pan:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton
        ):
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # ================================================================== keys
    def event(self, event) -> bool:
        # Tab opens the quick-add box instead of moving the focus.
        if event.type() == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Tab:
            self.keyPressEvent(event)
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        scene: GraphScene = self.scene()
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ctrl = Qt.KeyboardModifier.ControlModifier
        plain = mods == Qt.KeyboardModifier.NoModifier
        if key == Qt.Key.Key_Space and plain and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.matches(QKeySequence.StandardKey.Delete) or (key == Qt.Key.Key_Backspace and plain):
            scene.delete_selection()
        elif event.matches(QKeySequence.StandardKey.Copy):
            scene.copy_selection()
        elif event.matches(QKeySequence.StandardKey.Cut):
            scene.cut_selection()
        elif event.matches(QKeySequence.StandardKey.Paste):
            scene.paste()
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            scene.select_all()
        elif key == Qt.Key.Key_D and mods == ctrl:
            scene.duplicate()
        elif key == Qt.Key.Key_L and mods == ctrl:
            scene.auto_layout()
        elif key == Qt.Key.Key_F2 and plain:
            scene.rename_selected()
        elif key == Qt.Key.Key_F and plain:
            self.fit_all()
        elif key == Qt.Key.Key_F and mods == Qt.KeyboardModifier.ShiftModifier:
            self.zoom_to_selection()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal) and mods & ctrl:
            self.zoom_in()
        elif key == Qt.Key.Key_Minus and mods & ctrl:
            self.zoom_out()
        elif key == Qt.Key.Key_0 and mods == ctrl:
            self.reset_zoom()
        elif key == Qt.Key.Key_Tab and plain:
            self.open_quick_add()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and plain:
            names = scene.selected_names()
            if len(names) == 1:
                if not scene.open_nested(names[0]):
                    scene.nodeActivated.emit(names[0])
        elif key == Qt.Key.Key_Up and mods == Qt.KeyboardModifier.AltModifier:
            scene.go_up()
        elif key == Qt.Key.Key_Escape:
            if scene.is_wiring:
                scene._cancel_wire()
            else:
                scene.clearSelection()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space = False
        super().focusOutEvent(event)

    # ================================================================== quick add
    def _cursor_scene_pos(self) -> QPointF:
        local = self.viewport().mapFromGlobal(QCursor.pos())
        if not self.viewport().rect().contains(local):
            local = self.viewport().rect().center()
        return self.mapToScene(local)

    def open_quick_add(
        self, scene_pos: QPointF | None = None, connect_from: tuple[str, int] | None = None
    ) -> QuickAddPopup:
        """Open the layer search box; the chosen layer is added at ``scene_pos`` (default:
        under the mouse, or the centre of the view), fed by ``connect_from`` (node, output)
        when given."""
        if scene_pos is None:
            scene_pos = self._cursor_scene_pos()
        self._quick_add_pos = QPointF(scene_pos)
        self._quick_add_from = connect_from
        if self.quick_add is None:
            self.quick_add = QuickAddPopup(self.scene().catalog, self)
            self.quick_add.chosen.connect(self._quick_add_chosen)
        popup = self.quick_add
        layers = popup.catalog.layers
        if set(popup._types) != set(layers) - {MODEL_TYPE}:  # custom layers came or went
            popup._types = sorted(
                (t for t in layers if t != MODEL_TYPE),
                key=lambda t: (not layers[t].common, t.startswith("ops."), t.lower()),
            )
        popup.edit.clear()
        at = self.viewport().mapToGlobal(self.mapFromScene(scene_pos))
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            at.setX(min(at.x(), screen.right() - popup.width()))
            at.setY(min(at.y(), screen.bottom() - popup.height()))
        popup.move(at)
        popup.show()
        popup.edit.setFocus()
        return popup

    def _quick_add_chosen(self, type_name: str) -> None:
        connect_from, self._quick_add_from = self._quick_add_from, None
        self.scene().add_node(type_name, self._quick_add_pos, connect_from=connect_from)
        self.setFocus()

    # ================================================================== rename
    def begin_rename(self, name: str) -> QLineEdit | None:
        """Lay a line edit over ``name``'s name text; Enter renames, Escape cancels."""
        item: NodeItem | None = self.scene().node_item(name)
        if item is None:
            return None
        self.ensureVisible(item.sceneBoundingRect(), 20, 20)
        rect = self.mapFromScene(item.mapRectToScene(item.name_rect())).boundingRect()
        editor = self.rename_editor
        editor.node_name = name
        editor.setText(name)
        font = editor.font()
        font.setPixelSize(max(10, round(12 * self.zoom())))
        editor.setFont(font)
        h = max(rect.height() + 6, editor.sizeHint().height())
        editor.setGeometry(rect.x() - 3, rect.center().y() - h // 2, max(rect.width() + 6, 120), h)
        editor.setToolTip("")
        editor.setStyleSheet("")
        editor.show()
        editor.raise_()
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        editor.selectAll()
        return editor

    def _commit_rename(self, text: str) -> None:
        editor = self.rename_editor
        if not editor.isVisible():
            return
        old = editor.node_name
        text = text.strip()
        if not text or text == old:
            self._end_rename()
            return
        scene: GraphScene = self.scene()
        if scene.rename_node(old, text):
            self._end_rename()
            scene.select_nodes([text])
            return
        # Refused: keep the editor open and say why (the scene emitted statusMessage).
        if editor.hasFocus():
            editor.setStyleSheet("QLineEdit { border: 1px solid #d1242f; }")
            editor.setToolTip(scene._last_refusal)
            editor.selectAll()
        else:
            self._end_rename()

    def _end_rename(self) -> None:
        editor = self.rename_editor
        if editor.isVisible():
            editor.hide()
            QTimer.singleShot(0, self.setFocus)
        editor.node_name = ""
