"""Generated scripts (studio.core.codegen) build the same models as studio.engine.build."""

import importlib.util
import os
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


def check_data(project: Project, folder: Path) -> dict:
    """The script's prepare_data() gives the arrays studio.engine.data.prepare gives."""
    from studio.core.settings import data_settings, input_names, output_names
    from studio.engine.build import build_model
    from studio.engine.data import prepare
    from studio.engine.training import model_io

    graph = project.graph
    data = data_settings(project.settings, graph)
    model = build_model(graph)
    ins, outs, _ = model_io(model, input_names(graph), output_names(graph))
    base_dir = project.path.parent if project.path else None
    expected = prepare(data, ins, outs, base_dir=base_dir)
    text = generate_script(project)
    # The script finds the data beside itself: the tests that give it data files save the
    # project (in name only) in ``folder``.
    assert "DATA_DIR" not in text or base_dir == folder
    module = load_script(text, folder, f"data_{_identifier(project.name)}")
    splits = module.prepare_data()
    for part in ("train", "validation", "test"):
        pair = getattr(expected, part)
        if pair is None:
            assert len(splits[part][0][0]) == 0
            continue
        assert len(splits[part][0]) == len(pair[0])
        for got, want in zip(splits[part][0], pair[0].values()):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-5)
        assert len(splits[part][1]) == len(pair[1])
        for got, want in zip(splits[part][1], pair[1].values()):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-6)
    return splits


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


@pytest.mark.parametrize("example", EXAMPLES)
def test_generated_data_equals_studio_data(example, tmp_path, keras):
    project = load_project(resource_path("examples", f"{example}.studio.json"))
    check_data(project, tmp_path)


def _saved(tmp_path: Path, graph: Graph, data: dict) -> Project:
    """A project saved (in name only) in tmp_path, whose data paths are relative to it."""
    return Project(graph.name, graph, settings={"data": data}, path=tmp_path / "p.studio.json")


def _text_and_features_graph(n_features: int, classes: int) -> Graph:
    return _graph(
        "csv_net",
        [
            Node("features", "InputLayer", {"shape": [n_features]}),
            Node("tokens", "InputLayer", {"shape": [4], "dtype": "int32"}),
            Node("embedding", "Embedding", {"input_dim": 50, "output_dim": 2}),
            Node("pool", "GlobalAveragePooling1D"),
            Node("cat", "Concatenate"),
            Node("out", "Dense", {"units": classes, "activation": "softmax"}),
        ],
        [
            ("tokens", "embedding", "inputs"),
            ("embedding", "pool", "inputs"),
            ("features", 0, "cat", "inputs", 0),
            ("pool", 0, "cat", "inputs", 1),
            ("cat", "out", "inputs"),
        ],
        [Output("out")],
    )


def _write_csv(path: Path, rows: list[list], delimiter: str = ",") -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)


def test_generated_csv_data(tmp_path, keras):
    """Numeric, categorical (one-hot) and text columns, a string target and a separate
    validation file read like the training file (its categories and classes)."""
    rng = np.random.default_rng(1)
    colors = ["red", "green", "blue"]
    labels = ["dog", "cat", "bird"]
    header = ["x1", "x2", "color", "note", "label"]
    rows = [
        [f"{rng.normal():.3f}", str(i % 7), colors[i % 3], f"note {i} word{i % 5}", labels[i % 3]]
        for i in range(40)
    ]
    _write_csv(tmp_path / "train.csv", [header, *rows], delimiter=";")
    (tmp_path / "data").mkdir()
    val = [["1.5", "2", "blue", "a b c", "cat"], ["0.5", "3", "blue", "b c d", "cat"]]
    _write_csv(tmp_path / "data" / "val.csv", [header, *val], delimiter=";")
    data = {
        "source": {
            "kind": "csv",
            "path": "train.csv",
            "target": "label",
            "column_types": {"note": "text"},
        },
        "inputs": {
            "features": {"field": "features", "normalize": True},
            "tokens": {"field": "note", "text": {"max_tokens": 50, "sequence_length": 4}},
        },
        "outputs": {"out": {"field": "label", "encoding": "onehot"}},
        "seed": 3,
        "validation": {"source": {"kind": "csv", "path": "data/val.csv", "target": "label"}},
        "test": {"split": 0.2},
    }
    project = _saved(tmp_path, _text_and_features_graph(5, 3), data)
    text = generate_script(project)
    ruff_ok(text)
    assert 'DATA_DIR / "train.csv"' in text and "DATA_DIR = Path(__file__)" in text
    splits = check_data(project, tmp_path)
    assert len(splits["validation"][0][0]) == 2


