"""Training from the window: a QThread that supervises the training process.

:class:`TrainingController` starts a job (train a project, or evaluate a run) in a separate
process (:mod:`studio.engine.trainer_process`) from a :class:`QThread`. The thread blocks on
the process's event queue and appends every event to a thread-safe deque; a timer on the GUI
thread drains it at most every 50 ms and emits the events as one list, so a training loop
that reports hundreds of batches a second cannot flood the event loop. Stop and Pause are
``multiprocessing.Event`` s that the trainer checks after every batch.

The GUI thread never imports TensorFlow and never waits on it; if the process dies (killed
for memory, a crash in TensorFlow), the thread reports it as an error event and the window,
with the curves so far, stays.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import queue
import time
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QThread, QTimer, Signal

from studio.project import (
    PROJECT_SUFFIX,
    Project,
    default_filename,
    project_basename,
    project_to_dict,
)
from studio.project.runs import new_run_dir, write_json_atomic
from studio.resources import resource_path

DRAIN_MS = 50

# Preferences > Default run folder: where runs of projects without a folder of their own go
# (None: the user's application data).
default_runs_base: Path | None = None


def set_default_runs_base(path: str | Path | None) -> None:
    global default_runs_base
    default_runs_base = Path(path) if path else None


def runs_folder(project: Project) -> Path:
    """Where a project's runs go: ``<name>.runs/`` beside its file, or, for a project never
    saved or a bundled example, a folder in the default run folder (Preferences), by default
    the user's application data."""
    base = default_runs_base or Path(
        QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(Path.home())
    )
    if project.runs_dir is not None:
        examples = Path(resource_path("examples")).resolve()
        if project.path is not None and project.path.resolve().parent == examples:
            # A bundled example opened in place: runs go to the user's folder, never into
            # Studio's own installation.
            return base / "examples" / f"{project_basename(project.path)}.runs"
        return project.runs_dir
    return base / "unsaved" / f"{default_filename(project.name)[: -len(PROJECT_SUFFIX)]}.runs"


class _Supervisor(QThread):
    """Runs one job in a child process and copies its events into ``sink``."""

    def __init__(self, job: dict, sink: collections.deque, stop, pause, context) -> None:
        super().__init__()
        self.job = job
        self.sink = sink
        self.stop = stop
        self.pause = pause
        self.context = context
        self.exitcode: int | None = None
        self.process = None

    def kill(self) -> None:
        """End the process now (it did not stop in time); the thread then reports it."""
        process = self.process
        if process is not None and process.is_alive():
            process.terminate()

    def run(self) -> None:
        from studio.engine import trainer_process

        events = self.context.Queue()
        process = self.context.Process(
            target=trainer_process.main,
            args=(self.job, events, self.stop, self.pause),
            name="studio-trainer",
            daemon=True,
        )
        try:
            process.start()
        except Exception as exc:  # no process: say so rather than going quietly idle
            self.sink.append(
                {
                    "type": "error",
                    "message": f"The training process could not start: {exc}",
                    "where": None,
                    "detail": "",
                }
            )
            _mark_run(self.job.get("run_dir"), "failed", "The training process could not start.")
            return
        self.process = process
        ended = False

        def take(batch: list) -> bool:  # True once the process said goodbye
            for event in batch:
                if event.get("type") == "exit":
                    return True
                self.sink.append(event)
            return False

        while not ended:
            try:
                batch = events.get(timeout=0.2)
            except queue.Empty:
                if process.is_alive():
                    continue
                # Dead without saying goodbye: read what is left, then report.
                try:
                    while not ended:
                        ended = take(events.get(timeout=0.5))
                except queue.Empty:
                    pass
                if not ended:
                    process.join(1)
                    died = _died(process.exitcode)
                    self.sink.append(died)
                    _mark_run(self.job.get("run_dir"), "failed", died["message"])
                break
            ended = take(batch)
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)
        self.exitcode = process.exitcode


def _mark_run(run_dir: str | None, status: str, error: str) -> None:
    """Record in ``run.json`` how a run ended when its process could not say it itself."""
    if not run_dir:
        return
    path = Path(run_dir) / "run.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {"started": None}
    if info.get("status") not in (None, "running"):
        return
    info.update(status=status, error=error, ended=time.strftime("%Y-%m-%dT%H:%M:%S"))
    try:
        write_json_atomic(path, info)
    except OSError:
        pass


def _died(code: int | None) -> dict:
    why = {-9: " (killed: most likely out of memory)", -11: " (a crash inside TensorFlow)"}
    return {
        "type": "error",
        "message": "The training process ended unexpectedly"
        + (f" with exit code {code}{why.get(code, '')}" if code is not None else "")
        + ". The curves so far are kept; your project is safe.",
        "where": None,
        "detail": "",
    }


