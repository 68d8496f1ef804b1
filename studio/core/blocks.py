"""Reusable blocks: one nested-graph definition, used by several Model nodes (pure Python).

A *block definition* is a :class:`Graph` kept by name in the root graph's
:attr:`~studio.core.graph.Graph.blocks`. A *use* is a ``Model`` node whose ``block`` names the
definition and whose ``subgraph`` is that very Graph object (see
:meth:`~studio.core.graph.Graph.link_blocks`), so an edit made through any use changes every
use.

Every whole-graph block edit here (group, ungroup, insert, make unique) returns a new root
graph, which the editor applies as one undoable :class:`~studio.core.commands.ReplaceGraph`.
Definitions no use refers to any more are dropped by those edits (:func:`prune_blocks`).

A Model node (a use or a plain nested model) compiles either as a nested ``keras.Model``
(``params["compile"]`` missing or ``"nested"``) or *inline*: :func:`expand_inline` puts its
layers in the enclosing graph, named ``<node>_<inner layer>`` (``conv_1_conv`` for layer
``conv`` of the use ``conv_1``; ``_1``, ``_2``... added if that name is taken). Use names are
unique in their graph, so a block used twice inline gives unique layer names.
"""

from __future__ import annotations

from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Edge, Graph, GraphError, Node, Output

COMPILE_KEY = "compile"
COMPILE_MODES = ("nested", "inline")


# ===================================================================== reading
def graph_at(root: Graph, path: list[str] | tuple[str, ...]) -> Graph:
    """The nested graph reached from ``root`` through the Model nodes ``path``."""
    graph = root
    for name in path:
        node = graph.node(name)
        if node.subgraph is None:
            raise GraphError(f"'{name}' is not a nested model.")
        graph = node.subgraph
    return graph


def is_inline(graph: Graph, node: Node) -> bool:
    """Whether the Model node ``node`` (or the Model node it shares) compiles inline."""
    if node.type != MODEL_TYPE:
        return False
    owner = graph.node(node.shared_with) if node.shared_with in graph else node
    return owner.params.get(COMPILE_KEY) == "inline" and owner.subgraph is not None


def uses(root: Graph) -> list[tuple[tuple[str, ...], Node]]:
    """Every block use in ``root`` and its nested graphs, as (path of its graph, node).
    Uses inside definitions are not listed (they are reached through the definition's uses)."""
    out: list[tuple[tuple[str, ...], Node]] = []

    def visit(g: Graph, path: tuple[str, ...], depth: int) -> None:
        if depth > 32:
            return
        for n in g.nodes:
            if n.block is not None:
                out.append((path, n))
            if n.subgraph is not None:
                visit(n.subgraph, (*path, n.name), depth + 1)

    visit(root, (), 0)
    return out


def use_count(root: Graph, block: str) -> int:
    return sum(1 for _path, n in uses(root) if n.block == block)


def blocks_used(graph: Graph, root: Graph | None = None, depth: int = 0) -> set[str]:
    """Names of the blocks ``graph`` uses, directly or through nested graphs and definitions."""
    found: set[str] = set()
    if depth > 32:
        return found
    for n in graph.nodes:
        if n.block is not None and n.block not in found:
            found.add(n.block)
            definition = (root.blocks.get(n.block) if root is not None else None) or n.subgraph
            if definition is not None:
                found |= blocks_used(definition, root, depth + 1)
        elif n.subgraph is not None:
            found |= blocks_used(n.subgraph, root, depth + 1)
    return found


def direct_uses(graph: Graph, depth: int = 0) -> set[str]:
    """Names of the blocks used in ``graph`` itself or its plain nested graphs, not looking
    into any definition (safe on definitions that use each other in a cycle)."""
    found: set[str] = set()
    if depth > 32:
        return found
    for n in graph.nodes:
        if n.block is not None:
            found.add(n.block)
        elif n.subgraph is not None:
            found |= direct_uses(n.subgraph, depth + 1)
    return found


