"""studio.core.commands: every edit through the UndoStack, undo/redo exact, clean state."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.catalog import load_catalog
from studio.core.commands import (
    AddNode,
    Connect,
    Disconnect,
    Macro,
    MoveNodes,
    RemoveNode,
    RemoveNodes,
    Rename,
    ReplaceGraph,
    SetCallArgs,
    SetOutputs,
    SetParam,
    SetParams,
    SetSharedWith,
    UndoStack,
)
from studio.core.graph import Edge, Graph, GraphError, GraphEvent, Node, Output
from studio.core.validation import has_errors, validate


def sample() -> Graph:
    """in -> dense -> dropout -> concat <- dense_shared <- in (dense_shared shares dense)."""
    g = Graph("net")
    g.add_node(Node("in", "InputLayer", {"shape": [8]}, position=(0, 0)))
    g.add_node(Node("dense", "Dense", {"units": 4}, position=(100, 0)))
    g.add_node(Node("dropout", "Dropout", {"rate": 0.5}, position=(200, 0)))
    g.add_node(Node("concat", "Concatenate", position=(300, 0)))
    g.add_node(Node("dense_shared", "Dense", position=(100, 100), shared_with="dense"))
    g.add_edge(Edge("in", 0, "dense", "inputs"))
    g.add_edge(Edge("dense", 0, "dropout", "inputs"))
    g.add_edge(Edge("dropout", 0, "concat", "inputs", 0))
    g.add_edge(Edge("in", 0, "dense_shared", "inputs"))
    g.add_edge(Edge("dense_shared", 0, "concat", "inputs", 1))
    g.set_outputs([Output("concat", 0, "y"), Output("dense", 0, "features")])
    return g


def stack_of(graph: Graph | None = None) -> UndoStack:
    return UndoStack(graph if graph is not None else sample())


def assert_round_trip(stack: UndoStack, before: Graph) -> None:
    """Undo the last step, check the graph is ``before``, redo, check it's back."""
    after = stack.graph.copy()
    stack.undo()
    assert stack.graph == before
    assert [n.name for n in stack.graph.nodes] == [n.name for n in before.nodes]
    stack.redo()
    assert stack.graph == after


def test_sample_is_a_valid_model():
    assert not has_errors(validate(sample(), load_catalog()))


# ------------------------------------------------------------------ AddNode
def test_add_node_undo_redo():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(AddNode(Node("dense_1", "Dense", {"units": 2}, position=(5, 5))))
    assert stack.graph.node("dense_1").params == {"units": 2}
    assert stack.undo_text() == "Add dense_1"
    stack.undo()
    assert "dense_1" not in stack.graph and stack.graph == before
    assert stack.redo_text() == "Add dense_1"
    stack.redo()
    assert stack.graph.node("dense_1").position == (5, 5)


def test_add_node_at_index_and_copies_the_node():
    stack = stack_of()
    node = Node("in2", "InputLayer", {"shape": [3]})
    stack.push(AddNode(node, index=1))
    assert [n.name for n in stack.graph.input_nodes] == ["in", "in2"]
    assert stack.graph.index_of("in2") == 1
    node.params["shape"] = [99]  # the caller's object is not the graph's
    stack.undo()
    stack.redo()
    assert stack.graph.node("in2").params == {"shape": [3]}
    assert stack.graph.index_of("in2") == 1


def test_add_duplicate_refused_leaves_stack_untouched():
    stack = stack_of()
    stack.push(MoveNodes({"dense": (1, 1)}))
    stack.undo()
    before = stack.graph.copy()
    with pytest.raises(GraphError, match="'dropout'"):
        stack.push(AddNode(Node("dropout", "Dropout", {"rate": 0.1})))
    assert stack.graph == before
    assert not stack.can_undo() and stack.can_redo()
    assert stack.redo_text() == "Move dense"


