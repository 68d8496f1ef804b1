"""Undoable edits of a :class:`~studio.core.graph.Graph`, and the undo stack that holds them.

Every edit a user makes (add, remove, connect, disconnect, rename, set parameter, move, group)
is one :class:`Command`. A command records what it needs to undo itself when it is first
done, so redo and undo are exact inverses. Removing a node is one macro that also removes its
connections; a whole mouse drag is one :class:`MoveNodes`, merged on release.

The stack is plain Python so that the editor's undo/redo is the model's, testable without Qt;
the Qt editor mirrors it in its Edit menu.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from studio.core.graph import Edge, Graph, GraphError, GraphEvent, Node, Output


class Command:
    """One undoable edit. ``text`` names it for the Edit menu ("Connect a → b")."""

    text = ""

    def redo(self, graph: Graph) -> None:
        raise NotImplementedError

    def undo(self, graph: Graph) -> None:
        raise NotImplementedError

    def merge_with(self, other: Command) -> bool:
        """Absorb ``other`` (done right after this one); True when merged."""
        return False


class Macro(Command):
    """Several commands done as one step, undone in reverse order."""

    def __init__(self, text: str, commands: list[Command]) -> None:
        self.text = text
        self.commands = list(commands)

    def redo(self, graph: Graph) -> None:
        done: list[Command] = []
        try:
            for c in self.commands:
                c.redo(graph)
                done.append(c)
        except Exception:
            for c in reversed(done):
                c.undo(graph)
            raise

    def undo(self, graph: Graph) -> None:
        for c in reversed(self.commands):
            c.undo(graph)


class AddNode(Command):
    def __init__(self, node: Node, index: int | None = None) -> None:
        self.node = node.copy()
        self.index = index
        self.text = f"Add {node.name}"

    def redo(self, graph: Graph) -> None:
        graph.add_node(self.node.copy(), self.index)

    def undo(self, graph: Graph) -> None:
        graph.remove_node(self.node.name)


class _RemoveBareNode(Command):
    def __init__(self, name: str) -> None:
        self.name = name
        self.node: Node | None = None
        self.index = 0
        self.outputs: list[Output] = []

    def redo(self, graph: Graph) -> None:
        graph.node(self.name)  # a GraphError naming it when it does not exist
        self.index = graph.index_of(self.name)
        self.outputs = list(graph.outputs)
        # Outputs first, so that no observer ever sees an output naming a removed node.
        if any(o.node == self.name for o in self.outputs):
            graph.set_outputs([o for o in self.outputs if o.node != self.name])
        self.node = graph.remove_node(self.name).copy()

    def undo(self, graph: Graph) -> None:
        assert self.node is not None
        graph.add_node(self.node.copy(), self.index)
        graph.set_outputs(self.outputs)


class Connect(Command):
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.text = f"Connect {edge.src} → {edge.dst}"

    def redo(self, graph: Graph) -> None:
        cycle = graph.would_create_cycle(self.edge.src, self.edge.dst)
        if cycle is not None:
            if len(cycle) == 1:
                raise GraphError(f"'{self.edge.src}' cannot be connected to itself.")
            raise GraphError(
                "Connecting would create a cycle: " + " → ".join(cycle + [cycle[0]]) + "."
            )
        occupied = [e for e in graph.in_edges(self.edge.dst) if e.target == self.edge.target]
        if occupied:
            raise GraphError(
                f"Input '{self.edge.dst_port}' of '{self.edge.dst}' is already fed by "
                f"'{occupied[0].src}'."
            )
        graph.add_edge(self.edge)

    def undo(self, graph: Graph) -> None:
        graph.remove_edge(self.edge)


class Disconnect(Command):
    def __init__(self, edge: Edge) -> None:
        self.edge = edge
        self.text = f"Disconnect {edge.src} → {edge.dst}"

    def redo(self, graph: Graph) -> None:
        graph.remove_edge(self.edge)

    def undo(self, graph: Graph) -> None:
        graph.add_edge(self.edge)


def RemoveNode(graph: Graph, name: str) -> Macro:  # noqa: N802 - reads as a command
    """Remove a node with its connections, and the nodes that share its layer stop sharing."""
    cmds: list[Command] = [Disconnect(e) for e in graph.edges_of(name)]
    for sharer in graph.nodes:
        if sharer.shared_with == name:
            cmds.append(SetSharedWith(sharer.name, None))
    cmds.append(_RemoveBareNode(name))
    return Macro(f"Remove {name}", cmds)


def RemoveNodes(graph: Graph, names: list[str]) -> Macro:  # noqa: N802
    edges: list[Edge] = []
    for name in names:
        for e in graph.edges_of(name):
            if e not in edges:
                edges.append(e)
    cmds: list[Command] = [Disconnect(e) for e in edges]
    for sharer in graph.nodes:
        if sharer.shared_with in names and sharer.name not in names:
            cmds.append(SetSharedWith(sharer.name, None))
    cmds += [_RemoveBareNode(n) for n in names]
    text = f"Remove {names[0]}" if len(names) == 1 else f"Remove {len(names)} nodes"
    return Macro(text, cmds)


class Rename(Command):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        self.text = f"Rename {old} → {new}"

    def redo(self, graph: Graph) -> None:
        graph.rename_node(self.old, self.new)

    def undo(self, graph: Graph) -> None:
        graph.rename_node(self.new, self.old)


class SetParams(Command):
    """Set (or, with value ``None`` in ``unset``, reset to default) some parameters."""

    def __init__(self, name: str, changes: dict[str, Any], unset: tuple[str, ...] = ()) -> None:
        self.name = name
        self.changes = copy.deepcopy(changes)
        self.unset = tuple(unset)
        self.before: dict[str, Any] | None = None
        keys = list(changes) + list(unset)
        self.text = f"Set {name}.{keys[0]}" if len(keys) == 1 else f"Set {name} parameters"

    def redo(self, graph: Graph) -> None:
        node = graph.node(self.name)
        self.before = copy.deepcopy(node.params)
        params = copy.deepcopy(node.params)
        params.update(copy.deepcopy(self.changes))
        for k in self.unset:
            params.pop(k, None)
        graph.set_params(self.name, params)

    def undo(self, graph: Graph) -> None:
        assert self.before is not None
        graph.set_params(self.name, self.before)


def SetParam(name: str, key: str, value: Any) -> SetParams:  # noqa: N802
    return SetParams(name, {key: value})


class SetCallArgs(Command):
    def __init__(self, name: str, call_args: dict[str, Any]) -> None:
        self.name = name
        self.after = copy.deepcopy(call_args)
        self.before: dict[str, Any] | None = None
        self.text = f"Set {name} call arguments"

    def redo(self, graph: Graph) -> None:
        self.before = copy.deepcopy(graph.node(self.name).call_args)
        graph.set_call_args(self.name, self.after)

    def undo(self, graph: Graph) -> None:
        graph.set_call_args(self.name, self.before or {})


class SetSharedWith(Command):
    def __init__(self, name: str, owner: str | None) -> None:
        self.name, self.owner = name, owner
        self.before: str | None = None
        self.text = f"Share {owner}'s layer in {name}" if owner else f"Unshare {name}"

    def redo(self, graph: Graph) -> None:
        self.before = graph.node(self.name).shared_with
        graph.set_shared_with(self.name, self.owner)

    def undo(self, graph: Graph) -> None:
        graph.set_shared_with(self.name, self.before)


class MoveNodes(Command):
    """Move nodes; consecutive moves of the same nodes merge into one step (one drag)."""

    def __init__(self, positions: dict[str, tuple[float, float]]) -> None:
        self.after = {k: (float(v[0]), float(v[1])) for k, v in positions.items()}
        self.before: dict[str, tuple[float, float]] = {}
        n = len(positions)
        self.text = f"Move {next(iter(positions))}" if n == 1 else f"Move {n} nodes"

    def redo(self, graph: Graph) -> None:
        for name, pos in self.after.items():
            self.before.setdefault(name, graph.node(name).position)
            graph.move_node(name, pos)

    def undo(self, graph: Graph) -> None:
        for name, pos in self.before.items():
            graph.move_node(name, pos)

    def merge_with(self, other: Command) -> bool:
        if isinstance(other, MoveNodes) and set(other.after) == set(self.after):
            self.after = dict(other.after)
            return True
        return False


class SetOutputs(Command):
    def __init__(self, outputs: list[Output], text: str = "Set model outputs") -> None:
        self.after = list(outputs)
        self.before: list[Output] = []
        self.text = text

    def redo(self, graph: Graph) -> None:
        self.before = list(graph.outputs)
        graph.set_outputs(self.after)

    def undo(self, graph: Graph) -> None:
        graph.set_outputs(self.before)


class ReplaceGraph(Command):
    """A whole-graph edit (automatic layout, import into the open project)."""

    def __init__(self, new: Graph, text: str) -> None:
        self.new = new.copy()
        self.old: Graph | None = None
        self.text = text

    def redo(self, graph: Graph) -> None:
        self.old = graph.copy()
        graph.replace_with(self.new)

    def undo(self, graph: Graph) -> None:
        assert self.old is not None
        graph.replace_with(self.old)


class InSubgraph(Command):
    """Apply ``command`` to the nested graph reached by ``path`` (Model node names, outermost
    first). The outer Model node then reports a change, so observers of the top graph (the
    document, shape inference, validation) see every nested edit."""

    def __init__(self, path: list[str], command: Command) -> None:
        self.path = list(path)
        self.command = command
        self.text = command.text + (f" (in {'/'.join(self.path)})" if self.path else "")

    def _target(self, graph: Graph) -> Graph:
        for name in self.path:
            node = graph.node(name)
            if node.subgraph is None:
                raise GraphError(f"'{name}' is not a nested model.")
            graph = node.subgraph
        return graph

    def _changed(self, graph: Graph) -> None:
        if self.path:
            graph._emit(GraphEvent("node_changed", node=self.path[0], keys=("subgraph",)))
            # A block definition is shared by all its uses: they changed too.
            target = self._target(graph)
            for node in graph.nodes:
                if node.name != self.path[0] and _reaches(node.subgraph, target):
                    graph._emit(GraphEvent("node_changed", node=node.name, keys=("subgraph",)))

    def _forwarding(self, graph: Graph, target: Graph):
        """Re-emit the nested graph's events on the top graph, tagged with their path, so
        that a view showing the nested graph can follow a rename like any other edit."""
        prefix = tuple(self.path)

        def forward(event: GraphEvent) -> None:
            graph._emit(replace(event, path=prefix + event.path))

        return forward

    def _apply(self, graph: Graph, undo: bool) -> None:
        target = self._target(graph)
        forward = self._forwarding(graph, target) if self.path else None
        if forward is not None:
            target.subscribe(forward)
        try:
            (self.command.undo if undo else self.command.redo)(target)
        finally:
            if forward is not None:
                target.unsubscribe(forward)
        self._changed(graph)

    def redo(self, graph: Graph) -> None:
        self._apply(graph, undo=False)

    def undo(self, graph: Graph) -> None:
        self._apply(graph, undo=True)

    def merge_with(self, other: Command) -> bool:
        return (
            isinstance(other, InSubgraph)
            and other.path == self.path
            and self.command.merge_with(other.command)
        )


def _reaches(graph: Graph | None, target: Graph, depth: int = 0) -> bool:
    """Whether ``target`` is ``graph`` or nested in it (a block use shares its definition)."""
    if graph is None or depth > 32:
        return False
    if graph is target:
        return True
    return any(_reaches(n.subgraph, target, depth + 1) for n in graph.nodes)


def in_graph(path: list[str], command: Command) -> Command:
    """``command`` itself at the top level, else wrapped to reach the nested graph."""
    return InSubgraph(path, command) if path else command


def Group(  # noqa: N802 - reads as a command
    graph: Graph,
    names: list[str],
    group_name: str,
    shapes: dict[tuple[str, int], list[int | None]] | None = None,
) -> Command:
    """Group nodes into one nested model node (see :mod:`studio.core.group`)."""
    from studio.core.group import group_graph

    return ReplaceGraph(group_graph(graph, names, group_name, shapes), f"Group into {group_name}")


def Ungroup(graph: Graph, name: str) -> Command:  # noqa: N802
    """Replace a nested model node by its nodes."""
    from studio.core.group import ungroup_graph

    return ReplaceGraph(ungroup_graph(graph, name), f"Ungroup {name}")


class _BecomeModel(Command):
    """Turn node ``name`` in place into a nested ``Model`` node of ``subgraph`` (no
    parameters, call arguments or sharing); its connections are left to the caller."""

    def __init__(self, name: str, subgraph: Graph) -> None:
        self.name = name
        self.subgraph = subgraph
        self.before: tuple | None = None
        self.text = f"Turn {name} into a nested model"

    def redo(self, graph: Graph) -> None:
        from studio.core.graph import MODEL_TYPE

        node = graph.node(self.name)
        self.before = (node.type, copy.deepcopy(node.params), copy.deepcopy(node.call_args),
                       node.shared_with, node.subgraph)  # fmt: skip
        graph.set_shared_with(self.name, None)
        graph.set_call_args(self.name, {})
        graph.set_params(self.name, {})
        graph.set_subgraph(self.name, self.subgraph)
        graph.set_type(self.name, MODEL_TYPE)

    def undo(self, graph: Graph) -> None:
        assert self.before is not None
        type_, params, call_args, shared_with, subgraph = self.before
        graph.set_type(self.name, type_)
        graph.set_subgraph(self.name, subgraph)
        graph.set_params(self.name, params)
        graph.set_call_args(self.name, call_args)
        graph.set_shared_with(self.name, shared_with)


def ExpandNode(graph: Graph, name: str, subgraph: Graph, text: str = "") -> Macro:  # noqa: N802
    """Turn node ``name`` of ``graph`` into a nested ``Model`` node of ``subgraph`` (Expand
    into Layers of a Backbone node), changing nothing else: the node keeps its name, position
    and place among the outputs, its output connections stay, and what fed it feeds the
    nested graph's input (of the same name as the port, or its only input)."""
    node = graph.node(name)
    if node.block is not None:
        raise GraphError(f"'{name}' is a use of block '{node.block}'.")
    inputs = [n.name for n in subgraph.input_nodes]
    if not inputs:
        raise GraphError(f"The layers of '{name}' have no input.")
    cmds: list[Command] = []
    rewired: list[Edge] = []
    for e in graph.in_edges(name):
        port = e.dst_port if e.dst_port in inputs else inputs[0] if len(inputs) == 1 else None
        if port is None:
            raise GraphError(f"The layers of '{name}' have no input '{e.dst_port}'.")
        cmds.append(Disconnect(e))
        rewired.append(Edge(e.src, e.src_output, e.dst, port, e.slot))
    for sharer in graph.nodes:
        if sharer.shared_with == name:
            cmds.append(SetSharedWith(sharer.name, None))
    cmds.append(_BecomeModel(name, subgraph))
    cmds += [Connect(e) for e in rewired]
    return Macro(text or f"Expand {name} into layers", cmds)


