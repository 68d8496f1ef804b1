"""The welcome page: what the window shows in place of the canvas when no project is open.

"No project open" means the window holds an empty, untitled project that the user has not
started on. The page is shown

- at start, when Studio is launched without a project (``studio``) and the user has recent
  projects (a first start, with none, opens the bundled example as before);
- after File > Close Project (the project is closed, an empty one takes its place);
- on File > Welcome Page, at any time (Back returns to the open project).

Opening, creating or importing a project (from the page or anywhere else) hides it.

The page lists the recent projects (the File > Open Recent list) as cards with a picture of
each graph, drawn by the canvas itself (``render_image``) after the page is shown, one per
turn of the event loop, and kept per file and modification time; a missing file says so and
offers to remove it from the list. Beside them: New Project, New from Template…, Open…,
Open Example (the bundled examples) and Import Keras Model….
"""

from __future__ import annotations

import datetime
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio import __version__
from studio.resources import resource_path

THUMBNAIL = QSize(264, 140)  # the graph's picture on a recent-project card
CARD_WIDTH = THUMBNAIL.width() + 20
ACRONYMS = {"cnn": "CNN", "mlp": "MLP", "mnist": "MNIST", "io": "I/O", "lstm": "LSTM"}

STYLE = """
#welcome_page { background: palette(window); }
#welcome_title { font-size: 22pt; font-weight: 600; }
#welcome_subtitle, #welcome_version, .muted { color: palette(placeholder-text); }
#welcome_heading { font-size: 11pt; font-weight: 600; }
#welcome_start QPushButton {
    text-align: left; padding: 7px 12px; border: 1px solid palette(mid);
    border-radius: 6px; background: palette(base); min-width: 210px;
}
#welcome_start QPushButton:hover { border-color: #2f81f7; }
#welcome_start QPushButton#welcome_new {
    background: #2f81f7; color: white; border-color: #2f81f7; font-weight: 600;
}
#welcome_start QPushButton#welcome_new:hover { background: #1f6feb; }
#welcome_start QPushButton::menu-indicator { subcontrol-position: right center; right: 10px; }
RecentCard { background: palette(base); border: 1px solid palette(mid); border-radius: 8px; }
RecentCard:hover { border-color: #2f81f7; }
RecentCard[missing="true"] { background: palette(window); border-style: dashed; }
#card_picture { background: white; border: 1px solid #e1e4e8; border-radius: 4px; }
#card_name { font-weight: 600; }
#card_remove { border: none; color: #2f81f7; padding: 0; text-align: left; }
#card_remove:hover { text-decoration: underline; }
"""

# ---------------------------------------------------------------------- pictures
_THUMBNAILS: dict[tuple[str, int, int, int], QPixmap] = {}


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def cached_thumbnail(path: str | Path, size: QSize = THUMBNAIL) -> QPixmap | None:
    """The picture of ``path``'s graph when it was drawn for the file as it is now."""
    path = Path(path)
    mtime = _mtime_ns(path)
    if mtime is None:
        return None
    return _THUMBNAILS.get((str(path), mtime, size.width(), size.height()))


def project_thumbnail(path: str | Path, size: QSize = THUMBNAIL) -> QPixmap:
    """A picture of the graph in the project file ``path`` as the canvas draws it, drawn
    again only when the file changes. Raises ProjectError/OSError for a file that cannot
    be read."""
    from studio.project import load_project
    from studio.ui.templates import graph_thumbnail

    path = Path(path)
    mtime = _mtime_ns(path)
    key = (str(path), mtime or 0, size.width(), size.height())
    pixmap = _THUMBNAILS.get(key) if mtime is not None else None
    if pixmap is not None:
        return pixmap
    pixmap = graph_thumbnail(load_project(path), size)
    for stale in [k for k in _THUMBNAILS if k[0] == key[0]]:  # older versions of the file
        del _THUMBNAILS[stale]
    _THUMBNAILS[key] = pixmap
    return pixmap


def examples() -> list[tuple[str, Path]]:
    """The bundled examples as (title, path), in title order."""
    folder = resource_path("examples")
    out = []
    for path in sorted(folder.glob("*.studio.json")):
        stem = path.name[: -len(".studio.json")]
        words = [ACRONYMS.get(w, w.capitalize()) for w in stem.split("_")]
        out.append((" ".join(words), path))
    return sorted(out)


def project_label(path: Path) -> str:
    name = path.name
    return name[: -len(".studio.json")] if name.endswith(".studio.json") else name