# ------------------------------------------------------------------ RemoveNode
def test_remove_node_removes_edges_outputs_and_sharing():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(RemoveNode(stack.graph, "dense"))
    g = stack.graph
    assert "dense" not in g
    assert not [e for e in g.edges if "dense" in (e.src, e.dst)]
    assert g.outputs == [Output("concat", 0, "y")]
    assert g.node("dense_shared").shared_with is None
    assert stack.undo_text() == "Remove dense"
    assert stack.index == 1  # one step

    stack.undo()
    assert g == before
    assert g.index_of("dense") == 1
    assert set(g.edges) == set(before.edges)
    assert g.outputs == before.outputs
    assert g.node("dense_shared").shared_with == "dense"

    stack.redo()
    assert "dense" not in g and g.outputs == [Output("concat", 0, "y")]


def test_remove_output_node_in_the_middle_of_outputs():
    g = sample()
    g.set_outputs([Output("dense"), Output("concat", 0, "y"), Output("dropout", 0, "d")])
    stack = stack_of(g)
    before = g.copy()
    stack.push(RemoveNode(g, "concat"))
    assert g.outputs == [Output("dense"), Output("dropout", 0, "d")]
    stack.undo()
    assert g.outputs == before.outputs
    assert g == before


def test_remove_isolated_node():
    g = sample()
    g.add_node(Node("lonely", "Dropout", {"rate": 0.5}), index=0)
    stack = stack_of(g)
    before = g.copy()
    stack.push(RemoveNode(g, "lonely"))
    assert "lonely" not in g
    assert_round_trip(stack, before)
    stack.undo()
    assert g.index_of("lonely") == 0


def test_remove_node_listeners_never_see_a_dangling_output():
    """A listener (the canvas, live validation) reacting to each event must find a
    consistent graph: outputs and edges only name nodes that exist."""
    g = sample()
    stack = stack_of(g)
    problems: list[str] = []

    def check(event: GraphEvent) -> None:
        names = {n.name for n in g.nodes}
        for o in g.outputs:
            if o.node not in names:
                problems.append(f"{event.kind}: output {o.node}")
        for e in g.edges:
            if e.src not in names or e.dst not in names:
                problems.append(f"{event.kind}: edge {e}")

    g.subscribe(check)
    stack.push(RemoveNode(g, "concat"))
    stack.undo()
    stack.redo()
    assert problems == []


def test_remove_missing_node_is_a_graph_error():
    stack = stack_of()
    before = stack.graph.copy()
    with pytest.raises(GraphError, match="'ghost'"):
        stack.push(RemoveNode(stack.graph, "ghost"))
    assert stack.graph == before and not stack.can_undo()


def test_remove_nodes_several():
    g = sample()
    stack = stack_of(g)
    before = g.copy()
    stack.push(RemoveNodes(g, ["in", "dropout"]))
    assert [n.name for n in g.nodes] == ["dense", "concat", "dense_shared"]
    assert g.edges == [Edge("dense_shared", 0, "concat", "inputs", 1)]
    assert g.outputs == before.outputs
    assert stack.undo_text() == "Remove 2 nodes"
    stack.undo()
    assert g == before
    assert [n.name for n in g.nodes] == [n.name for n in before.nodes]
    stack.redo()
    assert "in" not in g and "dropout" not in g


def test_remove_nodes_unshares_only_survivors():
    g = sample()
    g.add_node(Node("dense_again", "Dense", shared_with="dense"))
    stack = stack_of(g)
    before = g.copy()
    stack.push(RemoveNodes(g, ["dense", "dense_shared"]))
    assert g.node("dense_again").shared_with is None
    assert g.outputs == [Output("concat", 0, "y")]
    stack.undo()
    assert g == before
    assert stack.undo_text() == ""
    stack.redo()
    stack.undo()
    assert g == before


def test_remove_nodes_single_text():
    g = sample()
    assert RemoveNodes(g, ["dropout"]).text == "Remove dropout"


