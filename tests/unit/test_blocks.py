"""Reusable blocks (studio.core.blocks): definitions shared by their uses, pure Python."""

import json

import pytest

from studio.core.blocks import (
    expand_inline,
    group_into_block,
    insert_block,
    make_unique,
    ungroup_block,
    use_count,
)
from studio.core.commands import InSubgraph, ReplaceGraph, SetParam, UndoStack
from studio.core.graph import Edge, Graph, GraphError, Node, Output
from studio.project.io import Project, graph_from_dict, graph_to_dict, load_project, save_project


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


def _twice() -> Graph:
    """``x -> blk -> blk_1 -> out``: one definition ``blk`` (Dense 8 + ReLU), two uses."""
    g = Graph("net")
    g.add_node(Node("x", "InputLayer", {"shape": [8]}))
    g.add_node(Node("dense", "Dense", {"units": 8}))
    g.add_node(Node("relu", "ReLU"))
    g.add_node(Node("out", "Dense", {"units": 2}))
    g.add_edge(Edge("x", 0, "dense", "inputs"))
    g.add_edge(Edge("dense", 0, "relu", "inputs"))
    g.add_edge(Edge("relu", 0, "out", "inputs"))
    g.set_outputs([Output("out")])
    g = group_into_block(g, [], ["dense", "relu"], "blk", {("x", 0): [8]})
    g, use = insert_block(g, [], "blk", (50, 50))
    assert use == "blk_1"
    g.remove_edge(Edge("blk", 0, "out", "inputs"))
    g.add_edge(Edge("blk", 0, "blk_1", "x"))
    g.add_edge(Edge("blk_1", 0, "out", "inputs"))
    return g


def test_group_then_ungroup_gives_back_the_graph():
    g = _chain()
    grouped = group_into_block(g, [], ["dense", "relu"], "blk", {("x", 0): [8]})
    use = grouped.node("blk")
    assert use.block == "blk" and use.subgraph is grouped.blocks["blk"]
    assert [n.name for n in use.subgraph.input_nodes] == ["x"]
    back = ungroup_block(grouped, [], "blk")
    assert back.structure() == g.structure()
    assert back.blocks == {}
    # Positions of the layers come back too (the InputLayer added inside is dropped).
    assert back.signature() == g.signature()


def test_group_refuses_an_input_and_unknown_shapes():
    g = _chain()
    with pytest.raises(GraphError, match="InputLayer"):
        group_into_block(g, [], ["x", "dense"], "blk", {})
    with pytest.raises(GraphError, match="shape"):
        group_into_block(g, [], ["dense"], "blk", {})


def test_copy_relinks_uses_to_the_copied_definition():
    g = _twice()
    c = g.copy()
    assert c.node("blk").subgraph is c.blocks["blk"] is c.node("blk_1").subgraph
    assert c.blocks["blk"] is not g.blocks["blk"]
    assert c.structure() == g.structure()


def test_edit_one_use_updates_both_and_undo_restores_both():
    g = _twice()
    stack = UndoStack(g)
    events = []
    g.subscribe(events.append)
    stack.push(InSubgraph(["blk"], SetParam("dense", "units", 16)))
    assert g.node("blk").subgraph.node("dense").params["units"] == 16
    assert g.node("blk_1").subgraph.node("dense").params["units"] == 16
    # Observers of the root hear that both uses changed (the canvas redraws both).
    changed = {e.node for e in events if e.kind == "node_changed" and not e.path}
    assert changed == {"blk", "blk_1"}
    stack.undo()
    assert g.node("blk").subgraph.node("dense").params["units"] == 8
    assert g.node("blk_1").subgraph.node("dense").params["units"] == 8
    stack.redo()
    assert g.node("blk_1").subgraph.node("dense").params["units"] == 16


def test_whole_graph_undo_keeps_uses_linked():
    g = _twice()
    stack = UndoStack(g)
    stack.push(ReplaceGraph(make_unique(g, [], "blk_1"), "Make unique"))
    assert g.node("blk_1").block is None
    assert g.node("blk_1").subgraph is not g.node("blk").subgraph
    stack.undo()
    assert g.node("blk").subgraph is g.node("blk_1").subgraph is g.blocks["blk"]
    stack.push(InSubgraph(["blk_1"], SetParam("dense", "units", 3)))
    assert g.node("blk").subgraph.node("dense").params["units"] == 3


def test_make_unique_detaches_and_drops_an_unused_definition():
    g = _twice()
    g = make_unique(g, [], "blk_1")
    g = make_unique(g, [], "blk")
    assert g.blocks == {}
    stack = UndoStack(g)
    stack.push(InSubgraph(["blk"], SetParam("dense", "units", 3)))
    assert g.node("blk_1").subgraph.node("dense").params["units"] == 8


