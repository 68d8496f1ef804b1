"""Reusable blocks in the editor: Group into Block, Ungroup, Make Unique, the personal library.

Every block edit is one undoable :class:`~studio.core.commands.ReplaceGraph` of the whole
project graph, computed by :mod:`studio.core.blocks`. The library is
:class:`studio.project.blocks.BlockLibrary` on ``AppDataLocation/blocks``; the palette's
"My Blocks" group lists it and follows its folder (a ``QFileSystemWatcher``), so a block saved
from one window appears in every window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu

from studio.core import blocks as core
from studio.core.commands import ReplaceGraph
from studio.core.graph import MODEL_TYPE, GraphError
from studio.project.blocks import BlockLibrary, BlockLibraryError, definition_for_library
from studio.ui.panels.palette import BLOCK_PREFIX


def default_library_folder() -> Path:
    """``<AppDataLocation>/blocks``: the personal block library, shared by all projects."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".studio") / "blocks"


class BlockActions(QObject):
    """The window's block actions (Edit menu, canvas menu) and the palette's "My Blocks".

    Signals:
        message(str): what happened or why an edit was refused (the status bar shows it).
        libraryChanged(): the library's blocks were listed again.
    """

    message = Signal(str)
    libraryChanged = Signal()

    def __init__(self, window, library: BlockLibrary | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.library = library or BlockLibrary(default_library_folder())
        self.last_message = ""
        self.act_group = QAction("&Group into Block…", window)
        self.act_group.setShortcut("Ctrl+G")
        self.act_group.setStatusTip("Make the selected nodes one block: a nested model")
        self.act_group.triggered.connect(lambda _=False: self.group_selection())
        self.act_ungroup = QAction("&Ungroup", window)
        self.act_ungroup.setShortcut("Ctrl+Shift+G")
        self.act_ungroup.setStatusTip("Put the layers of the selected block back in its place")
        self.act_ungroup.triggered.connect(lambda _=False: self.ungroup_selection())
        for action in (self.act_group, self.act_ungroup):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        menu = getattr(window, "edit_menu", None)
        if menu is not None:
            menu.addSeparator()
            menu.addAction(self.act_group)
            menu.addAction(self.act_ungroup)
        self.message.connect(lambda m: window.statusBar().showMessage(m, 8000))
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(lambda _p: self.refresh_library())
        self.refresh_library()

    # ------------------------------------------------------------------ access
    @property
    def scene(self):
        return self.window.scene

    @property
    def document(self):
        return self.window.document

    def set_library(self, library: BlockLibrary) -> None:
        self.library = library
        self.refresh_library()

    def attach(self) -> None:
        """Hook the window's (new) scene and view: called by ``MainWindow.set_document``."""
        self.scene.menu_hooks.append(self.add_menu_items)
        self.scene.block_inserter = self.insert_from_library
        view = getattr(self.window, "view", None)
        if view is not None:
            view.addAction(self.act_group)
            view.addAction(self.act_ungroup)

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message.emit(text)

    def _apply(self, new_root, text: str) -> bool:
        return self.document.push(ReplaceGraph(new_root, text))

    def entering_shapes(self) -> dict[tuple[str, int], list[int | None]]:
        """Shapes (batch axis left out) of the tensors of the graph shown: the editor's latest
        shape results at the top level; inside a nested model, those of its inputs."""
        shapes: dict[tuple[str, int], list[int | None]] = {}
        path = self.scene.path
        if not path:
            result = self.scene.shapes
            for name, info in (getattr(result, "nodes", None) or {}).items():
                if not getattr(info, "error", None) and not getattr(info, "blocked_by", None):
                    for i, (shape, _dtype) in enumerate(info.outputs):
                        shapes[(name, i)] = list(shape[1:])
        else:
            for node in self.scene.current_graph().input_nodes:
                if "shape" in node.params:
                    shapes[(node.name, 0)] = list(node.params["shape"])
                elif node.params.get("batch_shape"):
                    shapes[(node.name, 0)] = list(node.params["batch_shape"][1:])
        return shapes

    # ------------------------------------------------------------------ group / ungroup
    def group_selection(self, name: str | None = None) -> bool:
        """Group the selected nodes into a new block (asks for its name unless given)."""
        names = self.scene.selected_names()
        if not names:
            self._say("Select the nodes to group first.")
            return False
        root, graph = self.document.graph, self.scene.current_graph()
        if any(graph.node(n).is_input for n in names if n in graph):
            self._say("Model inputs cannot be grouped; leave the InputLayer nodes out.")
            return False
        if name is None:
            default = core.free_block_name(root, "block", graph)
            name, ok = QInputDialog.getText(
                self.window, "Group into Block", "Block name:", text=default
            )
            if not ok:
                return False
        name = name.strip()
        if not name:
            self._say("A block needs a name.")
            return False
        if name in root.blocks or (name in graph and name not in names):
            self._say(f"The name '{name}' is taken; choose another.")
            return False
        try:
            new = core.group_into_block(root, self.scene.path, names, name, self.entering_shapes())
        except GraphError as exc:
            self._say(str(exc))
            return False
        if not self._apply(new, f"Group into block {name}"):
            return False
        self.scene.select_nodes([name])
        self._say(f"Grouped {len(names)} nodes into block '{name}'.")
        return True

    def ungroup_selection(self) -> bool:
        graph = self.scene.current_graph()
        models = [n for n in self.scene.selected_names()
                  if n in graph and graph.node(n).type == MODEL_TYPE]  # fmt: skip
        if len(models) != 1:
            self._say("Select one block (or nested model) to ungroup.")
            return False
        return self.ungroup(models[0])

    def ungroup(self, name: str) -> bool:
        try:
            new = core.ungroup_block(self.document.graph, self.scene.path, name)
        except GraphError as exc:
            self._say(str(exc))
            return False
        return self._apply(new, f"Ungroup {name}")

    def make_unique(self, name: str) -> bool:
        try:
            new = core.make_unique(self.document.graph, self.scene.path, name)
        except GraphError as exc:
            self._say(str(exc))
            return False
        return self._apply(new, f"Make {name} unique")

    def add_use(self, block: str, pos: tuple[float, float] | None = None) -> str | None:
        """Another use of the project's block ``block``."""
        if pos is None:
            view = self.window.view
            centre = view.mapToScene(view.viewport().rect().center())
            pos = (centre.x(), centre.y())
        try:
            new, use = core.insert_block(self.document.graph, self.scene.path, block, pos)
        except GraphError as exc:
            self._say(str(exc))
            return None
        if not self._apply(new, f"Insert block {block}"):
            return None
        self.scene.select_nodes([use])
        return use

    # ------------------------------------------------------------------ library
    def save_to_library(self, name: str, description: str = "") -> Path | None:
        """Save the definition used by the node ``name`` to the personal library."""
        graph = self.scene.current_graph()
        node = graph.node(name) if name in graph else None
        if node is None or node.block is None:
            self._say(f"'{name}' is not a block.")
            return None
        try:
            definition = definition_for_library(self.document.graph, node.block)
            path = self.library.write(node.block, definition, description)
        except BlockLibraryError as exc:
            self._say(exc.message)
            return None
        self.refresh_library()
        self._say(f"Saved block '{node.block}' to {path}.")
        return path

    def insert_from_library(self, name: str, pos: tuple[float, float] | None = None) -> str | None:
        """A use of the library's block ``name`` in the graph shown (its definition is added
        to the project, renamed if the project has a different block of that name)."""
        try:
            block = self.library.read(name)
        except BlockLibraryError as exc:
            self._say(exc.message)
            return None
        if pos is None:
            view = self.window.view
            centre = view.mapToScene(view.viewport().rect().center())
            pos = (centre.x(), centre.y())
        try:
            new, use = core.insert_block(
                self.document.graph, self.scene.path, block.name, pos, definition=block.graph
            )
        except GraphError as exc:
            self._say(str(exc))
            return None
        if not self._apply(new, f"Insert block {block.name}"):
            return None
        self.scene.select_nodes([use])
        return use

    def refresh_library(self) -> None:
        """List the library again into the palette, and watch its folder."""
        blocks, errors = self.library.list()
        palette = getattr(self.window, "layer_palette", None)
        if palette is not None and hasattr(palette, "set_library_blocks"):
            items = []
            for b in blocks:
                n = len(b.graph)
                tip = b.description or f"{n} node{'s' if n != 1 else ''}"
                items.append((b.name, tip))
            palette.set_library_blocks(items)
        folder = str(self.library.folder)
        watched = self.watcher.directories()
        if watched and watched != [folder]:
            self.watcher.removePaths(watched)
        if self.library.folder.is_dir() and folder not in self.watcher.directories():
            self.watcher.addPath(folder)
        if errors:
            self.message.emit(errors[0].message)
        self.libraryChanged.emit()

    # ------------------------------------------------------------------ canvas menu
    def add_menu_items(self, menu: QMenu, name: str) -> None:
        """Entries for the node menu of ``name`` (GraphScene.menu_hooks)."""
        graph = self.scene.current_graph()
        if name not in graph:
            return
        node = graph.node(name)
        menu.addSeparator()
        act = menu.addAction("Group into Block…")
        act.setShortcut("Ctrl+G")
        act.triggered.connect(lambda _=False: self.group_selection())
        if node.type == MODEL_TYPE and node.subgraph is not None:
            act = menu.addAction("Ungroup")
            act.setShortcut("Ctrl+Shift+G")
            act.triggered.connect(lambda _=False: self.ungroup(name))
        if node.block is not None:
            block = node.block
            act = menu.addAction(f"Add Another Use of '{block}'")
            act.triggered.connect(lambda _=False: self.add_use(block))
            act = menu.addAction("Make Unique")
            act.setStatusTip("Give this use its own copy of the block, edited on its own")
            act.triggered.connect(lambda _=False: self.make_unique(name))
            act = menu.addAction("Save Block to Library…")
            act.triggered.connect(lambda _=False: self.save_to_library(name))


__all__ = ["BLOCK_PREFIX", "BlockActions", "default_library_folder"]
