"""Training a project: compile settings, callbacks, the trainer and its run folder.

:class:`Trainer` does what ``model.compile`` + ``model.fit`` + ``model.evaluate`` do in the
seed tutorial, from a project's settings (``docs/training.md``), and reports through an
``emit(event)`` callable: the :class:`Bridge` callback turns Keras' batch and epoch logs into
event dicts. The same trainer runs in the window's training process
(:mod:`studio.engine.trainer_process`), in ``studio train`` and in ``bench/train.py``.

Stop and pause are :class:`threading.Event`-like objects checked after every batch, so Stop
ends training within one batch; the weights and the history so far are kept and saved.
Keras' dtype policy is global per thread, so mixed precision is set inside :meth:`Trainer.run`,
in the thread that trains, and restored afterwards.

``settings["training"]["distribution"]`` picks a ``tf.distribute`` strategy
(:mod:`studio.engine.distributed`): the model, optimizer, losses and metrics are created inside
its scope, the batch size is the global batch, ``mirrored`` trains with ``fit`` and
``multi_worker`` with :func:`studio.engine.distributed.custom_fit` (Keras 3's ``fit`` fails
under ``MultiWorkerMirroredStrategy``). In a multi-worker run only the chief writes the run
folder; the other workers write into a temporary folder.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from studio.catalog import load_catalog
from studio.core.settings import data_settings, input_names, output_names, training_settings
from studio.engine import EngineError, load_keras
from studio.engine.errors import TrainingError  # noqa: F401 - re-exported
from studio.project import dumps_project, project_from_dict
from studio.project.runs import best_metrics, write_json_atomic, write_text_atomic

write_json = write_json_atomic

keras = load_keras()

Emit = Callable[[dict], None]



class StoppedBeforeTraining(Exception):
    """Stop was pressed before the first batch (while loading data or compiling)."""


# ===================================================================== compile arguments
def _make(group: str, module, entry: dict, where: str, extra: dict | None = None):
    name = entry.get("class", "")
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise TrainingError(f"Unknown {group} '{name}'.", f"{where}.class")
    params = dict(entry.get("params") or {})
    params.update(extra or {})
    try:
        return cls(**params)
    except Exception as exc:  # a wrong parameter: Keras says which
        raise TrainingError(
            f"{group.capitalize()} {name} refused its settings: {_first_line(exc)}", where
        ) from exc


def make_optimizer(optimizer: dict, mixed_precision: bool = False):
    """The ``keras.optimizers`` object for ``settings["training"]["optimizer"]``."""
    extra = {}
    schedule = optimizer.get("schedule")
    if schedule:
        extra["learning_rate"] = _make(
            "learning-rate schedule",
            keras.optimizers.schedules,
            schedule,
            "training.optimizer.schedule",
        )
    return _make("optimizer", keras.optimizers, optimizer, "training.optimizer", extra)


def _custom(group: str, entry: dict, where: str, code: dict | None):
    """A ``custom.<name>`` loss or metric from the project's code (``code``: load_code's)."""
    name = entry.get("class", "")[len("custom.") :]
    obj = (code or {}).get(name)
    if obj is None:
        raise TrainingError(f"The project's code defines no {group} '{name}'.", f"{where}.class")
    params = dict(entry.get("params") or {})
    if isinstance(obj, type):  # a keras.metrics.Metric subclass
        try:
            return obj(**params)
        except Exception as exc:
            raise TrainingError(
                f"Metric {name} refused its settings: {_first_line(exc)}", where
            ) from exc
    if group == "metric":  # a function of (y_true, y_pred): averaged over batches, named
        return keras.metrics.MeanMetricWrapper(obj, name=params.get("name", name))
    return obj


def _make_entry(group: str, module, entry: dict, where: str, code: dict | None):
    if str(entry.get("class", "")).startswith("custom."):
        return _custom(group, entry, where, code)
    return _make(group, module, entry, where)


def compile_arguments(
    training: dict, outputs: list[str], named: bool = False, code: dict | None = None
) -> dict[str, Any]:
    """``model.compile`` keyword arguments: losses, weights and metrics as lists in the order of
    the model's outputs, or, for a model whose outputs are a dict (``named``), by name.
    ``code`` (:func:`studio.engine.custom.load_code`'s result) resolves ``custom.<name>``
    losses and metrics."""
    losses, weights, metrics = [], [], []
    for name in outputs:
        loss = training["losses"][name]
        losses.append(_make_entry("loss", keras.losses, loss, f"training.losses.{name}", code))
        weights.append(float(loss.get("weight", 1.0)))
        metrics.append(
            [
                _make_entry("metric", keras.metrics, m, f"training.metrics.{name}.{i}", code)
                for i, m in enumerate(training["metrics"].get(name, []))
            ]
        )
    single = len(outputs) == 1 and not named
    if named:
        losses, weights, metrics = (dict(zip(outputs, x)) for x in (losses, weights, metrics))
    return {
        "optimizer": make_optimizer(training["optimizer"]),
        "loss": losses[0] if single else losses,
        "loss_weights": None if single else weights,
        "metrics": metrics[0] if single else metrics,
        "steps_per_execution": int(training["steps_per_execution"]),
        "jit_compile": bool(training["jit_compile"]),
    }


def expected_logs(arguments: dict, outputs: list[str], validation: bool) -> list[str]:
    """The log keys ``fit`` will report (``loss``, ``accuracy``, ``species_loss``, ...,
    ``val_`` ones), so a dashboard can lay out its plots before the first batch."""
    keys = ["loss"]
    metrics = arguments["metrics"]
    if isinstance(metrics, dict):
        metrics = [metrics[o] for o in outputs]
    if len(outputs) == 1:
        keys += [m.name for m in (metrics[0] if metrics and isinstance(metrics[0], list)
                                  else metrics)]  # fmt: skip
    else:
        keys += [f"{o}_loss" for o in outputs]
        keys += [f"{o}_{m.name}" for o, ms in zip(outputs, metrics) for m in ms]
    return keys + ([f"val_{k}" for k in keys] if validation else [])


def outputs_in_float32(model) -> int:
    """Under a mixed dtype policy, compute the model's output layers in float32 (Keras'
    advice: a softmax or sigmoid in float16 loses precision and overflows). The layers keep
    their float32 variables; only their compute dtype changes. Returns how many changed."""
    policy = keras.config.dtype_policy()
    if not str(getattr(policy, "name", policy)).startswith("mixed_"):
        return 0
    changed = 0
    seen = set()
    for tensor in _flat(model.outputs):
        history = getattr(tensor, "_keras_history", None)
        layer = getattr(history, "operation", None) or (history[0] if history else None)
        if layer is None or id(layer) in seen or not hasattr(layer, "dtype_policy"):
            continue
        seen.add(id(layer))
        if layer.dtype_policy.compute_dtype != "float32":
            layer.dtype_policy = keras.DTypePolicy("float32")
            changed += 1
    return changed


def device_text() -> str:
    """What trains: the GPUs TensorFlow sees (it uses them when present), or the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for gpu in gpus:
            try:
                names.append(tf.config.experimental.get_device_details(gpu).get("device_name"))
            except Exception:
                names.append(None)
        named = [n or g.name for n, g in zip(names, gpus)]
        return f"GPU × {len(gpus)}: " + ", ".join(named) if len(gpus) > 1 else "GPU: " + named[0]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"CPU: {cpu} ({os.cpu_count()} cores)"