def test_generated_csv_numeric_target(tmp_path, keras):
    """Auto-detected column types (tab-separated), numeric class labels from a float
    column and an absolute path when the project has never been saved."""
    header = ["a", "b", "grade"]
    rows = [[str(i), str(i * 0.5), ["10", "2", "3.5"][i % 3]] for i in range(30)]
    _write_csv(tmp_path / "t.tsv", [header, *rows], delimiter="\t")
    graph = _graph(
        "tsv",
        [Node("features", "InputLayer", {"shape": [2]}), Node("out", "Dense", {"units": 3})],
        [("features", "out", "inputs")],
        [Output("out")],
    )
    data = {
        "source": {
            "kind": "csv",
            "path": str(tmp_path / "t.tsv"),
            "target": "grade",
            "delimiter": "tab",
            "column_types": {"grade": "categorical"},
        },
        "inputs": {"features": "features"},
        "outputs": {"out": {"field": "grade", "encoding": "sparse"}},
        "validation": {"split": 0.2},
        "test": {"split": 0.1},
    }
    project = Project("tsv", graph, settings={"data": data})
    assert "DATA_DIR" not in generate_script(project)
    check_data(project, tmp_path)


def _image_graph(side: int, classes: int) -> Graph:
    return _graph(
        "image_net",
        [
            Node("image", "InputLayer", {"shape": [side, side, 3]}),
            Node("flatten", "Flatten"),
            Node("out", "Dense", {"units": classes}),
        ],
        [("image", "flatten", "inputs"), ("flatten", "out", "inputs")],
        [Output("out")],
    )


def _write_images(folder: Path, classes: dict[str, int], seed: int, keras) -> None:
    rng = np.random.default_rng(seed)
    for name, count in classes.items():
        (folder / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (10, 12, 3)).astype("float32")
            keras.utils.save_img(folder / name / f"{i}.png", pixels, scale=False)


def test_generated_image_folder_data(tmp_path, keras):
    """An image folder, with a separate validation folder that has one class of two (its
    class ids renumbered to the training folder's)."""
    _write_images(tmp_path / "images", {"cat": 3, "dog": 3}, 0, keras)
    _write_images(tmp_path / "val_images", {"dog": 2}, 1, keras)
    data = {
        "source": {"kind": "image_folder", "path": "images", "image_size": [8, 8]},
        "inputs": {"image": {"field": "image", "scale": 1 / 255}},
        "outputs": {"out": {"field": "label", "encoding": "sparse"}},
        "seed": 0,
        "validation": {"source": {"kind": "image_folder", "path": "val_images", "image_size": 8}},
        "test": {"split": 0.2},
    }
    project = _saved(tmp_path, _image_graph(8, 2), data)
    ruff_ok(generate_script(project))
    splits = check_data(project, tmp_path)
    assert list(splits["validation"][1][0]) == [1, 1]


def test_generated_text_folder_data(tmp_path, keras):
    words = ["good fine great", "bad awful poor", "nice lovely", "terrible worst"]
    for k, name in enumerate(["neg", "pos"]):
        (tmp_path / "texts" / name).mkdir(parents=True)
        for i in range(4):
            text = f"{words[(k + i) % 4]} number {i} ünïcode"
            (tmp_path / "texts" / name / f"{i}.txt").write_text(text, encoding="utf-8")
    graph = _graph(
        "text_net",
        [
            Node("tokens", "InputLayer", {"shape": [6], "dtype": "int32"}),
            Node("embedding", "Embedding", {"input_dim": 30, "output_dim": 2}),
            Node("pool", "GlobalAveragePooling1D"),
            Node("out", "Dense", {"units": 1, "activation": "sigmoid"}),
        ],
        [
            ("tokens", "embedding", "inputs"),
            ("embedding", "pool", "inputs"),
            ("pool", "out", "inputs"),
        ],
        [Output("out")],
    )
    data = {
        "source": {"kind": "text_folder", "path": "texts"},
        "inputs": {"tokens": {"field": "text", "text": {"max_tokens": 30, "sequence_length": 6}}},
        "outputs": {"out": {"field": "label", "encoding": "raw"}},
        "seed": 5,
        "validation": {"split": 0.25},
        "test": {"split": 0.25},
    }
    project = _saved(tmp_path, graph, data)
    ruff_ok(generate_script(project))
    check_data(project, tmp_path)


