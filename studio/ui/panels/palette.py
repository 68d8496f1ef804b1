"""The layer palette: every node type of the catalog, grouped by category, searchable.

Keras layers come first, by category; ``keras.ops`` operations follow in one "Operations"
group, collapsed at first. Items drag onto the canvas as :data:`LAYER_MIME` (the type name in
UTF-8); double-click or Enter emits :attr:`PaletteWidget.layerActivated`.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QDrag, QFont, QKeyEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.catalog import Catalog, LayerSpec
from studio.ui.panels import LAYER_MIME, muted_color

TYPE_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1
OPS_CATEGORY = "Operations"
CUSTOM_CATEGORY = "Custom"
BLOCKS_CATEGORY = "My Blocks"
BLOCK_PREFIX = "block:"  # type of a library block's item: "block:<name>"


def inputs_text(spec: LayerSpec) -> str:
    """How many tensors a layer takes, in words: ``"1 input"``, ``"2 or more inputs"``."""
    if spec.type == "Model":
        return "Inputs: those of the nested model"
    required = [p for p in spec.inputs if not p.optional]
    optional = [p for p in spec.inputs if p.optional]
    if not spec.inputs:
        return "No inputs"
    if len(required) == 1 and required[0].variadic:
        text = "Inputs: 2 or more" if not spec.is_op else "Inputs: 1 or more"
    else:
        n = len(required)
        names = ", ".join(p.name for p in required)
        text = f"{n} input" if n == 1 else f"{n} inputs"
        if n > 1:
            text += f" ({names})"
    if optional:
        text += "; optional: " + ", ".join(p.name for p in optional)
    return text[0].upper() + text[1:]


class _LayerTree(QTreeWidget):
    """The tree, with drags that carry the layer type."""

    activatedType = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setExpandsOnDoubleClick(True)
        self.itemDoubleClicked.connect(self._on_double_clicked)

    # drag and drop ------------------------------------------------------------
    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt override
        return [LAYER_MIME, "text/plain"]

    def mimeData(self, items) -> QMimeData | None:  # noqa: N802 - Qt override
        types = [it.data(0, TYPE_ROLE) for it in items if it.data(0, TYPE_ROLE)]
        if not types:
            return None
        return make_mime(types[0])

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802 - Qt override
        return Qt.DropAction.CopyAction

    def startDrag(self, supported_actions) -> None:  # noqa: N802 - Qt override
        item = self.currentItem()
        type_name = item.data(0, TYPE_ROLE) if item is not None else None
        if not type_name:
            return
        drag = QDrag(self)
        drag.setMimeData(make_mime(type_name))
        pixmap = self._drag_pixmap(type_name)
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(pixmap.width() // 2, pixmap.height() // 2))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def _drag_pixmap(self, text: str) -> QPixmap:
        font = QFont(self.font())
        font.setBold(True)
        metrics = self.fontMetrics()
        ratio = self.devicePixelRatioF()
        pad = metrics.height() // 2
        w = metrics.horizontalAdvance(text) + 4 * pad
        h = metrics.height() + 2 * pad
        pixmap = QPixmap(int(w * ratio), int(h * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        pal = self.palette()
        p = QPainter(pixmap)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(pal.highlight().color())
        p.setBrush(pal.base())
        p.drawRoundedRect(0, 0, w - 1, h - 1, pad, pad)
        p.setFont(font)
        p.setPen(pal.text().color())
        p.drawText(0, 0, w, h, Qt.AlignmentFlag.AlignCenter, text)
        p.end()
        return pixmap

    # activation -----------------------------------------------------------------
    def _on_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.activatedType.emit(type_name)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.currentItem()
            if item is not None:
                type_name = item.data(0, TYPE_ROLE)
                if type_name:
                    self.activatedType.emit(type_name)
                else:
                    item.setExpanded(not item.isExpanded())
                event.accept()
                return
        super().keyPressEvent(event)


def make_mime(type_name: str) -> QMimeData:
    """The mime data of a palette drag for ``type_name``."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_name.encode("utf-8"))
    mime.setText(type_name)
    return mime


class _SearchEdit(QLineEdit):
    """The search field: Down moves into the list, Enter adds the first match."""

    moveDown = Signal()
    accepted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Down:
            self.moveDown.emit()
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accepted.emit()
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            event.accept()
            return
        super().keyPressEvent(event)