# ------------------------------------------------------------------ Connect / Disconnect
def test_connect_undo_redo_and_text():
    g = sample()
    g.add_node(Node("head", "Dense", {"units": 1}))
    stack = stack_of(g)
    before = g.copy()
    e = Edge("concat", 0, "head", "inputs")
    stack.push(Connect(e))
    assert e in g.edges
    assert stack.undo_text() == "Connect concat → head"
    assert_round_trip(stack, before)
    stack.undo()
    assert stack.redo_text() == "Connect concat → head"


def test_connect_variadic_port_takes_another_slot():
    stack = stack_of()
    e = Edge("in", 0, "concat", "inputs", 2)
    stack.push(Connect(e))
    assert [x.slot for x in stack.graph.in_edges("concat")] == [0, 1, 2]


def _assert_refused(stack: UndoStack, command, *fragments: str) -> None:
    before = stack.graph.copy()
    index, undo_text, redo_text = stack.index, stack.undo_text(), stack.redo_text()
    can_redo = stack.can_redo()
    with pytest.raises(GraphError) as info:
        stack.push(command)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert stack.graph == before
    assert stack.index == index
    assert stack.undo_text() == undo_text and stack.redo_text() == redo_text
    assert stack.can_redo() == can_redo


def test_connect_refuses_self_loop():
    stack = stack_of()
    _assert_refused(stack, Connect(Edge("dense", 0, "dense", "inputs")), "'dense'", "itself")


def test_connect_refuses_cycle_naming_its_nodes():
    stack = stack_of()
    _assert_refused(
        stack,
        Connect(Edge("dropout", 0, "dense", "extra")),
        "cycle",
        "dense → dropout → dense",
    )
    # a longer one: concat -> in closes in -> dense_shared -> concat (shortest path)
    g = stack.graph
    g.add_node(Node("in_b", "InputLayer", {"shape": [8]}))
    _assert_refused(
        stack,
        Connect(Edge("concat", 0, "in", "inputs")),
        "in → dense_shared → concat → in",
    )


def test_connect_refuses_occupied_input_naming_the_feeder():
    stack = stack_of()
    _assert_refused(
        stack, Connect(Edge("dense_shared", 0, "dropout", "inputs")), "'dropout'", "'dense'"
    )
    _assert_refused(stack, Connect(Edge("in", 0, "concat", "inputs", 1)), "'dense_shared'")


def test_connect_refused_keeps_redo_history():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 8))
    stack.push(SetParam("dense", "units", 16))
    stack.undo()
    _assert_refused(stack, Connect(Edge("dense", 0, "dense", "inputs")))
    assert stack.can_redo()
    stack.redo()
    assert stack.graph.node("dense").params["units"] == 16


def test_connect_unknown_node_refused():
    stack = stack_of()
    _assert_refused(stack, Connect(Edge("ghost", 0, "dense", "extra")), "'ghost'")


def test_disconnect():
    stack = stack_of()
    before = stack.graph.copy()
    e = Edge("dense", 0, "dropout", "inputs")
    stack.push(Disconnect(e))
    assert e not in stack.graph.edges
    assert stack.undo_text() == "Disconnect dense → dropout"
    assert_round_trip(stack, before)
    _assert_refused(stack, Disconnect(e), "no connection")


# ------------------------------------------------------------------ Rename
def test_rename_via_stack():
    stack = stack_of()
    g = stack.graph
    before = g.copy()
    stack.push(Rename("dense", "encoder"))
    assert stack.undo_text() == "Rename dense → encoder"
    assert g.node("dense_shared").shared_with == "encoder"
    assert Output("encoder", 0, "features") in g.outputs
    assert Edge("encoder", 0, "dropout", "inputs") in g.edges
    stack.undo()
    assert g == before
    assert g.node("dense_shared").shared_with == "dense"
    stack.redo()
    assert g.index_of("encoder") == 1


