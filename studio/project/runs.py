"""The runs folder: ``<project>.runs/<YYYYMMDD-HHMMSS>/``, one folder per training run.

A run folder holds (see ``docs/training.md``) ``run.json`` (the summary), the project as it
was trained, ``history.json`` / ``history.csv`` (per-epoch logs), the models and weights,
``evaluation.json`` and TensorBoard logs. This module lists runs, reads their summaries,
histories and evaluations, makes new run folders, writes JSON atomically and deletes runs.

``run.json`` is read leniently, so a summary written by an older or newer Studio still lists::

    {"status": "finished",            # running | finished | stopped | failed
     "started": "2026-11-26T15:30:00", "ended": "2026-11-26T15:34:12" | null,
     "epochs_done": 10, "device": "CPU",
     "best": {"loss": 0.05, "val_accuracy": 0.978, ...},   # see best_metrics()
     "final": {...last epoch's logs...}, "test": {...} | null,
     "error": null | "a sentence" | {"message": "a sentence", ...}}

Other folders in the runs folder (``imported/``, ``autosave/``, anything without a
``run.json``) are not runs and are never listed nor deleted. Reading never raises for a broken
file: a ``run.json`` that cannot be parsed lists as a run with status ``"unreadable"``, a
broken history reads as empty.

This module imports neither Qt nor TensorFlow.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
HISTORY_JSON = "history.json"
HISTORY_CSV = "history.csv"
EVALUATION_FILE = "evaluation.json"
RUNS_SUFFIX = ".runs"
#: The folder name format of a run: its start time.
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
#: Every status a run can have; ``"unreadable"`` is this module's, for a broken ``run.json``.
RUN_STATUSES = ("running", "finished", "stopped", "failed", "unreadable")
#: Folders of the runs folder that belong to other features, never runs.
NOT_RUNS = frozenset({"imported", "autosave", "backup", "logs"})

_RUN_NAME = re.compile(r"^(\d{8}-\d{6})(?:-(\d+))?$")

# Metric names: which way is better. Matched against the name's ``_``-separated words (after
# ``val_``), so ``dense_1_loss`` is a loss and ``top_k_categorical_accuracy`` an accuracy.
_HIGHER_WORDS = frozenset(
    {"accuracy", "acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "io", "r2",
     "score", "specificity", "sensitivity", "dice", "similarity"}
)  # fmt: skip
_LOWER_WORDS = frozenset(
    {"loss", "error", "mae", "mse", "rmse", "mape", "msle", "crossentropy", "hinge",
     "divergence", "kld", "kl", "poisson", "logcosh", "huber", "distance"}
)  # fmt: skip
#: Log keys that are not metrics (no "best").
NOT_METRICS = frozenset({"epoch", "lr", "learning_rate", "seconds", "time", "batch", "size"})
#: The metrics a run's label names, in order of preference (val_ first, then train).
HEADLINE = ("accuracy", "acc", "auc", "f1_score", "loss")


# ===================================================================== metric names
def metric_direction(key: str) -> str | None:
    """``"max"`` when a larger value of the metric ``key`` is better, ``"min"`` when a smaller
    one is, None for keys that are not metrics (``epoch``, ``lr``) or unknown names.

    ``val_`` prefixes are ignored; ``loss`` anywhere in the name wins, so ``dense_1_loss`` is
    ``"min"`` even when the output is called ``accuracy_head``."""
    name = key[4:] if key.startswith("val_") else key
    if name in NOT_METRICS:
        return None
    words = set(name.lower().split("_"))
    if "loss" in words:
        return "min"
    if words & _HIGHER_WORDS or "accuracy" in name or "iou" in name:
        return "max"
    if words & _LOWER_WORDS or "error" in name or "crossentropy" in name:
        return "min"
    return None


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def best_metrics(history: dict[str, list[float]]) -> dict[str, float]:
    """The best value of each metric in ``history`` (columns by key, as :func:`read_history`
    returns): the minimum of loss-like keys (``loss``, ``val_loss``, ``mae``, ...), the maximum
    of accuracy/auc/precision/recall/f1-like keys. Keys that are not metrics (``epoch``,
    ``lr``) or whose name says nothing about direction are left out, and so are keys without a
    finite value."""
    best: dict[str, float] = {}
    for key, values in history.items():
        direction = metric_direction(key)
        if direction is None:
            continue
        finite = [v for v in (_finite(x) for x in values) if v is not None]
        if finite:
            best[key] = min(finite) if direction == "min" else max(finite)
    return best


def format_metric(key: str, value: float) -> str:
    """``0.978`` for accuracy-like metrics, 4 significant digits for the rest (``0.08123``)."""
    if value is None or not math.isfinite(value):
        return "–"
    if metric_direction(key) == "max" and -1.0 <= value <= 1.0:
        return f"{value:.3f}"
    return f"{value:.4g}"


# ===================================================================== runs
@dataclass
class RunInfo:
    """One run, as its ``run.json`` describes it.

    Attributes:
        path: the run folder.
        name: the folder's name (its start time, ``20261126-153000``).
        status: one of :data:`RUN_STATUSES`.
        started, ended: times as written in ``run.json`` (ISO 8601); ``ended`` None while
            running or when it never ended cleanly.
        epochs_done: epochs completed.
        device: ``"CPU"``, ``"GPU: NVIDIA H100 ..."``, or ``""`` when unknown.
        best: the best value of each metric (see :func:`best_metrics`).
        final: the last epoch's logs.
        test: the test-set metrics, or None when there was no test set.
        error: the sentence of a failed run (or why ``run.json`` is unreadable), else None.
    """

    path: Path
    name: str
    status: str
    started: str
    ended: str | None
    epochs_done: int
    device: str
    best: dict[str, float] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] | None = None
    error: str | None = None

    def headline(self) -> tuple[str, float] | None:
        """The one metric that sums the run up: best ``val_accuracy``, else best accuracy,
        AUC, F1, then ``val_loss``, then ``loss`` (from :attr:`best`, else :attr:`final`)."""
        for source in (self.best, self.final):
            for prefix in ("val_", ""):
                for name in HEADLINE:
                    value = _finite(source.get(prefix + name))
                    if value is not None:
                        return prefix + name, value
        return None

    @property
    def label(self) -> str:
        """``"20261126-153000 · finished · 10 epochs · val_accuracy 0.978"``."""
        parts = [self.name, self.status]
        if self.status != "unreadable":
            parts.append(f"{self.epochs_done} epoch{'' if self.epochs_done == 1 else 's'}")
            head = self.headline()
            if head is not None:
                parts.append(f"{head[0]} {format_metric(*head)}")
        return " · ".join(parts)


def _metrics_dict(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for k, v in value.items():
        f = _finite(v)
        if isinstance(k, str) and f is not None:
            out[k] = f
    return out


def _unreadable(run_dir: Path, why: str) -> RunInfo:
    return RunInfo(run_dir, run_dir.name, "unreadable", "", None, 0, "", error=why)


def read_run(run_dir: str | os.PathLike) -> RunInfo:
    """The run in ``run_dir``, from its ``run.json``; never raises for a missing or broken
    file: that gives status ``"unreadable"`` with the reason in ``error``."""
    run_dir = Path(run_dir)
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _unreadable(run_dir, "The run has no run.json.")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = getattr(e, "strerror", None) or e.__class__.__name__
        return _unreadable(run_dir, f"run.json could not be read ({reason}).")
    if not isinstance(data, dict):
        return _unreadable(run_dir, "run.json does not hold a run summary.")

    status = data.get("status")
    if status not in RUN_STATUSES:
        status = "unreadable" if status is None else str(status)
    error = data.get("error")
    if isinstance(error, dict):
        error = error.get("message") or None
    epochs = data.get("epochs_done", data.get("epochs", 0))
    try:
        epochs = max(0, int(epochs))
    except (TypeError, ValueError):
        epochs = 0
    test = data.get("test")
    ended = data.get("ended", data.get("end"))
    return RunInfo(
        path=run_dir,
        name=run_dir.name,
        status=status,
        started=str(data.get("started", data.get("start")) or ""),
        ended=str(ended) if ended else None,
        epochs_done=epochs,
        device=str(data.get("device") or ""),
        best=_metrics_dict(data.get("best")),
        final=_metrics_dict(data.get("final")),
        test=_metrics_dict(test) if isinstance(test, dict) else None,
        error=str(error) if error else None,
    )


def _sort_key(info: RunInfo) -> tuple[str, int, str]:
    m = _RUN_NAME.match(info.name)
    if m:
        return (m.group(1), int(m.group(2) or 1), info.name)
    try:
        stamp = datetime.fromtimestamp(info.path.stat().st_mtime).strftime(TIMESTAMP_FORMAT)
    except OSError:
        stamp = ""
    return (stamp, 0, info.name)


def list_runs(runs_dir: str | os.PathLike | None) -> list[RunInfo]:
    """Every run in ``runs_dir``, newest first (by folder name, which is the start time).

    Folders without a ``run.json`` and the folders of other features (:data:`NOT_RUNS`,
    hidden ones) are skipped; a broken ``run.json`` lists with status ``"unreadable"``. A
    missing or unreadable ``runs_dir`` (or None) gives ``[]``."""
    if runs_dir is None:
        return []
    root = Path(runs_dir)
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    runs = []
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name.lower() in NOT_RUNS:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        path = root / name
        if not (path / RUN_FILE).exists():
            continue
        runs.append(read_run(path))
    runs.sort(key=_sort_key, reverse=True)
    return runs


# ===================================================================== history, evaluation
def _column_value(value: Any) -> float:
    f = _finite(value)
    if f is not None:
        return f
    try:  # keep nan/inf as they are (a diverged loss is worth showing as a gap)
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _history_from_rows(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    keys: list[str] = []
    for row in rows:
        for k in row:
            if isinstance(k, str) and k and k not in keys:
                keys.append(k)
    if "epoch" in keys:
        keys.remove("epoch")
        keys.insert(0, "epoch")
    return {k: [_column_value(row.get(k)) for row in rows] for k in keys}


def _read_history_json(path: Path) -> dict[str, list[float]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    epochs = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(epochs, list):
        return None
    return _history_from_rows([row for row in epochs if isinstance(row, dict)])


def _read_history_csv(path: Path) -> dict[str, list[float]] | None:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return _history_from_rows([{k.strip(): v for k, v in r.items() if k} for r in rows])


def read_history(run_dir: str | os.PathLike) -> dict[str, list[float]]:
    """The run's per-epoch logs as columns: ``{"epoch": [0, 1, ...], "loss": [...],
    "val_loss": [...], "accuracy": [...], "lr": [...]}``, every column as long as the number
    of epochs, NaN where an epoch lacks a key. ``epoch`` (0-based) comes first when present.

    Read from ``history.json`` (``{"epochs": [{"epoch": 0, "loss": ...}, ...]}``), else from
    ``history.csv`` (Keras' CSVLogger); ``{}`` when neither can be read."""
    run_dir = Path(run_dir)
    history = _read_history_json(run_dir / HISTORY_JSON)
    if history is None:
        history = _read_history_csv(run_dir / HISTORY_CSV)
    return history or {}


def read_evaluation(run_dir: str | os.PathLike) -> list[dict] | None:
    """The evaluation results (one dict per model output, see ``docs/training.md``) from
    ``evaluation.json`` (``{"outputs": [...]}``), or None when there is none or it cannot be
    read."""
    try:
        data = json.loads((Path(run_dir) / EVALUATION_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    outputs = data.get("outputs") if isinstance(data, dict) else None
    if not isinstance(outputs, list):
        return None
    return [o for o in outputs if isinstance(o, dict)]


# ===================================================================== writing
def new_run_dir(runs_dir: str | os.PathLike, now: datetime | None = None) -> Path:
    """Create and return a new run folder ``runs_dir/<YYYYMMDD-HHMMSS>`` for the time ``now``
    (default: the current local time), ``...-2``, ``...-3`` when that name is taken. The runs
    folder is created when missing."""
    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now()).strftime(TIMESTAMP_FORMAT)
    n = 1
    while True:
        path = root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        return path


def _plain(value: Any) -> Any:
    """``value`` as strict JSON: non-finite floats become null, numpy values plain ones."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(value).__module__.split(".")[0] == "numpy":
        return _plain(tolist())
    return value


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically: a temp file in the
    same folder, flushed, fsynced and moved over ``path`` with :func:`os.replace`, so a reader
    never sees half a file. The file gets the usual permissions (umask), not a temp file's.
    Raises ``OSError``; the temp file is removed."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (:func:`write_text_atomic`).
    NaN and infinities are written as ``null`` (strict JSON); numpy values are written as
    plain numbers. Raises ``OSError`` / ``TypeError``."""
    text = json.dumps(_plain(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def delete_run(run_dir: str | os.PathLike) -> None:
    """Delete the run folder ``run_dir`` and everything in it.

    Refuses (``ValueError``, nothing deleted) unless ``run_dir`` is a real folder (not a
    link) directly inside a ``*.runs`` folder and holds a ``run.json``, so a wrong path can
    never delete a user's files. ``OSError`` from the deletion itself passes through."""
    path = Path(run_dir)
    if path.is_symlink() or not path.is_dir():
        raise ValueError(f"'{path}' is not a run folder.")
    parent = path.absolute().parent
    if not parent.name.endswith(RUNS_SUFFIX) or path.name in ("", ".", ".."):
        raise ValueError(f"'{path}' is not inside a runs folder, so it is not deleted.")
    if path.name.lower() in NOT_RUNS or not (path / RUN_FILE).is_file():
        raise ValueError(f"'{path}' has no run.json, so it is not deleted.")
    shutil.rmtree(path)
