"""Copy and paste of nodes (studio.ui.canvas.clipboard, pure Python)."""

from studio.core.blocks import group_into_block
from studio.core.commands import UndoStack
from studio.core.graph import Edge, Graph, Node, Output, detached_copy
from studio.project.io import Project, load_project, save_project
from studio.ui.canvas.clipboard import (
    parse_payload,
    paste_command,
    payload_text,
    selection_payload,
)


def _chain() -> Graph:
    g = Graph("net")
    g.add_node(Node("x", "InputLayer", {"shape": [8]}, position=(0, 0)))
    g.add_node(Node("dense", "Dense", {"units": 4}, position=(0, 100)))
    g.add_node(Node("relu", "ReLU", position=(0, 200)))
    g.add_node(Node("out", "Dense", {"units": 2}, position=(0, 300)))
    g.add_edge(Edge("x", 0, "dense", "inputs"))
    g.add_edge(Edge("dense", 0, "relu", "inputs"))
    g.add_edge(Edge("relu", 0, "out", "inputs"))
    g.set_outputs([Output("out")])
    return g


def _nested_blocks() -> Graph:
    """``x -> outer`` where the block ``outer`` holds a use of the block ``inner``."""
    g = group_into_block(_chain(), [], ["dense", "relu"], "inner", {("x", 0): [8]})
    g = group_into_block(g, [], ["inner", "out"], "outer", {("x", 0): [8]})
    assert g.node("outer").subgraph.node("inner").block == "inner"
    return g


def _paste(target: Graph, source: Graph, names: list[str]) -> list[str]:
    copied = parse_payload(payload_text(selection_payload(source, names)))
    assert copied is not None
    command, pasted = paste_command(target, copied, (10.0, 10.0))
    UndoStack(target).push(command)
    return pasted


def _blocks_inside(graph: Graph) -> list[str]:
    found = []
    for node in graph.nodes:
        if node.block is not None:
            found.append(node.name)
        if node.subgraph is not None:
            found += [f"{node.name}/{n}" for n in _blocks_inside(node.subgraph)]
    return found


def test_a_use_holding_a_use_pastes_detached_and_the_file_reopens(tmp_path):
    source = _nested_blocks()
    target = Graph("other")
    target.add_node(Node("x", "InputLayer", {"shape": [8]}))
    [name] = _paste(target, source, ["outer"])
    pasted = target.node(name)
    assert pasted.block is None and _blocks_inside(target) == []
    inner = pasted.subgraph.node("inner")
    assert inner.block is None and inner.subgraph is not source.blocks["inner"]
    assert inner.subgraph.structure()[1:] == source.blocks["inner"].structure()[1:]
    path = save_project(Project("p", target), tmp_path / "p.studio")
    back = load_project(path).graph
    assert back.structure() == target.structure()


def test_a_pasted_inner_use_is_not_relinked_to_the_targets_block_of_that_name():
    source = _nested_blocks()
    # The target has a block also named "inner", with other content (Dense 3).
    target = Graph("net")
    target.add_node(Node("x", "InputLayer", {"shape": [8]}))
    target.add_node(Node("d", "Dense", {"units": 3}))
    target.add_edge(Edge("x", 0, "d", "inputs"))
    target.set_outputs([Output("d")])
    target = group_into_block(target, [], ["d"], "inner", {("x", 0): [8]})
    theirs = target.blocks["inner"]
    [name] = _paste(target, source, ["outer"])
    inner = target.node(name).subgraph.node("inner")
    assert inner.block is None and inner.subgraph is not theirs
    assert [n.type for n in inner.subgraph.nodes] == ["InputLayer", "Dense", "ReLU"]
    assert inner.subgraph.node("dense").params == {"units": 4}
    assert target.blocks["inner"] is theirs and len(theirs.nodes) == 2


def test_detached_copy_owns_every_level():
    source = _nested_blocks()
    copy = detached_copy(source.node("outer"))
    assert copy.block is None and copy.subgraph is not source.blocks["outer"]
    inner = copy.subgraph.node("inner")
    assert inner.block is None and inner.subgraph is not source.blocks["inner"]
    inner.subgraph.node("dense").params["units"] = 99
    assert source.blocks["inner"].node("dense").params == {"units": 4}
    # The source is left as it was.
    assert source.node("outer").block == "outer"
    assert source.blocks["outer"].node("inner").block == "inner"
