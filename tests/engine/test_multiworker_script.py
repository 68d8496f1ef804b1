"""The exported script under tf.distribute: mirrored and multi-worker (issue 7).

The slow tests really run the script: two worker processes on loopback ports, each with its
own TF_CONFIG, must end with identical weights; a worker killed after the first epoch's
checkpoint is restarted (with its partner, as a MultiWorkerMirroredStrategy job must be) and
training resumes from the checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from studio.core.codegen import generate_script
from studio.project.io import load_project
from studio.resources import resource_path


def project(strategy: str, batch_size: int | None = 8, **training):
    p = load_project(resource_path("examples", "iris_mlp.studio.json"))
    t = p.settings.setdefault("training", {})
    t["distribution"] = {"strategy": strategy, "cpu_replicas": 2 if strategy == "mirrored" else None}
    if batch_size is not None:
        t["batch_size"] = batch_size
    t.update(training)
    return p


# ----------------------------------------------------------------------------- the text
def test_default_strategy_leaves_the_script_as_it_was():
    plain = load_project(resource_path("examples", "iris_mlp.studio.json"))
    text = generate_script(plain, epochs=2)
    assert generate_script(project("default", batch_size=None), epochs=2) == text
    assert "tf.distribute" not in text and "import tensorflow" not in text


@pytest.mark.parametrize("strategy", ["mirrored", "multi_worker"])
@pytest.mark.parametrize("mixed", [False, True])
def test_distributed_scripts_compile(strategy, mixed):
    text = generate_script(project(strategy, mixed_precision=mixed, jit_compile=False), epochs=2)
    compile(text, "train.py", "exec")
    assert "import tensorflow as tf" in text
    assert "with strategy.scope():" in text
    if mixed:
        assert '"mixed_float16" if gpu else "mixed_bfloat16"' in text
        assert 'model.get_layer(name).dtype_policy = "float32"' in text


def test_mirrored_script_builds_and_compiles_in_the_scope():
    text = generate_script(project("mirrored"), epochs=2)
    scope = text.index("with strategy.scope():")
    assert text.index("tf.distribute.MirroredStrategy(devices)") < scope
    assert scope < text.index("model = build_model()") < text.index("model.compile(")
    assert "batch_size=8" in text  # the global batch
    p = project("mirrored")
    p.settings["training"]["distribution"] = {"strategy": "mirrored", "devices": ["GPU:0", "GPU:1"]}
    assert 'tf.distribute.MirroredStrategy(["GPU:0", "GPU:1"])' in generate_script(p)


def test_multi_worker_script_uses_a_custom_loop_and_says_how_to_launch_it():
    text = generate_script(project("multi_worker", mixed_precision=True), epochs=2)
    header = text.split('"""')[1]
    assert "TF_CONFIG" in header and '"index": 0' in header and '"index": 1' in header
    assert "python train.py" in header
    assert "tf.distribute.MultiWorkerMirroredStrategy()" in text
    assert "model.fit(" not in text
    for piece in (
        "strategy.run(replica_train_step, args=batch)",
        "tf.nn.compute_average_loss(",
        "global_batch_size=GLOBAL_BATCH_SIZE",
        "tf.nn.scale_regularization_loss(",
        "AutoShardPolicy.DATA",
        "strategy.experimental_distribute_dataset",
        "tf.train.CheckpointManager(",
        "manager.save(checkpoint_number=index + 1)",
        "Resuming from epoch",
        "reduction=None",
        "keras.optimizers.LossScaleOptimizer(optimizer)",
        "optimizer.scale_loss(loss)",
        "--weights-out",
    ):
        assert piece in text, piece


def test_multi_worker_script_for_named_outputs_compiles():
    p = load_project(resource_path("examples", "multi_io.studio.json"))
    p.settings.setdefault("training", {})["distribution"] = "multi_worker"
    text = generate_script(p, epochs=1)
    compile(text, "train.py", "exec")
    assert "predictions = list(model(list(x), training=training))" in text


