"""Compile and import are two sides of one mapping: Keras -> graph -> Keras is identical."""

import glob
import json
from pathlib import Path

import numpy as np
import pytest

from studio.core.graph import Edge, Graph, Node, Output
from studio.core.validation import validate
from studio.engine import EngineError
from studio.engine.build import build_model
from studio.engine.importer import ModelImportError, config_to_graph, import_model_file
from studio.engine.weights import (
    apply_weights,
    layer_weights,
    read_weights,
    save_weights,
    weights_from_model_file,
)
from studio.project import load_project

ROOT = Path(__file__).resolve().parents[2]


def _functional(model):
    return {"class_name": "Functional", "config": model.get_config()}


@pytest.fixture
def rich_model(keras):
    """Everything the Functional API can express, in one small model."""
    from keras import layers, ops

    a = keras.Input((8,), name="a")
    b = keras.Input((8,), name="b")
    shared = layers.Dense(4, name="shared", kernel_initializer="he_normal")
    x, y = shared(a), shared(b)  # one layer, two places, shared weights
    z = layers.Concatenate(name="cat")([x, y])
    w = ops.abs(z) + 3.0  # keras.ops with a constant
    inner = keras.Sequential([keras.Input((8,)), layers.Dense(3, name="inner_dense")], name="inner")
    o = inner(w)  # a nested model used as a layer
    r = layers.Reshape((2, 2), name="rs")(y)
    _, h, _ = layers.LSTM(5, return_state=True, name="lstm")(r)  # several outputs
    m = layers.MultiHeadAttention(2, 4, name="mha")(r, r, key=r, use_causal_mask=True)
    return keras.Model([a, b], [o, h, m], name="rich")


def test_rich_model_imports_with_every_functional_feature(rich_model):
    graph = config_to_graph(_functional(rich_model))
    nodes = {n.name: n for n in graph.nodes}
    assert [n.name for n in graph.input_nodes] == ["a", "b"]
    assert nodes["shared_call2"].shared_with == "shared"
    assert nodes["inner"].type == "Model" and nodes["inner"].subgraph.style == "sequential"
    assert nodes["add"].type == "ops.Add" and nodes["add"].call_args == {"x2": 3.0}
    assert nodes["mha"].call_args == {"use_causal_mask": True}
    assert Edge("rs", 0, "mha", "key", 0) in graph.edges
    assert {e.slot for e in graph.in_edges("cat")} == {0, 1}
    assert graph.outputs == [Output("inner", 0), Output("lstm", 1), Output("mha", 0)]
    assert [d for d in validate(graph) if d.severity == "error"] == []


def test_rich_model_compiles_back_to_the_same_config_and_outputs(keras, rich_model):
    graph = config_to_graph(_functional(rich_model))
    rebuilt = build_model(graph)
    assert rebuilt.get_config() == rich_model.get_config()
    apply_weights(rebuilt, layer_weights(rich_model))
    rng = np.random.default_rng(1)
    x = [rng.random((3, 8)).astype("float32") for _ in range(2)]
    for want, got in zip(rich_model(x), rebuilt(x)):
        assert np.max(np.abs(np.asarray(want) - np.asarray(got))) < 1e-5
    again = config_to_graph(_functional(rebuilt))
    assert again.structure() == graph.structure()


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "resources/examples/*.studio.json"))))
def test_example_graph_to_keras_to_graph_is_the_same_graph(path):
    graph = load_project(path).graph
    back = config_to_graph(_functional(build_model(graph)))
    assert back.structure() == graph.structure()


def test_layer_names_equal_node_names_and_outputs_are_ordered():
    graph = load_project(ROOT / "resources/examples/multi_io.studio.json").graph
    model = build_model(graph)
    assert [layer.name for layer in model.layers] == [n.name for n in graph.nodes]
    assert model.output_names == ["regression", "classification"]
    assert [t.name for t in model.inputs] == ["input1", "input2"] or len(model.inputs) == 2


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_import_model_files_keeps_weights(keras, tmp_path, rich_model, suffix):
    if suffix == ".h5":  # legacy H5 cannot hold the ops nodes; use a plain CNN
        inp = keras.Input((12, 12, 1), name="img")
        x = keras.layers.Conv2D(4, 3, name="c")(inp)
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.Flatten(name="f")(x)
        model = keras.Model(inp, keras.layers.Dense(2, name="d")(x))
    else:
        model = rich_model
    path = tmp_path / f"model{suffix}"
    model.save(path)
    graph = import_model_file(path)
    weights = weights_from_model_file(path)
    save_weights(weights, tmp_path / "w.h5")
    rebuilt = build_model(graph)
    report = apply_weights(rebuilt, read_weights(tmp_path / "w.h5"))
    assert report["skipped"] == {}
    assert sorted(report["loaded"]) == sorted(weights)
    inputs = [np.ones((2, *t.shape[1:]), "float32") for t in model.inputs]
    inputs = inputs[0] if len(inputs) == 1 else inputs
    want, got = model(inputs), rebuilt(inputs)
    want = want if isinstance(want, list) else [want]
    got = got if isinstance(got, list) else [got]
    for w, g in zip(want, got):
        assert np.max(np.abs(np.asarray(w) - np.asarray(g))) < 1e-5