def block_cycle(blocks: dict[str, Graph]) -> list[str] | None:
    """Block definitions that use themselves, directly (``["a"]``) or through others
    (``["a", "b"]``: a uses b, which uses a); None when there is no such cycle."""
    import networkx as nx

    g = nx.DiGraph()
    for name in sorted(blocks):
        g.add_node(name)
        for used in sorted(direct_uses(blocks[name])):
            g.add_edge(name, used)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    return [u for u, _v in cycle]


def cycle_message(cycle: list[str]) -> str:
    """A sentence about a :func:`block_cycle`."""
    if len(cycle) == 1:
        return f"Block '{cycle[0]}' uses itself; a block cannot contain itself."
    chain = " → ".join(f"'{b}'" for b in [*cycle, cycle[0]])
    return f"Blocks {chain} use each other in a cycle; a block cannot contain itself."


def definitions_of(graph: Graph) -> dict[str, Graph]:
    """The definitions the uses in ``graph`` (and nested in it) point at, by block name: what
    a part of a graph copied elsewhere (the clipboard) needs to be read back."""
    found: dict[str, Graph] = {}

    def visit(g: Graph, depth: int) -> None:
        if depth > 32:
            return
        for n in g.nodes:
            if n.subgraph is None:
                continue
            if n.block is not None:
                if n.block in found:
                    continue
                found[n.block] = n.subgraph
            visit(n.subgraph, depth + 1)

    visit(graph, 0)
    return found


def prune_blocks(root: Graph) -> None:
    """Drop the definitions that nothing in ``root`` uses any more (in place, no event)."""
    keep = blocks_used(root, root)
    root.blocks = {k: v for k, v in root.blocks.items() if k in keep}


def free_block_name(root: Graph, base: str, graph: Graph | None = None) -> str:
    """``base`` or ``base_1``, ``base_2``...: free as a block name and as a node name of
    ``graph`` (a new use is named like its block)."""
    base = base or "block"
    name, i = base, 1
    while name in root.blocks or (graph is not None and name in graph):
        name = f"{base}_{i}"
        i += 1
    return name


def _take_content(dst: Graph, src: Graph) -> None:
    """Nodes, edges and outputs of ``src`` into ``dst`` (no event; a copy being prepared)."""
    dst._nodes = {n.name: n.copy() for n in src.nodes}
    dst._edges = list(src.edges)
    dst.outputs = list(src.outputs)
    dst.style = src.style


# ===================================================================== whole-graph edits
def group_into_block(
    root: Graph,
    path: list[str],
    names: list[str],
    block_name: str,
    shapes: dict[tuple[str, int], list[int | None]] | None = None,
) -> Graph:
    """A copy of ``root`` where ``names`` (in the graph at ``path``) became one use, named
    ``block_name``, of a new definition ``block_name``."""
    from studio.core.group import group_graph

    new = root.copy()
    target = graph_at(new, path)
    if block_name in new.blocks:
        raise GraphError(f"A block named '{block_name}' already exists.")
    grouped = group_graph(target, names, block_name, shapes)
    node = grouped.node(block_name)
    definition = node.subgraph
    assert definition is not None
    definition.name = block_name
    node.block = block_name
    new.blocks[block_name] = definition
    _take_content(target, grouped)
    new.link_blocks()
    return new


def ungroup_block(root: Graph, path: list[str], name: str) -> Graph:
    """A copy of ``root`` where the Model node ``name`` (a use or a plain nested model) is
    replaced by its layers; a definition left without uses is dropped."""
    from studio.core.group import ungroup_graph

    new = root.copy()
    target = graph_at(new, path)
    _take_content(target, ungroup_graph(target, name))
    new.link_blocks()
    prune_blocks(new)
    return new


def make_unique(root: Graph, path: list[str], name: str) -> Graph:
    """A copy of ``root`` where the use ``name`` holds its own copy of the definition (a
    plain nested model, edited on its own from now on)."""
    new = root.copy()
    target = graph_at(new, path)
    node = target.node(name)
    if node.block is None or node.subgraph is None:
        raise GraphError(f"'{name}' is not a block use.")
    node.subgraph = node.subgraph.copy()
    node.subgraph.name = name
    node.block = None
    prune_blocks(new)
    return new