class TrainingController(QObject):
    """Start, pause, resume and stop training (or an evaluation) for the window."""

    # Signal(object), not list/dict: PySide would convert every event to a QVariant and back.
    events = Signal(object)  # a list of event dicts (docs/training.md), at most every DRAIN_MS
    stateChanged = Signal(str)  # "idle", "starting", "running", "paused", "stopping"
    finished = Signal(object)  # the "finished" event (a dict) of a training run
    evaluated = Signal(object)  # an "evaluation" event
    failed = Signal(object)  # an "error" event

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._context = multiprocessing.get_context("spawn")
        self._sink: collections.deque = collections.deque()
        self._thread: _Supervisor | None = None
        self._stop = None
        self._pause = None
        self._state = "idle"
        self.kind = ""
        self.run_dir: Path | None = None
        self.last_error: dict | None = None
        # Environment of the training process (Preferences: no GPU -> CUDA_VISIBLE_DEVICES=-1).
        self.env: dict[str, str] = {}
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self._drain)

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> str:
        return self._state

    def is_busy(self) -> bool:
        return self._thread is not None

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # ------------------------------------------------------------------ jobs
    def train(
        self,
        project: Project,
        overrides: dict | None = None,
        run_dir: Path | None = None,
        trusted_code: bool = False,
    ) -> Path:
        """Train ``project`` (a snapshot of it is taken now); returns the run folder.
        ``trusted_code``: the project's custom code may run (the file never says so)."""
        if self.is_busy():
            raise RuntimeError("Training is already running.")
        run_dir = run_dir or new_run_dir(runs_folder(project))
        weights = project.weights_path
        job = {
            "kind": "train",
            "project": project_to_dict(project),
            "project_dir": str(project.path.parent) if project.path else None,
            "run_dir": str(run_dir),
            "overrides": dict(overrides or {}),
            "weights": str(weights) if weights is not None and weights.exists() else None,
            "trusted_code": bool(trusted_code),
        }
        self.run_dir = run_dir
        self._start(job)
        return run_dir

    def evaluate(
        self, run_dir: Path, project_dir: Path | None, trusted_code: bool = False
    ) -> None:
        """Evaluate a run's final model on its test split (``trusted_code``: the run's
        custom code may run to load it)."""
        if self.is_busy():
            raise RuntimeError("Training is already running.")
        self.run_dir = Path(run_dir)
        job = {
            "kind": "evaluate",
            "run_dir": str(run_dir),
            "project_dir": str(project_dir) if project_dir else None,
            "trusted_code": bool(trusted_code),
        }
        self._start(job)

    def _start(self, job: dict) -> None:
        job["env"] = dict(self.env)
        self.kind = job["kind"]
        self.last_error = None
        self._stop = self._context.Event()
        self._pause = self._context.Event()
        self._thread = _Supervisor(job, self._sink, self._stop, self._pause, self._context)
        self._thread.finished.connect(self._drain)
        self._thread.start()
        self._timer.start()
        self._set_state("starting")

    def stop(self) -> None:
        """End training after the batch in progress; the weights and history are kept."""
        if self._stop is not None and self.is_busy():
            self._stop.set()
            self._set_state("stopping")

    def pause(self) -> None:
        if self._pause is not None and self.is_busy() and self._state == "running":
            self._pause.set()

    def resume(self) -> None:
        if self._pause is not None and self.is_busy():
            self._pause.clear()

    def shutdown(self, timeout: float = 8.0) -> bool:
        """Stop and wait for the process to end (closing the window); True when it ended."""
        if not self.is_busy():
            return True
        self.stop()
        self.resume()
        thread = self._thread
        deadline = time.monotonic() + timeout
        while thread.isRunning() and time.monotonic() < deadline:
            thread.wait(50)
        if thread.isRunning():  # stuck (a long data load or compile): end the process
            thread.kill()
            thread.wait(10_000)
        self._drain()
        return not thread.isRunning()

    # ------------------------------------------------------------------ events
    def _drain(self) -> None:
        batch = []
        while self._sink:
            batch.append(self._sink.popleft())
        for event in batch:
            kind = event.get("type")
            if kind in ("start", "resumed"):
                self._set_state("running" if not self._stop.is_set() else "stopping")
            elif kind == "paused":
                self._set_state("paused")
        if batch:
            self.events.emit(batch)
        for event in batch:
            kind = event.get("type")
            if kind == "finished":
                self.finished.emit(event)
            elif kind == "evaluation":
                self.evaluated.emit(event)
            elif kind == "error":
                self.last_error = event
                self.failed.emit(event)
        thread = self._thread
        if thread is not None and thread.isFinished() and not self._sink:
            self._thread = None
            self._timer.stop()
            self._set_state("idle")
