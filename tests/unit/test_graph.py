"""studio.core.graph: the document model, with real catalog node types."""

from __future__ import annotations

import pytest

from studio.catalog import load_catalog
from studio.core.graph import Edge, Graph, GraphError, GraphEvent, Node, Output


def sample() -> Graph:
    """in -> dense -> dropout -> concat <- in; dense_shared applies dense's layer again."""
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
    g.set_outputs([Output("concat", 0, "y"), Output("dense", 0)])
    return g


def recorder(g: Graph) -> list[GraphEvent]:
    events: list[GraphEvent] = []
    g.subscribe(events.append)
    return events


def test_sample_uses_real_catalog_types():
    cat = load_catalog()
    for node in sample():
        assert node.type in cat
    assert cat["Concatenate"].inputs[0].variadic


# ------------------------------------------------------------------ reading
def test_nodes_keep_insertion_order_and_lookup():
    g = sample()
    assert [n.name for n in g.nodes] == ["in", "dense", "dropout", "concat", "dense_shared"]
    assert len(g) == 5
    assert "dense" in g and "nope" not in g
    assert g.node("dropout").params == {"rate": 0.5}
    assert g.index_of("concat") == 3
    assert [n.name for n in g.input_nodes] == ["in"]
    assert g.node("in").is_input and not g.node("dense").is_input


def test_missing_node_lookup_names_it():
    with pytest.raises(GraphError, match="'ghost'"):
        sample().node("ghost")


def test_in_out_edges():
    g = sample()
    assert {e.dst for e in g.out_edges("in")} == {"dense", "dense_shared"}
    assert [e.src for e in g.in_edges("concat")] == ["dropout", "dense_shared"]
    assert len(g.edges_of("dense")) == 2


def test_nodes_and_edges_are_snapshots():
    g = sample()
    g.nodes.clear()
    g.edges.clear()
    assert len(g) == 5 and len(g.edges) == 5


def test_add_node_at_index():
    g = sample()
    g.add_node(Node("first", "InputLayer", {"shape": [2]}), index=0)
    g.add_node(Node("mid", "Dense", {"units": 1}), index=2)
    g.add_node(Node("last", "Dense", {"units": 1}), index=99)
    names = [n.name for n in g.nodes]
    assert names[:3] == ["first", "in", "mid"]
    assert names[-1] == "last"
    assert [n.name for n in g.input_nodes] == ["first", "in"]


def test_duplicate_name_refused_and_names_the_node():
    g = sample()
    before = g.signature()
    with pytest.raises(GraphError, match="'dense'"):
        g.add_node(Node("dense", "Dropout", {"rate": 0.1}))
    assert g.signature() == before
    with pytest.raises(GraphError):
        g.add_node(Node("", "Dense"))


def test_unique_name_counts_like_keras():
    g = Graph()
    assert g.unique_name("dense") == "dense"
    g.add_node(Node(g.unique_name("dense"), "Dense", {"units": 4}))
    assert g.unique_name("dense") == "dense_1"
    g.add_node(Node(g.unique_name("dense"), "Dense", {"units": 4}))
    assert g.unique_name("dense") == "dense_2"
    g.add_node(Node(g.unique_name("dense"), "Dense", {"units": 4}))
    assert [n.name for n in g.nodes] == ["dense", "dense_1", "dense_2"]
    # A freed name is reused; gaps are filled.
    g.remove_node("dense_1")
    assert g.unique_name("dense") == "dense_1"
    assert g.unique_name("dropout") == "dropout"


# ------------------------------------------------------------------ edges
def test_add_edge_refuses_unknown_nodes_and_duplicates():
    g = sample()
    with pytest.raises(GraphError, match="'ghost'"):
        g.add_edge(Edge("ghost", 0, "dense", "inputs"))
    with pytest.raises(GraphError, match="'ghost'"):
        g.add_edge(Edge("dense", 0, "ghost", "inputs"))
    with pytest.raises(GraphError, match="already connected"):
        g.add_edge(Edge("in", 0, "dense", "inputs"))
    assert g == sample()


