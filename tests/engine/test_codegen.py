"""Generated scripts (studio.core.codegen) build the same models as studio.engine.build."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.codegen import CodegenError, available_styles, generate_script
from studio.core.graph import Edge, Graph, Node, Output
from studio.project.io import Project, load_project
from studio.resources import resource_path

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).with_name("ruff")
EXAMPLES = sorted(
    p.name.removesuffix(".studio.json") for p in resource_path("examples").glob("*.studio.json")
)

pytestmark = pytest.mark.slow


# ----------------------------------------------------------------------------- helpers
def load_script(text: str, folder: Path, stem: str):
    path = folder / f"{stem}.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"generated_{stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ruff_ok(text: str) -> None:
    if not RUFF.exists():
        pytest.skip("ruff is not installed")
    # A script is checked where the user saves it: ruff's defaults (88 columns) for the
    # format, and the project's own lint rules (imports, bugbear, pyupgrade) on top.
    for args in (["format", "--check", "--isolated"], ["check"]):
        done = subprocess.run(
            [str(RUFF), *args, "--stdin-filename", "generated.py", "-"],
            input=text,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)


def random_inputs(model):
    rng = np.random.default_rng(0)
    xs = []
    for t in model.inputs:
        shape = (2, *t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(rng.integers(0, 10, shape).astype("int32"))
        else:
            xs.append(rng.random(shape).astype("float32"))
    return xs


def flat(result):
    if isinstance(result, dict):
        return [np.asarray(result[k]) for k in sorted(result)]
    if isinstance(result, (list, tuple)):
        return [np.asarray(r) for r in result]
    return [np.asarray(result)]


def layer_configs(model):
    out = {}
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":  # a Sequential does not list it
            continue
        cfg = layer.get_config()
        out[layer.name] = cfg
    return out


def check_same(graph: Graph, text: str, style: str, folder: Path, keras, name=None):
    from studio.engine.build import build_model

    module = load_script(text, folder, f"{graph.name}_{style}")
    generated = module.build_model()
    reference = build_model(graph, name=name)
    assert generated.name == reference.name
    assert generated.count_params() == reference.count_params()
    if style == "subclass":
        by_name = {layer.name: layer for layer in generated.layers}
        for layer in reference.layers:
            if layer.weights:
                by_name[layer.name].set_weights(layer.get_weights())
    else:
        assert layer_configs(generated) == layer_configs(reference)
        generated.set_weights(reference.get_weights())
    xs = random_inputs(reference)
    args = xs[0] if len(xs) == 1 else xs
    a = flat(reference(args, training=False))
    b = flat(generated(args, training=False))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        assert np.max(np.abs(x - y)) < 1e-5 if x.size else True


def check_all_styles(project: Project, folder: Path, keras, catalog=None):
    styles = available_styles(project.graph)
    for style in styles:
        text = generate_script(project, style)
        assert text == generate_script(project, style)  # deterministic
        ruff_ok(text)
        check_same(project.graph, text, style, folder, keras, project.name)
    return styles


# ----------------------------------------------------------------------------- examples
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_scripts(example, tmp_path, keras):
    project = load_project(resource_path("examples", f"{example}.studio.json"))
    styles = check_all_styles(project, tmp_path, keras)
    assert "functional" in styles and "subclass" in styles



def test_sequential_refuses_a_branching_graph():
    project = load_project(resource_path("examples", "multi_io.studio.json"))
    assert available_styles(project.graph) == ["functional", "subclass"]
    with pytest.raises(CodegenError):
        generate_script(project, "sequential")


def test_script_reads_like_hand_written_keras():
    project = load_project(resource_path("examples", "mnist_cnn.studio.json"))
    text = generate_script(project)
    assert "import keras\n" in text and "from keras import layers\n" in text
    assert 'conv2d = layers.Conv2D(32, (3, 3), activation="relu", name="conv2d")(image)' in text
    assert 'layers.Dense(128, activation="relu", name="dense")(flatten)' in text
    assert "def build_model():" in text and 'name="mnist_cnn"' in text
    text = generate_script(load_project(resource_path("examples", "text_classifier.studio.json")))
    assert "layers.Bidirectional(\n        layers.LSTM(64, return_sequences=True" in text


def test_whole_script_trains_one_epoch(tmp_path):
    project = load_project(resource_path("examples", "mnist_cnn.studio.json"))
    text = generate_script(project, epochs=1)
    (tmp_path / "train.py").write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Test:" in done.stdout
    assert (tmp_path / "mnist_cnn_run" / "final.keras").exists()
    assert (tmp_path / "mnist_cnn_run" / "history.csv").exists()


# ----------------------------------------------------------------------------- hand-made graphs
def _graph(name, nodes, edges, outputs):
    g = Graph(name)
    for n in nodes:
        g.add_node(n)
    for e in edges:
        g.add_edge(Edge(*e) if len(e) == 5 else Edge(e[0], 0, e[1], e[2], 0))
    g.set_outputs(outputs)
    return g


def _tower():
    """A nested functional model: Dense -> Dense."""
    return _graph(
        "tower",
        [
            Node("x", "InputLayer", {"shape": [16]}),
            Node("hidden", "Dense", {"units": 8, "activation": "relu"}),
            Node("out", "Dense", {"units": 4}),
        ],
        [("x", "hidden", "inputs"), ("hidden", "out", "inputs")],
        [Output("out")],
    )


def test_shared_nested_ops_and_attention(tmp_path, keras):
    seq = Graph("head")
    seq.style = "sequential"
    for n in [
        Node("h_in", "InputLayer", {"shape": [4]}),
        Node("h_dense", "Dense", {"units": 3, "activation": "softmax"}),
    ]:
        seq.add_node(n)
    seq.add_edge(Edge("h_in", 0, "h_dense", "inputs", 0))
    seq.set_outputs([Output("h_dense")])
    g = _graph(
        "complex net",
        [
            Node("a", "InputLayer", {"shape": [16]}),
            Node("b", "InputLayer", {"shape": [16]}),
            Node("seq", "InputLayer", {"shape": [5, 8]}),
            Node("shared", "Dense", {"units": 16}),
            Node("shared_again", "Dense", {}, shared_with="shared"),
            Node("plus3", "ops.Add", call_args={"x2": 3.0}),
            Node("merged", "Add"),
            Node("tower", "Model", subgraph=_tower()),
            Node("tower_2", "Model", shared_with="tower"),
            Node("cat", "Concatenate", {"axis": -1}),
            Node("head", "Model", subgraph=seq),
            Node("attention", "MultiHeadAttention", {"num_heads": 2, "key_dim": 4}),
            Node("lstm", "LSTM", {"units": 6, "return_state": True}),
            Node("class", "Dense", {"units": 2}),
        ],
        [
            ("a", "shared", "inputs"),
            ("b", "shared_again", "inputs"),
            ("shared", "plus3", "x1"),
            ("plus3", 0, "merged", "inputs", 0),
            ("shared_again", 0, "merged", "inputs", 1),
            ("merged", "tower", "x"),
            ("b", "tower_2", "x"),
            ("tower", 0, "cat", "inputs", 0),
            ("tower_2", 0, "cat", "inputs", 1),
            ("seq", "attention", "query"),
            ("seq", "attention", "value"),
            ("seq", "attention", "key"),
            ("attention", "lstm", "sequences"),
            ("lstm", 1, "class", "inputs", 0),
        ],
        [Output("cat"), Output("head"), Output("lstm", 2), Output("class", name="klass")],
    )
    g.add_edge(Edge("tower", 0, "head", "h_in", 0))
    g.set_outputs([Output("cat"), Output("head"), Output("lstm", 2), Output("class")])
    project = Project("complex net", g)
    styles = check_all_styles(project, tmp_path, keras)
    assert styles == ["functional", "subclass"]
    text = generate_script(project)
    assert "keras.ops.add(shared, 3.0)" in text
    assert (
        'attention = layers.MultiHeadAttention(2, 4, name="attention")(seq, seq, key=seq)' in text
    )
    assert "def build_tower():" in text and "def build_head():" in text
    assert "class_ = " in text  # a keyword as a node name


def test_named_outputs(tmp_path, keras):
    g = _tower()
    g.set_outputs([Output("out", name="score"), Output("hidden", name="features")])
    project = Project("named", g)
    check_all_styles(project, tmp_path, keras)


# ----------------------------------------------------------------------------- applications
APPLICATIONS = [
    ("MobileNet", {"input_shape": (32, 32, 3)}),
    ("MobileNetV2", {"input_shape": (32, 32, 3)}),
    ("MobileNetV3Small", {"input_shape": (32, 32, 3)}),
    ("ResNet50", {"input_shape": (32, 32, 3)}),
    ("DenseNet121", {"input_shape": (32, 32, 3)}),
    ("EfficientNetB0", {"input_shape": (32, 32, 3)}),
    ("NASNetMobile", {"input_shape": (32, 32, 3)}),
    ("InceptionV3", {"input_shape": (75, 75, 3)}),
    ("Xception", {"input_shape": (71, 71, 3)}),
    ("VGG16", {"include_top": False, "input_shape": (32, 32, 3)}),
    ("ConvNeXtTiny", {"input_shape": (32, 32, 3)}),
]


@pytest.mark.parametrize("name,kwargs", APPLICATIONS, ids=[a for a, _ in APPLICATIONS])
def test_application_scripts(name, kwargs, tmp_path, keras):
    from studio.engine.importer import config_to_graph

    original = getattr(keras.applications, name)(weights=None, **kwargs)
    graph = config_to_graph({"class_name": "Functional", "config": original.get_config()})
    del original
    project = Project(graph.name, graph)
    for style in ("functional", "subclass"):
        text = generate_script(project, style)
        ruff_ok(text)
        check_same(graph, text, style, tmp_path, keras)


@pytest.mark.parametrize("example", EXAMPLES)
def test_generated_data_equals_studio_data(example, tmp_path, keras):
    """The script's prepare_data() gives the arrays studio.engine.data.prepare gives."""
    from studio.core.settings import data_settings, input_names, output_names
    from studio.engine.build import build_model
    from studio.engine.data import prepare
    from studio.engine.training import model_io

    project = load_project(resource_path("examples", f"{example}.studio.json"))
    graph = project.graph
    data = data_settings(project.settings, graph)
    model = build_model(graph)
    ins, outs, _ = model_io(model, input_names(graph), output_names(graph))
    expected = prepare(data, ins, outs, base_dir=project.path.parent)
    module = load_script(generate_script(project), tmp_path, f"data_{example}")
    splits = module.prepare_data()
    for part in ("train", "validation", "test"):
        pair = getattr(expected, part)
        if pair is None:
            assert len(splits[part][0][0]) == 0
            continue
        for got, want in zip(splits[part][0], pair[0].values()):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-5)
        for got, want in zip(splits[part][1], pair[1].values()):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-6)