# ===================================================================== the bridge
class Bridge(keras.callbacks.Callback):
    """Keras callback that reports batch and epoch logs as events, and obeys stop/pause.

    ``stop`` and ``pause`` are objects with ``is_set()`` (``threading.Event`` or
    ``multiprocessing.Event``); ``pause`` is waited out after a batch, ``stop`` ends training
    after the batch in progress (validation of a partial epoch is skipped).
    """

    def __init__(self, emit: Emit, stop=None, pause=None, on_epoch=None) -> None:
        super().__init__()
        self.emit = emit
        self.stop = stop or threading.Event()
        self.pause = pause or threading.Event()
        self.on_epoch = on_epoch
        self.epochs: list[dict[str, float]] = []
        self.batches = 0
        self.stopped = False
        self.nan: str | None = None
        self.epoch = 0
        self._t_batch = 0.0
        self._t_epoch = 0.0
        self._samples_per_batch = 1
        self._steps = 0
        self._rate = 0.0

    def set_batch_size(self, batch_size: int, steps: int = 0) -> None:
        self._samples_per_batch = batch_size
        self._steps = steps

    def _lr(self) -> float | None:
        try:
            return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        except Exception:
            return None

    def on_epoch_begin(self, epoch, logs=None):
        if self.epochs and self.epochs[-1]["epoch"] >= epoch:  # resumed: drop repeated epochs
            self.epochs = [e for e in self.epochs if e["epoch"] < epoch]
        self.epoch = epoch
        self._t_epoch = self._t_batch = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self._steps:  # with steps_per_execution, Keras names the last step it ran
            batch = min(int(batch), self._steps - 1)
        now = time.perf_counter()
        spe = max(1, getattr(self.model, "steps_per_execution", 1) or 1)
        dt = now - self._t_batch
        self._t_batch = now
        if dt > 0:
            rate = spe * self._samples_per_batch / dt
            self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
        values = _floats(logs)
        self.batches += 1
        self.emit(
            {
                "type": "batch",
                "epoch": self.epoch,
                "batch": int(batch),
                "logs": values,
                "lr": None,
                "samples_per_second": self._rate,
            }
        )
        loss = values.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.nan = (
                f"The loss became {'NaN' if loss != loss else 'infinite'} at epoch "
                f"{self.epoch + 1}, batch {batch + 1}: training diverged. Try a lower learning "
                "rate, gradient clipping (clipnorm), or check the data for missing values."
            )
            self._halt()
            return
        if self.pause.is_set() and not self.stop.is_set():
            self.emit({"type": "paused"})
            while self.pause.is_set() and not self.stop.is_set():
                time.sleep(0.02)
            self.emit({"type": "resumed"})
            self._t_batch = time.perf_counter()
        if self.stop.is_set():
            self.stopped = True
            self._halt()

    def _halt(self) -> None:
        self.model.stop_training = True
        # Do not validate a partial epoch: the user asked to stop now.
        self.model._should_eval = lambda epoch, freq: False

    def on_test_batch_end(self, batch, logs=None):
        if self.stop.is_set():  # stopped during validation: end it and the training
            self.stopped = True
            self.model.stop_training = True
            self.model.stop_evaluating = True

    def on_epoch_end(self, epoch, logs=None):
        values = _floats(logs)
        lr = self._lr()
        if lr is not None:
            values["lr"] = lr
        partial = self.model.stop_training and (self.stopped or self.nan is not None)
        record = {"epoch": int(epoch), **values}
        if partial:
            record["partial"] = True
        self.epochs.append(record)
        self.emit(
            {
                "type": "epoch",
                "epoch": int(epoch),
                "logs": values,
                "lr": lr,
                "seconds": time.perf_counter() - self._t_epoch,
                "partial": partial,
            }
        )
        if self.on_epoch is not None:
            self.on_epoch(self.epochs)


