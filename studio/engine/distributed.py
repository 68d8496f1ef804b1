"""Training on several devices and machines with TensorFlow's distribution strategies.

``settings["training"]["distribution"]`` (``docs/training.md``) picks the strategy:

* ``default``: no strategy, one device (what Keras picks: the first GPU, or the CPU);
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs (or a chosen
  subset), or over logical CPU devices when there is no GPU (``cpu_replicas`` splits the CPU
  into that many, for trying it on a laptop and for tests). ``model.fit`` trains;
* ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``, one process per machine,
  each started with a ``TF_CONFIG`` environment variable (Training > Multi-Worker Setup writes
  the commands). Keras 3's ``model.fit`` fails under this strategy (keras-team/keras#20585:
  "Attempt to convert a value (PerReplica...)"), so :func:`custom_fit` trains with a custom
  loop: ``strategy.run`` of a step inside a ``tf.function``, the loss averaged over the global
  batch, and the same Keras callbacks ``fit`` calls, through a ``keras.callbacks.CallbackList``.
  It checkpoints every epoch with ``tf.train.CheckpointManager`` (the chief into the run's
  ``backup/`` folder, the other workers into a temporary folder), so a restarted worker
  resumes after the last finished epoch.

The model, optimizer, losses and metrics are created inside ``strategy.scope()`` by the
trainer; the batch size in the settings is the global batch, which ``tf.distribute`` splits
across the replicas.

Logical CPU devices can be set only before TensorFlow initialises its devices, and
``MultiWorkerMirroredStrategy`` must be created before TensorFlow runs anything: the trainer
calls :func:`configure_devices` and :func:`make_strategy` first thing, in a fresh process (the
training process, ``studio train``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from studio.core.settings import distribution_settings
from studio.engine.errors import TrainingError

#: Where a problem with the multi-worker environment points the user.
SETUP_HINT = (
    "Training > Multi-Worker Setup writes one launch command per worker, with its TF_CONFIG."
)


# ===================================================================== TF_CONFIG
def tf_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``TF_CONFIG`` of this worker, checked: ``{"cluster": {"worker": [...], "chief":
    [...]}, "task": {"type": "worker", "index": 0}}``. Raises a TrainingError that names the
    variable when it is missing or malformed. Reads no TensorFlow."""
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG")
    if not raw or not raw.strip():
        raise TrainingError(
            "Multi-worker training needs the TF_CONFIG environment variable (the cluster's "
            "worker addresses and this worker's place in it), and it is not set. " + SETUP_HINT,
            "TF_CONFIG",
        )
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({exc}). " + SETUP_HINT, "TF_CONFIG") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise TrainingError(
            'TF_CONFIG must be a JSON object with "cluster" and "task", such as {"cluster": '
            '{"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, "task": {"type": "worker", '
            '"index": 0}}. ' + SETUP_HINT,
            "TF_CONFIG",
        )
    for role, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(
            isinstance(a, str) and ":" in a for a in addresses
        ):
            raise TrainingError(
                f'TF_CONFIG cluster "{role}" must be a list of "host:port" addresses (it is '
                f"{addresses!r}). " + SETUP_HINT,
                "TF_CONFIG",
            )
    if not cluster.get("worker") and not cluster.get("chief"):
        raise TrainingError('TF_CONFIG names no "worker" addresses. ' + SETUP_HINT, "TF_CONFIG")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in cluster:
        raise TrainingError(
            f"TF_CONFIG task type {kind!r} is not one of the cluster's roles "
            f"({', '.join(cluster)}). " + SETUP_HINT,
            "TF_CONFIG",
        )
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(
        cluster[kind]
    ):
        raise TrainingError(
            f"TF_CONFIG task index {index!r} is not a place in the cluster's {kind!r} list "
            f"(0 to {len(cluster[kind]) - 1}). " + SETUP_HINT,
            "TF_CONFIG",
        )
    return {"cluster": cluster, "task": {"type": kind, "index": index}}