def test_save_and_reopen_keeps_uses_linked(tmp_path):
    g = _twice()
    path = tmp_path / "two.studio.json"
    save_project(Project("two", g), path)
    data = json.loads(path.read_text())
    nodes = {n["name"]: n for n in data["graph"]["nodes"]}
    assert nodes["blk"]["block"] == "blk" and "subgraph" not in nodes["blk"]
    assert list(data["graph"]["blocks"]) == ["blk"]
    project = load_project(path)
    h = project.graph
    assert h.structure() == g.structure()
    assert h.node("blk").subgraph is h.node("blk_1").subgraph is h.blocks["blk"]
    stack = UndoStack(h)
    stack.push(InSubgraph(["blk"], SetParam("dense", "units", 5)))
    assert h.node("blk_1").subgraph.node("dense").params["units"] == 5
    # Writing again gives the same bytes (canonical order, blocks sorted by name).
    save_project(project, tmp_path / "again.studio.json")
    stack.undo()
    save_project(project, tmp_path / "again.studio.json")
    assert (tmp_path / "again.studio.json").read_text() == path.read_text()


def test_a_use_of_an_undefined_block_is_refused():
    data = graph_to_dict(_twice())
    del data["blocks"]
    with pytest.raises(Exception, match="block 'blk'"):
        graph_from_dict(data)


def test_a_block_cannot_contain_itself():
    g = _twice()
    with pytest.raises(GraphError, match="inside itself"):
        insert_block(g, ["blk"], "blk", (0, 0))


def test_insert_from_a_library_renames_a_different_definition():
    g = _twice()
    other = Graph("blk")
    other.add_node(Node("i", "InputLayer", {"shape": [8]}))
    other.add_node(Node("d", "Dense", {"units": 1}))
    other.add_edge(Edge("i", 0, "d", "inputs"))
    other.set_outputs([Output("d")])
    g2, use = insert_block(g, [], "blk", (0, 0), definition=other)
    assert g2.node(use).block == "blk_1" and set(g2.blocks) == {"blk", "blk_1"}
    # An equal definition is reused.
    g3, use3 = insert_block(g, [], "blk", (0, 0), definition=g.blocks["blk"])
    assert g3.node(use3).block == "blk" and use_count(g3, "blk") == 3


def test_expand_inline_prefixes_names_of_each_use():
    g = _twice()
    assert expand_inline(g) is g  # nothing inline
    g.node("blk").params["compile"] = "inline"
    g.node("blk_1").params["compile"] = "inline"
    flat = expand_inline(g)
    names = ["x", "blk_dense", "blk_relu", "out", "blk_1_dense", "blk_1_relu"]
    assert [n.name for n in flat.nodes] == names
    assert Edge("x", 0, "blk_dense", "inputs") in flat.edges
    assert Edge("blk_relu", 0, "blk_1_dense", "inputs") in flat.edges
    assert Edge("blk_1_relu", 0, "out", "inputs") in flat.edges
    # The original graph is untouched.
    assert "blk" in g and g.node("blk").subgraph is g.blocks["blk"]


def test_library_files(tmp_path):
    from studio.project.blocks import BlockLibrary, BlockLibraryError, definition_for_library

    lib = BlockLibrary(tmp_path / "lib")
    assert lib.list() == ([], [])
    g = _twice()
    path = lib.write("blk", definition_for_library(g, "blk"), "Dense and ReLU")
    assert path.name == "blk.studio-block.json"
    data = json.loads(path.read_text())
    assert data["format"] == "studio.block" and data["version"] == 1
    block = lib.read("blk")
    assert block.description == "Dense and ReLU" and block.created
    assert block.graph.structure() == g.blocks["blk"].structure()
    (tmp_path / "lib" / "broken.studio-block.json").write_text("{not json")
    blocks, errors = lib.list()
    assert [b.name for b in blocks] == ["blk"]
    assert "broken.studio-block.json" in errors[0].message
    with pytest.raises(BlockLibraryError, match="nope.studio-block.json"):
        lib.read("nope")
    lib.delete("blk")
    assert lib.names() == []


def test_a_deleted_use_restored_by_undo_is_still_linked():
    from studio.core.commands import RemoveNode

    g = _twice()
    stack = UndoStack(g)
    stack.push(RemoveNode(g, "blk_1"))
    stack.push(ReplaceGraph(make_unique(g, [], "blk"), "Make unique"))
    stack.undo()
    stack.undo()
    assert g.node("blk_1").subgraph is g.blocks["blk"] is g.node("blk").subgraph


# ----------------------------------------------------------------------------- cycles, code


def _use(name: str, block: str) -> dict:
    return {"name": name, "type": "Model", "position": [0, 0], "params": {}, "block": block}


