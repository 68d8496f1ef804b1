"""The items the canvas draws: nodes, edges, problem badges and the wire being dragged.

Items only paint and report hits; they hold no model objects, only names and the texts the
scene computed for them, so a whole-graph replacement (undo of an automatic layout) never
leaves an item pointing at a stale node.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem

from studio.ui.canvas.style import (
    CORNER,
    HEADER_H,
    LINE_H,
    MAX_PARAM_LINES,
    NODE_W,
    PAD,
    PORT_HIT,
    PORT_R,
    PORT_ROW_H,
    SINGLE_PORT_Y,
    TAB_H,
    Fonts,
    Theme,
)

_DEFAULT_THEME: Theme | None = None


def _theme(item: QGraphicsItem) -> Theme:
    scene = item.scene()
    theme = getattr(scene, "theme", None)
    if theme is not None:
        return theme
    global _DEFAULT_THEME
    if _DEFAULT_THEME is None:
        _DEFAULT_THEME = Theme()
    return _DEFAULT_THEME


def _header_path() -> QPainterPath:
    rounded = QPainterPath()
    rounded.addRoundedRect(QRectF(0, 0, NODE_W, HEADER_H + 2 * CORNER), CORNER, CORNER)
    clip = QPainterPath()
    clip.addRect(QRectF(0, 0, NODE_W, HEADER_H))
    return rounded.intersected(clip)


_HEADER_PATH = _header_path()


@dataclass
class Port:
    """One input port (by name) or output (by index) of a node, at height ``y``."""

    name: str
    index: int
    y: float
    variadic: bool = False
    optional: bool = False
    labelled: bool = False
    count: int = 0  # edges connected to it
    declared: bool = True  # False: only an edge names it (unknown type, stale port)
    constant: str = ""  # an op's constant operand given instead of a tensor


@dataclass
class TextLine:
    rect: QRectF
    text: str
    font: str  # attribute of Fonts
    color: str  # attribute of Theme
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft


class BadgeItem(QGraphicsItem):
    """A red (error) or amber (warning) disc on a node's header; its tooltip lists problems."""

    SIZE = 15.0

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.severity = "error"
        self.setAcceptHoverEvents(True)
        self.setZValue(2)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-1, -1, self.SIZE + 2, self.SIZE + 2)

    def set_problems(self, problems: list[tuple[str, str]]) -> None:
        self.severity = "error" if any(s == "error" for s, _ in problems) else "warning"
        lines = [("✖ " if s == "error" else "⚠ ") + m for s, m in problems]
        self.setToolTip("\n".join(lines))
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        theme = _theme(self)
        color = theme.error if self.severity == "error" else theme.warning
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.setBrush(color)
        painter.drawEllipse(QRectF(0, 0, self.SIZE, self.SIZE))
        fonts = Fonts.get()
        painter.setFont(fonts.small_bold)
        painter.setPen(QColor("#ffffff") if self.severity == "error" else QColor("#1f2328"))
        painter.drawText(QRectF(0, 0, self.SIZE, self.SIZE), Qt.AlignmentFlag.AlignCenter, "!")