def _inside_blocks(root: Graph, path: list[str]) -> set[str]:
    """The blocks whose definitions the graph at ``path`` lies in."""
    inside: set[str] = set()
    graph = root
    for name in path:
        node = graph.node(name)
        if node.block is not None:
            inside.add(node.block)
        graph = node.subgraph
    return inside


def _bare_structure(graph: Graph) -> tuple:
    c = graph.copy()
    c.blocks = {}
    return c.structure()


def _rename_uses(graph: Graph, renames: dict[str, str], depth: int = 0) -> None:
    for n in graph.nodes:
        if n.block in renames:
            n.block = renames[n.block]
        elif n.subgraph is not None and n.block is None and depth < 32:
            _rename_uses(n.subgraph, renames, depth + 1)


def add_definition(root: Graph, name: str, definition: Graph) -> str:
    """Add ``definition`` to ``root.blocks`` (in place) and return the name it has there: an
    equal definition of that name is reused; a different one gets the name ``name_1``...
    The definitions it uses (its own ``blocks``, as a library file has them) are added the
    same way first."""
    cycle = block_cycle({name: definition, **definition.blocks} if name not in definition.blocks
                        else definition.blocks)  # fmt: skip
    if cycle is not None:
        raise GraphError(cycle_message(cycle))
    definition = definition.copy()
    deps, definition.blocks = definition.blocks, {}
    renames = {}
    for dep in sorted(deps):
        got = add_definition(root, dep, deps[dep])
        if got != dep:
            renames[dep] = got
    if renames:
        _rename_uses(definition, renames)
    existing = root.blocks.get(name)
    if existing is not None and _bare_structure(existing) == _bare_structure(definition):
        return name
    name = free_block_name(root, name)
    definition.name = name
    root.blocks[name] = definition
    root.link_blocks()
    return name


def insert_block(
    root: Graph,
    path: list[str],
    block: str,
    position: tuple[float, float],
    definition: Graph | None = None,
) -> tuple[Graph, str]:
    """A copy of ``root`` with a new use of ``block`` in the graph at ``path``, and the use's
    name. With ``definition`` (a block from the library) it is added first, renamed if a
    different definition has that name."""
    new = root.copy()
    if definition is not None:
        block = add_definition(new, block, definition)
    if block not in new.blocks:
        raise GraphError(f"There is no block named '{block}'.")
    cycle = block_cycle(new.blocks)
    if cycle is not None:
        raise GraphError(cycle_message(cycle))
    inside = _inside_blocks(new, path)
    if inside and ({block} | blocks_used(new.blocks[block], new)) & inside:
        raise GraphError(f"Block '{block}' cannot be used inside itself.")
    target = graph_at(new, path)
    use = target.unique_name(block)
    target.add_node(
        Node(use, MODEL_TYPE, position=position, subgraph=new.blocks[block], block=block)
    )
    return new, use


def rename_block(root: Graph, old: str, new_name: str) -> Graph:
    """A copy of ``root`` with the definition ``old`` renamed (uses follow)."""
    if new_name in root.blocks:
        raise GraphError(f"A block named '{new_name}' already exists.")
    new = root.copy()
    definition = new.blocks.pop(old)
    definition.name = new_name
    new.blocks[new_name] = definition

    def visit(g: Graph, depth: int = 0) -> None:
        for n in g.nodes:
            if n.block == old:
                n.block = new_name
            elif n.subgraph is not None and depth < 32:
                visit(n.subgraph, depth + 1)

    visit(new)
    for d in new.blocks.values():
        visit(d)
    new.link_blocks()
    return new


# ===================================================================== inline compile
def _outputs_of(inner: Graph) -> list[Output]:
    """The outputs of a nested model in the order its node's outputs are numbered (a model
    with named outputs returns a dict, whose values Keras flattens in key order)."""
    if inner.outputs:
        if any(o.name for o in inner.outputs):
            return sorted(inner.outputs, key=lambda o: o.name or o.node)
        return list(inner.outputs)
    layers = [n for n in inner.topological_order() if not inner.node(n).is_input]
    return [Output(layers[-1])] if layers else []