def _floats(logs: dict | None) -> dict[str, float]:
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _first_line(exc: BaseException) -> str:
    from studio.engine.errors import keras_message

    return keras_message(exc)


# ===================================================================== run folders
def history_csv(epochs: list[dict]) -> str:
    keys = ["epoch"] + sorted({k for e in epochs for k in e} - {"epoch", "partial"})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    for e in epochs:
        writer.writerow([e.get(k, "") for k in keys])
    return buf.getvalue()


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def best_of(epochs: list[dict]) -> dict[str, float]:
    """The best value of every logged metric over the full (not stopped-early) epochs."""
    full = [e for e in epochs if not e.get("partial")]
    keys = sorted({k for e in full for k in e} - {"epoch", "partial"})
    return best_metrics({k: [e.get(k, math.nan) for e in full] for k in keys})


# ===================================================================== the trainer
class Trainer:
    """Train one project and write its run folder.

    Args:
        project: the project as a dict (``project_to_dict``), with its data and training
            settings.
        project_dir: the folder relative paths in the data settings are relative to.
        run_dir: the run folder to write (created when missing). An existing folder with a
            BackupAndRestore backup resumes that run.
        emit: called with every event (see ``docs/training.md``).
        overrides: ``epochs``, ``batch_size`` (from the command line).
        weights: ``{layer: arrays}`` or the path of a weights file to start from (the
            project's weights), or None.
    """

    def __init__(
        self,
        project: dict,
        project_dir: str | Path | None,
        run_dir: str | Path,
        emit: Emit,
        overrides: dict[str, Any] | None = None,
        weights: dict[str, list[np.ndarray]] | None = None,
        stop=None,
        pause=None,
        trusted_code: bool = False,
    ) -> None:
        self.project_dict = project
        self.project = project_from_dict(project)
        # The project's code runs only when the caller says it is trusted (a file never can).
        self.project.graph.trusted_code = bool(trusted_code)
        self.project_dir = Path(project_dir) if project_dir else None
        self.run_dir = Path(run_dir)
        self.emit = emit
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.initial_weights = weights
        self.stop = stop or threading.Event()
        self.pause = pause or threading.Event()
        self.model = None
        self.prepared = None
        self.bridge: Bridge | None = None
        self.run_info: dict[str, Any] = {}
        self.strategy = None  # a tf.distribute.Strategy, or None for one device
        self.tf_config: dict[str, Any] | None = None  # multi-worker: this worker's TF_CONFIG
        self.chief = True  # whether this process writes the run folder

    def _distribute(self, distribution: dict) -> None:
        """Choose the strategy before TensorFlow starts. A multi-worker worker that is not the
        chief writes its run files into a temporary folder (the chief's are the run)."""
        from studio.engine.distributed import is_chief, make_strategy, tf_config

        if distribution.get("strategy") == "multi_worker":
            self.tf_config = tf_config()
            self.chief = is_chief(self.tf_config)
            if not self.chief:
                import tempfile

                self.shared_run_dir = self.run_dir
                task = self.tf_config["task"]
                self.run_dir = Path(
                    tempfile.mkdtemp(prefix=f"studio-{task['type']}{task['index']}-")
                )
        self.strategy = make_strategy(distribution)

    def _scope(self):
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    # ------------------------------------------------------------------ settings
    def settings(self) -> tuple[dict, dict]:
        graph = self.project.graph
        training = training_settings(self.project.settings, graph)
        training.update(self.overrides)
        return training, data_settings(self.project.settings, graph)

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, Any]:
        """Train; returns the ``finished`` event. Raises nothing: a failure is reported as an
        ``error`` event, saved in ``run.json`` and returned."""
        policy = keras.config.dtype_policy()
        started = _now()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_info = {
            "status": "running",
            "started": started,
            "ended": None,
            "project": self.project.name,
            "epochs_done": 0,
            "best": {},
            "final": {},
            "test": None,
            "error": None,
            "device": "",
        }
        try:
            training, data = self.settings()
            self._distribute(training["distribution"])
            self.run_info["settings"] = {"training": training, "data": data}
            write_json(self.run_dir / "run.json", self.run_info)
            snapshot = dict(self.project_dict)
            snapshot["settings"] = {
                **(snapshot.get("settings") or {}),
                "training": training,
                "data": data,
            }
            write_text_atomic(
                self.run_dir / "project.studio.json", dumps_project(project_from_dict(snapshot))
            )
            from studio.engine.distributed import describe, replicas

            device = device_text()
            self.run_info["device"] = device
            self.run_info["replicas"] = replicas(self.strategy)
            self.run_info["strategy"] = describe(self.strategy)
            self.emit(
                {
                    "type": "device",
                    "text": device,
                    "replicas": self.run_info["replicas"],
                    "strategy": self.run_info["strategy"],
                }
            )
            if training["mixed_precision"]:
                import tensorflow as tf

                gpu = bool(tf.config.list_physical_devices("GPU"))
                keras.config.set_dtype_policy("mixed_float16" if gpu else "mixed_bfloat16")
            return self._train(training, data)
        except StoppedBeforeTraining:
            return self._stopped_early()
        except Exception as exc:
            return self._fail(exc)
        except BaseException as exc:  # Ctrl+C twice, SystemExit: record it, then go on out
            self._fail(exc, status="stopped" if isinstance(exc, KeyboardInterrupt) else "failed")
            raise
        finally:
            keras.config.set_dtype_policy(policy)
            if not self.chief:  # a multi-worker worker's own files: only the chief's count
                import shutil

                shutil.rmtree(self.run_dir, ignore_errors=True)

    def _stopped_early(self) -> dict[str, Any]:
        self.run_info.update(status="stopped", ended=_now(), epochs_done=0)
        write_json(self.run_dir / "run.json", self.run_info)
        event = {
            "type": "finished",
            "status": "stopped",
            "run_dir": str(self.run_dir),
            "history": [],
            "final": {},
            "best": {},
            "test": None,
            "seconds": 0.0,
        }
        self.emit(event)
        return event

    def _train(self, training: dict, data: dict) -> dict[str, Any]:
        from studio.engine.build import build_model
        from studio.engine.data import prepare
        from studio.engine.weights import apply_weights, layer_weights, read_weights, save_weights

        graph = self.project.graph
        self.emit({"type": "status", "text": "Building the model…"})

        from studio.engine.applications import download_progress

        # The model, its optimizer, losses and metrics live in the strategy's scope.
        with self._scope(), download_progress(self._progress):  # Backbone weights: first time
            self.model = model = build_model(graph, load_catalog())
        outputs_in_float32(model)
        weights = self.initial_weights
        if isinstance(weights, (str, Path)):
            try:
                weights = read_weights(weights)
            except (OSError, KeyError, ValueError) as exc:
                raise TrainingError(
                    f"The project's weights file {Path(weights).name} cannot be read ({exc}). "
                    "Load another run's weights, or clear them to start from fresh weights.",
                    "weights",
                ) from exc
        if weights:
            with self._scope():
                apply_weights(model, weights)
        ins, outs = input_names(graph), output_names(graph)
        in_shapes, out_shapes, named = model_io(model, ins, outs)
        self._check_stop()

        self.emit({"type": "status", "text": "Loading the data…"})
        self.prepared = prepared = prepare(
            data,
            in_shapes,
            out_shapes,
            self.project_dir,
            progress=self._progress,
        )
        self._check_stop()
        batch_size = int(training["batch_size"])
        seed = data.get("seed")
        train_ds = prepared.dataset(
            "train",
            batch_size,
            shuffle=bool(data.get("shuffle", True)),
            seed=seed,
            cache=bool(data.get("cache", True)),
            prefetch=bool(data.get("prefetch", True)),
        )
        train_ds = self._as_model_structure(train_ds, ins, outs, named)
        val_ds = None
        if prepared.validation is not None:
            val_ds = self._as_model_structure(
                prepared.dataset("validation", batch_size, cache=bool(data.get("cache", True))),
                ins,
                outs,
                named,
            )

        self.emit({"type": "status", "text": "Compiling…"})
        from studio.engine.custom import load_code

        with self._scope():
            arguments = compile_arguments(training, outs, named, code=load_code(graph))
            model.compile(**arguments)
        self._check_stop()

        multi_worker = training["distribution"]["strategy"] == "multi_worker"
        callbacks = self._callbacks(training, multi_worker=multi_worker)
        epochs = int(training["epochs"])
        samples = prepared.samples("train")
        steps = math.ceil(samples / batch_size)
        self.bridge.set_batch_size(batch_size, steps)
        self.emit(
            {
                "type": "start",
                "run_dir": str(self.run_dir),
                "epochs": epochs,
                "steps": steps,
                "samples": samples,
                "validation_samples": prepared.samples("validation"),
                "test_samples": prepared.samples("test"),
                "initial_epoch": 0,
                "metrics": expected_logs(arguments, outs, prepared.validation is not None),
            }
        )
        self.emit({"type": "status", "text": "Training…"})
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # A stopped, partial epoch has no val_loss for ModelCheckpoint: nothing to say.
            warnings.filterwarnings("ignore", message="Can save best model only")
            warnings.filterwarnings("ignore", message=".*conditioned on metric")
            if multi_worker:  # Keras 3's fit fails under MultiWorkerMirroredStrategy
                from studio.engine.distributed import custom_fit

                custom_fit(
                    model,
                    self.strategy,
                    train_ds,
                    val_ds,
                    epochs=epochs,
                    callbacks=callbacks,
                    run_dir=getattr(self, "shared_run_dir", self.run_dir),
                    config=self.tf_config,
                    stop=self.stop,
                    steps=steps,
                )
            else:
                model.fit(
                    train_ds,
                    validation_data=val_ds,
                    epochs=epochs,
                    callbacks=callbacks,
                    verbose=0,
                    shuffle=False,  # the dataset shuffles itself every epoch
                )
        seconds = time.perf_counter() - t0
        model.__dict__.pop("_should_eval", None)
        bridge = self.bridge
        if bridge.nan:
            raise TrainingError(bridge.nan, "training.optimizer.params.learning_rate")

        status = "stopped" if bridge.stopped else "finished"
        self.emit({"type": "status", "text": "Saving the model…"})
        tmp = self.run_dir / ".final.tmp.keras"  # atomic: a reader never sees half a model
        model.save(tmp)
        os.replace(tmp, self.run_dir / "final.keras")
        save_weights(layer_weights(model), self.run_dir / "weights.h5")
        if not (self.run_dir / "history.csv").exists() or not training["callbacks"]["CSVLogger"][
            "enabled"
        ]:
            write_text_atomic(self.run_dir / "history.csv", history_csv(bridge.epochs))

        test = None
        evaluation = None
        if multi_worker and prepared.test is not None:
            # evaluate/predict share fit's trouble under MultiWorkerMirroredStrategy; the
            # Runs panel's Evaluate (one device, final.keras) evaluates the run afterwards.
            self.emit({"type": "status", "text": "Multi-worker run: evaluate the test split "
                       "from the Runs panel."})  # fmt: skip
        elif prepared.test is not None and not self.stop.is_set():
            self.emit({"type": "status", "text": "Evaluating on the test split…"})
            from studio.engine.evaluation import evaluate_model

            test, evaluation = evaluate_model(model, prepared, ins, outs, batch_size)
            write_json(self.run_dir / "evaluation.json", {"outputs": evaluation, "test": test})
            self.emit({"type": "evaluation", "outputs": evaluation, "test": test})

        # The last full epoch: a stopped epoch's figures cover part of the data only.
        full = [e for e in bridge.epochs if not e.get("partial")]
        final = dict(full[-1]) if full else {}
        self.run_info.update(
            status=status,
            ended=_now(),
            epochs_done=sum(1 for e in bridge.epochs if not e.get("partial")),
            best=best_of(bridge.epochs),
            final=final,
            test=test,
            seconds=seconds,
            batches=bridge.batches,
        )
        write_json(self.run_dir / "run.json", self.run_info)
        event = {
            "type": "finished",
            "status": status,
            "run_dir": str(self.run_dir),
            "history": bridge.epochs,
            "final": final,
            "best": self.run_info["best"],
            "test": test,
            "seconds": seconds,
        }
        self.emit(event)
        return event

    def _progress(self, fraction: float, text: str) -> None:
        self.emit({"type": "status", "text": text, "fraction": fraction})
        self._check_stop()

    def _check_stop(self) -> None:
        """Stop pressed while loading data or compiling: end now, nothing trained."""
        if self.stop.is_set():
            raise StoppedBeforeTraining()

    def _as_model_structure(self, ds, ins: list[str], outs: list[str], named: bool = False):
        """The dataset's (x dict, y dict) as the model's inputs and outputs expect them."""
        single_in, single_out = len(ins) == 1, len(outs) == 1

        def restructure(x, y):
            xs = x[ins[0]] if single_in else tuple(x[n] for n in ins)
            if named:
                ys = {n: y[n] for n in outs}
            else:
                ys = y[outs[0]] if single_out else tuple(y[n] for n in outs)
            return xs, ys

        return ds.map(restructure)

    def _callbacks(self, training: dict, multi_worker: bool = False) -> list:
        run = self.run_dir

        def checkpoint_history(epochs: list[dict]) -> None:
            write_json(run / "history.json", {"epochs": epochs})
            self.run_info["epochs_done"] = sum(1 for e in epochs if not e.get("partial"))
            self.run_info["best"] = best_of(epochs)
            write_json(run / "run.json", self.run_info)

        self.bridge = Bridge(self.emit, self.stop, self.pause, on_epoch=checkpoint_history)
        out: list = [self.bridge]
        files = {
            "ModelCheckpoint": {"filepath": str(run / "best.keras")},
            "CSVLogger": {"filename": str(run / "history.csv")},
            "TensorBoard": {"log_dir": str(run / "logs")},
            "BackupAndRestore": {"backup_dir": str(run / "backup")},
        }
        resuming = (
            training["callbacks"]["BackupAndRestore"]["enabled"] and (run / "backup").is_dir()
        )
        if multi_worker:
            # The custom loop checkpoints every epoch into backup/ itself (CheckpointManager);
            # TensorBoard needs fit's train function.
            shared = getattr(self, "shared_run_dir", run)
            resuming = (shared / "backup" / "checkpoint").exists()
            if resuming and self.chief:
                self._resume_history()
        for name, entry in training["callbacks"].items():
            if not entry.get("enabled"):
                continue
            if multi_worker and name in ("BackupAndRestore", "TensorBoard"):
                continue
            cls = getattr(keras.callbacks, name)
            params = dict(entry.get("params") or {})
            params.update(files.get(name, {}))
            if name == "CSVLogger":
                params.setdefault("append", resuming)  # a resumed run keeps its first epochs
            if name == "BackupAndRestore":
                # Keep the previous backup too: a run killed while writing one resumes from
                # the one before instead of failing on a half-written file.
                params.setdefault("double_checkpoint", True)
                self._resume_history()
            try:
                out.append(cls(**params))
            except Exception as exc:
                raise TrainingError(
                    f"Callback {name} refused its settings: {_first_line(exc)}",
                    f"training.callbacks.{name}",
                ) from exc
        return out

    def _resume_history(self) -> None:
        """When this run folder holds a backup (an interrupted run), keep the epochs it
        already logged; the bridge drops those the resumed fit repeats."""
        if not (self.run_dir / "backup").is_dir():
            return
        try:
            previous = json.loads((self.run_dir / "history.json").read_text(encoding="utf-8"))
            epochs = [e for e in previous.get("epochs", []) if not e.get("partial")]
        except (OSError, ValueError, AttributeError):
            return
        self.bridge.epochs = epochs
        self.emit({"type": "status", "text": f"Resuming after epoch {len(epochs)}…"})

    # ------------------------------------------------------------------ failure
    def _fail(self, exc: BaseException, status: str = "failed") -> dict[str, Any]:
        message, where = describe_failure(exc, self.project.graph)
        if isinstance(exc, KeyboardInterrupt):
            message, where = "Training was interrupted.", None
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        epochs = self.bridge.epochs if self.bridge else []
        self.run_info.update(
            status=status,
            ended=_now(),
            error=message,
            where=where,
            epochs_done=sum(1 for e in epochs if not e.get("partial")),
            best=best_of(epochs),
            final=(epochs[-1] if epochs else {}),
        )
        try:
            write_json(self.run_dir / "run.json", self.run_info)
            if epochs:
                write_json(self.run_dir / "history.json", {"epochs": epochs})
        except OSError:
            pass
        event = {
            "type": "error",
            "message": message,
            "where": where,
            "detail": detail,
            "run_dir": str(self.run_dir),
            "history": epochs,
        }
        self.emit(event)
        return event


