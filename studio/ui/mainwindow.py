"""Studio's main window: canvas, palette, inspector, problems, summary, menus, files."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.commands import AddNode, in_graph
from studio.core.graph import Graph, Node
from studio.project import PROJECT_SUFFIX, ProjectError, default_filename
from studio.ui.canvas import GraphScene, GraphView
from studio.ui.canvas.style import snake_case
from studio.ui.document import Document
from studio.ui.engine_client import EngineClient
from studio.ui.panels import InspectorWidget, PaletteWidget, ProblemsWidget, SummaryWidget
from studio.ui.recovery import LIVE_SESSIONS, RecoveryStore

PROJECT_FILTER = "Studio projects (*.studio.json);;All files (*)"
MODEL_FILTER = "Keras models (*.keras *.h5 *.hdf5 *.json);;All files (*)"
MAX_RECENT = 10
AUTOSAVE_MS = 30_000
STRUCTURAL_SAVE_MS = 2_000


@dataclass(eq=False)
class _ExpandRequest:
    """An "Expand into Layers" job: where it was asked and what the node was then."""

    document: Document
    path: list[str]
    name: str
    type: str
    params: dict


class Breadcrumb(QWidget):
    """"model › encoder › block": click a part to go back up a nested graph."""

    pathSelected = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(6, 2, 6, 2)
        self._layout.setSpacing(2)

    def set_path(self, root: str, path: list[str]) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        parts = [root, *path]
        for i, part in enumerate(parts):
            if i:
                self._layout.addWidget(QLabel("›"))
            button = QToolButton()
            button.setText(part)
            button.setAutoRaise(True)
            button.setEnabled(i < len(parts) - 1)
            button.clicked.connect(lambda _=False, p=path[:i]: self.pathSelected.emit(p))
            self._layout.addWidget(button)
        self._layout.addStretch(1)
        self.setVisible(bool(path))


class MainWindow(QMainWindow):
    """One window, one open project."""

    shapesShown = Signal(int)  # generation whose shapes are on screen (tests, --screenshot)

    def __init__(
        self,
        document: Document | None = None,
        engine: EngineClient | None = None,
        settings: QSettings | None = None,
        recovery: RecoveryStore | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or QSettings("Studio", "Studio")
        self.recovery = recovery or RecoveryStore()
        self.session = uuid.uuid4().hex[:8]
        LIVE_SESSIONS.add(self.session)
        self.engine = engine or EngineClient(self)
        self.engine.loaded.connect(self._on_engine_loaded)
        self.engine.loadFailed.connect(lambda msg: self._set_engine_status(msg, error=True))
        self.engine.shapesReady.connect(self._on_shapes)
        self.engine.jobDone.connect(self._on_job_done)
        self._jobs: dict[int, object] = {}
        self.shown_generation = 0
        self.setAcceptDrops(True)
        self.setWindowTitle("Studio")
        self.resize(1400, 860)

        self.document: Document | None = None
        self._build_widgets()
        self._build_actions()
        self._build_menus()
        from studio.ui.training.workbench import TrainingWorkbench

        self.training = TrainingWorkbench(self)
        self.training.message.connect(lambda m: self.statusBar().showMessage(m, 10000))
        from studio.ui.exporting import ExportController

        self.exporting = ExportController(self)
        from studio.ui.blocks import BlockActions

        self.block_actions = BlockActions(self)  # Group into Block, Ungroup, My Blocks
        after = self.file_menu.actions()
        self.file_menu.insertMenu(after[after.index(self.act_import) + 1], self.exporting.menu)

        self._autosave = QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.write_recovery)
        self._autosave.start()
        from studio.ui.help import HelpActions
        from studio.ui.preferences import PreferenceActions

        self.help = HelpActions(self)  # Layer Documentation (F1), Shortcuts, Guide, About
        self.preferences = PreferenceActions(self)  # Edit > Preferences…, applied now
        self._structural_save = QTimer(self)
        self._structural_save.setSingleShot(True)
        self._structural_save.setInterval(STRUCTURAL_SAVE_MS)
        self._structural_save.timeout.connect(self.write_recovery)
        self._shape_timer = QTimer(self)
        self._shape_timer.setSingleShot(True)
        self._shape_timer.setInterval(30)
        self._shape_timer.timeout.connect(self._request_shapes)

        self.set_document(document or Document())
        self._restore_layout()

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self) -> None:
        from studio.catalog import load_catalog

        catalog = load_catalog()
        self.layer_palette = PaletteWidget(catalog)
        self.layer_palette.layerActivated.connect(self.add_layer_at_centre)
        self.breadcrumb = Breadcrumb()
        self.breadcrumb.pathSelected.connect(lambda p: self.scene.open_path(p))
        self.central = QWidget()
        layout = QVBoxLayout(self.central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.breadcrumb)
        self.setCentralWidget(self.central)
        self.scene: GraphScene | None = None
        self.view: GraphView | None = None

        self.palette_dock = self._dock("Layers", "palette", self.layer_palette, Qt.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspector", QWidget(), Qt.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", "problems", QWidget(), Qt.BottomDockWidgetArea)
        self.summary_dock = self._dock("Summary", "summary", QWidget(), Qt.BottomDockWidgetArea)
        self.code_dock = self._dock("Code", "code", QWidget(), Qt.BottomDockWidgetArea)
        self.custom_code_dock = self._dock(
            "Custom Code", "custom_code", QWidget(), Qt.BottomDockWidgetArea
        )
        self.custom_code_dock.setObjectName("custom_code_dock")
        self.tabifyDockWidget(self.problems_dock, self.summary_dock)
        self.tabifyDockWidget(self.summary_dock, self.code_dock)
        self.tabifyDockWidget(self.code_dock, self.custom_code_dock)
        self.problems_dock.raise_()
        self._default_state = None

        self.valid_label = QLabel()
        self.params_label = QLabel()
        self.engine_label = QLabel("TensorFlow loading…")
        bar = self.statusBar()
        bar.addPermanentWidget(self.valid_label)
        bar.addPermanentWidget(self.params_label)
        bar.addPermanentWidget(self.engine_label)

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # ------------------------------------------------------------------ actions
    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _=False: slot())
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.act_new = self._action("&New", self.new_project, K.New)
        self.act_new_template = self._action(
            "New from &Template…", self.new_from_template, "Ctrl+Shift+N",
            "Start from a model that trains as is",
        )  # fmt: skip
        self.act_open = self._action("&Open…", self.open_dialog, K.Open)
        self.act_save = self._action("&Save", self.save, K.Save)
        self.act_save_as = self._action("Save &As…", self.save_as, K.SaveAs)
        self.act_import = self._action(
            "&Import Keras Model…", self.import_dialog, "Ctrl+I", "Open a .keras, .h5 or JSON model"
        )
        self.act_quit = self._action("&Quit", self.close, K.Quit)
        self.act_undo = self._action("&Undo", lambda: self.document.undo(), [K.Undo])
        self.act_redo = self._action("&Redo", lambda: self.document.redo(), ["Ctrl+Shift+Z", "Ctrl+Y"])
        self.act_cut = self._action("Cu&t", lambda: self.scene.cut_selection(), K.Cut)
        self.act_copy = self._action("&Copy", lambda: self.scene.copy_selection(), K.Copy)
        self.act_paste = self._action("&Paste", lambda: self.scene.paste(), K.Paste)
        self.act_duplicate = self._action("&Duplicate", lambda: self.scene.duplicate(), "Ctrl+D")
        self.act_delete = self._action(
            "&Delete", lambda: self.scene.delete_selection(), [QKeySequence.Delete, "Backspace"]
        )
        self.act_select_all = self._action("Select &All", lambda: self.scene.select_all(), K.SelectAll)
        self.act_rename = self._action("&Rename", lambda: self.scene.rename_selected(), "F2")
        self.act_fit = self._action("&Fit All", lambda: self.view.fit_all(), "F")
        self.act_zoom_sel = self._action(
            "Zoom to &Selection", lambda: self.view.zoom_to_selection(), "Shift+F"
        )
        self.act_zoom_in = self._action("Zoom &In", lambda: self.view.zoom_in(), [K.ZoomIn, "Ctrl+="])
        self.act_zoom_out = self._action("Zoom &Out", lambda: self.view.zoom_out(), K.ZoomOut)
        self.act_layout = self._action("&Arrange Nodes", lambda: self.scene.auto_layout(), "Ctrl+L")
        self.act_reset_layout = self._action("Reset Panel Layout", self.reset_layout)
        self.act_about = self._action("&About Studio", self.about)
        for action in (self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                       self.act_delete, self.act_select_all, self.act_rename, self.act_fit,
                       self.act_zoom_sel, self.act_layout):  # fmt: skip
            # Canvas shortcuts must not fire while typing in the inspector or search box.
            action.setShortcutContext(Qt.WidgetWithChildrenShortcut)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.file_menu = file_menu
        for action in (self.act_new, self.act_new_template, self.act_open):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addSeparator()
        for action in (self.act_save, self.act_save_as, self.act_import):
            file_menu.addAction(action)
        file_menu.addSeparator()
        # The welcome page (studio/ui/welcome.py): shown in place of the canvas.
        self.act_close_project = file_menu.addAction("&Close Project", self.close_project)
        self.act_close_project.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.act_welcome = file_menu.addAction("&Welcome Page", self.show_welcome)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        self.edit_menu = edit
        for action in (self.act_undo, self.act_redo, None, self.act_cut, self.act_copy,
                       self.act_paste, self.act_duplicate, self.act_delete, None,
                       self.act_select_all, self.act_rename):  # fmt: skip
            edit.addSeparator() if action is None else edit.addAction(action)
        view = bar.addMenu("&View")
        for action in (self.act_fit, self.act_zoom_sel, self.act_zoom_in, self.act_zoom_out,
                       None, self.act_layout, None):  # fmt: skip
            view.addSeparator() if action is None else view.addAction(action)
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock, self.summary_dock,
                     self.code_dock, self.custom_code_dock):  # fmt: skip
            view.addAction(dock.toggleViewAction())
        view.addAction(self.act_reset_layout)
        help_menu = bar.addMenu("&Help")
        self.help_menu = help_menu
        help_menu.addAction(self.act_about)
        self._refresh_recent()

    # ------------------------------------------------------------------ document
    def set_document(self, document: Document) -> None:
        old = self.document
        old_scene = self.scene
        self.document = document
        document.setParent(self)
        self.scene = GraphScene(document, self)
        if old_scene is not None:
            old_scene.deleteLater()
        if not self.engine.is_loaded:
            self.scene.set_shapes_pending(True)  # nodes say so until TensorFlow answers
        new_view = GraphView(self.scene)
        for action in (self.act_cut, self.act_copy, self.act_paste, self.act_duplicate,
                       self.act_delete, self.act_select_all, self.act_rename, self.act_fit,
                       self.act_zoom_sel, self.act_layout):  # fmt: skip
            new_view.addAction(action)
        layout = self.central.layout()
        if self.view is not None:
            layout.removeWidget(self.view)
            self.view.deleteLater()
        self.view = new_view
        layout.addWidget(self.view, 1)

        self.scene.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.scene.selectionChangedNames.connect(self._on_selection)
        self.scene.pathChanged.connect(self._on_path)
        self.scene.expandBackboneRequested.connect(self.expand_backbone)
        document.refused.connect(lambda m: self.statusBar().showMessage(m, 6000))
        document.graphChanged.connect(self._on_graph_changed)
        document.modifiedChanged.connect(self._on_modified)
        document.undoStackChanged.connect(self._update_undo_actions)
        document.diagnosticsChanged.connect(lambda _d: self._update_validity())
        document.pathChanged.connect(lambda _p: self._update_title())

        if hasattr(self, "block_actions"):
            self.block_actions.attach()
        self.inspector = InspectorWidget(document)
        self.inspector.openNested.connect(lambda p: self.scene.open_path(p))
        self.problems = ProblemsWidget(document)
        self.problems.nodeActivated.connect(self.focus_node)
        self.summary = SummaryWidget(document)
        self.summary.nodeActivated.connect(self.focus_node)
        from studio.ui.panels.code import CodePreviewWidget

        self.code = CodePreviewWidget(document)
        from studio.ui.panels.code_editor import CustomCodeWidget

        self.custom_code = CustomCodeWidget(document)
        self.custom_code.trustRequested.connect(self.trust_project)
        document.catalogChanged.connect(self._update_custom_palette)
        document.trustChanged.connect(lambda _t: self._request_shapes())
        self._update_custom_palette()
        for dock, widget in ((self.inspector_dock, self.inspector),
                             (self.problems_dock, self.problems),
                             (self.summary_dock, self.summary),
                             (self.code_dock, self.code),
                             (self.custom_code_dock, self.custom_code)):  # fmt: skip
            previous = dock.widget()
            dock.setWidget(widget)
            if previous is not None:
                previous.deleteLater()
        if old is not None:
            old.deleteLater()
        self.breadcrumb.set_path(document.graph.name, [])
        self._update_title()
        self._update_undo_actions()
        self._update_validity()
        self.params_label.setText("")
        if hasattr(self, "training"):
            self.training.set_document(document)
        self._request_shapes()
        if getattr(self, "welcome", None) is not None:
            self.hide_welcome()  # a project is open now: its canvas takes the page's place
        QTimer.singleShot(0, self.view.fit_all)

    def _on_graph_changed(self, event) -> None:
        if event.kind != "node_moved":
            self._shape_timer.start()
            if event.kind in ("node_added", "node_removed", "edge_added", "edge_removed", "reset"):
                self._structural_save.start()

    def _request_shapes(self) -> None:
        if self.document is not None:
            self.engine.request(self.document.graph)
            if self.engine.is_loaded:
                self._set_engine_status(f"{self.engine.versions} · computing shapes…")

    def _on_shapes(self, generation: int, result) -> None:
        self.scene.set_shapes(result)
        self.inspector.set_shapes(result)
        self.problems.set_shapes(result)
        self.summary.set_shapes(result)
        self.custom_code.set_shapes(result)
        self.params_label.setText(f"{result.total_params:,} parameters")
        self._set_engine_status(f"{self.engine.versions} · shapes in {result.seconds * 1000:.0f} ms")
        self.shown_generation = generation
        self._update_validity(result)
        self.shapesShown.emit(generation)

    def _on_engine_loaded(self, versions: str, seconds: float) -> None:
        self._set_engine_status(f"{versions} (loaded in {seconds:.1f} s)")

    def _set_engine_status(self, text: str, error: bool = False) -> None:
        self.engine_label.setText(text)
        self.engine_label.setStyleSheet("color: #d0473b;" if error else "")

    def _update_validity(self, result=None) -> None:
        diags = self.document.diagnostics
        errors = sum(d.severity == "error" for d in diags)
        result = result or self.engine.latest
        if result is not None and self.engine.generation == self.shown_generation:
            # Count as the problems list does: a Keras error on a node the validator
            # already flags is the same problem.
            flagged = {d.node for d in diags if d.severity == "error"}
            errors += sum(1 for node in result.errors if node not in flagged)
        if errors:
            self.valid_label.setText(f"✖ {errors} error{'s' * (errors != 1)}")
            self.valid_label.setStyleSheet("color: #d0473b;")
        else:
            self.valid_label.setText("✔ valid")
            self.valid_label.setStyleSheet("color: #2e9d57;")

    def _on_selection(self, names: list[str]) -> None:
        if len(names) == 1:
            self.inspector.set_node(self.scene.path, names[0])
        else:
            self.inspector.set_node(self.scene.path, None if not names else names)

    def _on_path(self, path: list[str]) -> None:
        self.breadcrumb.set_path(self.document.graph.name, path)
        self.inspector.set_node(path, None)

    def focus_node(self, name: str) -> None:
        if self.scene.path:
            self.scene.open_path([])
        if name in self.document.graph:
            self.scene.select_nodes([name])
            self.scene.center_on_node(name)

    def add_layer_at_centre(self, type_: str) -> None:
        if type_.startswith("block:"):  # the palette's "My Blocks"
            self.block_actions.insert_from_library(type_.removeprefix("block:"))
            return
        spec = self.document.catalog.get(type_)
        if spec is None:
            return
        graph = self.scene.current_graph()
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        node = Node(graph.unique_name(snake_case(type_)), type_,
                    params=dict(spec.starter), position=(centre.x(), centre.y()))  # fmt: skip
        if self.document.push(in_graph(self.scene.path, AddNode(node))):
            self.scene.select_nodes([node.name])

    def _update_undo_actions(self) -> None:
        stack = self.document.stack
        self.act_undo.setEnabled(stack.can_undo())
        self.act_redo.setEnabled(stack.can_redo())
        self.act_undo.setText(f"&Undo {stack.undo_text()}" if stack.can_undo() else "&Undo")
        self.act_redo.setText(f"&Redo {stack.redo_text()}" if stack.can_redo() else "&Redo")

    def _on_modified(self, modified: bool) -> None:
        self.setWindowModified(modified)
        if not modified:
            self.recovery.discard(self.document.path, self.session)

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.title}[*] — Studio")
        self.setWindowModified(self.document.is_modified())

    # ------------------------------------------------------------------ files
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded)."""
        if self.document is None or not self.document.is_modified():
            return True
        answer = QMessageBox.warning(
            self,
            "Unsaved changes",
            f"Save the changes to {self.document.title} before closing it?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel,
            QMessageBox.Save,
        )
        if answer == QMessageBox.Save:
            return self.save()
        if answer == QMessageBox.Discard:
            self.recovery.discard(self.document.path, self.session)
            return True
        return False

    def new_project(self) -> None:
        if self.maybe_save():
            self.set_document(Document())

    def new_from_template(self) -> None:
        """File > New from Template: a gallery; Create opens the template as a new, untitled
        project (studio/ui/templates.py)."""
        from studio.ui.templates import TemplateGallery, template_project

        def create(info) -> None:
            if self.maybe_save():
                self.set_document(Document(template_project(info)))
                self.statusBar().showMessage(f"New project from the template {info.title}", 6000)

        self.template_gallery = TemplateGallery(self)
        self.template_gallery.chosen.connect(create)
        self.template_gallery.finished.connect(self.template_gallery.deleteLater)
        self.template_gallery.open()

    def open_dialog(self) -> None:
        start = str(self.document.path.parent) if self.document.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open project", start, PROJECT_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        path = Path(path)
        if path.suffix.lower() in {".keras", ".h5", ".hdf5"} or (
            path.suffix.lower() == ".json" and not path.name.endswith(PROJECT_SUFFIX)
        ):
            return self.import_model(path)
        # Read the file first: a file that cannot be opened must not cost the open work.
        try:
            document = Document.open(path)
        except ProjectError as exc:
            QMessageBox.critical(self, "Cannot open project", str(exc))
            if exc.kind == "unreadable":
                self._forget_recent(path)
            return False
        if not self.maybe_save():
            document.deleteLater()
            return False
        self.set_document(document)
        self._add_recent(path)
        self.ask_trust()
        return True

    # ------------------------------------------------------------------ welcome page
    def show_welcome(self) -> None:
        """Show the welcome page (recent projects, templates, examples) in place of the
        canvas; the open project stays open underneath (studio/ui/welcome.py)."""
        from studio.ui.welcome import WelcomePage

        if getattr(self, "welcome", None) is None:
            self.welcome = WelcomePage(self)
            self.welcome.hide()
            self.central.layout().addWidget(self.welcome, 1)
        self.welcome.refresh()
        self.breadcrumb.hide()
        self.view.hide()
        if self.welcome.isHidden():  # the page takes the whole window; the panels come back
            from PySide6.QtWidgets import QToolBar

            bars = [*self.findChildren(QDockWidget), *self.findChildren(QToolBar)]
            bars.append(self.valid_label)  # the empty project's problems are not news
            self._welcome_docks = [d for d in bars if not d.isHidden()]
            for dock in self._welcome_docks:
                dock.hide()
        self.welcome.show()

    def hide_welcome(self) -> None:
        if getattr(self, "welcome", None) is None or self.welcome.isHidden():
            return
        self.welcome.hide()
        self._restore_welcome_docks()
        self.view.show()
        self.breadcrumb.setVisible(bool(self.scene.path))
        self.view.setFocus()

    def _restore_welcome_docks(self) -> None:
        for dock in getattr(self, "_welcome_docks", []):
            dock.show()
        self._welcome_docks = []

    def welcome_shown(self) -> bool:
        return getattr(self, "welcome", None) is not None and not self.welcome.isHidden()

    def close_project(self) -> None:
        """File > Close Project: an empty, untitled project takes its place and the welcome
        page shows."""
        if self.maybe_save():
            self.recovery.discard(self.document.path, self.session)
            self.set_document(Document())
            self.show_welcome()

    # ------------------------------------------------------------------ custom code
    def _update_custom_palette(self) -> None:
        specs = [s for t, s in self.document.catalog.layers.items() if t.startswith("custom.")]
        self.layer_palette.set_custom_layers(sorted(specs, key=lambda s: s.type.lower()))

    def ask_trust(self) -> bool:
        """Show the project's code and ask whether it may run (studio/ui/trust.py); True
        when it may (no code, trusted before, or the user trusts it now)."""
        from studio.ui.trust import ask_trust

        return ask_trust(self, self.document, self.settings)

    def trust_project(self) -> None:
        """Run the project's code from now on (the Custom Code panel's "Trust and Run")."""
        from studio.core.code import code_fingerprint
        from studio.ui.trust import remember_trust

        self.document.set_trusted_code(True)
        if self.document.path is not None:
            remember_trust(self.settings, self.document.path, code_fingerprint(self.document.graph))
        self.statusBar().showMessage("The project's code runs now.", 6000)

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        suggested = str(self.document.path or Path.cwd() / default_filename(self.document.project.name))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", suggested, PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(PROJECT_SUFFIX):
            path += PROJECT_SUFFIX
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        previous = self.document.path
        try:
            saved = self.document.save(path)
        except (ProjectError, OSError, ValueError) as exc:
            QMessageBox.critical(self, "Cannot save project", str(exc))
            return False
        self.recovery.discard(previous, self.session)
        self.recovery.discard(saved, self.session)
        if self.document.graph.code and self.document.trusted_code:
            # The user's own code in the user's own file: reopening it does not ask.
            from studio.core.code import code_fingerprint
            from studio.ui.trust import remember_trust

            remember_trust(self.settings, saved, code_fingerprint(self.document.graph))
        self._add_recent(saved)
        self.statusBar().showMessage(f"Saved {saved.name}", 4000)
        return True

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import Keras model", "", MODEL_FILTER)
        if path:
            self.import_model(Path(path))

    def import_model(self, path: Path) -> bool:
        """Import on the engine thread (it needs Keras); the window stays responsive."""
        if not self.maybe_save():
            return False

        self.statusBar().showMessage(f"Importing {path.name}…")
        self._jobs[self.engine.run("import", str(path))] = ("import", path)
        return True

    def _graph_at(self, path: list[str]) -> Graph | None:
        """The document's (nested) graph at ``path``, None when that path is gone."""
        from studio.core.blocks import graph_at
        from studio.core.graph import GraphError

        try:
            return graph_at(self.document.graph, path)
        except GraphError:
            return None

    def expand_backbone(self, path: list[str], name: str) -> None:
        """Replace a Backbone node by a nested model of its layers (one undoable step that
        changes only that node). The engine builds the layers; the request remembers the
        document and the node's configuration, so that an answer that no longer fits them
        is dropped (see :meth:`_on_backbone_expanded`)."""
        graph = self._graph_at(path)
        if graph is None or name not in graph or graph.node(name).type != "Backbone":
            return
        node = graph.node(name)
        # Only the node travels: the engine answers with it expanded, nothing else.
        request = Graph(graph.name)
        request.add_node(node.copy())
        self.statusBar().showMessage(f"Expanding {name} into its layers…")
        job = self.engine.run("expand-backbone", request, name)
        self._jobs[job] = _ExpandRequest(self.document, list(path), name, node.type,
                                         copy.deepcopy(node.params))  # fmt: skip

    def _on_backbone_expanded(self, request: _ExpandRequest, result, error: str) -> None:
        from studio.core.commands import ExpandNode
        from studio.core.graph import GraphError

        name = request.name
        if request.document is not self.document:
            self.statusBar().showMessage(
                f"Expanding {name} was dropped: another project is open now.", 10000
            )
            return
        if error:
            self.statusBar().showMessage(f"Cannot expand {name}: {error}", 10000)
            return
        graph = self._graph_at(request.path)
        node = graph.node(name) if graph is not None and name in graph else None
        if node is None or node.type != request.type or node.params != request.params:
            self.statusBar().showMessage(
                f"Expanding {name} was dropped: the node was removed or changed meanwhile.",
                10000,
            )
            return
        try:
            subgraph = result.node(name).subgraph
            command = ExpandNode(graph, name, subgraph, f"Expand {name} into layers")
        except GraphError as exc:
            self.statusBar().showMessage(f"Cannot expand {name}: {exc}", 10000)
            return
        if self.document.push(in_graph(request.path, command)):
            self.statusBar().showMessage(
                f"{name} is now a nested model of its layers (double-click to open it). Its "
                "layers start from fresh weights: ImageNet weights are not carried over.",
                10000,
            )

    def _on_job_done(self, job_id: int, result, error: str) -> None:
        kind = self._jobs.pop(job_id, None)
        if kind is None:
            return
        if isinstance(kind, _ExpandRequest):
            self._on_backbone_expanded(kind, result, error)
            return
        _what, path = kind
        if error:
            QMessageBox.critical(self, "Cannot import model", error)
            self.statusBar().showMessage(f"Import of {path.name} failed", 6000)
            return
        from studio.project import Project

        name = path.name.split(".")[0]
        self.set_document(Document(Project(name=name, graph=result)))
        self.statusBar().showMessage(f"Imported {path.name}: {len(result)} nodes", 6000)

    # ------------------------------------------------------------------ recent files
    def _recent(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if v]

    def _add_recent(self, path: Path) -> None:
        files = [str(Path(path).resolve())] + [f for f in self._recent() if f != str(Path(path).resolve())]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._refresh_recent()

    def _forget_recent(self, path: Path) -> None:
        gone = str(Path(path).resolve())
        self.settings.setValue("recentFiles", [f for f in self._recent() if f != gone])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        files = self._recent()
        for f in files:
            action = self.recent_menu.addAction(Path(f).name)
            action.setToolTip(f)
            action.triggered.connect(lambda _=False, f=f: self.open_path(f))
        self.recent_menu.setEnabled(bool(files))

    # ------------------------------------------------------------------ recovery
    def write_recovery(self) -> None:
        if self.document is not None and self.document.is_modified():
            try:
                self.recovery.write(self.document.project, self.session)
            except (OSError, ProjectError) as exc:
                self.statusBar().showMessage(f"Autosave failed: {exc}", 6000)

    def offer_recovery(self) -> bool:
        """After a crash: offer to restore unsaved work, newest first, one copy at a time.
        Copies of sessions still running (another Studio window) are not offered. True when
        something was restored; copies the user declines are deleted, others are kept."""
        for entry in sorted(self.recovery.entries(), key=lambda e: e.saved_at, reverse=True):
            answer = QMessageBox.question(
                self,
                "Recover unsaved work",
                f"Studio did not close normally. Restore {entry.describe()}?",
                QMessageBox.Yes | QMessageBox.No,
                QMessageBox.Yes,
            )
            if answer != QMessageBox.Yes:
                self.recovery.remove(entry)
                continue
            try:
                project = self.recovery.restore(entry)
            except ProjectError as exc:
                QMessageBox.critical(self, "Cannot recover", str(exc))
                self.recovery.remove(entry)
                continue
            document = Document(project)
            # The restored work is not saved in its file yet: mark it modified.
            document.stack._clean_index = None
            self.set_document(document)
            self._on_modified(True)
            self.recovery.remove(entry)
            self.write_recovery()
            self.ask_trust()
            return True
        return False

    # ------------------------------------------------------------------ window
    def _restore_layout(self) -> None:
        # Default proportions: a slim palette, a roomy inspector, a low bottom panel.
        self.resizeDocks([self.palette_dock, self.inspector_dock], [240, 400], Qt.Horizontal)
        self.resizeDocks([self.problems_dock], [190], Qt.Vertical)
        self._default_state = self.saveState()
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def reset_layout(self) -> None:
        if self._default_state is not None:
            self.restoreState(self._default_state)
            for dock in (self.palette_dock, self.inspector_dock, self.problems_dock,
                         self.summary_dock, self.code_dock, self.custom_code_dock,
                         *self.training.docks):  # fmt: skip
                dock.show()

    def about(self) -> None:
        self.help.show_about()  # versions and devices (studio.ui.help)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
                break

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.training.confirm_close():
            event.ignore()
            return
        if not self.maybe_save():
            event.ignore()
            return
        self.training.controller.shutdown()  # stop cleanly: the run keeps what it learnt
        self.recovery.discard(self.document.path, self.session)
        LIVE_SESSIONS.discard(self.session)
        self._restore_welcome_docks()  # the saved layout is the panels', not the page's
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self._autosave.stop()
        self.engine.shutdown()
        event.accept()
