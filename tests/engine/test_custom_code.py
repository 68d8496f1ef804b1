"""Custom layers, losses and metrics written as code: trust, shapes, training, saving,
reopening, the exported script and the command line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.code import CodeDef
from studio.core.graph import Edge, Graph, Node, Output
from studio.project import Project, load_project, project_to_dict, save_project

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

# The seed's code, as written there (Keras 3 form).
SEED_LAYER = """\
import tensorflow as tf
from tensorflow.keras import layers

class CustomLayer(layers.Layer):
    def __init__(self, units=32):
        super(CustomLayer, self).__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer='random_normal', trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer='zeros', trainable=True)

    def call(self, inputs):
        return tf.matmul(inputs, self.w) + self.b
"""  # noqa: E501

# The seed's custom_loss calls tf.keras.losses.mean_squared_error, which Keras 3's
# tf.keras does not have (it has mse/MSE): its Keras 3 form calls
# keras.losses.mean_squared_error (Keras 3's own namespace keeps the function).
SEED_LOSS_AS_WRITTEN = """\
import tensorflow as tf

def custom_loss(y_true, y_pred):
    mse = tf.keras.losses.mean_squared_error(y_true, y_pred)
    penalty = tf.reduce_mean(tf.square(y_pred))
    return mse + 0.01 * penalty
"""
SEED_LOSS = "import keras\n" + SEED_LOSS_AS_WRITTEN.replace(
    "tf.keras.losses.mean_squared_error", "keras.losses.mean_squared_error"
)

METRIC = """\
import tensorflow as tf

def abs_error(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - y_pred), axis=-1)
"""

# ``1 / 0`` is on line 12.
FAILING_LAYER = """\
import keras


class Broken(keras.layers.Layer):
    def __init__(self, units=4):
        super().__init__()
        self.units = units

    def call(self, inputs):
        scale = 2
        # the next line fails
        bad = 1 / 0
        return inputs * scale * bad
"""


def _graph(layer_type: str = "custom.CustomLayer", params=None) -> Graph:
    g = Graph("custom_net")
    g.add_node(Node("x", "InputLayer", {"shape": [8]}))
    g.add_node(Node("custom", layer_type, dict(params if params is not None else {"units": 16})))
    g.add_node(Node("out", "Dense", {"units": 1}))
    g.add_edge(Edge("x", 0, "custom", "inputs"))
    g.add_edge(Edge("custom", 0, "out", "inputs"))
    g.set_outputs([Output("out")])
    return g


def _write_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 8))
    y = x @ rng.normal(size=8) * 0.5 + 0.1
    rows = [[f"x{i}" for i in range(8)] + ["y"]]
    rows += [[f"{v:.5f}" for v in xi] + [f"{yi:.5f}"] for xi, yi in zip(x, y, strict=True)]
    (folder / "data.csv").write_text("\n".join(",".join(r) for r in rows) + "\n")


def _project(folder: Path) -> Project:
    _write_data(folder)
    g = _graph()
    g.set_code("CustomLayer", CodeDef("CustomLayer", "layer", SEED_LAYER))
    g.set_code("custom_loss", CodeDef("custom_loss", "loss", SEED_LOSS))
    g.set_code("abs_error", CodeDef("abs_error", "metric", METRIC))
    settings = {
        "data": {
            "source": {"kind": "csv", "path": "data.csv", "target": "y"},
            "inputs": {"x": {"field": "features", "normalize": True}},
            "outputs": {"out": {"field": "y", "encoding": "raw"}},
            "validation": {"split": 0.25},
            "seed": 1,
        },
        "training": {
            "epochs": 2,
            "batch_size": 16,
            "optimizer": {"class": "Adam", "params": {"learning_rate": 0.02}},
            "losses": {"out": {"class": "custom.custom_loss"}},
            "metrics": {"out": [{"class": "custom.abs_error"}]},
        },
    }
    project = Project("custom_net", g, settings=settings)
    save_project(project, folder / "custom_net.studio.json")
    return project


def _train(project: Project, run_dir: Path, trusted: bool):
    from studio.engine.training import Trainer

    events: list[dict] = []
    trainer = Trainer(
        project_to_dict(project),
        project.path.parent,
        run_dir,
        events.append,
        trusted_code=trusted,
    )
    return trainer.run(), events


# --------------------------------------------------------------------------- done-when
def test_seed_layer_and_loss_train_save_reopen_and_export(tmp_path, keras):
    from studio.core.codegen import generate_script
    from studio.core.settings import check_settings
    from studio.core.validation import validate
    from studio.engine.shapes import infer_shapes
    from studio.engine.training import load_run_model

    project = _project(tmp_path)
    assert validate(project.graph) == []
    assert [d for d in check_settings(project.settings, project.graph) if d.is_error] == []

    # shapes: one input port, the units parameter, the output shape like any other node
    project.graph.trusted_code = True
    shapes = infer_shapes(project.graph)
    assert shapes.nodes["custom"].outputs == [((None, 16), "float32")]
    assert shapes.nodes["custom"].params == 8 * 16 + 16
    assert shapes.nodes["out"].outputs == [((None, 1), "float32")]

    result, events = _train(project, tmp_path / "run", trusted=True)
    assert result["type"] == "finished", result.get("message")
    losses = [e["loss"] for e in result["history"]]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert losses[1] < losses[0]
    assert "abs_error" in result["final"]

    # the run's model reloads with Studio's loader (the code's classes resolve)
    model = load_run_model(tmp_path / "run" / "final.keras", project.graph)
    assert type(model.get_layer("custom")).__name__ == "CustomLayer"
    x = np.zeros((2, 8), "float32")
    assert model.predict(x, verbose=0).shape == (2, 1)

    # save and reopen: the code is identical, and not trusted
    reopened = load_project(project.path)
    assert reopened.graph.code == project.graph.code
    assert reopened.graph.trusted_code is False

    # the exported script holds the code verbatim and trains
    text = generate_script(reopened, epochs=1)
    assert SEED_LAYER.rstrip() in text and SEED_LOSS.rstrip() in text
    assert 'named(CustomLayer(units=16), "custom")' in text
    assert "loss=custom_loss" in text and "metrics=[abs_error]" in text
    script = tmp_path / "train_custom.py"
    script.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "custom_net_run" / "final.keras").exists()


def test_untrusted_training_refuses_to_run_code(tmp_path, keras):
    project = _project(tmp_path)
    result, _ = _train(project, tmp_path / "run", trusted=False)
    assert result["type"] == "error"
    assert "not trusted" in result["message"]


def test_the_loss_as_written_for_keras_2_fails_with_its_line(tmp_path, keras):
    project = _project(tmp_path)
    project.graph.set_code("custom_loss", CodeDef("custom_loss", "loss", SEED_LOSS_AS_WRITTEN))
    save_project(project)
    result, _ = _train(project, tmp_path / "run", trusted=True)
    assert result["type"] == "error"
    assert result["message"].startswith(
        "custom_loss, line 4: AttributeError: module 'keras._tf_keras.keras.losses' has no "
        "attribute 'mean_squared_error'"
    ), result["message"]
    assert result["where"] == "training.losses"


# --------------------------------------------------------------------------- trust
def _marker_project(folder: Path) -> tuple[Path, Path]:
    marker = folder / "marker.txt"
    source = f"""\