def is_chief(config: dict[str, Any] | None) -> bool:
    """Whether this worker writes the run's files: the ``chief``, or worker 0 when the cluster
    has no chief (TensorFlow's rule). Without a TF_CONFIG, every process is its own chief."""
    if not config:
        return True
    task = config["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task["index"] == 0 and "chief" not in config["cluster"]


def worker_count(config: dict[str, Any]) -> int:
    cluster = config["cluster"]
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


# ===================================================================== devices
def configure_devices(distribution: Any) -> None:
    """Split the CPU into ``cpu_replicas`` logical devices when there is no GPU. Must run
    before TensorFlow initialises its devices (first op, first model); a TrainingError says
    so when it is too late."""
    dist = distribution_settings(distribution)
    n = dist["cpu_replicas"]
    if dist["strategy"] == "default" or not isinstance(n, int) or n < 2:
        return
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return  # replicas are the GPUs
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError as exc:
        raise TrainingError(
            f"The CPU cannot be split into {n} logical devices any more: TensorFlow has "
            "already started in this process. Start training in a fresh process (the window "
            "and studio train do).",
            "training.distribution.cpu_replicas",
        ) from exc


def make_strategy(distribution: Any, environ: dict[str, str] | None = None):
    """The ``tf.distribute.Strategy`` for ``settings["training"]["distribution"]``, or None
    for the default (one device)."""
    dist = distribution_settings(distribution)
    strategy = dist["strategy"]
    if strategy == "default":
        return None
    if strategy == "multi_worker":
        config = tf_config(environ)  # checked before TensorFlow starts
        configure_devices(dist)
        import tensorflow as tf

        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except (RuntimeError, ValueError) as exc:
            raise TrainingError(
                f"MultiWorkerMirroredStrategy could not start for worker {config['task']}: "
                f"{str(exc).splitlines()[0]}. It must be created before TensorFlow runs "
                "anything; train in a fresh process.",
                "training.distribution.strategy",
            ) from exc
    if strategy != "mirrored":
        raise TrainingError(
            f"Unknown distribution strategy {strategy!r}; choose default, mirrored or "
            "multi_worker.",
            "training.distribution.strategy",
        )
    configure_devices(dist)
    import tensorflow as tf

    gpus = [d.name.replace("/device:", "") for d in tf.config.list_logical_devices("GPU")]
    cpus = [d.name.replace("/device:", "") for d in tf.config.list_logical_devices("CPU")]
    wanted = dist["devices"]
    if wanted:
        available = gpus + cpus
        missing = [d for d in wanted if d not in available]
        if missing:
            raise TrainingError(
                f"Device {', '.join(missing)} is not on this machine; it has "
                f"{', '.join(available)}. Clear the device list to use all GPUs.",
                "training.distribution.devices",
            )
        devices = list(wanted)
    else:
        devices = gpus or cpus
    return tf.distribute.MirroredStrategy(devices=[f"/{d}" for d in devices])


def replicas(strategy) -> int:
    """How many replicas train in step (1 without a strategy)."""
    return int(strategy.num_replicas_in_sync) if strategy is not None else 1


def describe(strategy) -> str:
    """"2 replicas (MirroredStrategy on CPU:0, CPU:1)", for the dashboard and run.json."""
    if strategy is None:
        return "1 replica (one device)"
    n = replicas(strategy)
    name = type(strategy).__name__
    if name == "CollectiveAllReduceStrategy":  # tf.distribute.MultiWorkerMirroredStrategy
        name = "MultiWorkerMirroredStrategy"
    devices = [d.split("/device:")[-1] for d in strategy.extended.worker_devices]
    plural = "replica" if n == 1 else "replicas"
    if "MultiWorker" in name:
        config = tf_config()
        return (
            f"{n} {plural} ({name}: {worker_count(config)} "
            f"worker{'s' if worker_count(config) != 1 else ''}, this is "
            f"{config['task']['type']} {config['task']['index']} on {', '.join(devices)})"
        )
    return f"{n} {plural} ({name} on {', '.join(devices)})"


# ===================================================================== the multi-worker loop
def checkpoint_dirs(run_dir: str | Path, config: dict[str, Any] | None) -> tuple[Path, Path]:
    """(where this worker writes its checkpoints, where it restores from). The chief writes
    into the run's ``backup/`` folder; the others write to a temporary folder (their saves
    are needed for the collective ops, their files are not) and restore from the chief's."""
    shared = Path(run_dir) / "backup"
    if is_chief(config):
        return shared, shared
    task = config["task"]
    temp = Path(tempfile.gettempdir()) / f"studio-worker-{task['type']}-{task['index']}-{os.getpid()}"
    return temp, shared


def custom_fit(
    model,
    strategy,
    train_ds,
    val_ds,
    *,
    epochs: int,
    callbacks: list,
    run_dir: str | Path,
    config: dict[str, Any] | None = None,
    stop=None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Train a compiled ``model`` (built, compiled, with its optimizer, inside
    ``strategy.scope()``) under ``strategy`` with a custom loop, the way ``fit`` would.

    Each step runs ``strategy.run(replica_step)`` inside a ``tf.function``: the forward pass,
    the compiled loss averaged over the *global* batch (the replica's mean loss times its
    share of the global batch: ``tf.nn.compute_average_loss`` with the global batch size),
    gradients applied by the optimizer (which sums them across replicas), metrics updated in
    the replica context. Validation runs every epoch into ``val_`` logs. ``callbacks`` get
    ``on_train_begin``, ``on_epoch_begin``, ``on_train_batch_end``, ``on_test_batch_end``,
    ``on_epoch_end`` and ``on_train_end`` through a ``CallbackList``.

    A ``tf.train.Checkpoint`` of the model, the optimizer and the epoch counter is saved
    after every epoch (see :func:`checkpoint_dirs`); when the restore folder holds one, the
    loop resumes after its epoch. ``stop`` (``is_set()``) on any worker stops every worker
    after the current step (a flag summed across replicas in the step). Returns
    ``{"initial_epoch", "epochs_done", "stopped"}``.
    """
    import keras
    import tensorflow as tf
    from keras.src.losses import loss as loss_module

    write_dir, restore_dir = checkpoint_dirs(run_dir, config)
    with strategy.scope():
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch_var)
    latest = tf.train.latest_checkpoint(str(restore_dir)) if restore_dir.is_dir() else None
    if latest:
        checkpoint.restore(latest)
    initial_epoch = int(epoch_var.numpy())
    manager = tf.train.CheckpointManager(checkpoint, str(write_dir), max_to_keep=2)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    train_dist = strategy.experimental_distribute_dataset(train_ds.with_options(options))
    val_dist = (
        strategy.experimental_distribute_dataset(val_ds.with_options(options))
        if val_ds is not None
        else None
    )
    callback_list = keras.callbacks.CallbackList(
        callbacks, add_history=True, add_progbar=False, model=model, epochs=epochs, steps=steps
    )

    def _count(x):
        return tf.shape(tf.nest.flatten(x)[0])[0]

    def replica_train(x, y, stop_flag):
        ctx = tf.distribute.get_replica_context()
        local_n = _count(x)
        # (float, and computed here: an input tensor handed straight to all_reduce has no
        # device under MultiWorkerMirroredStrategy: "destinations can not be empty")
        global_n = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(local_n, tf.float32))
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            # compute_loss: the replica's mean loss divided by the number of replicas (Keras'
            # rule for fit); undone, then weighted by the replica's share of the global batch:
            # tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_n).
            mean = loss_module.unscale_loss_for_distribution(
                model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
            )
            share = tf.cast(local_n, mean.dtype) / tf.cast(tf.maximum(global_n, 1.0), mean.dtype)
            loss = mean * share
            model._loss_tracker.update_state(mean, sample_weight=local_n)
            scaled = model.optimizer.scale_loss(loss)  # loss scaling under mixed_float16
        grads = tape.gradient(scaled, model.trainable_weights)
        model.optimizer.apply_gradients(zip(grads, model.trainable_weights))
        model.compute_metrics(x, y, y_pred, sample_weight=None)
        return ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(stop_flag) * 1.0)

    def replica_test(x, y):
        y_pred = model(x, training=False)
        mean = loss_module.unscale_loss_for_distribution(
            model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        )
        model._loss_tracker.update_state(mean, sample_weight=_count(x))
        model.compute_metrics(x, y, y_pred, sample_weight=None)

    @tf.function
    def train_step(batch, stop_flag):
        x, y = batch
        flags = strategy.run(replica_train, args=(x, y, stop_flag))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None)

    @tf.function
    def test_step(batch):
        x, y = batch
        strategy.run(replica_test, args=(x, y))

    def results() -> dict[str, float]:
        return {k: float(v) for k, v in model.get_metrics_result().items()}

    model.stop_training = False
    stopped = False
    epoch = initial_epoch
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        step = 0
        for batch in train_dist:
            callback_list.on_train_batch_begin(step)
            flag = tf.constant(1.0 if stop is not None and stop.is_set() else 0.0)
            anyone = float(train_step(batch, flag))
            logs = results()
            if anyone > 0:
                stopped = True
                if stop is not None and not stop.is_set():
                    stop.set()  # another worker stopped: this one stops with it
            callback_list.on_train_batch_end(step, logs)
            step += 1
            if stopped or model.stop_training:
                break
        logs = results()
        partial = stopped or model.stop_training
        if val_dist is not None and not partial:
            model.reset_metrics()
            callback_list.on_test_begin()
            for i, batch in enumerate(val_dist):
                callback_list.on_test_batch_begin(i)
                test_step(batch)
                callback_list.on_test_batch_end(i, {})
            val = results()
            callback_list.on_test_end(val)
            logs.update({f"val_{k}": v for k, v in val.items()})
        callback_list.on_epoch_end(epoch, logs)
        if not partial:
            epoch_var.assign(epoch + 1)
            manager.save(checkpoint_number=epoch + 1)
        if partial or model.stop_training:
            break
    callback_list.on_train_end(logs=None)
    if write_dir != restore_dir:
        shutil.rmtree(write_dir, ignore_errors=True)
    return {
        "initial_epoch": initial_epoch,
        "epochs_done": int(epoch_var.numpy()),
        "stopped": stopped,
    }