class NodeItem(QGraphicsItem):
    """One node: a rounded box with a coloured header, texts and ports.

    Local coordinates: (0, 0) is the node's top-left corner (the model's ``position``).
    Input ports sit on the left edge, outputs on the right.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.type_name = ""
        self.edges: set[EdgeItem] = set()
        self.in_ports: list[Port] = []
        self.out_ports: list[Port] = []
        self.header_color = QColor("#757575")
        self.header_text_color = QColor("#ffffff")
        self.type_text = ""
        self.is_output = False
        self.output_text = "output"
        self.unknown = False
        self.is_model = False
        self.param_items: list[str] = []
        self.shape_display = "shape: …"
        self.shape_state = "unknown"  # ok, error, blocked, unknown, pending, not_evaluated
        self.count_display = ""
        self.problems: list[tuple[str, str]] = []
        self.badge: BadgeItem | None = None
        self._height = HEADER_H + 2 * PAD + 2 * LINE_H
        self._lines: list[TextLine] = []
        self._tab_rect = QRectF()
        self._hover_port: tuple[str, int] | None = None
        self.highlight_port: tuple[str, int] | None = None
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)

    # ------------------------------------------------------------------ geometry
    @property
    def height(self) -> float:
        return self._height

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF(-PORT_HIT - 2, -TAB_H - 2, NODE_W + 2 * PORT_HIT + 4, self._height + TAB_H + 5)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(-PORT_HIT, 0, NODE_W + 2 * PORT_HIT, self._height))
        return path

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, NODE_W, self._height)

    def name_rect(self) -> QRectF:
        """Where the node's name is drawn (local coordinates): double-click here renames."""
        return QRectF(PAD + 2, HEADER_H + PAD - 1, NODE_W - 2 * PAD - 4, LINE_H + 2)

    def input_port(self, name: str) -> Port | None:
        for p in self.in_ports:
            if p.name == name:
                return p
        return None

    def output_port(self, index: int) -> Port | None:
        for p in self.out_ports:
            if p.index == index:
                return p
        return None

    def input_pos(self, port: str) -> QPointF:
        p = self.input_port(port)
        y = p.y if p is not None else (self.in_ports[0].y if self.in_ports else SINGLE_PORT_Y)
        return self.mapToScene(QPointF(0, y))

    def output_pos(self, index: int) -> QPointF:
        p = self.output_port(index)
        y = p.y if p is not None else (self.out_ports[0].y if self.out_ports else SINGLE_PORT_Y)
        return self.mapToScene(QPointF(NODE_W, y))

    def port_at(self, local: QPointF, tolerance: float = PORT_HIT) -> tuple[str, Port] | None:
        """``("in", port)`` or ``("out", port)`` nearest ``local`` within ``tolerance``."""
        best = None
        best_d = tolerance * tolerance
        for kind, ports, x in (("in", self.in_ports, 0.0), ("out", self.out_ports, NODE_W)):
            for p in ports:
                dx, dy = local.x() - x, local.y() - p.y
                d = dx * dx + dy * dy
                if d <= best_d:
                    best, best_d = (kind, p), d
        return best

    # ------------------------------------------------------------------ content
    def set_content(
        self,
        *,
        type_name: str,
        header_color: QColor,
        header_text_color: QColor,
        unknown: bool,
        is_model: bool,
        in_ports: list[Port],
        out_ports: list[Port],
        param_items: list[str],
        tooltip: str,
    ) -> None:
        """Set what the node shows (the scene computes it from the model)."""
        self.type_name = type_name
        self.header_color = header_color
        self.header_text_color = header_text_color
        self.unknown = unknown
        self.is_model = is_model
        self.param_items = param_items
        self._layout_ports(in_ports, out_ports)
        if tooltip != self.toolTip():
            self.setToolTip(tooltip)
        self.relayout()

    def _layout_ports(self, in_ports: list[Port], out_ports: list[Port]) -> None:
        self.in_ports = in_ports
        self.out_ports = out_ports

    def set_shape(self, display: str, state: str, count: str) -> None:
        if (display, state, count) == (self.shape_display, self.shape_state, self.count_display):
            return
        self.shape_display, self.shape_state, self.count_display = display, state, count
        self.relayout()

    def set_output(self, is_output: bool, text: str = "output") -> None:
        if (is_output, text) == (self.is_output, self.output_text):
            return
        self.is_output, self.output_text = is_output, text
        self.relayout()

    def set_problems(self, problems: list[tuple[str, str]]) -> None:
        if problems == self.problems:
            return
        self.problems = list(problems)
        if problems:
            if self.badge is None:
                self.badge = BadgeItem(self)
                self.badge.setPos(NODE_W - BadgeItem.SIZE - 4, (HEADER_H - BadgeItem.SIZE) / 2)
            self.badge.set_problems(problems)
        elif self.badge is not None:
            scene = self.badge.scene()
            if scene is not None:
                scene.removeItem(self.badge)
            self.badge.setParentItem(None)
            self.badge = None
        self.relayout()

    def relayout(self) -> None:
        """Recompute text lines, port heights and the node's height."""
        f = Fonts.get()
        x = PAD + 4  # clear of the input port's dot
        inner_w = NODE_W - x - PAD - 5  # clear of the output port's dot
        lines: list[TextLine] = []
        # Header: type (bold), the badge on the right; a model output gets a tab on top.
        right = NODE_W - PAD
        if self.badge is not None:
            right -= BadgeItem.SIZE + 3
        self._tab_rect = QRectF()
        if self.is_output:
            w = min(f.m_small_bold.horizontalAdvance(self.output_text) + 12, NODE_W - 2 * CORNER)
            self._tab_rect = QRectF(NODE_W - CORNER - w, -TAB_H, w, TAB_H + 1)
        type_w = right - x
        self.type_text = f.m_header.elidedText(self.type_name, Qt.TextElideMode.ElideRight, type_w)
        y = HEADER_H + PAD
        # Name line: name on the left, parameter count on the right.
        count_w = f.m_small.horizontalAdvance(self.count_display) if self.count_display else 0.0
        name_w = inner_w - (count_w + 6 if count_w else 0)
        lines.append(TextLine(QRectF(x, y, name_w, LINE_H),
                              f.m_body.elidedText(self.name, Qt.TextElideMode.ElideMiddle, name_w),
                              "body", "text"))  # fmt: skip
        if self.count_display:
            lines.append(TextLine(QRectF(x + inner_w - count_w, y, count_w, LINE_H),
                                  self.count_display, "small", "faint",
                                  Qt.AlignmentFlag.AlignRight))  # fmt: skip
        y += LINE_H
        # Key parameters, packed into at most two lines.
        for text in self._pack(self.param_items, inner_w):
            lines.append(TextLine(QRectF(x, y, inner_w, LINE_H), text, "small", "faint"))
            y += LINE_H
        # Output shape.
        if self.shape_state == "ok":
            font, color = "small", "text"
        elif self.shape_state == "error":
            font, color = "small_bold", "error"
        else:
            font, color = "italic", "faint"
        metrics = getattr(f, "m_" + font)
        lines.append(TextLine(QRectF(x, y, inner_w, LINE_H),
                              metrics.elidedText(self.shape_display, Qt.TextElideMode.ElideRight, inner_w),
                              font, color))  # fmt: skip
        y += LINE_H + PAD
        # Ports: single ones level with the name line; several get labelled rows below.
        rows_in = len(self.in_ports) > 1
        rows_out = len(self.out_ports) > 1
        row_y = y + PORT_ROW_H / 2 - 2
        for i, p in enumerate(self.in_ports):
            p.labelled = rows_in
            p.y = row_y + i * PORT_ROW_H if rows_in else SINGLE_PORT_Y
        for i, p in enumerate(self.out_ports):
            p.labelled = rows_out
            p.y = row_y + i * PORT_ROW_H if rows_out else SINGLE_PORT_Y
        rows = max(len(self.in_ports) if rows_in else 0, len(self.out_ports) if rows_out else 0)
        if rows:
            y += rows * PORT_ROW_H
        height = max(y, HEADER_H + 2 * LINE_H + 2 * PAD)
        if height != self._height:
            self.prepareGeometryChange()
            self._height = height
        self._lines = lines
        self.update()

    @staticmethod
    def _pack(items: list[str], width: float) -> list[str]:
        f = Fonts.get()
        sep = " · "
        out: list[str] = []
        cur = ""
        for item in items:
            cand = cur + sep + item if cur else item
            if cur and f.m_small.horizontalAdvance(cand) > width:
                out.append(cur)
                cur = item
            else:
                cur = cand
        if cur:
            out.append(cur)
        if len(out) > MAX_PARAM_LINES:
            out = out[:MAX_PARAM_LINES]
        return [f.m_small.elidedText(t, Qt.TextElideMode.ElideRight, width) for t in out]

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        theme = _theme(self)
        f = Fonts.get()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, NODE_W, self._height)
        selected = self.isSelected()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.node_body)
        painter.drawRoundedRect(rect, CORNER, CORNER)
        painter.setBrush(self.header_color)
        painter.drawPath(_HEADER_PATH)
        if lod >= 0.3:
            painter.setFont(f.header)
            painter.setPen(self.header_text_color)
            painter.drawText(QRectF(PAD + 1, 0, NODE_W, HEADER_H),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             self.type_text)  # fmt: skip
            for line in self._lines:
                painter.setFont(getattr(f, line.font))
                painter.setPen(getattr(theme, line.color))
                painter.drawText(line.rect, line.align | Qt.AlignmentFlag.AlignVCenter, line.text)
            self._paint_port_labels(painter, theme, f)
        # Border last, so the header does not cover it.
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if selected:
            painter.setPen(QPen(theme.accent, 2.2))
        elif self.unknown or self.shape_state == "not_evaluated":
            painter.setPen(QPen(theme.faint, 1.2, Qt.PenStyle.DashLine))
        else:
            painter.setPen(QPen(theme.node_border, 1))
        painter.drawRoundedRect(rect, CORNER, CORNER)
        if self.is_output and not self._tab_rect.isNull():
            self._paint_tab(painter, f, lod)
        self._paint_ports(painter, theme, f, lod)

    def _paint_tab(self, painter: QPainter, f: Fonts, lod: float) -> None:
        """The "output" tab on top of a model output's header."""
        r = self._tab_rect
        path = QPainterPath()
        path.addRoundedRect(r.adjusted(0, 0, 0, CORNER), 4, 4)
        clip = QPainterPath()
        clip.addRect(r)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.header_color)
        painter.drawPath(path.intersected(clip))
        if lod >= 0.3:
            painter.setFont(f.small_bold)
            painter.setPen(self.header_text_color)
            text = f.m_small_bold.elidedText(self.output_text, Qt.TextElideMode.ElideRight, r.width() - 8)
            painter.drawText(r.adjusted(0, 0, 0, -1), Qt.AlignmentFlag.AlignCenter, text)

    def _paint_port_labels(self, painter: QPainter, theme: Theme, f: Fonts) -> None:
        painter.setFont(f.small)
        painter.setPen(theme.faint)
        half = NODE_W / 2 - PAD - 4
        for p in self.in_ports:
            if p.labelled:
                text = p.name + (f" ×{p.count}" if p.variadic and p.count else "")
                if p.constant:
                    text += f" = {p.constant}"
                text = f.m_small.elidedText(text, Qt.TextElideMode.ElideRight, half)
                painter.drawText(QRectF(PAD + 4, p.y - LINE_H / 2, half, LINE_H),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)  # fmt: skip
        for p in self.out_ports:
            if p.labelled:
                text = f.m_small.elidedText(p.name, Qt.TextElideMode.ElideLeft, half)
                painter.drawText(QRectF(NODE_W / 2, p.y - LINE_H / 2, half, LINE_H),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text)  # fmt: skip

    def _paint_ports(self, painter: QPainter, theme: Theme, f: Fonts, lod: float) -> None:
        for kind, ports, x in (("in", self.in_ports, 0.0), ("out", self.out_ports, NODE_W)):
            for p in ports:
                key = (kind, p.index)
                hot = key == self._hover_port or key == self.highlight_port
                r = PORT_R + (1.5 if hot else 0)
                if hot:
                    painter.setPen(QPen(theme.accent, 2))
                    painter.setBrush(theme.accent)
                elif p.count:
                    painter.setPen(QPen(theme.node_body, 1.2))
                    painter.setBrush(theme.port_fill)
                else:
                    painter.setPen(QPen(theme.error if (kind == "in" and not p.optional and p.declared)
                                        else theme.edge, 1.4))  # fmt: skip
                    painter.setBrush(theme.port_empty)
                if p.variadic:
                    painter.drawRoundedRect(QRectF(x - r, p.y - r - 2, 2 * r, 2 * r + 4), r, r)
                else:
                    painter.drawEllipse(QPointF(x, p.y), r, r)

    # ------------------------------------------------------------------ events
    def itemChange(self, change, value):  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for e in self.edges:
                e.update_path()
        return super().itemChange(change, value)

    def hoverMoveEvent(self, event) -> None:  # noqa: N802
        hit = self.port_at(event.pos())
        key = (hit[0], hit[1].index) if hit else None
        if key != self._hover_port:
            self._hover_port = key
            self.setCursor(Qt.CursorShape.CrossCursor if key else Qt.CursorShape.ArrowCursor)
            self.update()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        if self._hover_port is not None:
            self._hover_port = None
            self.unsetCursor()
            self.update()
        super().hoverLeaveEvent(event)

    def set_highlight(self, key: tuple[str, int] | None) -> None:
        if key != self.highlight_port:
            self.highlight_port = key
            self.update()


