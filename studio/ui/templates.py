"""File > New from Template: a gallery of ready-to-train projects.

The templates are project files in ``resources/templates/`` listed, in gallery order, by
``resources/templates/index.json`` (written by ``tools/make_templates.py``). Each card shows a
picture of the template's graph, drawn by the canvas itself (``render_image``), its title, its
purpose and its application area; the line below the cards says what data it trains on and how.
Pictures are drawn after the dialog is shown, one per turn of the event loop, and kept for the
session, so the dialog opens at once.

Creating a template gives a new, untitled project (Save asks where to put it); the file in
``resources/`` is never opened in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
)

from studio.project import Project, load_project
from studio.resources import resource_path

PICTURE = QSize(288, 150)  # the graph's picture on a card
CARD = QSize(312, 262)  # one card: picture, title, two lines of purpose, the area
INFO_ROLE = Qt.ItemDataRole.UserRole + 1
NODE_SIZE = (200.0, 90.0)  # about a node's size on the canvas, for folding pictures
ROW_GAP = 40.0


@dataclass(frozen=True)
class TemplateInfo:
    """One entry of ``resources/templates/index.json``."""

    name: str
    title: str
    purpose: str
    area: str
    data: str
    training: str
    path: Path


def templates_dir() -> Path:
    return resource_path("templates")


def load_templates() -> list[TemplateInfo]:
    """The templates in gallery order; entries whose project file is missing are left out."""
    index = templates_dir() / "index.json"
    try:
        entries = json.loads(index.read_text(encoding="utf-8")).get("templates", [])
    except (OSError, ValueError):
        return []
    out = []
    for entry in entries:
        path = templates_dir() / f"{entry['name']}.studio.json"
        if path.is_file():
            out.append(
                TemplateInfo(
                    name=entry["name"],
                    title=entry.get("title", entry["name"]),
                    purpose=entry.get("purpose", ""),
                    area=entry.get("area", ""),
                    data=entry.get("data", ""),
                    training=entry.get("training", ""),
                    path=path,
                )
            )
    return out


def template_project(info: TemplateInfo | str) -> Project:
    """A new, untitled project from a template: the template's graph and settings, no file."""
    if isinstance(info, str):
        info = next(t for t in load_templates() if t.name == info)
    project = load_project(info.path)
    project.path = None
    project.weights = None
    return project


_PICTURES: dict[str, QPixmap] = {}  # per session: templates do not change while Studio runs


def template_picture(info: TemplateInfo, size: QSize = PICTURE) -> QPixmap:
    """The picture of a template's graph as the canvas draws it (cached for the session)."""
    key = f"{info.name}@{size.width()}x{size.height()}"
    pixmap = _PICTURES.get(key)
    if pixmap is None:
        pixmap = graph_thumbnail(load_project(info.path), size)
        _PICTURES[key] = pixmap
    return pixmap


def graph_thumbnail(project, size: QSize) -> QPixmap:
    """A picture of ``project``'s graph as the canvas draws it, folded into rows to fit the
    frame's shape (the template gallery, the welcome page's recent projects)."""
    from studio.ui.canvas import GraphScene
    from studio.ui.canvas.picture import render_image
    from studio.ui.document import Document

    _wrap_rows(project.graph, size.width() / size.height())  # a long chain folds into rows
    document = Document(project)
    scene = GraphScene(document)
    try:
        pixmap = QPixmap.fromImage(render_image(scene, size * 2))  # sharp on HiDPI
        pixmap.setDevicePixelRatio(2.0)
    finally:
        scene.deleteLater()
        document.deleteLater()
    return pixmap


