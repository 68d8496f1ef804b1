"""A Backbone node's "Expand into Layers" on the canvas: asks the engine, then one undo step."""

from __future__ import annotations

from studio.core.commands import ReplaceGraph, in_graph
from studio.core.graph import Edge, Graph, Node, Output

from .test_canvas import node_center


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
    assert document.push(in_graph([], ReplaceGraph(expanded, "Expand backbone into layers")))
    assert document.graph.node("backbone").type == "Model"
    assert scene.node_item("backbone").is_model
    document.undo()
    assert document.graph.node("backbone").type == "Backbone"