class EdgeItem(QGraphicsItem):
    """A tensor: a cubic curve from an output port to an input port, with its shape."""

    def __init__(self, edge, src: NodeItem, dst: NodeItem) -> None:
        super().__init__()
        self.edge = edge
        self.src_item = src
        self.dst_item = dst
        self.label_text = ""
        self._label_rect = QRectF()
        self._label_fits = False
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._bounds = QRectF()
        self._hover = False
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)

    @property
    def label_visible(self) -> bool:
        """Whether the shape label is drawn now (it hides where it would cover a node)."""
        return bool(self.label_text) and (self._label_fits or self.isSelected() or self._hover)

    def path(self) -> QPainterPath:
        return self._path

    def label_pos(self) -> QPointF:
        return self._label_rect.center()

    def set_label(self, text: str) -> None:
        if text != self.label_text:
            self.label_text = text
            self.update_path()

    def update_path(self) -> None:
        p1 = self.src_item.output_pos(self.edge.src_output)
        p2 = self.dst_item.input_pos(self.edge.dst_port)
        dx = max(abs(p2.x() - p1.x()) * 0.5, 40.0)
        if p2.x() < p1.x():
            dx = max(dx, 80.0)
        path = QPainterPath(p1)
        path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
        self.prepareGeometryChange()
        self._path = path
        stroker = QPainterPathStroker()
        stroker.setWidth(10)
        self._shape = stroker.createStroke(path)
        bounds = path.controlPointRect().adjusted(-3, -3, 3, 3)
        if self.label_text:
            f = Fonts.get()
            w = f.m_label.horizontalAdvance(self.label_text) + 8
            h = f.m_label.height() + 4
            mid = path.pointAtPercent(0.5)
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - h / 2, w, h)
            bounds = bounds.united(self._label_rect.adjusted(-1, -1, 1, 1))
            self._label_fits = self._check_label_room()
        else:
            self._label_rect = QRectF()
            self._label_fits = False
        self._bounds = bounds
        self.update()

    def _check_label_room(self) -> bool:
        """False where the label would lie under one of the two nodes it joins."""
        area = self._label_rect.adjusted(-2, 0, 2, 0)
        for item in (self.src_item, self.dst_item):
            if item.mapRectToScene(item.body_rect()).intersects(area):
                return False
        return True

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        theme = _theme(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        selected = self.isSelected()
        if selected:
            pen = QPen(theme.accent, 2.6)
        elif self._hover:
            pen = QPen(theme.edge_hover, 2.2)
        else:
            pen = QPen(theme.edge, 1.8)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if self.label_visible:
            lod = option.levelOfDetailFromTransform(painter.worldTransform())
            if lod < 0.55:
                return
            f = Fonts.get()
            painter.setPen(QPen(theme.accent if selected else theme.grid_major, 1))
            painter.setBrush(theme.label_bg)
            painter.drawRoundedRect(self._label_rect, 4, 4)
            painter.setFont(f.label)
            painter.setPen(theme.text if selected else theme.faint)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label_text)

    def itemChange(self, change, value):  # noqa: N802
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            # Selected edges (and their labels) come above the nodes.
            self.setZValue(3 if value else 0)
        return super().itemChange(change, value)

    def hoverEnterEvent(self, event) -> None:  # noqa: N802
        self._hover = True
        self.setZValue(3)
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self._hover = False
        self.setZValue(3 if self.isSelected() else 0)
        self.update()
        super().hoverLeaveEvent(event)


class WireItem(QGraphicsPathItem):
    """The dashed curve that follows the mouse while a connection is being dragged."""

    def __init__(self, color: QColor) -> None:
        super().__init__()
        pen = QPen(color, 2, Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setZValue(10)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_ends(self, a: QPointF, b: QPointF, from_output: bool = True) -> None:
        if not from_output:
            a, b = b, a
        dx = max(abs(b.x() - a.x()) * 0.5, 40.0)
        path = QPainterPath(a)
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
        self.setPath(path)
