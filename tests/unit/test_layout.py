"""studio.core.layout: columns by longest path, rows by barycenter, never a crash."""

from __future__ import annotations

import random
import time

from studio.core.commands import MoveNodes, UndoStack
from studio.core.graph import Edge, Graph, Node, Output
from studio.core.layout import apply_layout, layered_layout, layout_in_place


def graph_of(names: list[str], edges: list[tuple[str, str]]) -> Graph:
    g = Graph()
    for name in names:
        g.add_node(Node(name, "InputLayer" if name.startswith("in") else "Dense"))
    slots: dict[str, int] = {}
    for src, dst in edges:
        slot = slots.get(dst, 0)
        slots[dst] = slot + 1
        g.add_edge(Edge(src, 0, dst, "inputs", slot))
    return g


def distinct(pos: dict[str, tuple[float, float]]) -> bool:
    return len(set(pos.values())) == len(pos)


def test_chain_goes_strictly_left_to_right():
    names = ["in"] + [f"d{i}" for i in range(6)]
    g = graph_of(names, list(zip(names, names[1:])))
    pos = layered_layout(g)
    xs = [pos[n][0] for n in names]
    assert all(a < b for a, b in zip(xs, xs[1:]))
    assert {pos[n][1] for n in names} == {0.0}


def test_diamond_puts_branches_in_one_column():
    g = graph_of(["in", "a", "b", "out"], [("in", "a"), ("in", "b"), ("a", "out"), ("b", "out")])
    pos = layered_layout(g, x_gap=100, y_gap=50)
    assert pos["a"][0] == pos["b"][0] == 100
    assert pos["a"][1] != pos["b"][1]
    assert abs(pos["a"][1] - pos["b"][1]) == 50
    assert pos["in"][0] < pos["a"][0] < pos["out"][0]
    # Columns are centred vertically.
    assert pos["a"][1] + pos["b"][1] == 0
    assert pos["in"][1] == pos["out"][1] == 0


def test_columns_use_longest_path():
    # in -> a -> b -> c, and a skip connection in -> c: c stays after b.
    g = graph_of(["in", "a", "b", "c"], [("in", "a"), ("a", "b"), ("b", "c"), ("in", "c")])
    pos = layered_layout(g)
    assert pos["c"][0] > pos["b"][0] > pos["a"][0] > pos["in"][0]


def test_layout_is_deterministic():
    g = big_dag(300, seed=3)
    assert layered_layout(g) == layered_layout(g)
    assert layered_layout(g) == layered_layout(g.copy())


def test_no_two_nodes_share_a_position():
    g = big_dag(400, seed=7)
    pos = layered_layout(g)
    assert set(pos) == {n.name for n in g.nodes}
    assert distinct(pos)


def test_every_edge_points_right():
    g = big_dag(400, seed=11)
    pos = layered_layout(g)
    for e in g.edges:
        assert pos[e.src][0] < pos[e.dst][0]


def test_barycenter_removes_avoidable_crossings():
    # Two parallel chains whose second column starts in crossed node order.
    g = graph_of(
        ["in1", "in2", "b2", "b1", "c1", "c2"],
        [("in1", "b1"), ("in2", "b2"), ("b1", "c1"), ("b2", "c2")],
    )
    pos = layered_layout(g)
    assert (pos["in1"][1] < pos["in2"][1]) == (pos["b1"][1] < pos["b2"][1])
    assert (pos["b1"][1] < pos["b2"][1]) == (pos["c1"][1] < pos["c2"][1])


def test_cycle_does_not_crash():
    g = graph_of(["in", "a", "b", "c"], [("in", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    pos = layered_layout(g)
    assert set(pos) == {"in", "a", "b", "c"}
    assert distinct(pos)
    assert pos["in"][0] < pos["a"][0] < pos["b"][0] < pos["c"][0]


def test_self_loop_and_parallel_edges():
    g = graph_of(["in", "a"], [("in", "a"), ("in", "a"), ("a", "a")])
    pos = layered_layout(g)
    assert pos["in"][0] < pos["a"][0]


def test_empty_and_isolated_nodes():
    assert layered_layout(Graph()) == {}
    g = graph_of(["p", "q", "r"], [])
    pos = layered_layout(g)
    assert {x for x, _ in pos.values()} == {0.0}
    assert distinct(pos)


def test_apply_layout_is_one_undoable_move():
    g = graph_of(["in", "a", "b"], [("in", "a"), ("a", "b")])
    stack = UndoStack(g)
    cmd = apply_layout(g)
    assert isinstance(cmd, MoveNodes)
    stack.push(cmd)
    assert g.node("b").position == layered_layout(g)["b"]
    assert g.node("b").position != (0.0, 0.0)
    stack.undo()
    assert all(n.position == (0.0, 0.0) for n in g.nodes)
    stack.redo()
    assert g.node("b").position == layered_layout(g)["b"]


def test_apply_layout_on_empty_graph():
    g = Graph()
    UndoStack(g).push(apply_layout(g))


def test_layout_in_place_also_arranges_nested_models():
    sub = graph_of(["in_s", "s1", "s2"], [("in_s", "s1"), ("s1", "s2")])
    g = graph_of(["in", "a"], [("in", "a")])
    g.add_node(Node("enc", "Model", subgraph=sub))
    g.add_edge(Edge("a", 0, "enc", "in_s"))
    g.set_outputs([Output("enc")])
    layout_in_place(g)
    pos = layered_layout(g)
    assert {n.name: n.position for n in g.nodes} == pos
    assert sub.node("s2").position[0] > sub.node("s1").position[0]


def big_dag(n: int, seed: int) -> Graph:
    """A NASNet-like DAG: a chain with random skip and branch connections."""
    rng = random.Random(seed)
    names = ["in"] + [f"n{i}" for i in range(1, n)]
    edges = []
    for i in range(1, n):
        edges.append((names[i - 1], names[i]))
        if i > 2 and rng.random() < 0.4:
            edges.append((names[rng.randrange(max(0, i - 12), i - 1)], names[i]))
    return graph_of(names, edges)


def test_large_graph_is_fast():
    g = big_dag(1200, seed=1)
    start = time.perf_counter()
    pos = layered_layout(g)
    elapsed = time.perf_counter() - start
    print(f"layout: {len(g)} nodes, {len(g.edges)} edges in {elapsed * 1000:.1f} ms")
    assert len(pos) == 1200 and distinct(pos)
    assert elapsed < 1.0


def test_wide_graph_is_fast():
    # Many parallel branches: wide columns stress the barycenter sort and crossing count.
    names = ["in"] + [f"a{i}" for i in range(300)] + [f"b{i}" for i in range(300)] + ["out"]
    edges = [("in", f"a{i}") for i in range(300)]
    edges += [(f"a{i}", f"b{(i * 7) % 300}") for i in range(300)]
    edges += [(f"b{i}", "out") for i in range(300)]
    g = graph_of(names, edges)
    start = time.perf_counter()
    pos = layered_layout(g)
    elapsed = time.perf_counter() - start
    print(f"layout: wide graph of {len(g)} nodes in {elapsed * 1000:.1f} ms")
    assert distinct(pos) and elapsed < 1.0
