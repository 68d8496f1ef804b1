"""The open project, as the Qt views see it.

``Document`` wraps a :class:`~studio.project.Project` and its :class:`UndoStack`. Views
observe it through Qt signals and change it only by :meth:`Document.push` -ing commands.
It re-emits the model's :class:`GraphEvent` s as ``graphChanged``, keeps the validator's
diagnostics current, and knows whether there are unsaved changes.
"""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.catalog import Catalog, load_catalog
from studio.core.commands import Command, SetAttribute, SetSetting, UndoStack
from studio.core.graph import Graph, GraphError, GraphEvent
from studio.core.settings import rebase_paths, rename_in_settings
from studio.core.validation import Diagnostic, validate
from studio.project import Project, load_project, project_basename, save_project


class Document(QObject):
    """One open project: graph, undo history, file path, diagnostics."""

    graphChanged = Signal(object)  # GraphEvent
    diagnosticsChanged = Signal(list)  # list[Diagnostic]
    undoStackChanged = Signal()  # texts / can-undo / clean state may have changed
    modifiedChanged = Signal(bool)
    pathChanged = Signal(object)  # Path | None
    refused = Signal(str)  # an edit the model refused, with the reason
    settingsChanged = Signal(str)  # the top-level settings key ("data", "training") that changed
    weightsChanged = Signal()  # project.weights (the weights file the graph uses) changed
    catalogChanged = Signal()  # the project's custom layers (catalog.layers) changed
    trustChanged = Signal(bool)  # graph.trusted_code: may the project's code run

    def __init__(self, project: Project | None = None, catalog: Catalog | None = None) -> None:
        super().__init__()
        self.base_catalog = catalog or load_catalog()
        # The document's own catalog: the base plus the project's custom layers, updated in
        # place (views keep a reference to it) whenever the code changes.
        self.catalog = copy.copy(self.base_catalog)
        self.catalog.layers = dict(self.base_catalog.layers)
        self.project = project or Project(name="untitled", graph=Graph("model"))
        if not self.project.graph.code:
            # Nothing to distrust: code written from now on is the user's own.
            self.project.graph.trusted_code = True
        self._refresh_catalog()
        self.stack = UndoStack(self.project.graph)
        self.project.graph.subscribe(self._on_graph_event)
        self.stack.subscribe(self._on_stack_changed)
        self._modified = False
        self._stale = False
        self._diagnostics: list[Diagnostic] = validate(self.graph, self.catalog)

    # ------------------------------------------------------------------ properties
    @property
    def graph(self) -> Graph:
        return self.project.graph

    @property
    def path(self) -> Path | None:
        return self.project.path

    @property
    def title(self) -> str:
        return self.path.name if self.path else f"{self.project.name} (unsaved)"

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return list(self._diagnostics)

    def is_modified(self) -> bool:
        return not self.stack.is_clean()

    @property
    def trusted_code(self) -> bool:
        return bool(self.graph.trusted_code)

    def set_trusted_code(self, trusted: bool = True) -> None:
        """Allow (or forbid) running the project's code; views and the engine follow."""
        if bool(self.graph.trusted_code) == trusted:
            return
        self.graph.trusted_code = trusted
        self.trustChanged.emit(trusted)

    def _refresh_catalog(self) -> bool:
        from studio.core.code import catalog_for

        layers = catalog_for(self.graph, self.base_catalog).layers
        if layers.keys() == self.catalog.layers.keys() and all(
            self.catalog.layers[k] == v for k, v in layers.items() if k.startswith("custom.")
        ):
            return False
        self.catalog.layers = dict(layers)
        return True

    # ------------------------------------------------------------------ editing
    def push(self, command: Command, merge: bool = False) -> bool:
        """Do an edit through the undo stack. A refused edit emits ``refused`` and returns
        False; the graph and the history stay as they were."""
        try:
            self.stack.push(command, merge=merge)
        except GraphError as exc:
            self.refused.emit(str(exc))
            return False
        return True

    def set_setting(self, key: str, value, text: str = "", merge_key: str = "") -> bool:
        """Change ``project.settings[key]`` as one undoable step (``merge_key``: consecutive
        edits with the same key, such as typing in one field, merge into one step)."""
        if self.project.settings.get(key) == value:
            return False
        command = SetSetting(
            self.project.settings, key, value, text, merge_key, self.settingsChanged.emit
        )
        return self.push(command, merge=bool(merge_key))

    def set_weights(self, path: str | None, text: str = "Load weights") -> bool:
        """Make ``path`` (relative to the project's folder) the project's weights file, as one
        undoable step."""
        if self.project.weights == path:
            return False
        return self.push(SetAttribute(self.project, "weights", path, text, self.weightsChanged.emit))

    def undo(self) -> None:
        self.stack.undo()

    def redo(self) -> None:
        self.stack.redo()

    # ------------------------------------------------------------------ files
    @classmethod
    def open(cls, path: str | Path, catalog: Catalog | None = None) -> Document:
        """Raises ProjectError with a message that names the file and line."""
        return cls(load_project(path), catalog)

    def save(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("The project has no file yet; choose one with Save As.")
        if target != self.path:
            self.project.name = project_basename(target)
            if self.path is not None and target.parent.resolve() != self.path.parent.resolve():
                # Relative data and weights paths keep pointing at the same files.
                old_dir, new_dir = str(self.path.parent), str(target.parent)
                if rebase_paths(self.project.settings, old_dir, new_dir):
                    self.settingsChanged.emit("data")
                holder = {"data": {"source": {"path": self.project.weights}}}
                if self.project.weights and rebase_paths(holder, old_dir, new_dir):
                    self.project.weights = holder["data"]["source"]["path"]
        saved = save_project(self.project, target)
        self.stack.set_clean()
        self.pathChanged.emit(saved)
        return saved

    # ------------------------------------------------------------------ observers
    def _on_graph_event(self, event: GraphEvent) -> None:
        if event.kind == "node_renamed" and not event.path and event.old:
            # Inputs and outputs key the data mapping, losses and metrics: keep them (undoing
            # the rename renames them back the same way).
            if rename_in_settings(self.project.settings, event.old, event.node):
                for key in ("data", "training"):
                    self.settingsChanged.emit(key)
        catalog_changed = event.kind in ("code_changed", "reset") and self._refresh_catalog()
        self.graphChanged.emit(event)
        if catalog_changed:
            self.catalogChanged.emit()
        if event.kind != "node_moved":
            self._stale = True

    def _on_stack_changed(self) -> None:
        # Validate once per command (a macro emits many graph events), not once per event.
        if self._stale:
            self._stale = False
            self._diagnostics = validate(self.graph, self.catalog)
            self.diagnosticsChanged.emit(self.diagnostics)
        self.undoStackChanged.emit()
        modified = self.is_modified()
        if modified != self._modified:
            self._modified = modified
            self.modifiedChanged.emit(modified)