def test_import_keras_json(keras, tmp_path):
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, name="d1"), keras.layers.Dense(1, name="d2")],
        name="seq",
    )
    path = tmp_path / "model.json"
    path.write_text(model.to_json(), encoding="utf-8")
    graph = import_model_file(path)
    assert graph.style == "sequential"
    assert build_model(graph).get_config() == model.get_config()


def test_custom_class_is_reported_by_name_and_nothing_runs(keras, tmp_path):
    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "name": "x",
                    "module": "keras.layers",
                    "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "x"},
                    "inbound_nodes": [],
                },
                {
                    "class_name": "MyFancyLayer",
                    "name": "fancy",
                    "module": "my_package.layers",
                    "config": {"name": "fancy"},
                    "inbound_nodes": [
                        {
                            "args": [
                                {
                                    "class_name": "__keras_tensor__",
                                    "config": {
                                        "shape": [None, 3],
                                        "dtype": "float32",
                                        "keras_history": ["x", 0, 0],
                                    },
                                }
                            ],
                            "kwargs": {},
                        }
                    ],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["fancy", 0, 0]],
        },
    }
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelImportError) as info:
        import_model_file(path)
    assert "MyFancyLayer" in info.value.message and "fancy" in info.value.message


def test_keras_errors_become_plain_sentences_on_the_node():
    g = Graph("bad")
    g.add_node(Node("x", "InputLayer", {"shape": [10]}))
    g.add_node(Node("conv", "Conv2D", {"filters": 3, "kernel_size": 3}))
    g.add_edge(Edge("x", 0, "conv", "inputs"))
    g.set_outputs([Output("conv", 0)])
    with pytest.raises(EngineError) as info:
        build_model(g)
    assert info.value.node == "conv"
    assert "4-D input" in info.value.message and "(None, 10)" in info.value.message


def test_imported_application_survives_the_project_file(keras, tmp_path):
    from studio.project import Project, save_project

    original = keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 64, 3))
    graph = config_to_graph(_functional(original))
    path = tmp_path / "mobilenet.studio.json"
    save_project(Project(name="mobilenet", graph=graph), path)
    first = path.read_bytes()
    reopened = load_project(path)
    save_project(reopened, path)
    assert path.read_bytes() == first
    assert reopened.graph == graph
    assert build_model(reopened.graph).get_config() == original.get_config()


def test_shared_nested_model_and_dict_outputs_import_and_compile(keras):
    i = keras.Input((8,), name="ii")
    inner = keras.Model(
        i,
        {"z": keras.layers.Dense(5, name="dz")(i), "a": keras.layers.Dense(2, name="da")(i)},
        name="inner",
    )
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    ra, rb = inner(a), inner(b)  # the nested model twice, shared weights
    out = keras.layers.Concatenate(name="cat")(
        [
            keras.layers.Dense(7, name="after_z")(ra["z"]),
            keras.layers.Dense(3, name="after_a")(rb["a"]),
        ]
    )
    model = keras.Model([a, b], out)
    graph = config_to_graph(_functional(model))
    assert graph.node("inner_call2").shared_with == "inner"
    assert Edge("b", 0, "inner_call2", "ii", 0) in graph.edges
    rebuilt = build_model(graph)
    assert rebuilt.count_params() == model.count_params()
    from studio.engine.shapes import infer_shapes

    result = infer_shapes(graph)
    assert result.errors == {}
    assert result.total_params == model.count_params()
    assert result.nodes["after_z"].params == 5 * 7 + 7


def test_dict_inputs_import(keras):
    p, q = keras.Input((3,), name="p"), keras.Input((5,), name="q")
    model = keras.Model({"q": q, "p": p}, keras.layers.Concatenate(name="c")([p, q]))
    graph = config_to_graph(_functional(model))
    assert sorted(n.name for n in graph.input_nodes) == ["p", "q"]
    assert build_model(graph).count_params() == model.count_params()


def test_a_shared_layer_applied_to_a_tensor_of_another_shape_is_an_error():
    from studio.engine.shapes import infer_shapes

    g = Graph("g")
    g.add_node(Node("a", "InputLayer", {"shape": [8]}))
    g.add_node(Node("b", "InputLayer", {"shape": [5]}))
    g.add_node(Node("d", "Dense", {"units": 4}))
    g.add_node(Node("d2", "Dense", shared_with="d"))
    g.add_edge(Edge("a", 0, "d", "inputs"))
    g.add_edge(Edge("b", 0, "d2", "inputs"))
    g.set_outputs([Output("d"), Output("d2")])
    result = infer_shapes(g)
    assert result.nodes["d"].error is None
    assert result.nodes["d2"].error and "(None, 5)" in result.nodes["d2"].error


def test_weights_keep_odd_layer_names(tmp_path):
    weights = {"c\\d": [np.zeros(3)], "e/f%": [np.ones(2)]}
    save_weights(weights, tmp_path / "w.h5")
    back = read_weights(tmp_path / "w.h5")
    assert sorted(back) == sorted(weights)
