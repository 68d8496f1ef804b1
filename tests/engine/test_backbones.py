"""Pretrained networks as nodes: Backbone and PreprocessInput (studio/engine/applications.py).

Everything runs offline with ``weights=None``; ImageNet downloads are faked or refused.
"""

import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from studio.core.codegen import generate_script
from studio.core.graph import Edge, Graph, Node, Output
from studio.core.validation import validate
from studio.engine import EngineError
from studio.engine import applications as apps
from studio.engine.build import build_model
from studio.engine.shapes import ShapeInference
from studio.engine.weights import apply_weights, layer_weights
from studio.project import Project, load_project, save_project

ROOT = Path(__file__).resolve().parents[2]
SIDE = 96


def _graph(backbone: dict, side: int = SIDE, classes: int = 3) -> Graph:
    """Input -> PreprocessInput -> Backbone -> Dense head, the transfer-learning shape."""
    g = Graph("transfer")
    g.add_node(Node("image", "InputLayer", {"shape": [side, side, 3]}))
    g.add_node(Node("preprocess", "PreprocessInput", {}))
    g.add_node(Node("backbone", "Backbone", backbone))
    g.add_node(Node("head", "Dense", {"units": classes, "activation": "softmax"}))
    for a, b in (("image", "preprocess"), ("preprocess", "backbone"), ("backbone", "head")):
        g.add_edge(Edge(a, 0, b, "inputs"))
    g.set_outputs([Output("head")])
    return g


