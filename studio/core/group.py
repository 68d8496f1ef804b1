"""Group nodes into a nested model node, and ungroup it again (pure Python).

Grouping replaces the selected nodes with one ``Model`` node whose subgraph holds them.
Every tensor that enters the selection from outside becomes an ``InputLayer`` of the
subgraph (one per distinct source tensor, named after it), and every tensor that leaves it,
or is a model output, becomes an output of the subgraph. Ungrouping inlines the subgraph
again. Group then ungroup gives back the original graph.

A subgraph's InputLayer needs the shape of the tensor it stands for; the pure model does not
know shapes, so the caller (the editor, which has them from shape inference) passes them.
"""

from __future__ import annotations

from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Edge, Graph, GraphError, Node, Output

TensorRef = tuple[str, int]  # (node, output index)


def group_graph(
    graph: Graph,
    names: list[str],
    group_name: str,
    shapes: dict[TensorRef, list[int | None]] | None = None,
) -> Graph:
    """A copy of ``graph`` with ``names`` grouped into one Model node ``group_name``.

    Args:
        shapes: the shape (without the batch axis) of each tensor that enters the group,
            keyed by (source node, output index). A missing shape raises GraphError.

    Raises:
        GraphError: nothing selected, an InputLayer selected, a name taken, or a shape unknown.
    """
    shapes = shapes or {}
    selected = [n for n in graph.nodes if n.name in set(names)]
    if not selected:
        raise GraphError("Select the nodes to group first.")
    if any(n.is_input for n in selected):
        raise GraphError("Model inputs cannot be grouped; leave the InputLayer nodes out.")
    chosen = {n.name for n in selected}
    if group_name in graph and group_name not in chosen:
        raise GraphError(f"A node named '{group_name}' already exists.")
    for n in graph.nodes:
        if n.shared_with in chosen and n.name not in chosen:
            raise GraphError(
                f"'{n.name}' shares the layer of '{n.shared_with}'; group both or neither."
            )

    inner = Graph(group_name)
    entering: dict[TensorRef, str] = {}
    for e in graph.edges:
        if e.dst in chosen and e.src not in chosen and (e.src, e.src_output) not in entering:
            ref = (e.src, e.src_output)
            if ref not in shapes:
                raise GraphError(
                    f"The shape of the tensor from '{e.src}' is not known yet; "
                    "wait for shapes, then group."
                )
            base = e.src if e.src_output == 0 else f"{e.src}_{e.src_output}"
            entering[ref] = base
    taken = set(chosen)
    for ref, base in list(entering.items()):
        name = base
        i = 1
        while name in taken:
            name = f"{base}_in" if i == 1 else f"{base}_in{i}"
            i += 1
        taken.add(name)
        entering[ref] = name
        inner.add_node(
            Node(
                name, INPUT_TYPE, {"shape": list(shapes[ref])}, position=graph.node(ref[0]).position
            )
        )
    for n in selected:
        inner.add_node(n.copy())
    for e in graph.edges:
        if e.dst in chosen:
            src = e.src if e.src in chosen else entering[(e.src, e.src_output)]
            out = e.src_output if e.src in chosen else 0
            inner.add_edge(Edge(src, out, e.dst, e.dst_port, e.slot))

    leaving: list[TensorRef] = []
    for e in graph.edges:
        if e.src in chosen and e.dst not in chosen and (e.src, e.src_output) not in leaving:
            leaving.append((e.src, e.src_output))
    for o in graph.outputs:
        if o.node in chosen and (o.node, o.index) not in leaving:
            leaving.append((o.node, o.index))
    inner.set_outputs([Output(n, i) for n, i in leaving])

    xs = [n.position[0] for n in selected]
    ys = [n.position[1] for n in selected]
    group = Node(
        group_name,
        MODEL_TYPE,
        position=(sum(xs) / len(xs), sum(ys) / len(ys)),
        subgraph=inner,
    )
    out_index = {ref: i for i, ref in enumerate(leaving)}

    result = Graph(graph.name)
    result.style = graph.style
    # Whole-graph content that is not nodes: block definitions and custom code.
    result.blocks = dict(graph.blocks)
    result.code = dict(getattr(graph, "code", {}))
    placed = False
    for n in graph.nodes:
        if n.name in chosen:
            if not placed:
                result.add_node(group)
                placed = True
            continue
        result.add_node(n.copy())
    for e in graph.edges:
        if e.src in chosen and e.dst in chosen:
            continue
        if e.dst in chosen:
            ref = (e.src, e.src_output)
            edge = Edge(e.src, e.src_output, group_name, entering[ref], 0)
            if edge not in result.edges:
                result.add_edge(edge)
        elif e.src in chosen:
            result.add_edge(
                Edge(group_name, out_index[(e.src, e.src_output)], e.dst, e.dst_port, e.slot)
            )
        else:
            result.add_edge(e)
    result.set_outputs(
        [
            Output(group_name, out_index[(o.node, o.index)], o.name) if o.node in chosen else o
            for o in graph.outputs
        ]
    )
    return result


def ungroup_graph(graph: Graph, name: str) -> Graph:
    """A copy of ``graph`` with the Model node ``name`` replaced by its subgraph's nodes."""
    group = graph.node(name)
    if group.type != MODEL_TYPE or group.subgraph is None:
        raise GraphError(f"'{name}' is not a nested model.")
    inner = group.subgraph
    inner_inputs = {n.name for n in inner.input_nodes}
    clash = [
        n.name
        for n in inner.nodes
        if n.name not in inner_inputs and n.name in graph and n.name != name
    ]
    if clash:
        raise GraphError(
            f"Ungrouping '{name}' would give two nodes named '{clash[0]}'; rename one first."
        )
    # Which outer tensor feeds each inner input.
    feeds: dict[str, tuple[str, int]] = {}
    for e in graph.in_edges(name):
        feeds[e.dst_port] = (e.src, e.src_output)

    result = Graph(graph.name)
    result.style = graph.style
    # Whole-graph content that is not nodes: block definitions and custom code.
    result.blocks = dict(graph.blocks)
    result.code = dict(getattr(graph, "code", {}))
    for n in graph.nodes:
        if n.name == name:
            for m in inner.nodes:
                if m.name not in inner_inputs:
                    result.add_node(m.copy())
            continue
        result.add_node(n.copy())
    for e in inner.edges:
        if e.src in inner_inputs:
            if e.src not in feeds:
                raise GraphError(f"Input '{e.src}' of '{name}' is not connected.")
            src, out = feeds[e.src]
            result.add_edge(Edge(src, out, e.dst, e.dst_port, e.slot))
        else:
            result.add_edge(e)
    for e in graph.edges:
        if e.dst == name:
            continue
        if e.src == name:
            o = inner.outputs[e.src_output]
            result.add_edge(Edge(o.node, o.index, e.dst, e.dst_port, e.slot))
        else:
            result.add_edge(e)
    outputs = []
    for o in graph.outputs:
        if o.node == name:
            inner_out = inner.outputs[o.index]
            outputs.append(Output(inner_out.node, inner_out.index, o.name))
        else:
            outputs.append(o)
    result.set_outputs(outputs)
    return result