def model_io(model, ins: list[str], outs: list[str]) -> tuple[dict, dict, bool]:
    """(input shapes, output shapes by name, whether the model's outputs are a dict).

    A model with named outputs returns a dict, which Keras flattens in sorted key order, so
    outputs are matched by name there, and by position (the graph's order) otherwise."""
    in_shapes = {n: tuple(t.shape) for n, t in zip(ins, _flat(model.inputs))}
    named = isinstance(model.output, dict)
    if named:
        out_shapes = {n: tuple(model.output[n].shape) for n in outs}
    else:
        out_shapes = {n: tuple(t.shape) for n, t in zip(outs, _flat(model.outputs))}
    return in_shapes, out_shapes, named


def _flat(tensors) -> list:
    if isinstance(tensors, dict):
        return list(tensors.values())
    if isinstance(tensors, (list, tuple)):
        return list(tensors)
    return [tensors]


def describe_failure(exc: BaseException, graph=None) -> tuple[str, str | None]:
    """(a sentence for the user, the place it is about) for an exception raised in training.
    An exception inside the project's code names the user's line and, for a custom layer, is
    about its node (the first node of that type), for a loss or metric about the setting."""
    from studio.engine.custom import UntrustedCode, as_code_error
    from studio.engine.data import DataError

    if isinstance(exc, (TrainingError, DataError)):
        return exc.message, exc.where
    if isinstance(exc, UntrustedCode):
        return exc.message, None
    code_error = as_code_error(exc, graph)
    if code_error is not None:
        return code_error.message, code_error.node or _code_place(graph, code_error.name)
    if isinstance(exc, EngineError):
        return (f"The model could not be built: {exc}", exc.node)
    name = type(exc).__name__
    text = _first_line(exc)
    if name == "ResourceExhaustedError" or isinstance(exc, MemoryError) or "OOM" in text:
        return (
            "Out of memory while training. Lower the batch size or make the model smaller.",
            "training.batch_size",
        )
    if "Incompatible shapes" in text or "shape" in text.lower():
        return (f"The data does not fit the model: {text}", None)
    return (f"Training failed: {text}", None)


