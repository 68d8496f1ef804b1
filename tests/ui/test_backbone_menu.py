"""A Backbone node's "Expand into Layers" on the canvas: asks the engine, then one undo step."""

from __future__ import annotations

import pytest

from studio.core.blocks import group_into_block
from studio.core.code import STARTERS, CodeDef
from studio.core.commands import ExpandNode, SetParam, in_graph
from studio.core.graph import MODEL_TYPE, Edge, Graph, Node, Output
from studio.project import Project
from studio.ui.document import Document

from .test_canvas import node_center

LOSS = CodeDef("custom_loss", "loss", STARTERS["loss"])


def _graph() -> Graph:
    g = Graph("transfer")
    g.add_node(Node("image", "InputLayer", {"shape": [32, 32, 3]}, position=(0, 0)))
    g.add_node(Node("backbone", "Backbone", {"input_shape": [32, 32, 3], "weights": None},
                    position=(260, 0)))  # fmt: skip
    g.add_node(Node("head", "Dense", {"units": 2}, position=(520, 0)))
    g.add_edge(Edge("image", 0, "backbone", "inputs"))
    g.add_edge(Edge("backbone", 0, "head", "inputs"))
    g.set_outputs([Output("head")])
    return g


def test_expand_into_layers_is_offered_on_backbones_and_undoable(make_document, make_canvas):
    from studio.engine.applications import expand_backbone

    document = make_document(_graph())
    scene, _view = make_canvas(document)
    menu = scene.build_context_menu(node_center(scene, "head"))
    assert "Expand into Layers" not in {a.text() for a in menu.actions()}
    menu = scene.build_context_menu(node_center(scene, "backbone"))
    [action] = [a for a in menu.actions() if a.text() == "Expand into Layers"]
    asked = []
    scene.expandBackboneRequested.connect(lambda path, name: asked.append((path, name)))
    action.trigger()
    assert asked == [([], "backbone")]

    # What the window does with the engine's answer (MainWindow._on_backbone_expanded).
    expanded = expand_backbone(document.graph.copy(), "backbone")
    sub = expanded.node("backbone").subgraph
    assert document.push(in_graph([], ExpandNode(document.graph, "backbone", sub)))
    assert document.graph.node("backbone").type == "Model"
    assert scene.node_item("backbone").is_model
    document.undo()
    assert document.graph.node("backbone").type == "Backbone"


# ----------------------------------------------------------------------------- in the window


@pytest.fixture(scope="module")
def layers() -> Graph:
    """The engine's answer for the Backbone of :func:`_graph` (built once: it takes seconds)."""
    from studio.engine.applications import backbone_subgraph

    return backbone_subgraph(_graph().node("backbone"))


def _rich_graph() -> Graph:
    """:func:`_graph` with a code definition and a block, which expanding must not touch."""
    g = _graph()
    g.add_node(Node("extra", "Dense", {"units": 3}, position=(520, 200)))
    g.add_node(Node("act", "Activation", {"activation": "relu"}, position=(700, 200)))
    g.add_edge(Edge("backbone", 0, "extra", "inputs"))
    g.add_edge(Edge("extra", 0, "act", "inputs"))
    g.set_outputs([Output("head"), Output("act")])
    g = group_into_block(g, [], ["extra", "act"], "blk", {("backbone", 0): [1280]})
    g.set_code("custom_loss", LOSS)
    g.trusted_code = True
    return g




def _ask(window, path: list[str], name: str = "backbone") -> int:
    """Ask the window to expand ``name``; returns the job id (the engine is not started)."""
    before = set(window._jobs)
    window.expand_backbone(path, name)
    [job] = set(window._jobs) - before
    return job


def _answer(window, job: int, layers: Graph, name: str = "backbone") -> None:
    """Deliver what the engine answers: the requested node, expanded."""
    answer = Graph("request")
    answer.add_node(Node(name, MODEL_TYPE, subgraph=layers.copy()))
    window.engine.jobDone.emit(job, answer, "")


def test_expanding_in_the_window_changes_only_the_backbone_node(make_window, layers, tmp_path):
    window = make_window(Document(Project("p", _rich_graph())))
    graph = window.document.graph
    job = _ask(window, [])
    sent = window.engine._backlog[-1]  # only the node travels to the engine
    assert sent[2] == "expand-backbone" and [n.name for n in sent[3][0].nodes] == ["backbone"]
    # An edit elsewhere while the engine works is kept.
    window.document.push(SetParam("head", "units", 5))
    before_blocks, before_code = dict(graph.blocks), dict(graph.code)
    position = graph.node("backbone").position
    _answer(window, job, layers)

    node = graph.node("backbone")
    assert node.type == MODEL_TYPE and node.position == position and node.params == {}
    port = node.subgraph.input_nodes[0].name
    assert Edge("image", 0, "backbone", port) in graph.edges
    assert Edge("backbone", 0, "head", "inputs") in graph.edges
    assert graph.node("head").params["units"] == 5
    assert graph.code == before_code and graph.trusted_code
    assert graph.blocks.keys() == before_blocks.keys() == {"blk"}
    assert graph.node("blk").subgraph is graph.blocks["blk"]
    assert window.scene.node_item("backbone").is_model

    # The saved file reopens, with its code and block.
    from studio.project import load_project, save_project

    path = save_project(window.document.project, tmp_path / "p.studio.json")
    reopened = load_project(path)
    assert reopened.graph.code == before_code and set(reopened.graph.blocks) == {"blk"}
    assert reopened.graph.node("backbone").type == MODEL_TYPE

    window.document.undo()  # one step
    assert graph.node("backbone").type == "Backbone" and graph.node("head").params["units"] == 5
    assert Edge("image", 0, "backbone", "inputs") in graph.edges
    assert graph.code == before_code and set(graph.blocks) == {"blk"}


def test_expanding_inside_a_nested_graph(make_window, layers):
    outer = Graph("outer")
    outer.add_node(Node("x", "InputLayer", {"shape": [32, 32, 3]}))
    outer.add_node(Node("inner", MODEL_TYPE, subgraph=_graph()))
    outer.add_edge(Edge("x", 0, "inner", "image"))
    outer.set_outputs([Output("inner")])
    window = make_window(Document(Project("p", outer)))
    _answer(window, _ask(window, ["inner"]), layers)
    inner = window.document.graph.node("inner").subgraph
    assert inner.node("backbone").type == MODEL_TYPE
    assert window.document.graph.node("x").type == "InputLayer"
    window.document.undo()
    assert inner.node("backbone").type == "Backbone"


def test_an_answer_for_another_document_is_dropped(make_window, layers):
    window = make_window(Document(Project("first", _graph())))
    job = _ask(window, [])
    second = Document(Project("second", _rich_graph()))
    window.set_document(second)
    before = second.graph.signature()
    _answer(window, job, layers)
    assert second.graph.signature() == before
    assert not second.stack.can_undo()
    assert "dropped" in window.statusBar().currentMessage()
    assert job not in window._jobs


def test_an_answer_for_a_changed_or_removed_node_is_dropped(make_window, layers):
    from studio.core.commands import RemoveNode

    window = make_window(Document(Project("p", _graph())))
    job = _ask(window, [])
    window.document.push(SetParam("backbone", "trainable", True))  # another configuration
    _answer(window, job, layers)
    assert window.document.graph.node("backbone").type == "Backbone"
    assert "dropped" in window.statusBar().currentMessage()

    job = _ask(window, [])
    window.document.push(RemoveNode(window.document.graph, "backbone"))
    _answer(window, job, layers)
    assert "backbone" not in window.document.graph
    assert "dropped" in window.statusBar().currentMessage()