def test_rename_refused():
    stack = stack_of()
    _assert_refused(stack, Rename("dense", "concat"), "'concat'")
    _assert_refused(stack, Rename("dense", ""))
    _assert_refused(stack, Rename("ghost", "x"), "'ghost'")


def test_commands_after_rename_use_new_name():
    stack = stack_of()
    stack.push(Rename("dropout", "drop"))
    stack.push(SetParam("drop", "rate", 0.1))
    stack.push(Rename("drop", "dropout2"))
    stack.undo()
    stack.undo()
    stack.undo()
    assert stack.graph == sample()
    stack.redo()
    stack.redo()
    stack.redo()
    assert stack.graph.node("dropout2").params == {"rate": 0.1}


# ------------------------------------------------------------------ parameters
def test_set_param_and_text():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(SetParam("dense", "units", 32))
    assert stack.graph.node("dense").params == {"units": 32}
    assert stack.undo_text() == "Set dense.units"
    assert_round_trip(stack, before)


def test_set_params_many_and_unset():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(SetParams("dense", {"activation": "relu", "use_bias": False}))
    assert stack.undo_text() == "Set dense parameters"
    assert stack.graph.node("dense").params == {
        "units": 4,
        "activation": "relu",
        "use_bias": False,
    }
    stack.push(SetParams("dense", {"units": 3}, unset=("activation",)))
    assert stack.graph.node("dense").params == {"units": 3, "use_bias": False}
    stack.push(SetParams("dropout", {}, unset=("rate",)))
    assert stack.undo_text() == "Set dropout.rate"
    assert stack.graph.node("dropout").params == {}
    stack.undo()
    assert stack.graph.node("dropout").params == {"rate": 0.5}
    stack.undo()
    stack.undo()
    assert stack.graph == before


def test_set_params_keeps_its_own_copy():
    stack = stack_of()
    shape = [16]
    stack.push(SetParam("in", "shape", shape))
    shape.append(1)
    stack.undo()
    stack.redo()
    assert stack.graph.node("in").params == {"shape": [16]}
    stack.graph.node("in").params["shape"].append(2)  # someone mutates the graph's value
    stack.undo()
    stack.redo()
    assert stack.graph.node("in").params == {"shape": [16]}


def test_set_params_unknown_node():
    _assert_refused(stack_of(), SetParam("ghost", "units", 1), "'ghost'")


def test_set_call_args():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(SetCallArgs("dropout", {"training": True}))
    assert stack.graph.node("dropout").call_args == {"training": True}
    assert stack.undo_text() == "Set dropout call arguments"
    assert_round_trip(stack, before)
    stack.push(SetCallArgs("dropout", {}))
    stack.undo()
    assert stack.graph.node("dropout").call_args == {"training": True}


def test_set_shared_with():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(SetSharedWith("dense_shared", None))
    assert stack.undo_text() == "Unshare dense_shared"
    assert stack.graph.node("dense_shared").shared_with is None
    assert_round_trip(stack, before)
    stack.push(SetSharedWith("dense_shared", "dense"))
    stack.undo()
    stack.push(SetSharedWith("dense", "dense_shared"))
    assert stack.undo_text() == "Share dense_shared's layer in dense"
    stack.undo()
    stack.undo()
    assert stack.graph == before


# ------------------------------------------------------------------ MoveNodes
def test_move_nodes_merge_into_one_step():
    stack = stack_of()
    before = stack.graph.copy()
    for x in range(1, 6):
        stack.push(MoveNodes({"dense": (100 + x, x), "dropout": (200 + x, x)}), merge=True)
    assert stack.index == 1
    assert stack.undo_text() == "Move 2 nodes"
    assert stack.graph.node("dense").position == (105.0, 5.0)
    stack.undo()
    assert stack.graph == before
    assert not stack.can_undo()
    stack.redo()
    assert stack.graph.node("dropout").position == (205.0, 5.0)


