"""Distributed training: the strategy setting, MirroredStrategy over logical CPU devices, the
multi-worker custom loop and its TF_CONFIG checks.

Logical CPU devices and MultiWorkerMirroredStrategy need a TensorFlow that has not started
yet, so the training runs here happen in subprocesses.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, strategy: str = "default", cpu_replicas=None, **training) -> Path:
    """Input(8) -> Dense(4) -> Dense(1), MSE, SGD 0.1, 16 samples in one npz, no shuffling."""
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "data.npz",
        x=rng.normal(size=(16, 8)).astype("float32"),
        y=rng.normal(size=(16, 1)).astype("float32"),
    )
    callbacks = {name: {"enabled": False, "params": {}} for name in (
        "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "CSVLogger", "TensorBoard",
        "TerminateOnNaN", "BackupAndRestore")}  # fmt: skip
    project = {
        "format": "studio.project",
        "version": 1,
        "name": "tiny",
        "graph": {
            "name": "tiny",
            "nodes": [
                {"name": "x", "type": "InputLayer", "position": [0, 0], "params": {"shape": [8]}},
                {"name": "hidden", "type": "Dense", "position": [200, 0],
                 "params": {"units": 4, "activation": "tanh"}},
                {"name": "out", "type": "Dense", "position": [400, 0], "params": {"units": 1}},
            ],  # fmt: skip
            "edges": [
                {"from": "x", "output": 0, "to": "hidden", "port": "inputs", "slot": 0},
                {"from": "hidden", "output": 0, "to": "out", "port": "inputs", "slot": 0},
            ],
            "outputs": [{"node": "out", "output": 0}],
        },
        "settings": {
            "data": {
                "source": {"kind": "npz", "path": "data.npz"},
                "inputs": {"x": {"field": "x"}},
                "outputs": {"out": {"field": "y", "encoding": "raw"}},
                "validation": {"split": 0},
                "test": {"split": 0},
                "shuffle": False,
                "cache": False,
                "prefetch": False,
            },
            "training": {
                "optimizer": {"class": "SGD", "params": {"learning_rate": 0.1}},
                "losses": {"out": {"class": "MeanSquaredError", "params": {}, "weight": 1.0}},
                "metrics": {"out": []},
                "epochs": 1,
                "batch_size": 16,
                "callbacks": callbacks,
                "distribution": {"strategy": strategy, "cpu_replicas": cpu_replicas},
                **training,
            },
        },
    }
    path = tmp_path / "tiny.studio.json"
    path.write_text(json.dumps(project), encoding="utf-8")
    return path


def _env(**extra) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _python(script: str, cwd: Path, timeout: float = 120, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _studio(args: list[str], cwd: Path, timeout: float = 120, **env):
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ===================================================================== the done-when test
def test_mirrored_over_two_cpus_matches_one_device_after_one_step(tmp_path):
    """One step on one global batch of 16: MirroredStrategy over two logical CPU devices
    (two replicas of 8) and the default strategy, from the same initial weights, with the
    real Trainer, end with the same weights."""
    _project(tmp_path, strategy="mirrored", cpu_replicas=2)
    script = f"""
        import json, sys
        from pathlib import Path
        import numpy as np
        from studio.engine.training import Trainer
        from studio.engine.weights import read_weights

        tmp = Path({str(tmp_path)!r})
        project = json.loads((tmp / "tiny.studio.json").read_text())
        rng = np.random.default_rng(1)
        start = {{"hidden": [rng.normal(size=(8, 4)).astype("float32"),
                             rng.normal(size=(4,)).astype("float32")],
                  "out": [rng.normal(size=(4, 1)).astype("float32"),
                          rng.normal(size=(1,)).astype("float32")]}}
        events = {{}}
        # mirrored first: the logical CPU devices are set before TensorFlow starts
        for strategy in ("mirrored", "default"):
            project["settings"]["training"]["distribution"]["strategy"] = strategy
            log = events[strategy] = []
            result = Trainer(project, tmp, tmp / strategy, log.append, weights=start).run()
            assert result["type"] == "finished", result
        info = json.loads((tmp / "mirrored" / "run.json").read_text())
        device = [e for e in events["mirrored"] if e["type"] == "device"][0]
        one = read_weights(tmp / "default" / "weights.h5")
        two = read_weights(tmp / "mirrored" / "weights.h5")
        diff = max(float(np.max(np.abs(a - b))) for k in one for a, b in zip(one[k], two[k]))
        moved = max(float(np.max(np.abs(a - b))) for k in one for a, b in zip(one[k], start[k]))
        print(json.dumps({{"replicas": info["replicas"], "strategy": info["strategy"],
                          "event": device.get("strategy"), "diff": diff, "moved": moved,
                          "batches": info["batches"],
                          "default_replicas": json.loads(
                              (tmp / "default" / "run.json").read_text())["replicas"]}}))
    """
    done = _python(script, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and out["default_replicas"] == 1
    assert out["strategy"] == "2 replicas (MirroredStrategy on CPU:0, CPU:1)"
    assert out["event"] == out["strategy"]
    assert out["batches"] == 1
    assert out["moved"] > 1e-3  # the step changed the weights...
    assert out["diff"] < 1e-6  # ...the same way on one device and on two replicas


# ===================================================================== end to end, CLI
def test_studio_train_mirrored_cpu_replicas_from_the_command_line(tmp_path):
    path = _project(tmp_path, epochs=2, batch_size=4)
    done = _studio(
        ["train", str(path), "--strategy", "mirrored", "--cpu-replicas", "2",
         "--run-dir", str(tmp_path / "run")],  # fmt: skip
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replicas (MirroredStrategy on CPU:0, CPU:1)" in done.stdout
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["epochs"] == 2
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["replicas"] == 2
    assert info["settings"]["training"]["distribution"]["strategy"] == "mirrored"
    assert info["batches"] == 8  # 16 samples, global batch 4, two epochs


def test_multi_worker_without_tf_config_says_what_to_do(tmp_path):
    path = _project(tmp_path)
    done = _studio(["train", str(path), "--strategy", "multi-worker"], tmp_path, timeout=60)
    assert done.returncode == 1
    assert "TF_CONFIG" in done.stderr
    assert "Multi-Worker Setup" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_multi_worker_custom_loop_trains_checkpoints_and_resumes(tmp_path):
    """A one-worker cluster runs the whole multi-worker path (TF_CONFIG, the custom loop,
    callbacks, per-epoch checkpoints); a second start in the same run folder resumes."""
    path = _project(tmp_path, strategy="multi_worker", epochs=2, batch_size=4)
    tf_config = json.dumps({"cluster": {"worker": [f"localhost:{_free_port()}"]},
                            "task": {"type": "worker", "index": 0}})  # fmt: skip
    run = tmp_path / "run"
    done = _studio(["train", str(path), "--run-dir", str(run)], tmp_path, TF_CONFIG=tf_config)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MultiWorkerMirroredStrategy" in done.stdout
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "finished" and summary["epochs"] == 2
    assert np.isfinite(summary["final"]["loss"])
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [e["epoch"] for e in history] == [0, 1]
    assert (run / "backup" / "checkpoint").exists() and (run / "final.keras").exists()
    assert (run / "history.csv").exists()

    # A restarted worker (3 epochs now) resumes after epoch 2 instead of starting over.
    done = _studio(["train", str(path), "--run-dir", str(run), "--epochs", "3"], tmp_path,
                   TF_CONFIG=tf_config)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Epoch 1/3" not in done.stdout and "Epoch 3/3" in done.stdout
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [e["epoch"] for e in history] == [0, 1, 2]


# ===================================================================== in-process units
@pytest.mark.parametrize(
    "raw, message",
    [
        (None, "TF_CONFIG environment variable"),
        ("{not json", "not valid JSON"),
        ('{"cluster": {"worker": ["a:1"]}}', '"cluster" and "task"'),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}',
         "task index 3"),
        ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}',
         "host:port"),
    ],
)
def test_tf_config_problems_name_the_variable(raw, message):
    from studio.engine.distributed import tf_config
    from studio.engine.training import TrainingError

    with pytest.raises(TrainingError) as info:
        tf_config({} if raw is None else {"TF_CONFIG": raw})
    assert message in info.value.message and info.value.where == "TF_CONFIG"
    assert "Multi-Worker Setup" in info.value.message


def test_chief_is_the_chief_or_worker_zero():
    from studio.engine.distributed import is_chief, tf_config

    def cfg(cluster, kind, index):
        return tf_config({"TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": kind, "index": index}})})  # fmt: skip

    assert is_chief(cfg({"worker": ["a:1", "b:1"]}, "worker", 0))
    assert not is_chief(cfg({"worker": ["a:1", "b:1"]}, "worker", 1))
    assert is_chief(cfg({"chief": ["c:1"], "worker": ["a:1"]}, "chief", 0))
    assert not is_chief(cfg({"chief": ["c:1"], "worker": ["a:1"]}, "worker", 0))
    assert is_chief(None)


def test_default_strategy_is_no_strategy():
    from studio.engine.distributed import describe, make_strategy, replicas

    assert make_strategy(None) is None and make_strategy({"strategy": "default"}) is None
    assert replicas(None) == 1 and describe(None).startswith("1 replica")


def test_output_layers_stay_float32_under_mixed_precision(keras):
    from studio.engine.training import outputs_in_float32

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        x = keras.Input((4,))
        h = keras.layers.Dense(8)(x)
        y = keras.layers.Dense(3, activation="softmax")(h)
        model = keras.Model(x, y)
        assert outputs_in_float32(model) == 1
        assert model.layers[-1].compute_dtype == "float32"
        assert model.layers[1].compute_dtype == "bfloat16"
        out = model(np.ones((2, 4), "float32"))
        assert str(out.dtype) == "<dtype: 'float32'>" or "float32" in str(out.dtype)
    finally:
        keras.config.set_dtype_policy(policy)


# ===================================================================== the setting
def _graph():
    from studio.core.graph import Edge, Graph, Node, Output

    g = Graph(name="g")
    g.add_node(Node("x", "InputLayer", params={"shape": [8]}))
    g.add_node(Node("out", "Dense", params={"units": 1}))
    g.add_edge(Edge("x", 0, "out", "inputs", 0))
    g.outputs = [Output("out", 0)]
    return g


def test_distribution_defaults_and_hand_written_forms():
    from studio.core.settings import distribution_settings, training_settings

    assert training_settings({}, _graph())["distribution"] == {
        "strategy": "default", "devices": None, "cpu_replicas": None, "workers": []}  # fmt: skip
    assert distribution_settings("multi-worker")["strategy"] == "multi_worker"
    assert distribution_settings({"strategy": "MirroredStrategy"})["strategy"] == "mirrored"
    d = distribution_settings({"strategy": "mirrored", "devices": "gpu:0, /device:GPU:1",
                               "cpu_replicas": "2", "workers": "a:1, b:2"})  # fmt: skip
    assert d == {"strategy": "mirrored", "devices": ["GPU:0", "GPU:1"], "cpu_replicas": 2,
                 "workers": ["a:1", "b:2"]}  # fmt: skip
    assert distribution_settings({"devices": "all", "cpu_replicas": 0})["devices"] is None


@pytest.mark.parametrize(
    "distribution, where, text",
    [
        ({"strategy": "horovod"}, "training.distribution.strategy", "Unknown distribution"),
        ({"strategy": "mirrored", "devices": ["GPU:0", "TPU"]},
         "training.distribution.devices.1", "not a device name"),
        ({"strategy": "mirrored", "devices": 3}, "training.distribution.devices", "a list"),
        ({"strategy": "mirrored", "cpu_replicas": 0.5},
         "training.distribution.cpu_replicas", "whole number"),
        ({"strategy": "mirrored", "cpu_replicas": 100},
         "training.distribution.cpu_replicas", "1 to 64"),
        ({"strategy": "multi_worker", "workers": ["10.0.0.1"]},
         "training.distribution.workers.0", "host:port"),
        ({"strategy": "multi_worker", "workers": ["a:1", "a:1"]},
         "training.distribution.workers", "twice"),
    ],
)
def test_distribution_problems_name_the_setting(distribution, where, text):
    from studio.core.settings import check_settings

    found = check_settings({"training": {"distribution": distribution}}, _graph())
    mine = [d for d in found if d.param == where and d.severity == "error"]
    assert mine and text in mine[0].message, [(d.param, d.message) for d in found]


def test_an_uneven_split_of_the_global_batch_is_a_warning():
    from studio.core.settings import check_settings

    found = check_settings({"training": {"batch_size": 15, "distribution": {
        "strategy": "mirrored", "cpu_replicas": 2}}}, _graph())  # fmt: skip
    warning = [d for d in found if d.param == "training.batch_size"]
    assert warning and warning[0].severity == "warning" and "global" in warning[0].message
    assert not [d for d in check_settings({"training": {"distribution": {
        "strategy": "mirrored", "cpu_replicas": 2}}}, _graph()) if d.severity == "error"]
