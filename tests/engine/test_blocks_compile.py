"""Blocks compile the same nested or inlined, and the exported script builds them."""

import numpy as np
import pytest

from studio.core.blocks import group_into_block, insert_block
from studio.core.codegen import generate_script
from studio.core.graph import Edge, Graph, Node, Output
from studio.project.io import Project
from tests.engine.test_codegen import check_all_styles, load_script

pytestmark = pytest.mark.slow


def _net() -> Graph:
    """``x -> conv_block -> conv_block_1 -> pool -> out``: one block (Conv2D, BatchNorm,
    ReLU) used twice."""
    g = Graph("blocks net")
    g.add_node(Node("x", "InputLayer", {"shape": [8, 8, 3]}))
    g.add_node(Node("conv", "Conv2D", {"filters": 4, "kernel_size": [3, 3], "padding": "same"}))
    g.add_node(Node("bn", "BatchNormalization"))
    g.add_node(Node("relu", "ReLU"))
    g.add_node(Node("pool", "GlobalAveragePooling2D"))
    g.add_node(Node("out", "Dense", {"units": 3}))
    for a, b in [("x", "conv"), ("conv", "bn"), ("bn", "relu"), ("relu", "pool"), ("pool", "out")]:
        g.add_edge(Edge(a, 0, b, "inputs"))
    g.set_outputs([Output("out")])
    g = group_into_block(g, [], ["conv", "bn", "relu"], "conv_block", {("x", 0): [8, 8, 3]})
    # The block's input takes 3 channels and it gives 4: a second use needs 4 in. Use a
    # 1x1 convolution in between so that both uses have the block's shapes.
    g, use = insert_block(g, [], "conv_block", (0, 0))
    g.add_node(Node("squeeze", "Conv2D", {"filters": 3, "kernel_size": [1, 1]}))
    g.remove_edge(Edge("conv_block", 0, "pool", "inputs"))
    g.add_edge(Edge("conv_block", 0, "squeeze", "inputs"))
    g.add_edge(Edge("squeeze", 0, use, "x"))
    g.add_edge(Edge(use, 0, "pool", "inputs"))
    return g


def _inlined(g: Graph) -> Graph:
    h = g.copy()
    for name in ("conv_block", "conv_block_1"):
        h.node(name).params["compile"] = "inline"
    return h


def test_nested_and_inline_compile_the_same(keras):
    from studio.engine.build import build_model
    from studio.engine.shapes import infer_shapes

    g = _net()
    nested = build_model(g)
    inline = build_model(_inlined(g))
    assert nested.count_params() == inline.count_params()
    names = [layer.name for layer in inline.layers]
    assert "conv_block_conv" in names and "conv_block_1_conv" in names
    assert "conv_block" in [layer.name for layer in nested.layers]
    # Copy the nested models' weights into the inlined layers, layer by layer.
    for layer in nested.layers:
        if isinstance(layer, keras.Model):
            for inner in layer.layers:
                if inner.weights:
                    inline.get_layer(f"{layer.name}_{inner.name}").set_weights(inner.get_weights())
        elif layer.weights:
            inline.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    assert np.allclose(nested(x, training=False), inline(x, training=False), atol=1e-5)
    # Shape inference gives the same shapes and counts either way.
    a, b = infer_shapes(g), infer_shapes(_inlined(g))
    assert a.total_params == b.total_params == nested.count_params()
    assert a.nodes["out"].outputs == b.nodes["out"].outputs


def test_script_has_one_function_per_block(tmp_path, keras):
    g = _net()
    project = Project("blocks net", g)
    text = generate_script(project)
    assert text.count("def build_conv_block(") == 1
    assert 'def build_conv_block(name="conv_block"):' in text
    assert 'build_conv_block(name="conv_block_1")' in text
    check_all_styles(project, tmp_path, keras)
    # Inline uses are written as layers.
    inline = Project("blocks net", _inlined(g))
    text = generate_script(inline)
    assert "def build_conv_block" not in text and '"conv_block_1_conv"' in text
    check_all_styles(inline, tmp_path, keras)
    module = load_script(text, tmp_path, "inline_again")
    assert module.build_model().get_layer("conv_block_1_bn") is not None