FROZEN = {"input_shape": [SIDE, SIDE, 3], "weights": None}


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything tries to fetch a file."""
    from keras.src.utils import file_utils

    def refuse(*args, **kwargs):
        raise AssertionError(f"a download was attempted: {args} {kwargs}")

    monkeypatch.setattr(file_utils, "get_file", refuse)
    monkeypatch.setattr("studio.engine.data._download", refuse)


# ----------------------------------------------------------------------------- PreprocessInput


def test_preprocess_input_equals_keras_for_every_family(keras):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 5, 7, 3)).astype("float32")
    seen = set()
    for model, family in apps.MODELS.items():
        want = getattr(keras.applications, family).preprocess_input(x.copy())
        got = apps.PreprocessInput(model=model)(x)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-4, err_msg=model)
        seen.add(apps.preprocess_mode(model))
    assert seen == {"tf", "torch", "caffe", "none"}
    layer = apps.PreprocessInput(model="ResNet50", name="p")
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is apps.PreprocessInput and again.model == "ResNet50"


# ----------------------------------------------------------------------------- shapes


def test_shapes_never_download_and_are_cached(keras, no_download):
    g = _graph({"input_shape": [SIDE, SIDE, 3]})  # weights "imagenet": shapes use None
    inference = ShapeInference()
    result = inference.infer(g)
    assert result.errors == {}
    reference = keras.applications.MobileNetV2(
        weights=None, include_top=False, pooling="avg", input_shape=(SIDE, SIDE, 3)
    )
    info = result.nodes["backbone"]
    assert info.outputs[0][0] == (None, 1280)
    assert info.params == reference.count_params() and info.trainable == 0  # frozen
    assert result.nodes["head"].trainable == 1280 * 3 + 3
    assert validate(g) == [] or all(d.severity != "error" for d in validate(g))

    assert inference.infer(g).recomputed == []
    g.set_params("backbone", {"input_shape": [SIDE, SIDE, 3], "trainable": True})
    again = inference.infer(g)
    assert again.recomputed == ["backbone"] and again.nodes["backbone"].trainable > 0


@pytest.mark.parametrize(
    "params,words",
    [
        ({"input_shape": [10, 10, 3]}, "at least 32x32"),
        ({"input_shape": [128, 128, 3]}, "Set input_shape to [96, 96, 3]"),
        ({"input_shape": [SIDE, SIDE, 3], "trainable": True, "fine_tune_from": "nope"},
         "has no layer 'nope'"),
        ({"model": "AlexNet"}, "no keras.applications model 'AlexNet'"),
    ],
)  # fmt: skip
def test_bad_backbone_parameters_are_node_errors(params, words, no_download):
    g = _graph(params)
    errors = ShapeInference().infer(g).errors
    assert list(errors) == ["backbone"] and words in errors["backbone"], errors


def test_offline_imagenet_weights_say_so_with_progress(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr("studio.engine.data.urllib.request.urlopen", offline)
    messages = []
    with apps.download_progress(lambda f, text: messages.append(text)):
        with pytest.raises(EngineError) as caught:
            build_model(_graph({"input_shape": [SIDE, SIDE, 3]}))
    assert caught.value.node == "backbone"
    assert caught.value.message == (
        "ImageNet weights for MobileNetV2 could not be downloaded (no network?); they are "
        "cached in ~/.keras/models after the first download. Choose weights None to train "
        "from scratch."
    )
    assert messages and messages[0].startswith("Downloading mobilenet_v2_weights")


# ----------------------------------------------------------------------------- transfer learning


def _data(n=48, side=SIDE, classes=3):
    rng = np.random.default_rng(1)
    y = rng.integers(0, classes, n)
    x = rng.uniform(0, 255, (n, side, side, 3)).astype("float32")
    x[..., 0] += 40.0 * y[:, None, None]  # something learnable
    return np.clip(x, 0, 255), y


def _fit(model, x, y):
    model.compile(optimizer=model_optimizer(), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)


def model_optimizer():
    import keras

    return keras.optimizers.Adam(1e-2)


def _snapshot(layer):
    return [np.array(w) for w in layer.get_weights()]


def _changed(before, layer):
    return any(not np.allclose(a, b) for a, b in zip(before, layer.get_weights()))


def test_transfer_learning_frozen_head_then_fine_tune_from_a_layer():
    x, y = _data()

    # 1. Frozen backbone, new head: only the head learns.
    graph = _graph(FROZEN)
    model = build_model(graph)
    backbone, head = model.get_layer("backbone"), model.get_layer("head")
    assert backbone.trainable is False and not backbone.trainable_weights
    before = {layer.name: _snapshot(layer) for layer in backbone.layers}
    head_before = _snapshot(head)
    _fit(model, x, y)
    assert _changed(head_before, head)
    # Frozen layers (BatchNormalization included: frozen, it runs in inference mode and
    # keeps its moving statistics) do not change at all.
    assert not [n for n in before if _changed(before[n], backbone.get_layer(n))]

    # 2. Unfreeze from block_15_expand: rebuild, carry the weights over by layer name.
    # freeze_batch_norm is off here: with random (weights=None) kernels and BatchNormalization
    # frozen at its initial statistics, MobileNetV2's ReLU6 activations saturate and the
    # gradients of the top blocks vanish, so nothing would visibly train. (With ImageNet
    # weights the default, BN frozen, is what Keras recommends; checked below by its flags.)
    weights = layer_weights(model)
    tune = FROZEN | {"trainable": True, "fine_tune_from": "block_15_expand"}
    default = apps.Backbone.from_config(tune | {"name": "default"})
    assert default.get_layer("block_15_expand").trainable
    assert not default.get_layer("block_15_expand_BN").trainable
    graph.set_params("backbone", tune | {"freeze_batch_norm": False})
    tuned = build_model(graph)
    report = apply_weights(tuned, weights)
    assert report["skipped"] == {} and {"backbone", "head"} <= set(report["loaded"])
    np.testing.assert_allclose(
        np.asarray(tuned(x[:4], training=False)), np.asarray(model(x[:4], training=False)),
        atol=1e-5,
    )  # fmt: skip
    backbone = tuned.get_layer("backbone")
    names = [layer.name for layer in backbone.layers]
    cut = names.index("block_15_expand")
    assert all(not layer.trainable for layer in backbone.layers[:cut])
    assert all(layer.trainable for layer in backbone.layers[cut:])
    before = {n: _snapshot(backbone.get_layer(n)) for n in names}
    trainable_before = {
        n: [np.array(w) for w in backbone.get_layer(n).trainable_weights] for n in names[cut:]
    }
    _fit(tuned, x, y)
    # Before the cut nothing changes: frozen layers, BatchNormalization included, run in
    # inference mode, so even their moving statistics stay.
    assert not [n for n in names[:cut] if _changed(before[n], backbone.get_layer(n))]
    # From the cut on, compare only the trainable weights: a BatchNormalization layer that
    # trains also moves its non-trainable moving mean and variance, which is expected.
    moved = [
        n
        for n, old in trainable_before.items()
        if any(
            not np.allclose(a, np.array(b))
            for a, b in zip(old, backbone.get_layer(n).trainable_weights)
        )
    ]
    with_weights = [n for n, old in trainable_before.items() if old]
    assert {"block_15_expand", "block_15_expand_BN", "Conv_1", "Conv_1_bn"} <= set(moved)
    assert set(moved) == set(with_weights)


def test_fine_tune_from_an_index_and_the_whole_backbone():
    model = apps.Backbone.from_config(FROZEN | {"trainable": True, "fine_tune_from": "-3"})
    flags = [layer.trainable for layer in model.layers]
    assert flags[:-3] == [False] * (len(flags) - 3) and flags[-3:] != [False] * 3
    whole = apps.Backbone.from_config(FROZEN | {"trainable": True})
    assert all(layer.trainable for layer in whole.layers)


# ----------------------------------------------------------------------------- expanding


def test_expand_backbone_into_a_nested_model_of_its_layers():
    graph = _graph(FROZEN)
    from studio.core.code import STARTERS, CodeDef

    graph.set_code("custom_loss", CodeDef("custom_loss", "loss", STARTERS["loss"]))
    graph.trusted_code = True
    expanded = apps.expand_backbone(graph, "backbone")
    # Only the node changes: the project's code (and trust) are kept.
    assert expanded.code == graph.code and expanded.trusted_code
    node = expanded.node("backbone")
    assert node.type == "Model" and node.subgraph is not None
    assert [n.name for n in expanded.nodes] == [n.name for n in graph.nodes]
    port = node.subgraph.input_nodes[0].name
    assert Edge("preprocess", 0, "backbone", port) in expanded.edges
    assert expanded.outputs == graph.outputs
    frozen = [n for n in node.subgraph.nodes if not n.is_input]
    assert frozen and all(n.params.get("trainable") is False for n in frozen)
    assert [d for d in validate(expanded) if d.severity == "error"] == []
    assert build_model(expanded).count_params() == build_model(graph).count_params()
    assert graph.node("backbone").type == "Backbone"  # the original is untouched


# ----------------------------------------------------------------------------- project, CLI, code


def _project(tmp_path: Path, backbone: dict, side: int = 32) -> Path:
    x, y = _data(n=24, side=side)
    np.savez(tmp_path / "images.npz", image=x, label=y)
    settings = {
        "data": {
            "source": {"kind": "npz", "path": "images.npz"},
            "inputs": {"image": {"field": "image"}},
            "outputs": {"head": {"field": "label", "encoding": "sparse"}},
            "validation": {"split": 0.25},
            "test": {"split": 0.0},
        },
        "training": {"epochs": 1, "batch_size": 8},
    }
    project = Project("transfer", _graph(backbone, side=side), settings=settings)
    return save_project(project, tmp_path / "transfer.studio.json")


@pytest.mark.slow
def test_project_with_a_backbone_saves_reopens_and_trains_from_the_cli(tmp_path):
    params = {"input_shape": [32, 32, 3], "weights": None, "trainable": True,
              "fine_tune_from": "block_16_expand"}  # fmt: skip
    path = _project(tmp_path, params)
    reopened = load_project(path)
    assert reopened.graph.node("backbone").params == params
    result = subprocess.run(
        [sys.executable, "-m", "studio", "train", str(path), "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    final = json.loads(result.stdout.strip().splitlines()[-1])
    assert final["status"] == "finished" and final["epochs"] == 1
    assert (tmp_path / "run" / "final.keras").exists()


@pytest.mark.slow
def test_exported_script_of_a_transfer_learning_project_runs(tmp_path):
    params = {"input_shape": [32, 32, 3], "weights": None, "trainable": True,
              "fine_tune_from": "block_16_expand"}  # fmt: skip
    project = load_project(_project(tmp_path, params))
    text = generate_script(project, epochs=1)
    compile(text, "train.py", "exec")
    assert "keras.applications.MobileNetV2(" in text
    assert 'backbone.get_layer("block_16_expand")' in text
    assert "class PreprocessInput(keras.layers.Layer):" in text
    frozen = generate_script(Project("t", _graph(FROZEN)))
    assert "backbone.trainable = False" in frozen and "weights=None" in frozen
    (tmp_path / "train.py").write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True,
        timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    saved = list(tmp_path.glob("*_run/final.keras"))
    assert saved, done.stdout[-2000:]