def test_generated_keras_dataset_code(tmp_path):
    """keras.datasets cannot be downloaded here: the code is checked, not run."""
    graph = _graph(
        "mnist_net",
        [
            Node("image", "InputLayer", {"shape": [28, 28, 1]}),
            Node("flatten", "Flatten"),
            Node("out", "Dense", {"units": 10}),
        ],
        [("image", "flatten", "inputs"), ("flatten", "out", "inputs")],
        [Output("out")],
    )
    data = {
        "source": {"kind": "keras", "name": "mnist"},
        "inputs": {"image": {"field": "image", "scale": 1 / 255}},
        "outputs": {"out": {"field": "label"}},
        "validation": {"split": 0.1},
        "test": {"builtin": True},
    }
    text = generate_script(Project("mnist_net", graph, settings={"data": data}))
    ruff_ok(text)
    compile(text, "generated.py", "exec")
    assert "keras.datasets.mnist.load_data()" in text
    assert "x[..., None]" in text and 'info["test"]' in text and "Test:" in text
    data["source"] = {"kind": "keras", "name": "imdb", "num_words": 500}
    data["test"] = {"split": 0.2}
    text = generate_script(Project("imdb_net", graph, settings={"data": data}))
    ruff_ok(text)
    assert "keras.datasets.imdb.load_data(num_words=500)" in text
    data["test"] = {"builtin": True}
    data["source"] = {"kind": "bundled", "name": "iris"}
    with pytest.raises(CodegenError):
        generate_script(Project("iris_net", graph, settings={"data": data}))


def test_every_example_script_trains_one_epoch(tmp_path):
    """Each example's whole script runs (one epoch), side by side, from the project's folder."""
    import shutil

    runs = {}
    for example in EXAMPLES:
        folder = tmp_path / example
        folder.mkdir()
        shutil.copy(resource_path("examples", f"{example}.studio.json"), folder)
        project = load_project(folder / f"{example}.studio.json")
        (folder / "train.py").write_text(generate_script(project, epochs=1), encoding="utf-8")
        runs[example] = subprocess.Popen(
            [sys.executable, "train.py"],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    for example, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (example, err[-3000:])
        assert "Test:" in out, example
        project = load_project(tmp_path / example / f"{example}.studio.json")
        run_dir = tmp_path / example / f"{project.name}_run"
        assert (run_dir / "final.keras").exists(), example
    assert (tmp_path / "mnist_cnn" / "mnist_cnn_run" / "history.csv").exists()


def test_scripts_of_templates_on_generated_data_train_on_the_same_data(tmp_path):
    """A template whose data Studio generates exports a script that generates the very same
    data (the generator's own source) and trains one epoch."""
    from studio.generated_data import GENERATORS

    runs = {}
    for name in ("unet", "lstm_forecaster", "recommender"):
        project = load_project(resource_path("templates", f"{name}.studio.json"))
        source = project.settings["data"]["source"]["name"]
        script = generate_script(project, epochs=1)
        assert f"def generate_{source}(" in script and "NotImplementedError" not in script
        namespace: dict = {}
        exec(compile(script, "train.py", "exec"), namespace)  # defines functions only
        fields, _ = namespace["load_data"]()
        expected = GENERATORS[source]()[0]
        assert all(np.array_equal(fields[k], expected[k]) for k in expected), name
        (tmp_path / f"{name}.py").write_text(script, encoding="utf-8")
        runs[name] = subprocess.Popen(
            [sys.executable, f"{name}.py"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, err[-3000:])
        assert "Test:" in out, name