_MISSING = object()


class SetSetting(Command):
    """Set one top-level project setting (``"data"``, ``"training"``) to a new value.

    Settings are not part of the graph, so the command holds the project's settings dict;
    ``notify(key)`` is called after every redo and undo so that views can refresh. Pushed with
    ``merge=True``, consecutive edits with the same ``merge_key`` (typing in one field) are
    one step.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        key: str,
        value: Any,
        text: str = "",
        merge_key: str = "",
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.key = key
        self.value = copy.deepcopy(value)
        self.old: Any = _MISSING
        self.text = text or f"Change {key} settings"
        self.merge_key = merge_key
        self.notify = notify

    def redo(self, graph: Graph) -> None:
        if self.old is _MISSING and not getattr(self, "_recorded", False):
            current = self.settings.get(self.key, _MISSING)
            self.old = current if current is _MISSING else copy.deepcopy(current)
            self._recorded = True
        self.settings[self.key] = copy.deepcopy(self.value)
        if self.notify:
            self.notify(self.key)

    def undo(self, graph: Graph) -> None:
        if self.old is _MISSING:
            self.settings.pop(self.key, None)
        else:
            self.settings[self.key] = copy.deepcopy(self.old)
        if self.notify:
            self.notify(self.key)

    def merge_with(self, other: Command) -> bool:
        if (
            isinstance(other, SetSetting)
            and other.settings is self.settings
            and other.key == self.key
            and self.merge_key
            and other.merge_key == self.merge_key
        ):
            self.value = copy.deepcopy(other.value)
            return True
        return False


class SetAttribute(Command):
    """Set an attribute of an object outside the graph (the project's weights file)."""

    def __init__(
        self, obj: Any, attr: str, value: Any, text: str, notify: Callable[[], None] | None = None
    ) -> None:
        self.obj = obj
        self.attr = attr
        self.value = value
        self.old: Any = _MISSING
        self.text = text
        self.notify = notify

    def redo(self, graph: Graph) -> None:
        if self.old is _MISSING:
            self.old = getattr(self.obj, self.attr)
        setattr(self.obj, self.attr, self.value)
        if self.notify:
            self.notify()

    def undo(self, graph: Graph) -> None:
        setattr(self.obj, self.attr, self.old)
        if self.notify:
            self.notify()


class SetCode(Command):
    """Add, change or (``code`` None) remove the code definition ``name``
    (:mod:`studio.core.code`).

    When the new source defines another name (the user renamed the class or function), the
    definition moves to ``code.name`` in place and, for a layer, every node of type
    ``custom.<name>`` (nested models included) is re-typed to ``custom.<code.name>`` in the
    same step. Consecutive edits of one definition pushed with ``merge=True`` (typing) are
    one step; adding or removing a definition is never merged. ``graph`` is the root graph
    the command is meant for (kept for symmetry with the UI's call; ``redo`` gets it again).
    """

    def __init__(self, graph: Graph | None, name: str, code: Any) -> None:
        self.name = name
        self.code = code
        self.before: dict[str, Any] | None = None
        # (path of Model nodes, node name, type before) of every re-typed node.
        self.retyped: list[tuple[tuple[str, ...], str, str]] = []
        self.text = self._text()

    def _text(self) -> str:
        if self.code is None:
            return f"Remove code {self.name}"
        if self.before is not None and self.name not in self.before:
            return f"Add code {self.code.name}"
        if self.code.name != self.name:
            return f"Rename code {self.name} → {self.code.name}"
        return f"Edit code {self.name}"

    def redo(self, graph: Graph) -> None:
        self.before = dict(graph.code)
        self.retyped = []
        old = self.before.get(self.name)
        graph.set_code(self.name, self.code)
        self.text = self._text()
        if (
            self.code is not None
            and old is not None
            and old.kind == "layer"
            and self.code.kind == "layer"
            and self.code.name != self.name
        ):
            self._retype(graph, graph, (), "custom." + self.name, "custom." + self.code.name)

    def _retype(
        self, root: Graph, graph: Graph, path: tuple[str, ...], old: str, new: str
    ) -> None:
        for node in graph.nodes:
            if node.subgraph is not None:
                self._retype(root, node.subgraph, (*path, node.name), old, new)
            if node.type == old:
                self.retyped.append((path, node.name, old))
                graph.set_type(node.name, new)
                if path:  # nested edits show on the root as a change of the outer Model
                    root._emit(GraphEvent("node_changed", node=path[0], keys=("subgraph",)))

    @staticmethod
    def _reach(graph: Graph, path: tuple[str, ...]) -> Graph:
        for name in path:
            sub = graph.node(name).subgraph
            assert sub is not None
            graph = sub
        return graph

    def undo(self, graph: Graph) -> None:
        assert self.before is not None
        for path, name, old in reversed(self.retyped):
            self._reach(graph, path).set_type(name, old)
            if path:
                graph._emit(GraphEvent("node_changed", node=path[0], keys=("subgraph",)))
        current = self.code.name if self.code is not None else self.name
        graph.code = dict(self.before)
        renamed = self.code is not None and current != self.name
        graph._emit(
            GraphEvent("code_changed", node=self.name, old=current if renamed else None)
        )

    def merge_with(self, other: Command) -> bool:
        if not (
            isinstance(other, SetCode)
            and self.code is not None
            and other.code is not None
            and self.before is not None
            and self.name in self.before
            and other.name == self.code.name
            and other.code.kind == self.code.kind
        ):
            return False
        self.code = other.code
        seen = {(p, n) for p, n, _ in self.retyped}
        self.retyped += [(p, n, t) for p, n, t in other.retyped if (p, n) not in seen]
        self.text = self._text()
        return True


class UndoStack:
    """A linear history of commands applied to one graph.

    ``push`` does the command (a refused edit raises :class:`GraphError` and leaves both the
    graph and the stack unchanged). ``clean`` marks the state saved on disk.
    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._clean_index: int | None = 0
        self._merge_open = False
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()

    def push(self, command: Command, merge: bool = False) -> None:
        command.redo(self.graph)
        self.graph.link_blocks()  # a block use put back by a command shares its definition
        # Never merge into the command at the saved point: the state after it was saved.
        at_clean = self._clean_index == len(self._done)
        if (
            merge
            and self._merge_open
            and self._done
            and not at_clean
            and self._done[-1].merge_with(command)
        ):
            pass
        else:
            self._done.append(command)
            if self._clean_index is not None and self._clean_index > len(self._done) - 1:
                self._clean_index = None
        self._merge_open = merge
        self._undone.clear()
        self._changed()

    def close_merge(self) -> None:
        """End a merge run (a drag ended)."""
        self._merge_open = False

    def can_undo(self) -> bool:
        return bool(self._done)

    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo_text(self) -> str:
        return self._done[-1].text if self._done else ""

    def redo_text(self) -> str:
        return self._undone[-1].text if self._undone else ""

    def undo(self) -> None:
        if not self._done:
            return
        cmd = self._done.pop()
        cmd.undo(self.graph)
        self.graph.link_blocks()
        self._undone.append(cmd)
        self._merge_open = False
        self._changed()

    def redo(self) -> None:
        if not self._undone:
            return
        cmd = self._undone.pop()
        cmd.redo(self.graph)
        self.graph.link_blocks()
        self._done.append(cmd)
        self._merge_open = False
        self._changed()

    def set_clean(self) -> None:
        self._clean_index = len(self._done)
        self._changed()

    def is_clean(self) -> bool:
        return self._clean_index == len(self._done)

    @property
    def index(self) -> int:
        return len(self._done)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._clean_index = 0
        self._changed()