def _code_place(graph, name: str) -> str | None:
    """The node (or training setting) a piece of the project's code is about."""
    if graph is None:
        return None
    stack = [graph]
    while stack:
        g = stack.pop(0)
        for node in g.nodes:
            if node.type == f"custom.{name}":
                return node.name
            if node.subgraph is not None:
                stack.append(node.subgraph)
    settings_kind = {"loss": "training.losses", "metric": "training.metrics"}
    code = getattr(graph, "code", {}).get(name)
    return settings_kind.get(code.kind) if code is not None else None


def load_run_model(path: str | Path, graph=None, training: dict | None = None):
    """A run's saved ``.keras`` model; with a project's code (trusted: see
    :mod:`studio.engine.custom`) its custom layers, losses and metrics resolve.

    A model of a project with code is loaded uncompiled (Keras cannot always rebuild a
    compiled function metric) and, given the run's ``training`` settings, compiled again
    as the run compiled it."""
    from studio.engine.custom import as_code_error, custom_objects

    objects = custom_objects(graph) if graph is not None else {}
    try:
        model = keras.saving.load_model(
            str(path), custom_objects=objects or None, compile=not objects, safe_mode=True
        )
        if objects and training is not None:
            outs = output_names(graph)
            named = isinstance(model.output, dict)
            model.compile(**compile_arguments(training, outs, named, code=objects))
        return model
    except Exception as exc:
        error = as_code_error(exc, graph)
        if error is not None:
            raise error from exc
        raise