def test_remove_edge_and_missing_edge():
    g = sample()
    e = Edge("dense", 0, "dropout", "inputs")
    g.remove_edge(e)
    assert e not in g.edges
    with pytest.raises(GraphError, match="no connection"):
        g.remove_edge(e)


def test_remove_node_requires_no_edges():
    g = sample()
    with pytest.raises(GraphError, match="'dropout'"):
        g.remove_node("dropout")
    for e in g.edges_of("dropout"):
        g.remove_edge(e)
    removed = g.remove_node("dropout")
    assert removed.name == "dropout" and "dropout" not in g


# ------------------------------------------------------------------ rename
def test_rename_follows_edges_outputs_and_sharers():
    g = sample()
    g.rename_node("dense", "encoder")
    assert "dense" not in g and g.node("encoder").name == "encoder"
    # order is kept
    assert [n.name for n in g.nodes] == ["in", "encoder", "dropout", "concat", "dense_shared"]
    assert Edge("in", 0, "encoder", "inputs") in g.edges
    assert Edge("encoder", 0, "dropout", "inputs") in g.edges
    assert not [e for e in g.edges if "dense" in (e.src, e.dst)]
    assert g.outputs == [Output("concat", 0, "y"), Output("encoder", 0)]
    assert g.node("dense_shared").shared_with == "encoder"


def test_rename_output_keeps_its_name_and_index():
    g = sample()
    g.rename_node("concat", "merged")
    assert g.outputs[0] == Output("merged", 0, "y")
    assert Edge("dropout", 0, "merged", "inputs", 0) in g.edges
    assert Edge("dense_shared", 0, "merged", "inputs", 1) in g.edges


def test_rename_refusals():
    g = sample()
    with pytest.raises(GraphError, match="'dropout'"):
        g.rename_node("dense", "dropout")
    with pytest.raises(GraphError):
        g.rename_node("dense", "")
    with pytest.raises(GraphError, match="'ghost'"):
        g.rename_node("ghost", "spirit")
    assert g == sample()


def test_rename_to_same_name_is_silent():
    g = sample()
    events = recorder(g)
    g.rename_node("dense", "dense")
    assert events == []
    assert g == sample()


# ------------------------------------------------------------------ order and paths
def test_topological_order_is_stable_by_node_order():
    g = Graph()
    for name in ["b_in", "a_in", "z", "y", "x"]:
        g.add_node(Node(name, "InputLayer" if name.endswith("in") else "Dense", {}))
    # x depends on b_in only; z and y on a_in; no dependency between them otherwise
    g.add_edge(Edge("a_in", 0, "z", "inputs"))
    g.add_edge(Edge("a_in", 0, "y", "inputs"))
    g.add_edge(Edge("b_in", 0, "x", "inputs"))
    assert g.topological_order() == ["b_in", "a_in", "z", "y", "x"]
    # a dependency overrides node order
    g.add_edge(Edge("x", 0, "z", "inputs"))
    order = g.topological_order()
    assert order.index("x") < order.index("z")
    assert order == ["b_in", "a_in", "y", "x", "z"]
    # and the result is the same on every call
    assert all(g.topological_order() == order for _ in range(5))


def test_topological_order_of_sample_and_cycle():
    g = sample()
    assert g.topological_order() == ["in", "dense", "dropout", "dense_shared", "concat"]
    # The Graph itself does not refuse a cycle (commands do); ordering then fails.
    g.add_edge(Edge("concat", 0, "dense", "extra"))
    with pytest.raises(GraphError, match="cycle"):
        g.topological_order()


def test_would_create_cycle_returns_the_path():
    g = sample()
    assert g.would_create_cycle("dropout", "dense") == ["dense", "dropout"]
    # the shortest of the paths in -> ... -> concat
    assert g.would_create_cycle("concat", "in") == ["in", "dense_shared", "concat"]
    assert g.would_create_cycle("dense", "dense") == ["dense"]
    assert g.would_create_cycle("in", "concat") is None
    assert g.would_create_cycle("dense_shared", "dropout") is None
    assert g.would_create_cycle("ghost", "dense") is None