def _when(mtime_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(mtime_ns / 1e9)
    days = (datetime.date.today() - moment.date()).days
    if days == 0:
        return f"today, {moment:%H:%M}"
    if days == 1:
        return f"yesterday, {moment:%H:%M}"
    return f"{moment:%d %b %Y}"


# ---------------------------------------------------------------------- widgets
class RecentCard(QFrame):
    """One recent project: its picture, name, folder and when it was saved. A click opens
    it; a missing file says so and offers Remove from List."""

    activated = Signal(str)
    removeRequested = Signal(str)

    def __init__(self, path: str, parent=None) -> None:
        super().__init__(parent)
        self.path = path
        self.missing = not Path(path).is_file()
        self.setProperty("missing", "true" if self.missing else "false")
        self.setObjectName("recent_card")
        self.setFixedWidth(CARD_WIDTH)
        self.setCursor(
            Qt.CursorShape.ArrowCursor if self.missing else Qt.CursorShape.PointingHandCursor
        )
        self.setToolTip(path if not self.missing else f"{path}\n(the file is missing)")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)

        self.picture = QLabel()
        self.picture.setObjectName("card_picture")
        self.picture.setFixedSize(THUMBNAIL + QSize(2, 2))
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        name = QLabel()
        name.setObjectName("card_name")
        folder = QLabel()
        folder.setProperty("class", "muted")
        detail = QLabel()
        detail.setProperty("class", "muted")
        width = THUMBNAIL.width()
        p = Path(path)
        name.setText(
            QFontMetrics(name.font()).elidedText(
                project_label(p), Qt.TextElideMode.ElideRight, width
            )
        )
        folder.setText(
            QFontMetrics(folder.font()).elidedText(
                str(p.parent), Qt.TextElideMode.ElideMiddle, width
            )
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(9, 9, 9, 9)
        layout.setSpacing(3)
        layout.addWidget(self.picture)
        layout.addSpacing(4)
        layout.addWidget(name)
        layout.addWidget(folder)
        self.remove_button = None
        if self.missing:
            self.picture.setText("File not found")
            detail.setText("Moved or deleted")
            row = QHBoxLayout()
            row.addWidget(detail)
            row.addStretch(1)
            self.remove_button = QPushButton("Remove from list")
            self.remove_button.setObjectName("card_remove")
            self.remove_button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.remove_button.clicked.connect(lambda: self.removeRequested.emit(self.path))
            row.addWidget(self.remove_button)
            layout.addLayout(row)
        else:
            mtime = _mtime_ns(p)
            detail.setText(f"Saved {_when(mtime)}" if mtime else "")
            layout.addWidget(detail)
            cached = cached_thumbnail(path)
            if cached is not None:
                self.picture.setPixmap(cached)
            else:
                self.picture.setText("drawing…")

    @property
    def has_picture(self) -> bool:
        pixmap = self.picture.pixmap()
        return pixmap is not None and not pixmap.isNull()

    def draw(self) -> None:
        if self.missing or self.has_picture:
            return
        try:
            self.picture.setPixmap(project_thumbnail(self.path))
        except Exception:  # noqa: BLE001 - an unreadable file: the card says so, the rest draw
            self.picture.setText("No picture: the file cannot be read")

    def _menu(self, pos) -> None:
        menu = QMenu(self)
        if not self.missing:
            menu.addAction("Open", lambda: self.activated.emit(self.path))
        menu.addAction("Remove from List", lambda: self.removeRequested.emit(self.path))
        menu.exec(self.mapToGlobal(pos))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if (
            event.button() == Qt.MouseButton.LeftButton
            and not self.missing
            and self.rect().contains(event.position().toPoint())
        ):
            self.activated.emit(self.path)
        super().mouseReleaseEvent(event)


class WelcomePage(QWidget):
    """The page itself. It acts on ``window`` (a MainWindow): its file actions, its recent
    list. ``back`` returns to the open project (shown only when there is one)."""

    def __init__(self, window, parent=None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.setObjectName("welcome_page")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        self.cards: list[RecentCard] = []
        self._pending: list[RecentCard] = []

        # -- the left column: who we are, how to start
        from studio.ui.app import app_icon

        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(QSize(56, 56)))
        title = QLabel("Studio")
        title.setObjectName("welcome_title")
        subtitle = QLabel("Build neural networks visually")
        subtitle.setObjectName("welcome_subtitle")
        version = QLabel(f"Version {__version__}")
        version.setObjectName("welcome_version")
        brand = QGridLayout()
        brand.setHorizontalSpacing(12)
        brand.setVerticalSpacing(0)
        brand.addWidget(logo, 0, 0, 2, 1)
        brand.addWidget(title, 0, 1)
        brand.addWidget(subtitle, 1, 1)

        start = QWidget()
        start.setObjectName("welcome_start")
        column = QVBoxLayout(start)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        heading = QLabel("Start")
        heading.setObjectName("welcome_heading")
        column.addWidget(heading)

        def button(text: str, name: str, slot, tip: str) -> QPushButton:
            b = QPushButton(text)
            b.setObjectName(name)
            b.setToolTip(tip)
            b.setCursor(Qt.CursorShape.PointingHandCursor)
            b.clicked.connect(lambda _=False: slot())
            column.addWidget(b)
            return b

        self.new_button = button("New Project", "welcome_new", window.new_project, "An empty graph")
        self.template_button = button("New from Template…", "welcome_template", window.new_from_template,
                                      "Start from a model that trains as is")  # fmt: skip
        self.open_button = button(
            "Open…", "welcome_open", window.open_dialog, "Open a project file"
        )
        # Leading spaces: Qt drops the left padding of a button with a menu.
        self.example_button = QPushButton("  Open Example")
        self.example_button.setObjectName("welcome_example")
        self.example_button.setToolTip("Open one of the bundled example projects")
        self.example_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.example_menu = QMenu(self.example_button)
        for label, path in examples():
            action = self.example_menu.addAction(label)
            action.setData(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_example(p))
        self.example_button.setMenu(self.example_menu)
        column.addWidget(self.example_button)
        self.import_button = button("Import Keras Model…", "welcome_import", window.import_dialog,
                                    "Open a .keras, .h5 or JSON model as a graph")  # fmt: skip
        column.addSpacing(10)
        self.back_button = button("Back to the Open Project", "welcome_back", self.back,
                                  "Hide this page")  # fmt: skip

        left = QVBoxLayout()
        left.setSpacing(0)
        left.addLayout(brand)
        left.addSpacing(28)
        left.addWidget(start)
        left.addStretch(1)
        left.addWidget(version)

        # -- the right column: recent projects
        recent_heading = QLabel("Recent Projects")
        recent_heading.setObjectName("welcome_heading")
        self.empty_label = QLabel(
            "Projects you open or save appear here. Start with a template or an example."
        )
        self.empty_label.setProperty("class", "muted")
        self.empty_label.setWordWrap(True)
        self.grid_host = QWidget()
        self.grid_host.setObjectName("welcome_grid")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(14)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(self.grid_host)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.viewport().installEventFilter(self)  # cards reflow with its width
        self.scroll.viewport().setAutoFillBackground(False)
        self.grid_host.setAutoFillBackground(False)
        right = QVBoxLayout()
        right.setSpacing(12)
        right.addWidget(recent_heading)
        right.addWidget(self.empty_label)
        right.addWidget(self.scroll, 1)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(48, 40, 32, 28)
        outer.setSpacing(48)
        outer.addLayout(left)
        divider = QFrame()
        divider.setFrameShape(QFrame.Shape.VLine)
        divider.setStyleSheet("color: palette(midlight);")
        outer.addWidget(divider)
        outer.addLayout(right, 1)
        self._columns = 0
        self.refresh()

    # ------------------------------------------------------------------ content
    def refresh(self) -> None:
        """Rebuild the cards from the window's recent list; pictures follow lazily."""
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = []
        for path in self.window_._recent():
            card = RecentCard(path, self.grid_host)
            card.activated.connect(self.open_recent)
            card.removeRequested.connect(self.remove_recent)
            self.cards.append(card)
        self.empty_label.setVisible(not self.cards)
        self.scroll.setVisible(bool(self.cards))
        self._columns = 0
        self._layout_cards()
        doc = self.window_.document
        self.back_button.setVisible(
            doc is not None and (doc.path is not None or len(doc.graph.nodes) > 0)
        )
        self._pending = [c for c in self.cards if not c.missing and not c.has_picture]
        if self._pending:
            QTimer.singleShot(0, self, self._draw_next)

    def _layout_cards(self) -> None:
        width = self.scroll.viewport().width()
        columns = max(1, (width + self.grid.spacing()) // (CARD_WIDTH + self.grid.spacing()))
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards:
            self.grid.removeWidget(card)
        for i, card in enumerate(self.cards):
            self.grid.addWidget(card, *divmod(i, columns))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt API
        if watched is self.scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._layout_cards()
        return super().eventFilter(watched, event)

    def _draw_next(self) -> None:
        """Draw one picture per turn of the event loop: the page shows at once."""
        if not self._pending or not self.isVisible():
            return
        card = self._pending.pop(0)
        card.draw()
        if self._pending:
            QTimer.singleShot(0, self, self._draw_next)

    def draw_all(self) -> None:
        """Draw every missing picture now (tests, screenshots)."""
        while self._pending:
            self._pending.pop(0).draw()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._layout_cards()
        if self._pending:
            QTimer.singleShot(0, self, self._draw_next)

    # ------------------------------------------------------------------ actions
    def open_recent(self, path: str) -> None:
        self.window_.open_path(path)

    def remove_recent(self, path: str) -> None:
        self.window_._forget_recent(Path(path))
        self.refresh()

    def open_example(self, path: Path) -> bool:
        """Open a bundled example as ``studio`` alone opens one (not added to Recent)."""
        from studio.project import ProjectError
        from studio.ui.document import Document

        window = self.window_
        try:
            document = Document.open(path)
        except ProjectError as exc:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(window, "Cannot open example", str(exc))
            return False
        if not window.maybe_save():
            document.deleteLater()
            return False
        window.set_document(document)
        window.ask_trust()
        return True

    def back(self) -> None:
        self.window_.hide_welcome()


def show_welcome_at_start(settings) -> bool:
    """Whether ``studio`` without a project starts on the welcome page: when the user has
    recent projects (a first start opens the bundled example)."""
    value = settings.value("recentFiles", [])
    if isinstance(value, str):
        value = [value]
    return any(value or [])