def test_close_merge_ends_the_drag():
    stack = stack_of()
    stack.push(MoveNodes({"dense": (1, 1)}), merge=True)
    stack.push(MoveNodes({"dense": (2, 2)}), merge=True)
    stack.close_merge()
    stack.push(MoveNodes({"dense": (3, 3)}), merge=True)
    stack.push(MoveNodes({"dense": (4, 4)}), merge=True)
    assert stack.index == 2
    stack.undo()
    assert stack.graph.node("dense").position == (2, 2)
    stack.undo()
    assert stack.graph.node("dense").position == (100, 0)


def test_moves_do_not_merge_without_flag_or_across_other_nodes():
    stack = stack_of()
    stack.push(MoveNodes({"dense": (1, 1)}))
    stack.push(MoveNodes({"dense": (2, 2)}), merge=True)  # previous push did not open a run
    assert stack.index == 2
    stack.push(MoveNodes({"dense": (3, 3)}), merge=True)
    assert stack.index == 2
    stack.push(MoveNodes({"dropout": (3, 3)}), merge=True)  # another node: a new step
    assert stack.index == 3
    stack.push(MoveNodes({"dropout": (4, 4)}))  # merge=False: new step
    assert stack.index == 4
    assert stack.undo_text() == "Move dropout"


def test_undo_ends_a_merge_run():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 5))
    stack.push(MoveNodes({"dense": (1, 1)}), merge=True)
    stack.undo()
    stack.redo()
    stack.push(MoveNodes({"dense": (2, 2)}), merge=True)
    assert stack.index == 3


def test_move_after_other_command_does_not_merge_into_it():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 5), merge=True)
    stack.push(MoveNodes({"dense": (1, 1)}), merge=True)
    assert stack.index == 2
    stack.undo()
    assert stack.graph.node("dense").params == {"units": 5}


# ------------------------------------------------------------------ outputs and whole graph
def test_set_outputs():
    stack = stack_of()
    before = stack.graph.copy()
    stack.push(SetOutputs([Output("dropout", 0, "z")]))
    assert stack.graph.outputs == [Output("dropout", 0, "z")]
    assert stack.undo_text() == "Set model outputs"
    assert_round_trip(stack, before)
    stack.push(SetOutputs([], text="Clear outputs"))
    assert stack.undo_text() == "Clear outputs"
    _assert_refused(stack, SetOutputs([Output("ghost")]), "'ghost'")


def test_replace_graph():
    stack = stack_of()
    before = stack.graph.copy()
    new = Graph("other")
    new.add_node(Node("x", "InputLayer", {"shape": [2]}))
    new.add_node(Node("d", "Dense", {"units": 1}))
    new.add_edge(Edge("x", 0, "d", "inputs"))
    new.set_outputs([Output("d")])
    stack.push(ReplaceGraph(new, "Auto layout"))
    assert stack.graph == new and stack.undo_text() == "Auto layout"
    new.node("d").params["units"] = 50  # the command keeps its own copy
    stack.undo()
    assert stack.graph == before
    stack.redo()
    assert stack.graph.node("d").params == {"units": 1}
    stack.graph.node("d").params["units"] = 7  # nor shares nodes with the graph
    stack.undo()
    stack.redo()
    assert stack.graph.node("d").params == {"units": 1}


def test_macro_rolls_back_when_a_part_is_refused():
    stack = stack_of()
    before = stack.graph.copy()
    macro = Macro(
        "Bad",
        [
            SetParam("dense", "units", 9),
            Disconnect(Edge("dense", 0, "dropout", "inputs")),
            Connect(Edge("concat", 0, "dense", "inputs")),  # cycle
        ],
    )
    with pytest.raises(GraphError):
        stack.push(macro)
    assert stack.graph == before
    assert not stack.can_undo()


# ------------------------------------------------------------------ stack state
def test_can_undo_can_redo_and_texts():
    stack = stack_of()
    assert not stack.can_undo() and not stack.can_redo()
    assert stack.undo_text() == "" and stack.redo_text() == ""
    stack.undo()  # harmless
    stack.redo()
    assert stack.graph == sample()
    stack.push(SetParam("dense", "units", 2))
    assert stack.can_undo() and not stack.can_redo()
    stack.undo()
    assert not stack.can_undo() and stack.can_redo()
    assert stack.redo_text() == "Set dense.units"


