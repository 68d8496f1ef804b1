"""The training process: one :class:`~studio.engine.training.Trainer` run, off the editor.

The window starts this with ``multiprocessing`` (spawn) from a supervising QThread
(:mod:`studio.ui.training.controller`). Why a process and not ``model.fit`` in a thread of the
window's process: importing TensorFlow and initialising its runtime holds the interpreter
lock for about half a second (measured: 0.36-0.45 s import, 0.17 s first model) and would
freeze the window; a process also keeps an out-of-memory kill or a crash in TensorFlow from
taking the user's unsaved work down with it. Inside the process, training runs in its main
thread, which is where the dtype policy (mixed precision) is set.

Protocol: ``main(job, events, stop, pause)``; ``events`` is a ``multiprocessing.Queue`` that
receives lists of the trainer's event dicts (``docs/training.md``; batch events are sent at
most every 50 ms), the last one ending with ``{"type": "exit"}``;
``stop`` and ``pause`` are ``multiprocessing.Event`` s.

Jobs: ``{"kind": "train", "project": dict, "project_dir": str | None, "run_dir": str,
"overrides": dict, "weights": path | None, "trusted_code": bool}`` and ``{"kind": "evaluate",
"run_dir": str, "project_dir": str | None, "trusted_code": bool}`` (``trusted_code``: the
project's custom code may run; False when missing).
"""

from __future__ import annotations

import os
import time
import traceback


class _Batched:
    """Sends events in lists: batch events are held for up to ``interval`` seconds, any other
    event goes out at once with what is held. Fewer, larger messages cost the training loop
    (and the window's reader) much less than one pickled message per batch."""

    def __init__(self, queue, interval: float = 0.05) -> None:
        self.queue = queue
        self.interval = interval
        self.held: list[dict] = []
        self.last = time.monotonic()

    def __call__(self, event: dict) -> None:
        self.held.append(event)
        now = time.monotonic()
        if event.get("type") != "batch" or now - self.last >= self.interval:
            self.flush()
            self.last = now

    def flush(self) -> None:
        if self.held:
            self.queue.put(self.held)
            self.held = []


def _configure_devices(job: dict) -> None:
    """Split the CPU into logical devices (``cpu_replicas``) before anything starts
    TensorFlow's devices: this process is fresh, so now is the time. A failure here is
    reported by the trainer, which tries again and writes it into the run's run.json."""
    settings = (job.get("project") or {}).get("settings") or {}
    training = settings.get("training") if isinstance(settings, dict) else None
    distribution = training.get("distribution") if isinstance(training, dict) else None
    if not distribution:
        return
    try:
        from studio.engine.distributed import configure_devices

        configure_devices(distribution)
    except Exception:
        pass


def main(job: dict, events, stop, pause) -> None:
    """The process target."""
    os.environ.update(job.get("env") or {})  # before TensorFlow: CUDA_VISIBLE_DEVICES=-1
    emit = _Batched(events)
    try:
        # A background job: the window (drawing the curves) goes first when both want the
        # CPU, so the editor stays smooth; training gets every cycle the window does not use.
        os.nice(10)
    except (AttributeError, OSError):  # Windows, or not permitted
        pass
    try:
        emit({"type": "status", "text": "Starting TensorFlow…"})
        if job["kind"] == "train":
            _configure_devices(job)
        from studio.engine import training

        if job["kind"] == "train":
            trainer = training.Trainer(
                job["project"],
                job.get("project_dir"),
                job["run_dir"],
                emit,
                overrides=job.get("overrides"),
                weights=job.get("weights"),
                stop=stop,
                pause=pause,
                trusted_code=bool(job.get("trusted_code", False)),
            )
            trainer.run()
        elif job["kind"] == "evaluate":
            training.evaluate_run(
                job["run_dir"],
                job.get("project_dir"),
                emit,
                trusted_code=bool(job.get("trusted_code", False)),
            )
        else:
            raise ValueError(f"Unknown training job {job['kind']!r}.")
    except Exception as exc:  # an import failure or a bug: still a message, never silence
        emit(
            {
                "type": "error",
                "message": f"Training could not start: {exc}",
                "where": None,
                "detail": traceback.format_exc(),
            }
        )
    finally:
        emit({"type": "exit"})
        emit.flush()
        events.close()
        events.join_thread()
