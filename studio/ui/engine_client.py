"""TensorFlow off the GUI: the editor's handle on the engine process.

The window appears before TensorFlow is imported. :class:`EngineClient` starts the engine
(:mod:`studio.engine.service`) in a separate process, which imports TensorFlow and answers
shape requests and jobs (model import). A reader thread turns the answers into Qt signals on
the GUI thread. Shape requests are coalesced by the engine: only the newest graph is
answered, so typing in the inspector never queues up work.

Why a process and not a thread: see :mod:`studio.engine.service`.
"""

from __future__ import annotations

import multiprocessing
import threading

from PySide6.QtCore import QObject, Signal

from studio.core.graph import Graph


class EngineClient(QObject):
    """Start, feed and stop the engine process."""

    loaded = Signal(str, float)  # versions, seconds
    loadFailed = Signal(str)
    shapesReady = Signal(int, object)  # generation, ShapeResult
    jobDone = Signal(int, object, str)  # job id, result, error ("" when it worked)
    jobProgress = Signal(int, float, str)  # job id, fraction done, what (a download)
    _received = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._generation = 0
        self._jobs = 0
        self._process = None
        self._conn = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._backlog: list[tuple] = []
        self.is_loaded = False
        self.versions = ""
        self.info: dict = {}  # versions and devices (studio.engine.about), once loaded
        # Environment of the engine process (Preferences: no GPU -> CUDA_VISIBLE_DEVICES=-1).
        self.env: dict[str, str] = {}
        self.latest = None  # the newest ShapeResult
        self._received.connect(self._dispatch)

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        if self._process is not None:
            return
        from studio.engine import service

        context = multiprocessing.get_context("spawn")
        parent_conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=service.serve,
            args=(child_conn, dict(self.env)),
            name="studio-engine",
            daemon=True,
        )
        self._process.start()
        child_conn.close()
        self._conn = parent_conn
        self._reader = threading.Thread(target=self._read, name="studio-engine-reader", daemon=True)
        self._reader.start()
        with self._send_lock:
            backlog, self._backlog = self._backlog, []
        for message in backlog:
            self._send(message)

    def shutdown(self) -> None:
        if self._process is None:
            return
        self._send(("quit",))
        self._process.join(5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = None

    # ------------------------------------------------------------------ requests
    def request(self, graph: Graph) -> int:
        """Ask for the shapes of (a snapshot of) ``graph``; returns the request's number."""
        self._generation += 1
        self._send(("shapes", self._generation, graph.copy()), coalesce=True)
        return self._generation

    def run(self, kind: str, *args) -> int:
        """Run an engine job (``"import", path``); the answer comes as ``jobDone``."""
        self._jobs += 1
        self._send(("job", self._jobs, kind, args))
        return self._jobs

    @property
    def generation(self) -> int:
        return self._generation

    def _send(self, message: tuple, coalesce: bool = False) -> None:
        with self._send_lock:
            if self._conn is None:  # not started yet: keep it (only the newest shapes)
                if coalesce:
                    self._backlog = [m for m in self._backlog if m[0] != message[0]]
                self._backlog.append(message)
                return
            try:
                self._conn.send(message)
            except (OSError, ValueError, BrokenPipeError):
                self.loadFailed.emit("The engine process has stopped; restart Studio.")

    # ------------------------------------------------------------------ answers
    def _read(self) -> None:
        conn = self._conn
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                if self._process is not None:
                    self._received.emit(("load_failed", "The engine process ended unexpectedly."))
                return
            self._received.emit(message)

    def _dispatch(self, message: tuple) -> None:
        kind = message[0]
        if kind == "loaded":
            self.is_loaded = True
            self.versions = message[1]
            self.info = message[3] if len(message) > 3 else {}
            self.loaded.emit(message[1], message[2])
        elif kind == "load_failed":
            self.loadFailed.emit(message[1])
        elif kind == "shapes":
            generation, result = message[1], message[2]
            if generation == self._generation:  # older answers are already out of date
                self.latest = result
                self.shapesReady.emit(generation, result)
        elif kind == "job":
            self.jobDone.emit(message[1], message[2], message[3])
        elif kind == "progress":
            self.jobProgress.emit(message[1], message[2], message[3])
