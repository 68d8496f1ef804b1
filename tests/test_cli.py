"""The command line as a user meets it: exit codes, one-line messages, no tracebacks."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "resources" / "examples"


def studio(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "studio", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
    )


@pytest.fixture
def mnist(tmp_path):
    path = tmp_path / "mnist.studio.json"
    shutil.copy(EXAMPLES / "mnist_cnn.studio.json", path)
    return path


def _project(tmp_path, mutate, name="broken.studio.json"):
    data = json.loads((EXAMPLES / "mnist_cnn.studio.json").read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "example,total",
    [
        ("mnist_cnn", 225_034),
        ("functional_mlp", 52_650),
        ("text_classifier", 1_387_137),
        ("multi_io", 12_742),
    ],
)
def test_summary_of_each_example_has_the_seed_parameter_count(example, total):
    result = studio("summary", EXAMPLES / f"{example}.studio.json", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["total_params"] == total
    assert data["trainable_params"] + data["non_trainable_params"] == total
    assert {"name", "type", "output_shapes", "params"} <= set(data["layers"][0])


@pytest.mark.slow
def test_summary_table_reads_like_keras(mnist):
    result = studio("summary", mnist)
    assert result.returncode == 0, result.stderr
    assert "Total params: 225,034" in result.stdout
    assert "conv2d (Conv2D)" in result.stdout
    assert "(None, 26, 26, 32)" in result.stdout
    assert "Traceback" not in result.stderr
    assert "cuda" not in result.stderr.lower()


def test_validate_valid_project(mnist):
    result = studio("validate", mnist)
    assert result.returncode == 0
    assert "valid" in result.stdout


BROKEN = {
    "empty": (lambda p: p.write_text(""), "empty"),
    "truncated": (
        lambda p: p.write_text((EXAMPLES / "mnist_cnn.studio.json").read_text()[:700]),
        "truncated",
    ),
    "not_json": (lambda p: p.write_text("model: [conv, dense]\n"), "line 1"),
    "wrong_format": (
        lambda p: p.write_text('{"format": "something.else", "version": 1}'),
        "not a Studio project",
    ),
    "newer_version": (
        lambda p: p.write_text(
            '{"format": "studio.project", "version": 99, "graph": {"nodes": []}}'
        ),
        "newer",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", ["validate", "summary"])
def test_unreadable_files_exit_2_with_their_own_message(tmp_path, case, command):
    path = tmp_path / f"{case}.studio.json"
    write, expected = BROKEN[case]
    write(path)
    before = path.read_bytes()
    result = studio(command, path)
    assert result.returncode == 2
    assert expected.lower() in result.stderr.lower()
    assert path.name in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert path.read_bytes() == before


def _unknown_layer(d):
    d["graph"]["nodes"][2]["type"] = "SuperDense"


def _cycle(d):
    d["graph"]["edges"].append(
        {"from": "dense", "output": 0, "to": "conv2d_1", "port": "inputs", "slot": 1}
    )
    d["graph"]["edges"].append(
        {"from": "dense", "output": 0, "to": "conv2d", "port": "inputs", "slot": 0}
    )


def _bad_param(d):
    for n in d["graph"]["nodes"]:
        if n["name"] == "dropout":
            n["params"]["rate"] = 1.5


@pytest.mark.parametrize(
    "mutate,expected",
    [
        (_unknown_layer, ["SuperDense", "max_pooling2d"]),
        (_cycle, ["cycle", "conv2d"]),
        (_bad_param, ["dropout", "rate", "1.5", "line 9"]),
    ],
    ids=["unknown_layer", "cycle", "bad_param"],
)
@pytest.mark.parametrize("command", ["validate", "summary"])
def test_invalid_graphs_exit_1_naming_the_node(tmp_path, mutate, expected, command):
    path = _project(tmp_path, mutate)
    before = path.read_bytes()
    result = studio(command, path)
    assert result.returncode == 1, result.stdout + result.stderr
    for word in expected:
        assert word.lower() in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before


def test_missing_file_exit_2(tmp_path):
    result = studio("validate", tmp_path / "nope.studio.json")
    assert result.returncode == 2
    assert "nope.studio.json" in result.stderr


@pytest.mark.slow
def test_import_keras_file_keeps_weights_and_summary_matches(tmp_path, keras_model_file):
    out = tmp_path / "imported.studio.json"
    result = studio("import", keras_model_file, "-o", out)
    assert result.returncode == 0, result.stderr
    assert out.exists()
    assert (tmp_path / "imported.runs" / "imported" / "weights.h5").exists()
    summary = json.loads(studio("summary", out, "--json").stdout)
    assert summary["total_params"] == 1_210


@pytest.fixture
def keras_model_file(tmp_path):
    code = (
        "import keras\n"
        "i = keras.Input((10,), name='x')\n"
        "h = keras.layers.Dense(32, activation='relu', name='hidden')(i)\n"
        "h = keras.layers.Dropout(0.2)(h)\n"
        "o = keras.layers.Dense(26, name='out')(h)\n"
        "m = keras.Model(i, o)\n"
        "assert m.count_params() == 1210, m.count_params()\n"
        f"m.save(r'{tmp_path / 'small.keras'}')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return tmp_path / "small.keras"


def test_import_of_a_missing_or_broken_model_file(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    result = studio("import", bad, "-o", tmp_path / "x.studio.json")
    assert result.returncode == 2
    assert "bad.keras" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.studio.json").exists()


def test_gui_without_a_display_says_so_instead_of_crashing():
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    result = subprocess.run(
        [sys.executable, "-m", "studio", str(EXAMPLES / "mnist_cnn.studio.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no display" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def iris(tmp_path):
    path = tmp_path / "iris.studio.json"
    shutil.copy(EXAMPLES / "iris_mlp.studio.json", path)
    return path


@pytest.mark.slow
def test_train_prints_progress_writes_the_run_and_ends_with_json(iris, tmp_path):
    run = tmp_path / "my-run"
    result = studio("train", iris, "--epochs", "3", "--batch-size", "8", "--run-dir", run)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("Device: ") for line in lines)
    assert [line.split(" - ")[0] for line in lines if line.startswith("Epoch ")] == [
        "Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]  # fmt: skip
    final = json.loads(lines[-1])
    assert final["status"] == "finished" and final["epochs"] == 3
    assert {"loss", "val_accuracy"} <= set(final["final"]) and "accuracy" in final["test"]
    assert Path(final["run_dir"]) == run
    info = json.loads((run / "run.json").read_text())
    assert info["settings"]["training"]["batch_size"] == 8
    assert (run / "final.keras").exists() and (run / "history.csv").exists()
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_without_a_run_dir_uses_the_runs_folder_beside_the_project(iris):
    result = studio("train", iris, "--epochs", "1")
    assert result.returncode == 0, result.stderr
    run = Path(json.loads(result.stdout.splitlines()[-1])["run_dir"])
    assert run.parent == iris.parent / "iris.runs"


def test_train_failures_exit_non_zero_with_a_message(tmp_path, iris):
    def no_data(data):
        data["settings"]["data"]["source"] = None

    result = studio("train", _project(tmp_path, no_data))
    assert result.returncode == 1
    assert "data.source" in result.stderr and "Data panel" in result.stderr

    def bad_epochs(data):
        data["settings"]["training"]["epochs"] = 0

    result = studio("train", _project(tmp_path, bad_epochs, "epochs.studio.json"))
    assert result.returncode == 1 and "training.epochs" in result.stderr

    result = studio("train", iris, "--epochs", "0")
    assert result.returncode == 1 and "--epochs" in result.stderr

    result = studio("train", tmp_path / "missing.studio.json")
    assert result.returncode == 2
    for r in (result,):
        assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_train_reports_bad_data_in_plain_words(tmp_path):
    csv = tmp_path / "flowers.csv"
    csv.write_text("a,b,c,d,kind\n" + "1,2,3,4,x\n" * 20)

    def csv_source(data):
        data["settings"]["data"]["source"] = {"kind": "csv", "path": "flowers.csv",
                                              "target": "species"}  # fmt: skip

    result = studio("train", _project(tmp_path, csv_source, "csv.studio.json"), "--epochs", "1")
    assert result.returncode == 1
    assert "species" in result.stderr and "flowers.csv" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["status"] == "failed"


def test_export_python_script_and_pictures(tmp_path, mnist):
    import ast

    script = tmp_path / "mnist.py"
    texts = []
    for _ in range(2):
        result = studio("export", mnist, "--format", "python", "-o", script)
        assert result.returncode == 0, result.stderr
        texts.append(script.read_text(encoding="utf-8"))
    text = texts[0]
    assert ast.parse(text) and "def build_model():" in text
    assert texts[1] == text  # the same project gives the same bytes
    ruff = Path(sys.executable).with_name("ruff")
    for args in (["format", "--check", "--isolated"], ["check", "--isolated"]):
        done = subprocess.run([str(ruff), *args, str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout
    result = studio("export", mnist, "--format", "sequential", "-o", script)
    assert result.returncode == 2  # not a format
    result = studio("export", mnist, "--format", "png", "-o", tmp_path / "g.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = studio("export", mnist, "--format", "svg", "-o", tmp_path / "g.svg")
    assert "<svg" in (tmp_path / "g.svg").read_text(encoding="utf-8")
