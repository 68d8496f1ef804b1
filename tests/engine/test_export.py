"""studio.engine.export: every format reloads in its own runtime and matches Keras.

Tolerances (compared with the Keras model's outputs on the same random input):

* float32 formats (keras, h5, weights, savedmodel, tflite, onnx): max abs error <= 1e-4;
* TFLite float16 weights: max abs error <= 1e-2 x the output's range (max - min);
* TFLite dynamic-range (int8 weights): max abs error <= 5e-2 x the output's range.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.project import Project, load_project, project_to_dict
from studio.resources import resources_dir

EXAMPLES = resources_dir() / "examples"
REPO = Path(__file__).resolve().parents[2]
F32_TOL = 1e-4
QUANT_TOL = {"float16": 1e-2, "dynamic": 5e-2}
FORMATS = [
    ("keras", None),
    ("h5", None),
    ("weights", None),
    ("savedmodel", None),
    ("tflite", None),
    ("tflite", "float16"),
    ("tflite", "dynamic"),
    ("onnx", None),
]


# --------------------------------------------------------------------- helpers
def _flat(outputs) -> list[np.ndarray]:
    if isinstance(outputs, dict):
        outputs = [outputs[k] for k in sorted(outputs)]
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [np.asarray(o) for o in outputs]


def _random_inputs(model, batch: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.random((batch, *[int(d) for d in t.shape[1:]]), dtype=np.float32) for t in model.inputs
    ]


def _keras_call(model, xs):
    return _flat(model(xs[0] if len(xs) == 1 else xs, training=False))


def run_format(fmt: str, path: str, model, xs, project: dict) -> list[np.ndarray]:
    """Load an exported artifact in its own runtime and run it on ``xs``."""
    from studio.project import project_from_dict

    names = [n.name for n in project_from_dict(project).graph.input_nodes]
    if fmt in ("keras", "h5"):
        from studio.engine import load_keras

        loaded = load_keras().saving.load_model(path, compile=False)
        return _keras_call(loaded, xs)
    if fmt == "weights":
        from studio.engine.build import build_model
        from studio.project import project_from_dict

        fresh = build_model(project_from_dict(project).graph)
        fresh.load_weights(path)
        return _keras_call(fresh, xs)
    if fmt == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)
        return _flat([np.asarray(o) for o in _flat(loaded.serve(xs[0] if len(xs) == 1 else xs))])
    if fmt == "tflite":
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated"
            interpreter = tf.lite.Interpreter(model_path=path)
        runner = interpreter.get_signature_runner("serving_default")
        out = runner(**dict(zip(names, xs)))
        # Outputs by name (output_0, output_1, ...: Keras' order), not by tensor index.
        return [out[f"output_{i}"] for i in range(len(out))]
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        assert sorted(i.name for i in session.get_inputs()) == sorted(names)
        return session.run(None, dict(zip(names, xs)))
    raise AssertionError(fmt)


def assert_close(got: list[np.ndarray], want: list[np.ndarray], quantize: str | None) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        err = float(np.max(np.abs(g.astype(np.float64) - w)))
        if quantize is None:
            assert err <= F32_TOL, err
        else:
            span = float(np.max(w) - np.min(w)) or 1.0
            assert err <= QUANT_TOL[quantize] * span, (err, span)


class Case:
    """A project, a reference model with non-default weights, and their studio weights file."""

    def __init__(self, project: dict, tmp: Path, reference=None) -> None:
        from studio.engine.export import prepare_model
        from studio.engine.weights import layer_weights, save_weights

        self.project = project
        self.dir = tmp
        if reference is None:
            reference, _ = prepare_model(project, None)
            rng = np.random.default_rng(1)  # weights unlike fresh ones: loading must matter
            for layer in reference.layers:
                ws = layer.get_weights()
                if ws:
                    layer.set_weights(
                        [w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in ws]
                    )
        self.model = reference
        self.run = tmp / "run"
        save_weights(layer_weights(reference), self.run / "weights.h5")
        self.xs = _random_inputs(reference)
        self.want = _keras_call(reference, self.xs)
        self.exported: dict[tuple[str, str | None], dict] = {}

    def export(self, fmt: str, quantize: str | None = None) -> dict:
        from studio.engine.export import SUFFIXES, export_model

        key = (fmt, quantize)
        if key not in self.exported:
            out = self.dir / f"model-{quantize or 'f32'}{SUFFIXES[fmt] or '.savedmodel'}"
            self.exported[key] = export_model(
                self.project, None, fmt, str(out), weights=str(self.run), quantize=quantize
            )
        return self.exported[key]

    def check(self, fmt: str, quantize: str | None = None) -> None:
        result = self.export(fmt, quantize)
        assert result["format"] == fmt and result["bytes"] > 0 and not result["skipped"]
        got = run_format(fmt, result["path"], self.model, self.xs, self.project)
        assert_close(got, self.want, quantize)


def _example(name: str) -> dict:
    return project_to_dict(load_project(EXAMPLES / f"{name}.studio.json"))


@pytest.fixture(scope="module")
def mnist(tmp_path_factory, keras):
    return Case(_example("mnist_cnn"), tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def multi_io(tmp_path_factory, keras):
    return Case(_example("multi_io"), tmp_path_factory.mktemp("multi_io"))


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory, keras):
    """MobileNetV3Small through studio's importer, with the application's own weights."""
    from studio.engine.importer import import_model_file

    tmp = tmp_path_factory.mktemp("mobilenet")
    app = keras.applications.MobileNetV3Small(
        weights=None, input_shape=(96, 96, 3), include_top=True, classes=10
    )
    path = tmp / "app.keras"
    app.save(path)
    graph = import_model_file(path)
    project = project_to_dict(Project(name="mobilenet", graph=graph))
    return Case(project, tmp, reference=app)


# --------------------------------------------------------------------- formats
@pytest.mark.parametrize(
    ("fmt", "quantize"), FORMATS, ids=[f"{f}-{q or 'f32'}" for f, q in FORMATS]
)
def test_mnist_formats_match_keras(mnist, fmt, quantize):
    mnist.check(fmt, quantize)


@pytest.mark.parametrize(
    ("fmt", "quantize"), FORMATS, ids=[f"{f}-{q or 'f32'}" for f, q in FORMATS]
)
def test_multi_io_formats_match_keras(multi_io, fmt, quantize):
    assert len(multi_io.model.inputs) == 2 and len(multi_io.want) == 2
    multi_io.check(fmt, quantize)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "quantize"),
    [("keras", None), ("savedmodel", None), ("tflite", None), ("onnx", None)],
)
def test_imported_application_formats_match_keras(mobilenet, fmt, quantize):
    # Not h5: Keras itself cannot load MobileNetV3 back from the legacy format (its hard
    # sigmoid is keras.ops.add(x, 3.0), and the legacy loader refuses the constant 3.0).
    mobilenet.check(fmt, quantize)


# --------------------------------------------------------------------- weights
def test_run_weights_reproduce_the_trained_outputs(mnist, keras):
    """A run folder (its weights.h5) gives the reference outputs; fresh weights do not."""
    from studio.engine.export import export_model

    out = mnist.dir / "from-run.keras"
    result = export_model(
        mnist.project, None, "keras", str(out), weights=str(mnist.run / "weights.h5")
    )
    assert result["loaded"] > 0
    assert_close(
        run_format("keras", str(out), mnist.model, mnist.xs, mnist.project), mnist.want, None
    )
    fresh = mnist.dir / "fresh.keras"
    export_model(mnist.project, None, "keras", str(fresh))
    got = run_format("keras", str(fresh), mnist.model, mnist.xs, mnist.project)
    assert np.max(np.abs(got[0] - mnist.want[0])) > 1e-3


def test_relative_weights_resolve_against_the_project_folder(mnist):
    from studio.engine.export import export_model

    out = mnist.dir / "relative.weights.h5"
    result = export_model(mnist.project, str(mnist.dir), "weights", str(out), weights="run")
    assert result["loaded"] > 0 and out.is_file()


def test_changed_layers_are_reported_as_skipped(mnist):
    from studio.engine.export import export_model
    from studio.engine.weights import read_weights, save_weights

    weights = read_weights(mnist.run / "weights.h5")
    weights["dense_1"] = [np.zeros((3, 3), np.float32), np.zeros(3, np.float32)]
    save_weights(weights, mnist.dir / "changed.h5")
    result = export_model(
        mnist.project,
        None,
        "summary",
        str(mnist.dir / "s.md"),
        weights=str(mnist.dir / "changed.h5"),
    )
    assert set(result["skipped"]) == {"dense_1"}


def test_missing_weights_file_is_an_export_error(mnist):
    from studio.engine.export import ExportError, export_model

    with pytest.raises(ExportError) as info:
        export_model(mnist.project, None, "keras", str(mnist.dir / "x.keras"), weights="/nope.h5")
    assert info.value.where == "weights"
    assert not (mnist.dir / "x.keras").exists()


# --------------------------------------------------------------------- atomic writes
def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_failed_export_leaves_no_file_and_the_target_untouched(tmp_path, monkeypatch, keras):
    from studio.engine import export

    def broken(model, path, quantize=None):
        Path(path).write_bytes(b"half a model")
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(export._WRITERS, "keras", broken)
    target = tmp_path / "model.keras"
    target.write_bytes(b"the previous export")
    with pytest.raises(export.ExportError, match="disk on fire"):
        export.export_model(_example("multi_io"), None, "keras", str(target))
    assert target.read_bytes() == b"the previous export"
    assert _entries(tmp_path) == {"model.keras"}
    new = tmp_path / "new.keras"
    with pytest.raises(export.ExportError):
        export.export_model(_example("multi_io"), None, "keras", str(new))
    assert _entries(tmp_path) == {"model.keras"}


def test_failed_savedmodel_keeps_the_existing_folder(tmp_path, monkeypatch, keras):
    from studio.engine import export

    target = tmp_path / "saved"
    target.mkdir()
    (target / "saved_model.pb").write_bytes(b"old")

    def broken(model, path):
        os.makedirs(path)
        Path(path, "saved_model.pb").write_bytes(b"partial")
        raise export.conversion_error("SavedModel export", RuntimeError("boom"), model)

    monkeypatch.setattr(export, "_write_savedmodel", broken)
    with pytest.raises(export.ExportError, match="boom"):
        export.export_model(_example("multi_io"), None, "savedmodel", str(target))
    assert (target / "saved_model.pb").read_bytes() == b"old"
    assert _entries(tmp_path) == {"saved"}


def test_savedmodel_replaces_an_existing_folder(multi_io):
    from studio.engine.export import export_model

    target = multi_io.dir / "replaced"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    export_model(multi_io.project, None, "savedmodel", str(target), weights=str(multi_io.run))
    assert not (target / "stale.txt").exists() and (target / "saved_model.pb").is_file()
    assert not [p for p in multi_io.dir.iterdir() if p.name.startswith(".")]


def test_bad_requests_are_export_errors(tmp_path, keras):
    from studio.engine.export import ExportError, export_model

    project = _example("multi_io")
    with pytest.raises(ExportError, match="TFLite"):
        export_model(project, None, "onnx", str(tmp_path / "m.onnx"), quantize="float16")
    with pytest.raises(ExportError, match="does not exist"):
        export_model(project, None, "onnx", str(tmp_path / "no" / "m.onnx"))
    with pytest.raises(ExportError, match="Unknown export format"):
        export_model(project, None, "pickle", str(tmp_path / "m.pkl"))


# --------------------------------------------------------------------- converter errors
def test_converter_errors_name_the_op_and_layer():
    from studio.engine.export import conversion_error

    class Layer:
        def __init__(self, name):
            self.name = name

    class Model:
        name = "model"
        layers = [Layer("image"), Layer("conv2d"), Layer("lambda_1")]

    tflite = RuntimeError(
        "error: 'tf.Erfinv' op is neither a custom op nor a flex op\n"
        'loc(fused["Erfinv:", "model_1/lambda_1/Erfinv@__inference_serve_123"])\n'
        'Some ops are not supported by the native TFLite runtime: tf.Erfinv {device = ""}'
    )
    err = conversion_error("The TFLite converter", tflite, Model())
    assert err.where == "lambda_1" and "Erfinv" in err.message
    onnx = ValueError("Unsupported ops: Counter({'FooBar': 2})")
    err = conversion_error("The ONNX converter (tf2onnx)", onnx, Model())
    assert "FooBar" in err.message and err.where is None
    other = ValueError("\nsomething odd happened in model/conv2d/Conv2D\nmore")
    err = conversion_error("The TFLite converter", other, Model())
    assert err.where == "conv2d" and "something odd happened" in err.message


# --------------------------------------------------------------------- summary
def test_summary_markdown(multi_io):
    result = multi_io.export("summary")
    text = Path(result["path"]).read_text(encoding="utf-8")
    assert text.startswith("# Model: multi_io")
    assert "| Layer | Type | Output shape | Param # |" in text
    assert "| shared | Dense | (None, 64) | 12,352 |" in text
    assert "| classification | Dense | (None, 5) | 325 |" in text
    total = multi_io.model.count_params()
    assert f"**Total params:** {total:,}" in text
    assert "**Non-trainable params:** 0" in text


# --------------------------------------------------------------------- CLI
def _studio(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export_round_trip(tmp_path, multi_io):
    out = tmp_path / "m.tflite"
    project = str(EXAMPLES / "multi_io.studio.json")
    proc = _studio(
        "export", project, "--format", "tflite", "-o", str(out), "--run", str(multi_io.run)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith(f"Exported tflite to {out} (")
    assert "Traceback" not in proc.stderr
    got = run_format("tflite", str(out), multi_io.model, multi_io.xs, multi_io.project)
    assert_close(got, multi_io.want, None)


def test_cli_export_errors(tmp_path):
    project = str(EXAMPLES / "multi_io.studio.json")
    proc = _studio("export", project, "--format", "onnx", "-o", str(tmp_path / "none" / "m.onnx"))
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    proc = _studio("export", str(tmp_path / "missing.studio.json"), "--format", "onnx", "-o", "x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = _studio("export", project, "--format", "pickle", "-o", "x")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert not list(tmp_path.iterdir())


def test_cli_format_choices_match_the_engine():
    from studio.cli import build_parser
    from studio.engine.export import MODEL_FORMATS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    fmt = next(a for a in sub.choices["export"]._actions if a.dest == "format")
    assert tuple(fmt.choices) == MODEL_FORMATS + ("python", "png", "svg")
