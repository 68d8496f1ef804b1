"""Shapes and parameter counts, per node, exactly as Keras counts them, updated per edit."""

import pytest

from studio.core.graph import Edge, Graph, Node, Output
from studio.engine.build import build_model
from studio.engine.importer import config_to_graph
from studio.engine.shapes import ShapeInference, infer_shapes
from studio.project import load_project


def _chain(*nodes):
    g = Graph("g")
    prev = None
    for n in nodes:
        g.add_node(n)
        if prev:
            g.add_edge(Edge(prev.name, 0, n.name, "inputs"))
        prev = n
    g.set_outputs([Output(prev.name, 0)])
    return g


@pytest.mark.parametrize(
    "example", ["mnist_cnn", "functional_mlp", "text_classifier", "multi_io"]
)
def test_counts_and_shapes_equal_keras(example):
    graph = load_project(f"resources/examples/{example}.studio.json").graph
    result = infer_shapes(graph)
    model = build_model(graph)
    assert result.total_params == model.count_params()
    for layer in model.layers:
        info = result.nodes[layer.name]
        assert info.params == layer.count_params()
        assert info.outputs[0][0] == tuple(layer.output.shape)


def test_shapes_of_an_imported_application_match_the_model(keras):
    model = keras.applications.MobileNetV3Small(weights=None, input_shape=(96, 96, 3))
    graph = config_to_graph({"class_name": "Functional", "config": model.get_config()})
    result = infer_shapes(graph)
    assert result.errors == {}
    assert result.total_params == model.count_params()
    assert result.non_trainable_params == sum(
        int(w.numpy().size) for w in model.non_trainable_weights
    )
    for layer in model.layers:
        assert result.nodes[layer.name].outputs[0][0] == tuple(layer.output.shape), layer.name


def test_only_nodes_whose_inputs_or_config_changed_are_recomputed():
    graph = _chain(
        Node("x", "InputLayer", {"shape": [16]}),
        Node("d1", "Dense", {"units": 8}),
        Node("drop", "Dropout", {"rate": 0.1}),
        Node("d2", "Dense", {"units": 4}),
        Node("d3", "Dense", {"units": 2}),
    )
    engine = ShapeInference()
    first = engine.infer(graph)
    assert set(first.recomputed) == {"x", "d1", "drop", "d2", "d3"}

    graph.set_params("drop", {"rate": 0.3})  # no shape change downstream
    assert engine.infer(graph).recomputed == ["drop"]

    graph.set_params("d1", {"units": 12})  # d1 changes its output: drop and d2 see it
    again = engine.infer(graph)
    assert again.recomputed == ["d1", "drop", "d2"]
    assert again.nodes["d2"].params == 12 * 4 + 4
    assert again.nodes["d3"].params == 4 * 2 + 2


def test_a_keras_error_is_a_plain_message_on_its_node_and_blocks_downstream():
    graph = Graph("g")
    for n in [
        Node("a", "InputLayer", {"shape": [4]}),
        Node("b", "InputLayer", {"shape": [5, 2]}),
        Node("cat", "Concatenate"),
        Node("out", "Dense", {"units": 1}),
    ]:
        graph.add_node(n)
    graph.add_edge(Edge("a", 0, "cat", "inputs", 0))
    graph.add_edge(Edge("b", 0, "cat", "inputs", 1))
    graph.add_edge(Edge("cat", 0, "out", "inputs"))
    graph.set_outputs([Output("out", 0)])
    result = infer_shapes(graph)
    message = result.nodes["cat"].error
    assert message.startswith("Concatenate needs inputs whose shapes match")
    assert "(None, 4)" in message and "(None, 5, 2)" in message
    assert result.nodes["out"].blocked_by == "cat"
    assert result.nodes["out"].error is None


def test_conv_after_flat_tensor_and_negative_size_are_explained():
    graph = _chain(
        Node("x", "InputLayer", {"shape": [10]}),
        Node("conv", "Conv2D", {"filters": 2, "kernel_size": [3, 3]}),
    )
    msg = infer_shapes(graph).nodes["conv"].error
    assert "expects a 4-D input" in msg, msg and "Reshape" in msg

    graph = _chain(
        Node("x", "InputLayer", {"shape": [2, 2, 1]}),
        Node("conv", "Conv2D", {"filters": 2, "kernel_size": [3, 3]}),
    )
    msg = infer_shapes(graph).nodes["conv"].error
    assert "negative size" in msg and "(None, 2, 2, 1)" in msg


def test_dense_after_an_image_tensor_gets_a_warning():
    graph = _chain(
        Node("x", "InputLayer", {"shape": [8, 8, 3]}),
        Node("dense", "Dense", {"units": 4}),
    )
    info = infer_shapes(graph).nodes["dense"]
    assert info.error is None
    assert info.outputs[0][0] == (None, 8, 8, 4)
    assert "Flatten" in info.warnings[0]


def test_shared_layer_counts_once_and_nested_models_count_their_weights():
    graph = Graph("g")
    for n in [
        Node("a", "InputLayer", {"shape": [3]}),
        Node("b", "InputLayer", {"shape": [3]}),
        Node("tower", "Dense", {"units": 5}),
        Node("tower_2", "Dense", shared_with="tower"),
        Node("sum", "Add"),
    ]:
        graph.add_node(n)
    graph.add_edge(Edge("a", 0, "tower", "inputs"))
    graph.add_edge(Edge("b", 0, "tower_2", "inputs"))
    graph.add_edge(Edge("tower", 0, "sum", "inputs", 0))
    graph.add_edge(Edge("tower_2", 0, "sum", "inputs", 1))
    graph.set_outputs([Output("sum", 0)])
    result = infer_shapes(graph)
    assert result.total_params == 3 * 5 + 5
    assert result.nodes["tower_2"].params == 0
    assert result.nodes["tower_2"].outputs[0][0] == (None, 5)
    assert build_model(graph).count_params() == result.total_params