def test_new_push_discards_redo():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 2))
    stack.push(SetParam("dense", "units", 3))
    stack.undo()
    stack.push(SetParam("dropout", "rate", 0.1))
    assert not stack.can_redo() and stack.redo_text() == ""
    stack.redo()  # nothing to redo
    assert stack.graph.node("dense").params == {"units": 2}
    stack.undo()
    stack.undo()
    assert stack.graph == sample()
    assert not stack.can_undo()


def test_clean_state():
    stack = stack_of()
    assert stack.is_clean()
    stack.push(SetParam("dense", "units", 2))
    assert not stack.is_clean()
    stack.set_clean()  # saved
    assert stack.is_clean()
    stack.push(SetParam("dense", "units", 3))
    assert not stack.is_clean()
    stack.undo()
    assert stack.is_clean()
    stack.undo()
    assert not stack.is_clean()
    stack.redo()
    assert stack.is_clean()
    stack.redo()
    assert not stack.is_clean()


def test_never_clean_after_branching_past_saved_point():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 2))
    stack.push(SetParam("dense", "units", 3))
    stack.set_clean()
    stack.undo()
    stack.push(SetParam("dropout", "rate", 0.2))  # the saved state is gone from history
    assert not stack.is_clean()
    stack.undo()
    assert not stack.is_clean()
    stack.undo()
    assert not stack.is_clean()
    stack.redo()
    stack.redo()
    assert not stack.is_clean()
    stack.set_clean()
    assert stack.is_clean()


def test_branch_below_saved_point_at_same_depth_is_not_clean():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 2))
    stack.set_clean()
    stack.undo()
    stack.push(SetParam("dense", "units", 7))  # same depth as the save, different content
    assert stack.index == 1
    assert not stack.is_clean()


def test_branch_after_saved_point_keeps_it():
    stack = stack_of()
    stack.push(SetParam("dense", "units", 2))
    stack.set_clean()
    stack.push(SetParam("dense", "units", 3))
    stack.undo()
    stack.push(SetParam("dense", "units", 4))  # branches after the save
    stack.undo()
    assert stack.is_clean()


def test_merge_after_save_makes_dirty():
    stack = stack_of()
    stack.push(MoveNodes({"dense": (1, 1)}), merge=True)
    stack.set_clean()
    stack.push(MoveNodes({"dense": (2, 2)}), merge=True)
    assert not stack.is_clean()


def test_clear_and_listeners():
    stack = stack_of()
    calls: list[int] = []
    stack.subscribe(lambda: calls.append(stack.index))
    stack.push(SetParam("dense", "units", 2))
    stack.undo()
    stack.redo()
    stack.set_clean()
    assert calls == [1, 0, 1, 1]
    with pytest.raises(GraphError):
        stack.push(Rename("dense", "dropout"))
    assert calls == [1, 0, 1, 1]  # a refused edit does not notify
    stack.push(SetParam("dense", "units", 3))
    stack.clear()
    assert not stack.can_undo() and not stack.can_redo() and stack.is_clean()
    assert stack.graph.node("dense").params == {"units": 3}  # clear keeps the graph


