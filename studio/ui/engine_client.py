"""TensorFlow off the GUI thread: a worker thread that imports Keras and infers shapes.

The window appears before TensorFlow is imported. :class:`EngineClient` starts a QThread
whose worker imports TensorFlow, then answers shape requests. Requests are coalesced:
while the worker is busy only the newest graph waits, so typing in the inspector never
queues up work. Results come back as Qt signals on the GUI thread.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.core.graph import Graph


class _Worker(QObject):
    loaded = Signal(str, float)  # versions, seconds
    loadFailed = Signal(str)
    shapesReady = Signal(int, object)  # generation, ShapeResult
    jobDone = Signal(int, object, str)  # job id, result, error message ("" when it worked)
    wake = Signal()
    runJob = Signal(int, object)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: tuple[int, Graph] | None = None
        self._inference = None
        self.wake.connect(self._process)
        self.runJob.connect(self._run_job)

    @Slot(int, object)
    def _run_job(self, job_id: int, fn) -> None:
        try:
            result = fn()
        except Exception as exc:  # reported to the caller as a sentence
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.jobDone.emit(job_id, None, message)
            return
        self.jobDone.emit(job_id, result, "")

    @Slot()
    def load(self) -> None:
        start = time.perf_counter()
        try:
            from studio.engine import versions as engine_versions
            from studio.engine.shapes import ShapeInference

            versions = engine_versions()
            self._inference = ShapeInference()
        except Exception as exc:  # shown in the status bar; editing goes on without shapes
            self.loadFailed.emit(f"TensorFlow could not be loaded: {exc}")
            return
        self.loaded.emit(versions, time.perf_counter() - start)
        self._process()

    def submit(self, generation: int, graph: Graph) -> None:
        """Called from the GUI thread: replace whatever request is still waiting."""
        with self._lock:
            self._pending = (generation, graph)
        self.wake.emit()

    @Slot()
    def _process(self) -> None:
        if self._inference is None:
            return
        with self._lock:
            request, self._pending = self._pending, None
        if request is None:
            return
        generation, graph = request
        try:
            result = self._inference.infer(graph)
        except Exception as exc:  # never let one bad graph kill the worker
            self.loadFailed.emit(f"Shape inference failed: {exc}")
            return
        self.shapesReady.emit(generation, result)


class EngineClient(QObject):
    """The GUI's handle on the engine thread."""

    loaded = Signal(str, float)
    loadFailed = Signal(str)
    shapesReady = Signal(int, object)
    jobDone = Signal(int, object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("studio-engine")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.loadFailed.connect(self.loadFailed)
        self._worker.shapesReady.connect(self._on_shapes)
        self._worker.jobDone.connect(self.jobDone)
        self._jobs = 0
        self._thread.started.connect(self._worker.load)
        self._generation = 0
        self.is_loaded = False
        self.versions = ""
        self.latest = None  # the newest ShapeResult

    def start(self) -> None:
        self._thread.start()

    def request(self, graph: Graph) -> int:
        """Ask for the shapes of (a snapshot of) ``graph``; returns the request's number."""
        self._generation += 1
        self._worker.submit(self._generation, graph.copy())
        return self._generation

    def run(self, fn) -> int:
        """Run ``fn()`` on the engine thread (after TensorFlow has loaded); the answer comes
        as ``jobDone(job_id, result, error)``."""
        self._jobs += 1
        self._worker.runJob.emit(self._jobs, fn)
        return self._jobs

    @property
    def generation(self) -> int:
        return self._generation

    def _on_loaded(self, versions: str, seconds: float) -> None:
        self.is_loaded = True
        self.versions = versions
        self.loaded.emit(versions, seconds)

    def _on_shapes(self, generation: int, result) -> None:
        if generation == self._generation:  # older answers are already out of date
            self.latest = result
            self.shapesReady.emit(generation, result)

    def shutdown(self) -> None:
        self._thread.quit()
        self._thread.wait(10_000)