def test_downstream_follows_edges_and_sharing():
    g = sample()
    assert g.downstream({"dropout"}) == {"dropout", "concat"}
    assert g.downstream(["concat"]) == {"concat"}
    assert g.downstream({"in"}) == {n.name for n in g.nodes}
    # dense_shared reuses dense's weights: changing dense affects it even without an edge
    g.remove_edge(Edge("dense_shared", 0, "concat", "inputs", 1))
    assert g.downstream({"dense"}) == {"dense", "dropout", "concat", "dense_shared"}
    assert g.downstream(set()) == set()


# ------------------------------------------------------------------ events
def test_each_real_change_emits_exactly_one_event():
    g = sample()
    events = recorder(g)

    g.add_node(Node("extra", "Dropout", {"rate": 0.2}))
    assert events == [GraphEvent("node_added", node="extra")]
    events.clear()

    e = Edge("dense", 0, "extra", "inputs")
    g.add_edge(e)
    assert events == [GraphEvent("edge_added", edge=e)]
    events.clear()

    g.remove_edge(e)
    assert events == [GraphEvent("edge_removed", edge=e)]
    events.clear()

    g.set_params("extra", {"rate": 0.3, "seed": 1})
    assert events == [GraphEvent("node_changed", node="extra", keys=("rate", "seed"))]
    events.clear()

    g.set_params("extra", {"rate": 0.3})
    assert events == [GraphEvent("node_changed", node="extra", keys=("seed",))]
    events.clear()

    g.set_call_args("extra", {"training": True})
    assert events == [GraphEvent("node_changed", node="extra", keys=("call_args",))]
    events.clear()

    g.set_shared_with("extra", "dropout")
    assert events == [GraphEvent("node_changed", node="extra", keys=("shared_with",))]
    events.clear()

    g.move_node("extra", (5, 6))
    assert events == [GraphEvent("node_moved", node="extra")]
    events.clear()

    g.rename_node("extra", "extra2")
    assert events == [GraphEvent("node_renamed", node="extra2", old="extra")]
    events.clear()

    g.set_outputs([Output("extra2")])
    assert events == [GraphEvent("outputs_changed")]
    events.clear()

    g.set_outputs([])
    g.remove_node("extra2")
    assert events == [GraphEvent("outputs_changed"), GraphEvent("node_removed", node="extra2")]
    events.clear()

    g.replace_with(sample())
    assert events == [GraphEvent("reset")]


def test_no_op_changes_emit_nothing():
    g = sample()
    events = recorder(g)
    g.set_params("dense", {"units": 4})
    g.set_params("concat", {})
    g.set_call_args("dense", {})
    g.set_shared_with("dense_shared", "dense")
    g.set_shared_with("dense", None)
    g.move_node("dense", (100, 0))
    g.move_node("dense", (100.0, 0.0))
    g.set_outputs([Output("concat", 0, "y"), Output("dense", 0)])
    g.rename_node("dropout", "dropout")
    assert events == []
    assert g == sample()


def test_set_params_is_copied_in():
    g = sample()
    params = {"shape": [16]}
    g.set_params("in", params)
    params["shape"].append(3)
    assert g.node("in").params == {"shape": [16]}


def test_unsubscribe_stops_events():
    g = sample()
    events: list[GraphEvent] = []
    g.subscribe(events.append)
    g.unsubscribe(events.append)
    g.unsubscribe(events.append)  # twice is harmless
    g.move_node("dense", (1, 1))
    assert events == []


def test_set_outputs_refuses_unknown_node():
    g = sample()
    events = recorder(g)
    with pytest.raises(GraphError, match="'ghost'"):
        g.set_outputs([Output("dense"), Output("ghost")])
    assert events == [] and g == sample()