# ----------------------------------------------------------------------------- running it
def free_ports(count: int) -> list[int]:
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("localhost", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Cluster:
    """Two workers of one script on loopback ports, each with its TF_CONFIG."""

    def __init__(self, folder: Path, script: str) -> None:
        self.folder = folder
        (folder / "train.py").write_text(script, encoding="utf-8")
        self.addresses = [f"localhost:{p}" for p in free_ports(2)]
        self.procs: list[subprocess.Popen | None] = [None, None]
        self.starts = 0

    def start(self, index: int) -> None:
        config = {"cluster": {"worker": self.addresses}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_CPP_MIN_LOG_LEVEL": "2",
               "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1"}  # fmt: skip
        log = open(self.log(index), "a", encoding="utf-8")  # noqa: SIM115 (the child keeps it)
        log.write(f"\n=== start {self.starts}\n")
        log.flush()
        self.procs[index] = subprocess.Popen(
            [sys.executable, "train.py", "--weights-out", f"weights{index}.npz"],
            cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

    def start_all(self) -> None:
        self.starts += 1
        for i in range(2):
            self.start(i)

    def log(self, index: int) -> Path:
        return self.folder / f"worker{index}.log"

    def text(self, index: int) -> str:
        return self.log(index).read_text(encoding="utf-8")

    def wait(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        codes = []
        for p in self.procs:
            try:
                codes.append(p.wait(max(1.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail("A worker did not finish in time:\n" + self.text(0) + self.text(1))
        return codes

    def kill(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

    def weights(self) -> list[list[np.ndarray]]:
        out = []
        for i in range(2):
            with np.load(self.folder / f"weights{i}.npz") as f:
                out.append([f[k] for k in f.files])
        return out


@pytest.fixture
def cluster_factory(tmp_path):
    made: list[Cluster] = []

    def make(epochs: int) -> Cluster:
        script = generate_script(project("multi_worker", batch_size=8), epochs=epochs)
        cluster = Cluster(tmp_path, script)
        made.append(cluster)
        return cluster

    yield make
    for c in made:
        c.kill()


def assert_same_weights(cluster: Cluster) -> None:
    a, b = cluster.weights()
    assert len(a) == len(b) == 6
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-6)


@pytest.mark.slow
def test_two_workers_finish_with_identical_weights(cluster_factory):
    cluster = cluster_factory(epochs=2)
    cluster.start_all()
    assert cluster.wait(180) == [0, 0], cluster.text(0) + cluster.text(1)
    assert_same_weights(cluster)
    for i in range(2):
        text = cluster.text(i)
        assert "2 replica(s)" in text and "Epoch 2/2" in text and "Test:" in text
    assert (cluster.folder / "iris_mlp_run" / "final.keras").exists()  # the chief's


@pytest.mark.slow
def test_a_killed_worker_resumes_from_the_last_checkpoint(cluster_factory):
    cluster = cluster_factory(epochs=4)
    run = cluster.folder / "iris_mlp_run"
    # each worker's CheckpointManager writes its "checkpoint" file last
    saved = [run / "checkpoints" / "checkpoint", run / "worker1_checkpoints" / "checkpoint"]

    def both_saved() -> bool:
        return all(p.exists() and "ckpt-1" in p.read_text(encoding="utf-8") for p in saved)

    cluster.start_all()
    deadline = time.monotonic() + 120
    while not both_saved():
        assert time.monotonic() < deadline, cluster.text(0) + cluster.text(1)
        assert all(p.poll() is None for p in cluster.procs), cluster.text(0) + cluster.text(1)
        time.sleep(0.02)
    victim = cluster.procs[1]
    assert victim.poll() is None, "worker 1 finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    # Worker 0 now fails or waits at its next collective step: a MultiWorkerMirroredStrategy
    # job restarts as a whole. Give it a moment to notice, then end it.
    try:
        cluster.procs[0].wait(5)
    except subprocess.TimeoutExpired:
        cluster.procs[0].send_signal(signal.SIGKILL)
        cluster.procs[0].wait()
    first = [cluster.text(i) for i in range(2)]
    assert "Epoch 4/4" not in first[1]

    cluster.start_all()
    assert cluster.wait(180) == [0, 0], cluster.text(0) + cluster.text(1)
    for i in range(2):
        second = cluster.text(i)[len(first[i]) :]
        resumed = [line for line in second.splitlines() if line.startswith("Resuming from epoch")]
        assert resumed, second
        start = int(resumed[0].split()[3])
        assert 2 <= start <= 4  # not from the beginning
        assert "Epoch 1/4" not in second and "Epoch 4/4" in second
        assert f"Epoch {start}/4" in second
    assert_same_weights(cluster)