def _wrap_rows(graph, aspect: float) -> None:
    """Fold a long left-to-right graph into rows (in place) so that its picture in a frame of
    width/height ``aspect`` draws the nodes as large as it can, instead of a thin strip: the
    layout's columns go into rows, left to right, one row below the other."""
    nodes = list(graph.nodes)
    if not nodes:
        return
    columns = sorted({round(n.position[0]) for n in nodes})
    top = min(n.position[1] for n in nodes)
    row_height = max(n.position[1] for n in nodes) - top + NODE_SIZE[1] + ROW_GAP
    step = (columns[-1] - columns[0]) / (len(columns) - 1) if len(columns) > 1 else 280.0

    def scale(rows: int) -> float:
        per_row = -(-len(columns) // rows)
        width = (per_row - 1) * step + NODE_SIZE[0] + 32
        height = rows * row_height - ROW_GAP + 32
        return min(aspect / width, 1.0 / height)

    best = 1
    for rows in range(2, len(columns) + 1):
        if scale(rows) > 1.5 * scale(best):  # a fold must be worth its wires
            best = rows
    if best == 1:
        return
    per_row = -(-len(columns) // best)
    index = {x: i for i, x in enumerate(columns)}
    for node in nodes:
        row, col = divmod(index[round(node.position[0])], per_row)
        graph.move_node(node.name, (col * step, row * row_height + node.position[1] - top))


class _CardDelegate(QStyledItemDelegate):
    """Draws a card: the picture in a frame, the title in bold, the purpose (up to two lines)
    and the application area."""

    def sizeHint(self, option, index) -> QSize:  # noqa: N802 (Qt's name)
        return CARD

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        info: TemplateInfo = index.data(INFO_ROLE)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        card = option.rect.adjusted(6, 6, -6, -6)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        if selected:
            fill = QColor(highlight)
            fill.setAlpha(40)
            painter.setBrush(fill)
            painter.setPen(highlight)
        else:
            painter.setBrush(palette.color(QPalette.ColorRole.Base))
            border = QColor(highlight) if hovered else palette.color(QPalette.ColorRole.Mid)
            painter.setPen(border)
        painter.drawRoundedRect(card, 6, 6)

        inner = card.adjusted(6, 6, -6, -6)
        frame = QRect(inner.left(), inner.top(), inner.width(), PICTURE.height())
        icon: QIcon = index.data(Qt.ItemDataRole.DecorationRole)
        painter.setPen(QColor("#d0d0d0"))
        painter.setBrush(QColor("white"))
        painter.drawRect(frame)
        if icon is not None and not icon.isNull():
            pixmap = icon.pixmap(PICTURE)
            target = QRect(QRect(0, 0, PICTURE.width(), PICTURE.height()))
            target.moveCenter(frame.center())
            painter.drawPixmap(target, pixmap)
        else:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(frame, Qt.AlignmentFlag.AlignCenter, "drawing…")

        text = palette.color(QPalette.ColorRole.Text)
        y = frame.bottom() + 8
        title_font = QFont(option.font)
        title_font.setBold(True)
        title_font.setPointSizeF(option.font.pointSizeF() * 1.08)
        painter.setFont(title_font)
        painter.setPen(text)
        metrics = QFontMetrics(title_font)
        title = metrics.elidedText(info.title, Qt.TextElideMode.ElideRight, inner.width())
        painter.drawText(QRect(inner.left(), y, inner.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)  # fmt: skip
        y += metrics.height() + 2

        painter.setFont(option.font)
        metrics = QFontMetrics(option.font)
        purpose_rect = QRect(inner.left(), y, inner.width(), metrics.lineSpacing() * 2)
        painter.drawText(purpose_rect, Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignTop,
                         info.purpose)  # fmt: skip
        y += purpose_rect.height() + 2

        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.9)
        painter.setFont(small)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        metrics = QFontMetrics(small)
        area = metrics.elidedText(info.area, Qt.TextElideMode.ElideRight, inner.width())
        painter.drawText(QRect(inner.left(), y, inner.width(), metrics.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, area)  # fmt: skip
        painter.restore()


class TemplateGallery(QDialog):
    """The "New from Template" dialog. ``chosen`` carries the template picked by Create (or
    a double-click) when the dialog is accepted."""

    chosen = Signal(object)  # TemplateInfo

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from Template")
        self.setObjectName("template_gallery")
        self.templates = load_templates()

        heading = QLabel("Start from a model that trains as is, on data that ships with Studio.")
        heading.setWordWrap(True)

        self.list = QListWidget()
        self.list.setObjectName("template_list")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setGridSize(CARD)
        self.list.setIconSize(PICTURE)
        self.list.setSpacing(0)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setMouseTracking(True)
        self.list.setItemDelegate(_CardDelegate(self.list))
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        for info in self.templates:
            item = QListWidgetItem(info.title)
            item.setData(INFO_ROLE, info)
            item.setToolTip(f"{info.title}: {info.purpose}")
            item.setSizeHint(CARD)
            cached = _PICTURES.get(f"{info.name}@{PICTURE.width()}x{PICTURE.height()}")
            if cached is not None:
                item.setIcon(QIcon(cached))
            self.list.addItem(item)
        self.list.currentItemChanged.connect(lambda _cur, _prev: self._update_detail())
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())

        self.detail = QLabel()
        self.detail.setObjectName("template_detail")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setMinimumHeight(QFontMetrics(self.font()).lineSpacing() * 4 + 8)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.buttons)
        columns = 3
        self.resize(CARD.width() * columns + 60, 760)

        if self.templates:
            self.list.setCurrentRow(0)
        self._update_detail()
        self._pending = [i for i in range(self.list.count()) if self.list.item(i).icon().isNull()]
        # Closing the gallery (Create, Cancel) stops the drawing; the timers are tied to the
        # dialog, so none fires once it is deleted.
        self.finished.connect(lambda _result: self._pending.clear())
        if self._pending:
            QTimer.singleShot(0, self, self._draw_next)

    # ------------------------------------------------------------------ pictures
    def _draw_next(self) -> None:
        """Draw one missing picture per turn of the event loop (the first paint is not held
        up by them)."""
        if not self._pending:
            return
        row = self._pending.pop(0)
        item = self.list.item(row)
        if item is not None:
            try:
                item.setIcon(QIcon(template_picture(item.data(INFO_ROLE))))
            except Exception:  # a broken template file: the card says so, the rest still draw
                item.setToolTip(item.toolTip() + "\n(the picture could not be drawn)")
        if self._pending:
            QTimer.singleShot(0, self, self._draw_next)

    def draw_all(self) -> None:
        """Draw every missing picture now (tests, screenshots)."""
        while self._pending:
            self._draw_next()

    # ------------------------------------------------------------------ selection
    def current(self) -> TemplateInfo | None:
        item = self.list.currentItem()
        return item.data(INFO_ROLE) if item is not None else None

    def select(self, name: str) -> bool:
        for row in range(self.list.count()):
            if self.list.item(row).data(INFO_ROLE).name == name:
                self.list.setCurrentRow(row)
                return True
        return False

    def _update_detail(self) -> None:
        info = self.current()
        self.create_button.setEnabled(info is not None)
        if info is None:
            self.detail.setText("No templates were found in Studio's resources.")
            return
        import html

        self.detail.setText(
            f"<b>{html.escape(info.title)}</b> · {html.escape(info.area)}<br>"
            f"<b>Data:</b> {html.escape(info.data)}<br>"
            f"<b>Training:</b> {html.escape(info.training)}<br>"
            "Creates a new, untitled project: Save asks where to keep it."
        )

    def accept(self) -> None:
        info = self.current()
        if info is None:
            return
        super().accept()
        self.chosen.emit(info)