def _file_data() -> dict:
    from studio.project.io import project_to_dict

    return project_to_dict(Project("p", _twice()))


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_a_file_with_a_block_that_uses_itself_is_refused():
    from studio.project.io import ProjectError, loads_project

    data = _file_data()
    data["graph"]["blocks"]["blk"]["nodes"].append(_use("again", "blk"))
    text = json.dumps(data, indent=2)
    with pytest.raises(ProjectError, match="Block 'blk' uses itself") as info:
        loads_project(text, "p.studio.json")
    assert info.value.line == _line_of(text, '"blk": {')


def test_a_file_with_blocks_that_use_each_other_is_refused():
    from studio.project.io import ProjectError, loads_project

    data = _file_data()
    blocks = data["graph"]["blocks"]
    blocks["other"] = json.loads(json.dumps(blocks["blk"]))
    blocks["other"]["name"] = "other"
    blocks["other"]["nodes"].append(_use("back", "blk"))
    blocks["blk"]["nodes"].append(_use("there", "other"))
    text = json.dumps(data, indent=2)
    with pytest.raises(ProjectError, match="'blk' → 'other' → 'blk'") as info:
        loads_project(text, "p.studio.json")
    assert "cycle" in str(info.value) and info.value.line is not None
    # A use nested in a plain model inside the definition counts too.
    data = _file_data()
    inner = {"name": "inner", "nodes": [_use("deep", "blk")], "edges": [], "outputs": []}
    data["graph"]["blocks"]["blk"]["nodes"].append(
        {"name": "wrap", "type": "Model", "position": [0, 0], "params": {}, "subgraph": inner}
    )
    with pytest.raises(ProjectError, match="Block 'blk' uses itself"):
        loads_project(json.dumps(data), "p.studio.json")


def test_a_library_file_with_a_cycle_or_code_is_refused(tmp_path):
    from studio.project.blocks import BlockLibrary, BlockLibraryError, definition_for_library

    lib = BlockLibrary(tmp_path / "lib")
    path = lib.write("blk", definition_for_library(_twice(), "blk"))
    data = json.loads(path.read_text())
    good = json.loads(json.dumps(data))
    dep = json.loads(json.dumps(data["graph"]))
    dep["name"] = "dep"
    dep["nodes"].append(_use("loop", "dep"))
    data["graph"]["blocks"] = {"dep": dep}
    data["graph"]["nodes"].append(_use("use", "dep"))
    path.write_text(json.dumps(data))
    with pytest.raises(BlockLibraryError, match="Block 'dep' uses itself"):
        lib.read("blk")
    assert "uses itself" in lib.list()[1][0].message

    good["graph"]["code"] = [{"name": "f", "kind": "loss", "source": "def f(y, p):\n    return p\n"}]
    path.write_text(json.dumps(good))
    with pytest.raises(BlockLibraryError, match="top-level graph"):
        lib.read("blk")


def test_inserting_a_cyclic_definition_is_refused():
    from studio.core.blocks import add_definition

    g = _twice()
    before = set(g.blocks)
    loop = g.blocks["blk"].copy()
    loop.add_node(Node("self", "Model", subgraph=None, block="loop"))
    with pytest.raises(GraphError, match="Block 'loop' uses itself"):
        insert_block(g, [], "loop", (0, 0), definition=loop)
    a, b = g.blocks["blk"].copy(), g.blocks["blk"].copy()
    a.add_node(Node("to_b", "Model", block="b"))
    b.add_node(Node("to_a", "Model", block="a"))
    pair = _chain()
    pair.add_node(Node("use_a", "Model", block="a"))
    pair.blocks = {"a": a, "b": b}
    with pytest.raises(GraphError, match="'a' → 'b' → 'a'"):
        add_definition(g, "pair", pair)
    assert set(g.blocks) == before  # nothing was added


def test_code_in_a_nested_model_or_a_block_definition_is_refused():
    from studio.project.io import ProjectError, loads_project

    code = [{"name": "f", "kind": "loss", "source": "def f(y, p):\n    return p\n"}]
    data = _file_data()
    data["graph"]["blocks"]["blk"]["code"] = code
    text = json.dumps(data, indent=2)
    with pytest.raises(ProjectError, match="block 'blk' has \"code\"") as info:
        loads_project(text, "p.studio.json")
    assert "top-level graph" in str(info.value)
    assert info.value.line == _line_of(text, '"code"')

    data = _file_data()
    inner = {"name": "inner", "nodes": [], "edges": [], "outputs": [], "code": code}
    data["graph"]["nodes"].append(
        {"name": "wrap", "type": "Model", "position": [0, 0], "params": {}, "subgraph": inner}
    )
    with pytest.raises(ProjectError, match="model 'wrap' has \"code\"") as info:
        loads_project(json.dumps(data), "p.studio.json")
    assert info.value.node == "wrap"
    # At the top level code is fine.
    data = _file_data()
    data["graph"]["code"] = code
    assert loads_project(json.dumps(data), "p.studio.json").graph.code["f"].kind == "loss"