def expand_inline(graph: Graph) -> Graph:
    """``graph`` itself when no Model node in it compiles inline, else a copy where every
    inline Model node is replaced by its layers (named ``<node>_<layer>``; its own inline
    nodes expanded first). Nested-compiled Model nodes are left as they are."""
    inline = [n.name for n in graph.nodes if is_inline(graph, n)]
    if not inline:
        return graph
    g = graph.copy()
    taken = set(g._nodes)
    inner_of: dict[str, Graph] = {}
    mapping: dict[str, dict[str, str]] = {}
    for name in inline:
        node = g.node(name)
        owner = g.node(node.shared_with) if node.shared_with else node
        if owner.name not in inner_of:
            inner_of[owner.name] = expand_inline(owner.subgraph)
        inner = inner_of[owner.name]
        names: dict[str, str] = {}
        for m in inner.nodes:
            if m.is_input:
                continue
            base = f"{name}_{m.name}"
            new, i = base, 1
            while new in taken:
                new = f"{base}_{i}"
                i += 1
            taken.add(new)
            names[m.name] = new
        mapping[name] = names

    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    # Where each output of an inlined node now comes from.
    out_ref: dict[tuple[str, int], tuple[str, int]] = {}
    for node in g.nodes:
        if node.name not in mapping:
            nodes[node.name] = node
            continue
        owner = g.node(node.shared_with) if node.shared_with else node
        inner = inner_of[owner.name]
        names = mapping[node.name]
        feeds = {e.dst_port: (e.src, e.src_output) for e in g.in_edges(node.name)}
        for m in inner.nodes:
            if m.is_input:
                continue
            c = m.copy()
            c.name = names[m.name]
            if node.shared_with:
                c.shared_with = mapping[owner.name][m.name]
            elif m.shared_with is not None:
                c.shared_with = names.get(m.shared_with, m.shared_with)
            nodes[c.name] = c
        for e in inner.edges:
            if e.dst not in names:
                continue
            if inner.node(e.src).type == INPUT_TYPE:
                if e.src not in feeds:
                    continue  # built as "nothing is connected" on the inner layer
                src, out = feeds[e.src]
            else:
                src, out = names[e.src], e.src_output
            edges.append(Edge(src, out, names[e.dst], e.dst_port, e.slot))
        for i, o in enumerate(_outputs_of(inner)):
            if o.node in names:
                out_ref[(node.name, i)] = (names[o.node], o.index)
            elif o.node in feeds:
                out_ref[(node.name, i)] = feeds[o.node]

    def resolve(src: str, out: int) -> tuple[str, int]:
        seen = 0
        while (src, out) in out_ref and seen < 64:
            src, out = out_ref[(src, out)]
            seen += 1
        return src, out

    # Edges entering an inlined node's inputs were fed through; they may come from another
    # inlined node (resolve follows them).
    edges = [Edge(*resolve(e.src, e.src_output), e.dst, e.dst_port, e.slot) for e in edges]
    for e in g.edges:
        if e.dst in mapping:
            continue
        src, out = resolve(e.src, e.src_output)
        if e.src in mapping and (e.src, e.src_output) not in out_ref:
            raise GraphError(f"Output {e.src_output} of '{e.src}' does not exist.")
        edges.append(Edge(src, out, e.dst, e.dst_port, e.slot))
    outputs = []
    for o in g.outputs:
        if o.node in mapping:
            if (o.node, o.index) not in out_ref:
                raise GraphError(f"Output {o.index} of '{o.node}' does not exist.")
            src, out = resolve(o.node, o.index)
            # A model output keeps the name the nested model's output gave it.
            outputs.append(Output(src, out, o.name))
        else:
            outputs.append(o)
    g._nodes = nodes
    g._edges = edges
    g.outputs = outputs
    return g