def test_building_a_model_through_commands_validates():
    cat = load_catalog()
    g = Graph()
    stack = UndoStack(g)
    stack.push(AddNode(Node("in", "InputLayer", {"shape": [8]})))
    stack.push(AddNode(Node(g.unique_name("dense"), "Dense", {"units": 4})))
    stack.push(AddNode(Node(g.unique_name("dense"), "Dense", {"units": 4})))
    stack.push(AddNode(Node("concat", "Concatenate")))
    stack.push(Connect(Edge("in", 0, "dense", "inputs")))
    stack.push(Connect(Edge("in", 0, "dense_1", "inputs")))
    stack.push(Connect(Edge("dense", 0, "concat", "inputs", 0)))
    stack.push(Connect(Edge("dense_1", 0, "concat", "inputs", 1)))
    stack.push(SetOutputs([Output("concat")]))
    assert not has_errors(validate(g, cat))
    good = g.copy()
    stack.push(RemoveNode(g, "dense_1"))
    assert has_errors(validate(g, cat))  # concat lost an input
    stack.undo()
    assert g == good and not has_errors(validate(g, cat))
    while stack.can_undo():
        stack.undo()
    assert len(g) == 0 and g.edges == [] and g.outputs == []


# ------------------------------------------------------------------ property
ADDABLE = [
    ("Dense", {"units": 4}),
    ("Dropout", {"rate": 0.5}),
    ("Concatenate", {}),
    ("InputLayer", {"shape": [8]}),
]

op_strategy = st.tuples(
    st.sampled_from(
        ["add", "remove", "connect", "connect", "disconnect", "rename", "param", "move"]
    ),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.booleans(),
)


def _command(g: Graph, op: tuple):
    """The command for one drawn edit against the current graph, or None to skip."""
    kind, a, b, c, flag = op
    nodes = g.nodes
    cat = load_catalog()
    if kind == "add":
        type_, params = ADDABLE[a % len(ADDABLE)]
        base = {"InputLayer": "input", "Concatenate": "concatenate"}.get(type_, type_.lower())
        index = None if flag else b % (len(nodes) + 1)
        return AddNode(Node(g.unique_name(base), type_, dict(params), (float(c), 0.0)), index)
    if not nodes:
        return None
    n = nodes[a % len(nodes)]
    if kind == "remove":
        return RemoveNode(g, n.name)
    if kind == "connect":
        dst = nodes[b % len(nodes)]
        spec = cat[dst.type]
        if not spec.inputs:
            return None
        port = spec.inputs[0]
        return Connect(Edge(n.name, 0, dst.name, port.name, c % 3 if port.variadic else 0))
    if kind == "disconnect":
        edges = g.edges
        return Disconnect(edges[b % len(edges)]) if edges else None
    if kind == "rename":
        return Rename(n.name, f"n{c % 8}")
    if kind == "param":
        if flag and n.params:
            return SetParams(n.name, {}, unset=(sorted(n.params)[0],))
        value = {
            "Dense": ("units", c + 1),
            "Dropout": ("rate", (c % 10) / 10),
            "Concatenate": ("axis", -1 - c % 2),
            "InputLayer": ("shape", [c % 5 + 1]),
        }[n.type]
        return SetParam(n.name, *value)
    if kind == "move":
        return MoveNodes({n.name: (float(b), float(c))})
    raise AssertionError(kind)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_strategy, max_size=25))
def test_random_edits_undo_and_redo_exactly(ops):
    g = sample()
    original = g.copy()
    stack = UndoStack(g)
    for op in ops:
        cmd = _command(g, op)
        if cmd is None:
            continue
        before = g.copy()
        index = stack.index
        try:
            stack.push(cmd, merge=op[0] == "move" and op[4])
        except GraphError:
            assert g == before and stack.index == index
            continue
        assert stack.index in (index, index + 1)
        # the graph stays well-formed after every edit
        names = {n.name for n in g.nodes}
        assert all(e.src in names and e.dst in names for e in g.edges)
        assert all(o.node in names for o in g.outputs)
        assert all(n.shared_with is None or n.shared_with in names for n in g.nodes)
        g.topological_order()  # no cycle
    final = g.copy()

    while stack.can_undo():
        stack.undo()
    assert g == original
    assert g.signature() == original.signature()
    assert [n.name for n in g.nodes] == [n.name for n in original.nodes]

    while stack.can_redo():
        stack.redo()
    assert g == final
    assert g.signature() == final.signature()


