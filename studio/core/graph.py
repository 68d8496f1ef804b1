"""The document model: a network as a graph of layer nodes joined by tensor edges.

Pure Python. A :class:`Graph` holds :class:`Node` objects (one Keras layer, op or nested
model each) and :class:`Edge` objects (one tensor, from an output of one node to an input port
of another). It expresses everything Keras' Functional API can:

* several inputs (``InputLayer`` nodes, in node order) and several, optionally named,
  outputs (:attr:`Graph.outputs`);
* merge layers with any number of inputs: a *variadic* port takes several edges, ordered by
  the edge's ``slot``;
* layers with several named call arguments (one port each) and several outputs (an edge
  leaves a numbered output);
* one layer applied at several places with shared weights: the later applications are nodes
  whose ``shared_with`` names the node that owns the layer;
* a nested model used as a layer: a node whose ``subgraph`` is a whole :class:`Graph`;
* ``keras.ops`` applied to tensors: nodes whose type starts with ``ops.``; arguments that are
  constants rather than tensors live in ``call_args``.

The graph never changes behind its observers' backs: every mutation goes through a method
here that emits one :class:`GraphEvent`. Undoable edits wrap these methods in commands
(:mod:`studio.core.commands`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.core.code import CodeDef

INPUT_TYPE = "InputLayer"
MODEL_TYPE = "Model"
OP_PREFIX = "ops."


class GraphError(ValueError):
    """An edit the graph refuses, with a sentence that says why."""


@dataclass
class Node:
    """One layer, op or nested model on the canvas.

    Args:
        name: unique within its graph; it becomes the Keras layer name.
        type: catalog key: a ``keras.layers`` class name (``"Dense"``), ``"InputLayer"``,
            ``"Model"`` for a nested model, or ``"ops.<Class>"`` for a ``keras.ops`` operation.
        params: the layer's constructor arguments under its own config keys, only those that
            differ from the catalog default.
        position: canvas coordinates of the node's top-left corner.
        call_args: non-tensor call arguments (``use_causal_mask=True``) and, for ops, the
            constant operands (``{"x2": 3.0}`` for ``x + 3.0``).
        shared_with: name of the node whose layer (and weights) this node applies again.
        subgraph: for ``type == "Model"``, the nested network.
        block: for a Model node that uses a block definition: the definition's name in the
            root graph's :attr:`Graph.blocks`; ``subgraph`` is then that very Graph object
            (shared by every use, see :meth:`Graph.link_blocks`).
    """

    name: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)
    call_args: dict[str, Any] = field(default_factory=dict)
    shared_with: str | None = None
    subgraph: Graph | None = None
    block: str | None = None

    @property
    def is_input(self) -> bool:
        return self.type == INPUT_TYPE

    @property
    def is_op(self) -> bool:
        return self.type.startswith(OP_PREFIX)

    def copy(self) -> Node:
        return Node(
            name=self.name,
            type=self.type,
            params=copy.deepcopy(self.params),
            position=tuple(self.position),
            call_args=copy.deepcopy(self.call_args),
            shared_with=self.shared_with,
            # A block use keeps pointing at its definition (Graph.copy re-links it).
            subgraph=(
                self.subgraph
                if self.block is not None or self.subgraph is None
                else self.subgraph.copy()
            ),
            block=self.block,
        )


def detached_copy(node: Node) -> Node:
    """A deep copy of ``node`` tied to no block definition, at any depth: ``block`` is
    cleared on it and on every node of its nested graphs, each of which is copied too (a
    pasted block use becomes a plain nested model that owns all its content)."""
    new = node.copy()
    new.block = None
    if node.subgraph is not None:
        new.subgraph = _detached_graph(node.subgraph)
    return new


def _detached_graph(graph: Graph) -> Graph:
    g = Graph(graph.name)
    g.style = graph.style
    g._nodes = {n.name: detached_copy(n) for n in graph._nodes.values()}
    g._edges = list(graph._edges)
    g.outputs = list(graph.outputs)
    return g


@dataclass(frozen=True, order=True)
class Edge:
    """A tensor from output ``src_output`` of ``src`` into port ``dst_port`` of ``dst``.

    ``slot`` orders the edges of a variadic port (Concatenate's inputs); it is 0 elsewhere.
    """

    src: str
    src_output: int
    dst: str
    dst_port: str
    slot: int = 0

    @property
    def target(self) -> tuple[str, str, int]:
        return (self.dst, self.dst_port, self.slot)


@dataclass(frozen=True)
class Output:
    """One model output: output ``index`` of ``node``, under an optional ``name``."""

    node: str
    index: int = 0
    name: str | None = None


@dataclass(frozen=True)
class GraphEvent:
    """What changed. ``kind`` is one of ``node_added``, ``node_removed``, ``node_changed``,
    ``node_renamed``, ``node_moved``, ``edge_added``, ``edge_removed``, ``outputs_changed``,
    ``code_changed`` (``node`` is the code definition's name, ``old`` its old name when the
    class was renamed), ``reset``. ``node`` is the node's (new) name, ``old`` the old name on a rename, ``edge``
    the edge, ``keys`` the parameter keys that changed, ``path`` the nested graph it
    happened in (empty for this graph)."""

    kind: str
    node: str | None = None
    old: str | None = None
    edge: Edge | None = None
    keys: tuple[str, ...] = ()
    # Where the change happened: () for this graph, else the Model node names leading to
    # the nested graph (events forwarded by commands.InSubgraph).
    path: tuple[str, ...] = ()


Listener = Callable[[GraphEvent], None]


class Graph:
    """A network: nodes in a stable order, edges, and the ordered model outputs."""

    def __init__(self, name: str = "model") -> None:
        self.name = name
        # How a nested graph compiles: "functional" or "sequential" (a single chain).
        self.style = "functional"
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        self.outputs: list[Output] = []
        self._listeners: list[Listener] = []
        # Block definitions (root graph only), by name; uses are Model nodes whose ``block``
        # names one and whose ``subgraph`` is that Graph object.
        self.blocks: dict[str, Graph] = {}
        # Custom layers, losses and metrics written as code (root graph only), by name; see
        # studio.core.code. trusted_code: whether that code may run (a runtime flag, never
        # saved; False after loading a file until the user trusts it).
        self.code: dict[str, CodeDef] = {}
        self.trusted_code: bool = False

    # ----------------------------------------------------------------- observation
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: GraphEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # ----------------------------------------------------------------- reading
    @property
    def nodes(self) -> list[Node]:
        return list(self._nodes.values())

    @property
    def edges(self) -> list[Edge]:
        return list(self._edges)

    def node(self, name: str) -> Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise GraphError(f"There is no node named '{name}'.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __iter__(self) -> Iterator[Node]:
        return iter(list(self._nodes.values()))

    def __len__(self) -> int:
        return len(self._nodes)

    def index_of(self, name: str) -> int:
        return list(self._nodes).index(name)

    @property
    def input_nodes(self) -> list[Node]:
        return [n for n in self._nodes.values() if n.is_input]

    def in_edges(self, name: str) -> list[Edge]:
        return [e for e in self._edges if e.dst == name]

    def out_edges(self, name: str) -> list[Edge]:
        return [e for e in self._edges if e.src == name]

    def edges_of(self, name: str) -> list[Edge]:
        return [e for e in self._edges if e.src == name or e.dst == name]

    def unique_name(self, base: str) -> str:
        """``base`` if free, else ``base_1``, ``base_2``, ... as Keras names layers."""
        if base not in self._nodes:
            return base
        i = 1
        while f"{base}_{i}" in self._nodes:
            i += 1
        return f"{base}_{i}"

    def to_networkx(self):
        """A ``networkx.MultiDiGraph`` of the nodes and edges (node attribute ``node``)."""
        import networkx as nx

        g = nx.MultiDiGraph()
        for n in self._nodes.values():
            g.add_node(n.name, node=n)
        for e in self._edges:
            g.add_edge(e.src, e.dst, edge=e)
        return g

    def topological_order(self) -> list[str]:
        """Node names, sources first; ties broken by node order. Raises on a cycle."""
        import networkx as nx

        order = {name: i for i, name in enumerate(self._nodes)}
        g = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        g.add_edges_from((e.src, e.dst) for e in self._edges)
        try:
            return list(nx.lexicographical_topological_sort(g, key=order.__getitem__))
        except nx.NetworkXUnfeasible:
            raise GraphError("The graph has a cycle.") from None

    def would_create_cycle(self, src: str, dst: str) -> list[str] | None:
        """The path ``dst -> ... -> src`` an edge ``src -> dst`` would close, else None."""
        if src == dst:
            return [src]
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        g.add_edges_from((e.src, e.dst) for e in self._edges)
        try:
            return nx.shortest_path(g, dst, src)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None

    def downstream(self, names: set[str] | list[str]) -> set[str]:
        """The given nodes and every node that depends on them."""
        result = set(names)
        frontier = list(names)
        succ: dict[str, list[str]] = {}
        for e in self._edges:
            succ.setdefault(e.src, []).append(e.dst)
        for n in self._nodes.values():
            if n.shared_with:
                succ.setdefault(n.shared_with, []).append(n.name)
        while frontier:
            cur = frontier.pop()
            for nxt in succ.get(cur, ()):
                if nxt not in result:
                    result.add(nxt)
                    frontier.append(nxt)
        return result

    # ----------------------------------------------------------------- mutation
    def add_node(self, node: Node, index: int | None = None) -> Node:
        if not node.name or not isinstance(node.name, str):
            raise GraphError("A node needs a name.")
        if node.name in self._nodes:
            raise GraphError(f"A node named '{node.name}' already exists.")
        if index is None or index >= len(self._nodes):
            self._nodes[node.name] = node
        else:
            items = list(self._nodes.items())
            items.insert(index, (node.name, node))
            self._nodes = dict(items)
        self._emit(GraphEvent("node_added", node=node.name))
        return node

    def remove_node(self, name: str) -> Node:
        """Remove a node that has no edges left (commands remove its edges first)."""
        node = self.node(name)
        if self.edges_of(name):
            raise GraphError(f"Node '{name}' still has connections; remove them first.")
        del self._nodes[name]
        self._emit(GraphEvent("node_removed", node=name))
        return node

    def add_edge(self, edge: Edge) -> Edge:
        for end in (edge.src, edge.dst):
            if end not in self._nodes:
                raise GraphError(f"There is no node named '{end}'.")
        if edge in self._edges:
            raise GraphError(
                f"'{edge.src}' is already connected to '{edge.dst}.{edge.dst_port}'."
            )
        self._edges.append(edge)
        self._emit(GraphEvent("edge_added", edge=edge))
        return edge

    def remove_edge(self, edge: Edge) -> Edge:
        try:
            self._edges.remove(edge)
        except ValueError:
            raise GraphError(
                f"There is no connection from '{edge.src}' to '{edge.dst}.{edge.dst_port}'."
            ) from None
        self._emit(GraphEvent("edge_removed", edge=edge))
        return edge

    def set_params(self, name: str, params: dict[str, Any]) -> None:
        """Replace a node's non-default parameters."""
        node = self.node(name)
        keys = tuple(sorted(set(node.params) ^ set(params) | {
            k for k in set(node.params) & set(params) if node.params[k] != params[k]
        }))
        if not keys:
            return
        node.params = copy.deepcopy(params)
        self._emit(GraphEvent("node_changed", node=name, keys=keys))

    def set_call_args(self, name: str, call_args: dict[str, Any]) -> None:
        node = self.node(name)
        if node.call_args == call_args:
            return
        node.call_args = copy.deepcopy(call_args)
        self._emit(GraphEvent("node_changed", node=name, keys=("call_args",)))

    def set_shared_with(self, name: str, owner: str | None) -> None:
        node = self.node(name)
        if node.shared_with == owner:
            return
        node.shared_with = owner
        self._emit(GraphEvent("node_changed", node=name, keys=("shared_with",)))

    def set_subgraph(self, name: str, subgraph: Graph | None) -> None:
        node = self.node(name)
        node.subgraph = subgraph
        self._emit(GraphEvent("node_changed", node=name, keys=("subgraph",)))

    def move_node(self, name: str, position: tuple[float, float]) -> None:
        node = self.node(name)
        position = (float(position[0]), float(position[1]))
        if node.position == position:
            return
        node.position = position
        self._emit(GraphEvent("node_moved", node=name))

    def rename_node(self, old: str, new: str) -> None:
        """Rename a node and everything that refers to it (edges, outputs, sharers)."""
        if old == new:
            return
        node = self.node(old)
        if not new:
            raise GraphError("A node needs a name.")
        if new in self._nodes:
            raise GraphError(f"A node named '{new}' already exists.")
        node.name = new
        self._nodes = {(new if k == old else k): v for k, v in self._nodes.items()}
        self._edges = [
            Edge(
                new if e.src == old else e.src,
                e.src_output,
                new if e.dst == old else e.dst,
                e.dst_port,
                e.slot,
            )
            for e in self._edges
        ]
        self.outputs = [
            Output(new, o.index, o.name) if o.node == old else o for o in self.outputs
        ]
        for n in self._nodes.values():
            if n.shared_with == old:
                n.shared_with = new
        self._emit(GraphEvent("node_renamed", node=new, old=old))

    def set_outputs(self, outputs: list[Output]) -> None:
        for o in outputs:
            if o.node not in self._nodes:
                raise GraphError(f"There is no node named '{o.node}' to use as an output.")
        if list(outputs) == self.outputs:
            return
        self.outputs = list(outputs)
        self._emit(GraphEvent("outputs_changed"))

    def set_code(self, name: str, code: CodeDef | None) -> None:
        """Add, replace (in place) or, with None, remove the code definition ``name``.
        A ``code`` whose name differs from ``name`` takes its place under the new name."""
        if code is None:
            if name not in self.code:
                return
            del self.code[name]
        elif code.name == name or name not in self.code:
            if self.code.get(code.name) == code:
                return
            self.code[code.name] = code
        else:
            if code.name in self.code:
                raise GraphError(f"Code named '{code.name}' already exists.")
            self.code = {
                (code.name if k == name else k): (code if k == name else v)
                for k, v in self.code.items()
            }
        renamed = code is not None and code.name != name
        self._emit(
            GraphEvent(
                "code_changed",
                node=name if code is None else code.name,
                old=name if renamed else None,
            )
        )

    def set_type(self, name: str, type_: str) -> None:
        """Change a node's type (a custom layer's class was renamed)."""
        node = self.node(name)
        if node.type == type_:
            return
        node.type = type_
        self._emit(GraphEvent("node_changed", node=name, keys=("type",)))

    def replace_with(self, other: Graph) -> None:
        """Take over the content of ``other`` (used by undo of whole-graph edits). The code
        definitions are taken too; ``trusted_code`` stays: trust belongs to the open
        document, not to one state of its content."""
        self.name = other.name
        self.style = other.style
        self.code = dict(other.code)
        self._nodes = {n.name: n.copy() for n in other.nodes}
        self._edges = list(other.edges)
        self.outputs = list(other.outputs)
        # A definition that stays keeps its object (nodes held by undo commands point at it).
        blocks: dict[str, Graph] = {}
        for k, v in other.blocks.items():
            mine = self.blocks.get(k)
            if mine is not None and mine is not v:
                mine.replace_with(v)
                blocks[k] = mine
            else:
                blocks[k] = v.copy()
        self.blocks = blocks
        self.link_blocks()
        self._emit(GraphEvent("reset"))

    def link_blocks(self) -> None:
        """Point every block use (in this graph, its nested graphs and the definitions) at
        the definition of that name in :attr:`blocks`, so that all uses share one Graph."""
        if not self.blocks:
            return
        seen: set[int] = set()

        def visit(g: Graph) -> None:
            if id(g) in seen:
                return
            seen.add(id(g))
            for n in g._nodes.values():
                if n.block is not None and n.block in self.blocks:
                    n.subgraph = self.blocks[n.block]
                if n.subgraph is not None:
                    visit(n.subgraph)

        visit(self)
        for definition in self.blocks.values():
            visit(definition)

    # ----------------------------------------------------------------- comparison
    def copy(self) -> Graph:
        g = Graph(self.name)
        g.style = self.style
        g._nodes = {n.name: n.copy() for n in self._nodes.values()}
        g._edges = list(self._edges)
        g.outputs = list(self.outputs)
        g.blocks = {k: v.copy() for k, v in self.blocks.items()}
        g.link_blocks()
        g.code = dict(self.code)
        g.trusted_code = self.trusted_code
        return g

    def signature(self) -> tuple:
        """A hashable, order-insensitive-for-edges description used for equality."""
        return (
            self.name,
            self.style,
            tuple(
                (
                    n.name,
                    n.type,
                    _freeze(n.params),
                    tuple(round(p, 1) for p in n.position),
                    _freeze(n.call_args),
                    n.shared_with,
                    n.subgraph.signature() if n.subgraph is not None else None,
                    n.block,
                )
                for n in self._nodes.values()
            ),
            tuple(sorted(self._edges)),
            tuple(self.outputs),
            tuple(self.code.values()),
            tuple(sorted((k, v.signature()) for k, v in self.blocks.items())),
        )

    def structure(self) -> tuple:
        """Like :meth:`signature` but without positions and with nodes in name order
        (input nodes keep their order: it is the model's input order). Two graphs with the
        same structure compile to the same Keras model."""
        return (
            self.style,
            tuple(n.name for n in self._nodes.values() if n.is_input),
            tuple(
                sorted(
                    (
                        n.name,
                        n.type,
                        _freeze(n.params),
                        _freeze(n.call_args),
                        n.shared_with,
                        n.subgraph.structure() if n.subgraph is not None else None,
                        n.block,
                    )
                    for n in self._nodes.values()
                )
            ),
            tuple(sorted(self._edges)),
            tuple(self.outputs),
            tuple(sorted((c.name, c.kind, c.source) for c in self.code.values())),
            tuple(sorted((k, v.structure()) for k, v in self.blocks.items())),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Graph) and self.signature() == other.signature()

    def __repr__(self) -> str:
        return f"<Graph {self.name!r}: {len(self._nodes)} nodes, {len(self._edges)} edges>"


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value