import keras

MARKER = {str(marker)!r}
open(MARKER, "a").write("import\\n")


class Spy(keras.layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        open(MARKER, "a").write("init\\n")
        self.units = units

    def call(self, inputs):
        open(MARKER, "a").write("call\\n")
        return inputs
"""
    g = _graph("custom.Spy", {})
    g.set_code("Spy", CodeDef("Spy", "layer", source))
    path = folder / "spy.studio.json"
    save_project(Project("spy", g), path)
    return path, marker


def test_opening_a_project_with_code_runs_none_of_it_until_trusted(tmp_path, keras):
    from studio.core.validation import validate
    from studio.engine.build import build_model
    from studio.engine.custom import UntrustedCode
    from studio.engine.shapes import NOT_EVALUATED, ShapeInference

    path, marker = _marker_project(tmp_path)
    project = load_project(path)
    assert project.graph.trusted_code is False
    assert validate(project.graph) == []
    inference = ShapeInference()
    shapes = inference.infer(project.graph)
    assert shapes.nodes["x"].outputs == [((None, 8), "float32")]
    assert shapes.nodes["custom"].not_evaluated == NOT_EVALUATED
    assert shapes.nodes["custom"].error is None
    assert shapes.nodes["out"].not_evaluated and shapes.nodes["out"].error is None
    assert shapes.errors == {}
    with pytest.raises(UntrustedCode, match="not trusted yet"):
        build_model(project.graph)
    assert not marker.exists()

    project.graph.trusted_code = True
    shapes = inference.infer(project.graph)
    assert shapes.nodes["custom"].outputs == [((None, 8), "float32")]
    assert shapes.nodes["out"].outputs == [((None, 1), "float32")]
    assert marker.exists()
    assert marker.read_text().splitlines()[:2] == ["import", "init"]


def test_a_syntax_error_names_the_users_line(tmp_path, keras):
    from studio.core.validation import validate
    from studio.engine.shapes import infer_shapes

    source = SEED_LAYER.replace("self.units = units", "self.units = units +")
    g = _graph()
    g.set_code("CustomLayer", CodeDef("CustomLayer", "layer", source))
    errors = [d.message for d in validate(g) if d.is_error]
    assert errors and errors[0].startswith("Code 'CustomLayer', line 7: SyntaxError")
    g.trusted_code = True
    info = infer_shapes(g).nodes["custom"]
    assert info.error.startswith("CustomLayer, line 7: SyntaxError"), info.error


def test_an_exception_in_call_names_line_12_in_shapes_and_training(tmp_path, keras):
    from studio.engine.shapes import infer_shapes

    project = _project(tmp_path)
    g = project.graph
    g.set_code("Broken", CodeDef("Broken", "layer", FAILING_LAYER))
    g.set_type("custom", "custom.Broken")
    g.set_params("custom", {})
    g.trusted_code = True
    info = infer_shapes(g).nodes["custom"]
    assert info.error.startswith("Broken, line 12: ZeroDivisionError: division by zero"), info.error

    result, _ = _train(project, tmp_path / "run", trusted=True)
    assert result["type"] == "error"
    assert result["message"].startswith("Broken, line 12: ZeroDivisionError"), result["message"]
    assert result["where"] == "custom"
    assert "Traceback" not in result["message"]


# --------------------------------------------------------------------------- command line
def _studio(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "studio", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
    )


def test_cli_refuses_to_run_code_without_trust_code(tmp_path):
    project = _project(tmp_path)
    path = project.path

    result = _studio("validate", path)
    assert result.returncode == 0, result.stderr

    result = _studio("train", path, "--run-dir", tmp_path / "r1")
    assert result.returncode == 1
    assert "--trust-code" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r1").exists()

    result = _studio("export", path, "--format", "keras", "-o", tmp_path / "m.keras")
    assert result.returncode == 1 and "--trust-code" in result.stderr

    result = _studio("train", path, "--run-dir", tmp_path / "r2", "--epochs", "1", "--trust-code")
    assert result.returncode == 0, result.stderr[-3000:]
    final = json.loads(result.stdout.strip().splitlines()[-1])
    assert final["status"] == "finished" and math.isfinite(final["final"]["loss"])