def test_set_setting_undoes_to_no_setting_and_merges_typing():
    from studio.core.commands import SetSetting, UndoStack
    from studio.core.graph import Graph

    settings: dict = {}
    seen = []
    stack = UndoStack(Graph())
    stack.push(SetSetting(settings, "training", {"epochs": 3}, merge_key="e", notify=seen.append),
               merge=True)  # fmt: skip
    stack.push(SetSetting(settings, "training", {"epochs": 30}, merge_key="e"), merge=True)
    assert settings == {"training": {"epochs": 30}}
    stack.undo()
    assert settings == {}
    stack.redo()
    assert settings == {"training": {"epochs": 30}}
    assert seen == ["training", "training", "training"]


def test_renaming_an_output_keeps_its_loss_and_data_mapping():
    from studio.core.settings import rename_in_settings

    settings = {
        "data": {"inputs": {"x": {"field": "f"}}, "outputs": {"y": {"field": "label"}}},
        "training": {"losses": {"y": {"class": "Huber"}}, "metrics": {"y": []}},
    }
    assert rename_in_settings(settings, "y", "species")
    assert settings["training"]["losses"] == {"species": {"class": "Huber"}}
    assert settings["data"]["outputs"] == {"species": {"field": "label"}}
    assert not rename_in_settings(settings, "nothing", "else")


def test_save_as_elsewhere_keeps_relative_data_paths_pointing_at_the_same_files(tmp_path):
    from studio.core.settings import rebase_paths

    settings = {
        "data": {
            "source": {"kind": "csv", "path": "data/iris.csv"},
            "validation": {"source": {"kind": "npy", "paths": {"x": "x.npy", "y": "/abs/y.npy"}}},
        }
    }
    old, new = tmp_path / "a", tmp_path / "a" / "b" / "c"
    assert rebase_paths(settings, str(old), str(new))
    assert settings["data"]["source"]["path"] == "../../data/iris.csv"
    assert settings["data"]["validation"]["source"]["paths"] == {"x": "../../x.npy",
                                                                 "y": "/abs/y.npy"}  # fmt: skip
    assert not rebase_paths(settings, str(new), str(new))


def test_expand_node_turns_one_node_into_a_nested_model_and_undoes_exactly():
    from studio.core.code import STARTERS, CodeDef
    from studio.core.commands import ExpandNode
    from studio.core.graph import Edge, Graph, Node, Output

    g = Graph("g")
    g.add_node(Node("x", "InputLayer", {"shape": [4]}, position=(0, 0)))
    g.add_node(Node("bb", "Backbone", {"weights": None}, position=(10, 20)))
    g.add_node(Node("head", "Dense", {"units": 2}))
    g.add_edge(Edge("x", 0, "bb", "inputs"))
    g.add_edge(Edge("bb", 0, "head", "inputs"))
    g.set_outputs([Output("head"), Output("bb")])
    g.set_code("custom_loss", CodeDef("custom_loss", "loss", STARTERS["loss"]))
    before = g.copy()
    layers = Graph("bb")
    layers.add_node(Node("input_layer", "InputLayer", {"shape": [4]}))
    layers.add_node(Node("d", "Dense", {"units": 3}))
    layers.add_edge(Edge("input_layer", 0, "d", "inputs"))
    layers.set_outputs([Output("d")])

    stack = UndoStack(g)
    stack.push(ExpandNode(g, "bb", layers))
    node = g.node("bb")
    assert node.type == "Model" and node.subgraph is layers and node.params == {}
    assert node.position == (10, 20) and [n.name for n in g.nodes] == ["x", "bb", "head"]
    assert set(g.edges) == {Edge("x", 0, "bb", "input_layer"), Edge("bb", 0, "head", "inputs")}
    assert g.outputs == before.outputs and g.code == before.code
    stack.undo()
    assert g.signature() == before.signature() and g.node("bb").subgraph is None
    stack.redo()
    assert g.node("bb").subgraph is layers