# ------------------------------------------------------------------ copy and comparison
def test_copy_is_deep():
    g = sample()
    inner = Graph("inner")
    inner.add_node(Node("x", "InputLayer", {"shape": [4]}))
    g.add_node(Node("block", "Model", subgraph=inner))
    c = g.copy()
    assert c == g and c is not g

    c.node("dense").params["units"] = 99
    c.node("in").params["shape"].append(2)
    c.node("dense").call_args["training"] = True
    c.move_node("dropout", (7, 7))
    c.rename_node("concat", "cat")
    c.add_edge(Edge("dropout", 0, "cat", "inputs", 5))
    c.set_outputs([])
    c.node("block").subgraph.add_node(Node("y", "Dense", {"units": 1}))
    c.node("block").subgraph.node("x").params["shape"][0] = 5
    c.set_shared_with("dense_shared", None)

    assert g.node("dense").params == {"units": 4}
    assert g.node("in").params == {"shape": [8]}
    assert g.node("dense").call_args == {}
    assert g.node("dropout").position == (200, 0)
    assert "concat" in g and "cat" not in g
    assert len(g.edges) == 5
    assert g.outputs == [Output("concat", 0, "y"), Output("dense", 0)]
    assert len(g.node("block").subgraph) == 1
    assert g.node("block").subgraph.node("x").params == {"shape": [4]}
    assert g.node("dense_shared").shared_with == "dense"
    assert c != g


def test_copy_does_not_carry_listeners():
    g = sample()
    events = recorder(g)
    c = g.copy()
    c.move_node("dense", (1, 2))
    assert events == []


def test_structure_ignores_positions_and_non_input_order():
    a = sample()
    b = sample()
    b.move_node("dense", (999, -5))
    assert a.structure() == b.structure()
    assert a != b  # positions do count for equality

    c = Graph("other name")
    for name in ["in", "dense_shared", "concat", "dropout", "dense"]:
        c.add_node(a.node(name).copy())
    for e in reversed(a.edges):
        c.add_edge(e)
    c.set_outputs(a.outputs)
    assert c.structure() == a.structure()


def test_structure_sees_what_changes_the_model():
    base = sample().structure()
    for edit in (
        lambda g: g.set_params("dense", {"units": 5}),
        lambda g: g.set_call_args("dropout", {"training": True}),
        lambda g: g.set_shared_with("dense_shared", None),
        lambda g: g.remove_edge(Edge("in", 0, "dense_shared", "inputs")),
        lambda g: g.set_outputs([Output("concat", 0, "y")]),
        lambda g: g.rename_node("dense", "d"),
        lambda g: g.add_node(Node("in2", "InputLayer", {"shape": [3]}), index=0),
    ):
        g = sample()
        edit(g)
        assert g.structure() != base


def test_structure_keeps_input_order():
    a = Graph()
    a.add_node(Node("x", "InputLayer", {"shape": [1]}))
    a.add_node(Node("y", "InputLayer", {"shape": [1]}))
    b = Graph()
    b.add_node(Node("y", "InputLayer", {"shape": [1]}))
    b.add_node(Node("x", "InputLayer", {"shape": [1]}))
    assert a.structure() != b.structure()


def test_equality():
    assert sample() == sample()
    assert sample() != "not a graph"
    g = sample()
    # edge order does not matter
    h = Graph("net")
    for n in g.nodes:
        h.add_node(n.copy())
    for e in reversed(g.edges):
        h.add_edge(e)
    h.set_outputs(g.outputs)
    assert h == g and h.signature() == g.signature()
    # name, style, node order, params, outputs do
    h.name = "other"
    assert h != g
    h = g.copy()
    h.style = "sequential"
    assert h != g
    h = g.copy()
    h.set_outputs(list(reversed(g.outputs)))
    assert h != g
    h = g.copy()
    h.set_params("dropout", {"rate": 0.25})
    assert h != g
    h = Graph("net")
    for n in reversed(g.nodes):
        h.add_node(n.copy())
    for e in g.edges:
        h.add_edge(e)
    h.set_outputs(g.outputs)
    assert h != g and h.structure() == g.structure()


def test_replace_with_takes_a_copy():
    g = Graph()
    events = recorder(g)
    other = sample()
    other.style = "sequential"
    g.replace_with(other)
    assert g == other and g.name == "net" and g.style == "sequential"
    other.node("dense").params["units"] = 1
    assert g.node("dense").params == {"units": 4}
    assert events == [GraphEvent("reset")]
