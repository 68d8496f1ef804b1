"""Grouping nodes into a nested model and ungrouping them again."""

import pytest

from studio.core.commands import Group, UndoStack, Ungroup
from studio.core.graph import Edge, Graph, GraphError, Node, Output
from studio.core.validation import validate


def _graph():
    g = Graph("net")
    for i, n in enumerate(
        [
            Node("x", "InputLayer", {"shape": [16]}),
            Node("d1", "Dense", {"units": 8}),
            Node("drop", "Dropout", {"rate": 0.2}),
            Node("d2", "Dense", {"units": 8}),
            Node("skip", "Add"),
            Node("head", "Dense", {"units": 1}),
        ]
    ):
        n.position = (100.0 * i, 0.0)
        g.add_node(n)
    g.add_edge(Edge("x", 0, "d1", "inputs"))
    g.add_edge(Edge("d1", 0, "drop", "inputs"))
    g.add_edge(Edge("drop", 0, "d2", "inputs"))
    g.add_edge(Edge("d1", 0, "skip", "inputs", 0))
    g.add_edge(Edge("d2", 0, "skip", "inputs", 1))
    g.add_edge(Edge("skip", 0, "head", "inputs"))
    g.set_outputs([Output("head", 0), Output("d2", 0, "features")])
    return g


def test_group_makes_one_model_node_with_inputs_and_outputs_for_crossing_tensors():
    g = _graph()
    grouped = Group(g, ["drop", "d2"], "block", shapes={("d1", 0): [8]})
    stack = UndoStack(g)
    stack.push(grouped)
    block = g.node("block")
    assert block.type == "Model"
    assert [n.name for n in block.subgraph.input_nodes] == ["d1"]
    assert block.subgraph.node("d1").params == {"shape": [8]}
    assert block.subgraph.outputs == [Output("d2", 0)]
    assert Edge("d1", 0, "block", "d1", 0) in g.edges
    assert Edge("block", 0, "skip", "inputs", 1) in g.edges
    assert Output("block", 0, "features") in g.outputs
    assert [d for d in validate(g) if d.severity == "error"] == []
    stack.undo()
    assert g == _graph()


def test_group_then_ungroup_gives_back_the_original_graph():
    original = _graph()
    g = _graph()
    stack = UndoStack(g)
    stack.push(Group(g, ["d1", "drop", "d2"], "block", shapes={("x", 0): [16]}))
    stack.push(Ungroup(g, "block"))
    assert g.structure() == original.structure()
    assert {n.name: n.position for n in g.nodes} == {n.name: n.position for n in original.nodes}


def test_group_refuses_unknown_shapes_inputs_and_split_sharing():
    g = _graph()
    with pytest.raises(GraphError, match="shape of the tensor from 'd1'"):
        Group(g, ["drop"], "block")
    with pytest.raises(GraphError, match="inputs cannot be grouped"):
        Group(g, ["x", "d1"], "block", shapes={})
    g.add_node(Node("d1_again", "Dense", shared_with="d1"))
    with pytest.raises(GraphError, match="shares the layer"):
        Group(g, ["d1"], "block", shapes={("x", 0): [16]})


def test_edits_inside_a_nested_graph_are_undoable_and_reported_on_the_outer_node():
    from studio.core.commands import SetParam, in_graph

    g = _graph()
    stack = UndoStack(g)
    stack.push(Group(g, ["drop", "d2"], "block", shapes={("d1", 0): [8]}))
    events = []
    g.subscribe(events.append)
    stack.push(in_graph(["block"], SetParam("d2", "units", 16)))
    assert g.node("block").subgraph.node("d2").params["units"] == 16
    assert events[-1].kind == "node_changed" and events[-1].node == "block"
    assert "in block" in stack.undo_text()
    stack.undo()
    assert g.node("block").subgraph.node("d2").params["units"] == 8