class PaletteWidget(QWidget):
    """Every layer type, by category, with a search field above.

    Signals:
        layerActivated(str): the user double-clicked an item or pressed Enter on it (or in
            the search field, for the first match): add that type at the view's centre.
    """

    layerActivated = Signal(str)

    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.setMinimumWidth(180)

        self.search = _SearchEdit(self)
        self.search.setPlaceholderText("Search layers…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter by name, category or description")
        self.search.textChanged.connect(self._apply_filter)
        self.search.moveDown.connect(self._focus_first_match)
        self.search.accepted.connect(self._activate_first_match)

        self.tree = _LayerTree(self)
        self.tree.activatedType.connect(self.layerActivated)

        self.empty_label = QLabel(self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty_label.setWordWrap(True)
        self.empty_label.setContentsMargins(8, 16, 8, 8)
        pal = self.empty_label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, muted_color(pal))
        self.empty_label.setPalette(pal)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.stack, 1)

        self._groups: list[QTreeWidgetItem] = []
        self._items: dict[str, QTreeWidgetItem] = {}
        self._saved_expansion: dict[str, bool] | None = None
        self._populate()

    # building ---------------------------------------------------------------------
    def _populate(self) -> None:
        # A nested model node comes from grouping or importing, never empty from the palette.
        categories = {
            c: [s for s in specs if s.type != "Model"]
            for c, specs in self.catalog.categories().items()
        }
        categories = {c: specs for c, specs in categories.items() if specs}
        names = [c for c in categories if c != OPS_CATEGORY]
        if OPS_CATEGORY in categories:
            names.append(OPS_CATEGORY)
        bold = QFont(self.tree.font())
        bold.setBold(True)
        for category in names:
            group = QTreeWidgetItem(self.tree, [category])
            group.setFont(0, bold)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setData(0, SEARCH_ROLE, category.lower())
            specs = categories[category]
            group.setToolTip(0, f"{category}: {len(specs)} types")
            for spec in specs:
                label = spec.type[len("ops.") :] if spec.is_op else spec.type
                item = QTreeWidgetItem(group, [label])
                item.setData(0, TYPE_ROLE, spec.type)
                item.setData(
                    0,
                    SEARCH_ROLE,
                    " ".join((spec.type, label, spec.category, spec.description)).lower(),
                )
                tip = spec.description.strip() or spec.type
                item.setToolTip(
                    0, f"<b>{spec.type}</b><br>{_html(tip)}<br><i>{inputs_text(spec)}</i>"
                )
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                self._items[spec.type] = item
            group.setExpanded(category != OPS_CATEGORY)
            self._groups.append(group)

    def set_custom_layers(self, specs: list[LayerSpec]) -> None:
        """Show the project's custom layers (``custom.<Name>``) in a "Custom" group on top."""
        group = next((g for g in self._groups if g.text(0) == CUSTOM_CATEGORY), None)
        current = (
            [group.child(i).data(0, TYPE_ROLE) for i in range(group.childCount())] if group else []
        )
        if [s.type for s in specs] == current and all(
            group.child(i).toolTip(0) == _tip(s) for i, s in enumerate(specs)
        ):
            return
        if group is not None:
            for i in range(group.childCount()):
                self._items.pop(group.child(i).data(0, TYPE_ROLE), None)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(group))
            self._groups.remove(group)
        if not specs:
            return
        group = QTreeWidgetItem([CUSTOM_CATEGORY])
        self.tree.insertTopLevelItem(0, group)
        bold = QFont(self.tree.font())
        bold.setBold(True)
        group.setFont(0, bold)
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        group.setData(0, SEARCH_ROLE, CUSTOM_CATEGORY.lower())
        group.setToolTip(0, f"{CUSTOM_CATEGORY}: the project's own layers, written as code")
        for spec in specs:
            label = spec.type.removeprefix("custom.")
            item = QTreeWidgetItem(group, [label])
            item.setData(0, TYPE_ROLE, spec.type)
            item.setData(
                0,
                SEARCH_ROLE,
                " ".join((spec.type, label, spec.category, spec.description)).lower(),
            )
            item.setToolTip(0, _tip(spec))
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            self._items[spec.type] = item
        group.setExpanded(True)
        self._groups.insert(0, group)
        if self.search.text():
            self._apply_filter(self.search.text())

    def set_library_blocks(self, blocks: list[tuple[str, str]]) -> None:
        """Show the personal block library, ``[(name, tooltip)]``, in a "My Blocks" group at
        the end; items have the type ``block:<name>`` (dragged or double-clicked like layers)."""
        group = next((g for g in self._groups if g.text(0) == BLOCKS_CATEGORY), None)
        if group is not None:
            for i in range(group.childCount()):
                self._items.pop(group.child(i).data(0, TYPE_ROLE), None)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(group))
            self._groups.remove(group)
        group = QTreeWidgetItem([BLOCKS_CATEGORY])
        # On top, below the project's "Custom" layers.
        top = 1 if self._groups and self._groups[0].text(0) == CUSTOM_CATEGORY else 0
        self.tree.insertTopLevelItem(top, group)
        bold = QFont(self.tree.font())
        bold.setBold(True)
        group.setFont(0, bold)
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        group.setData(0, SEARCH_ROLE, BLOCKS_CATEGORY.lower())
        group.setToolTip(0, "Blocks saved to your library, for every project")
        for name, tip in blocks:
            item = QTreeWidgetItem(group, [name])
            item.setData(0, TYPE_ROLE, BLOCK_PREFIX + name)
            item.setData(0, SEARCH_ROLE, f"{name} block {tip}".lower())
            item.setToolTip(0, f"<b>{_html(name)}</b> (block)<br>{_html(tip)}")
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            self._items[BLOCK_PREFIX + name] = item
        group.setHidden(not blocks)
        group.setExpanded(True)
        self._groups.insert(top, group)
        if self.search.text():
            self._apply_filter(self.search.text())

    # public -------------------------------------------------------------------------
    def focus_search(self) -> None:
        """Put the cursor in the search field, its text selected."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def selected_type(self) -> str | None:
        """The type of the current item, or None (nothing, or a category)."""
        item = self.tree.currentItem()
        if item is None or item.isHidden():
            return None
        return item.data(0, TYPE_ROLE) or None

    def item_for(self, type_name: str) -> QTreeWidgetItem | None:
        """The tree item of a type (for tests and for selecting from outside)."""
        return self._items.get(type_name)

    def visible_types(self) -> list[str]:
        """The types the filter leaves visible, in display order."""
        out = []
        for group in self._groups:
            if group.isHidden():
                continue
            for i in range(group.childCount()):
                child = group.child(i)
                if not child.isHidden():
                    out.append(child.data(0, TYPE_ROLE))
        return out

    # filtering ------------------------------------------------------------------------
    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        if words and self._saved_expansion is None:
            self._saved_expansion = {g.text(0): g.isExpanded() for g in self._groups}
        any_visible = False
        self.tree.setUpdatesEnabled(False)
        try:
            for group in self._groups:
                group_text = group.data(0, SEARCH_ROLE)
                visible_children = 0
                for i in range(group.childCount()):
                    child = group.child(i)
                    haystack = child.data(0, SEARCH_ROLE)
                    match = all(w in haystack or w in group_text for w in words)
                    child.setHidden(not match)
                    visible_children += match
                group.setHidden(visible_children == 0)
                if words and visible_children:
                    group.setExpanded(True)
                any_visible = any_visible or visible_children > 0
            if not words and self._saved_expansion is not None:
                for group in self._groups:
                    group.setExpanded(self._saved_expansion.get(group.text(0), True))
                self._saved_expansion = None
        finally:
            self.tree.setUpdatesEnabled(True)
        if any_visible:
            self.stack.setCurrentWidget(self.tree)
            current = self.tree.currentItem()
            if words and (current is None or current.isHidden() or not current.data(0, TYPE_ROLE)):
                first = self._first_match()
                if first is not None:
                    self.tree.setCurrentItem(first)
            if current is not None and not current.isHidden():
                self.tree.scrollToItem(current)
        else:
            self.empty_label.setText(f"No layer matches '{text.strip()}'")
            self.stack.setCurrentWidget(self.empty_label)

    def _first_match(self) -> QTreeWidgetItem | None:
        words = self.search.text().lower().split()
        best = None
        for group in self._groups:
            if group.isHidden():
                continue
            for i in range(group.childCount()):
                child = group.child(i)
                if child.isHidden():
                    continue
                if best is None:
                    best = child
                # Prefer a type name that starts with the query ("dense" -> Dense).
                name = child.data(0, TYPE_ROLE).lower()
                if words and name.removeprefix("ops.").startswith(words[0]):
                    return child
        return best

    def _focus_first_match(self) -> None:
        item = self.tree.currentItem()
        if item is None or item.isHidden():
            item = self._first_match()
        if item is not None:
            self.tree.setCurrentItem(item)
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _activate_first_match(self) -> None:
        item = self.tree.currentItem()
        if item is None or item.isHidden() or not item.data(0, TYPE_ROLE):
            item = self._first_match()
        if item is not None and item.data(0, TYPE_ROLE):
            self.layerActivated.emit(item.data(0, TYPE_ROLE))


def _tip(spec: LayerSpec) -> str:
    tip = spec.description.strip() or spec.type
    return f"<b>{spec.type}</b><br>{_html(tip)}<br><i>{inputs_text(spec)}</i>"


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )


__all__ = ["PaletteWidget", "inputs_text", "make_mime"]