def evaluate_run(
    run_dir: str | Path, project_dir: str | Path | None, emit: Emit, trusted_code: bool = False
) -> dict:
    """Evaluate a finished run's final model on its test split (on demand); returns and emits
    the ``evaluation`` event and writes ``evaluation.json``. A run of a project with code
    needs ``trusted_code`` to load its model."""
    from studio.engine.data import prepare
    from studio.engine.evaluation import evaluate_model
    from studio.project import load_project

    run_dir = Path(run_dir)
    project = None
    try:
        project = load_project(run_dir / "project.studio.json")
        model_path = run_dir / "final.keras"
        if not model_path.exists():
            model_path = run_dir / "best.keras"
        if not model_path.exists():
            raise TrainingError(f"The run {run_dir.name} has no saved model to evaluate.")
        emit({"type": "status", "text": "Loading the model…"})
        project.graph.trusted_code = bool(trusted_code)
        graph = project.graph
        training = training_settings(project.settings, graph)
        model = load_run_model(model_path, graph, training)
        ins, outs = input_names(graph), output_names(graph)
        data = data_settings(project.settings, graph)
        in_shapes, out_shapes, _ = model_io(model, ins, outs)
        emit({"type": "status", "text": "Loading the data…"})
        prepared = prepare(data, in_shapes, out_shapes, Path(project_dir) if project_dir else None)
        if prepared.test is None:
            raise TrainingError(
                "This run's data settings hold no test split: set a test fraction in the Data "
                "panel and train again.",
                "data.test",
            )
        emit({"type": "status", "text": "Evaluating on the test split…"})
        test, evaluation = evaluate_model(model, prepared, ins, outs, int(training["batch_size"]))
        write_json(run_dir / "evaluation.json", {"outputs": evaluation, "test": test})
        event = {"type": "evaluation", "outputs": evaluation, "test": test, "run_dir": str(run_dir)}
        emit(event)
        return event
    except Exception as exc:
        message, where = describe_failure(exc, project.graph if project is not None else None)
        detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        event = {"type": "error", "message": message, "where": where, "detail": detail}
        emit(event)
        return event
