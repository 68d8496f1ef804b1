"""The runs folder (studio.project.runs): listing, reading, new folders, atomic JSON, delete."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from studio.project.runs import (
    RunInfo,
    best_metrics,
    delete_run,
    format_metric,
    list_runs,
    metric_direction,
    new_run_dir,
    read_evaluation,
    read_history,
    read_run,
    write_json_atomic,
)


# ----------------------------------------------------------------------------- a fake run
def make_history(epochs: int = 5, seed: float = 0.0) -> list[dict]:
    """Realistic per-epoch logs: loss falls, accuracy climbs, the learning rate halves."""
    rows = []
    for e in range(epochs):
        rows.append(
            {
                "epoch": e,
                "loss": 1.2 * math.exp(-0.5 * e) + 0.05 + seed,
                "accuracy": 0.6 + 0.35 * (1 - math.exp(-0.7 * e)) - seed,
                "val_loss": 1.25 * math.exp(-0.45 * e) + 0.08 + seed + 0.01 * max(0, e - 3),
                "val_accuracy": 0.58 + 0.36 * (1 - math.exp(-0.6 * e)) - seed,
                "lr": 0.001 * (0.5 ** (e // 2)),
            }
        )
    return rows


def make_evaluation() -> list[dict]:
    """One classification output (3 classes, 6 samples with 8x8 images) and a regression."""
    rng = __import__("random").Random(1)
    images = [[[rng.randint(0, 16) for _ in range(8)] for _ in range(8)] for _ in range(6)]
    truth = ["cat", "dog", "bird", "cat", "dog", "bird"]
    pred = ["cat", "cat", "bird", "cat", "dog", "dog"]
    conf = [0.91, 0.61, 0.88, 0.97, 0.74, 0.52]
    return [
        {
            "output": "species",
            "task": "classification",
            "classes": ["cat", "dog", "bird"],
            "confusion": [[50, 2, 1], [4, 41, 3], [0, 5, 44]],
            "precision": [50 / 54, 41 / 48, 44 / 48],
            "recall": [50 / 53, 41 / 48, 44 / 49],
            "accuracy": 135 / 150,
            "samples": [
                {
                    "image": img,
                    "text": None,
                    "true": t,
                    "pred": p,
                    "confidence": c,
                    "correct": t == p,
                }
                for img, t, p, c in zip(images, truth, pred, conf)
            ],
        },
        {
            "output": "size",
            "task": "regression",
            "y_true": [0.5 * i for i in range(40)],
            "y_pred": [0.5 * i + 0.3 * math.sin(i) for i in range(40)],
            "mae": 0.19,
            "rmse": 0.21,
        },
    ]


def make_run(
    runs_dir: Path,
    name: str,
    status: str = "finished",
    epochs: int = 5,
    seed: float = 0.0,
    *,
    csv_only: bool = False,
    evaluation: bool = True,
    weights: bool = True,
) -> Path:
    """A run folder as the trainer leaves it: run.json, history.json/csv, evaluation.json."""
    run = runs_dir / name
    run.mkdir(parents=True)
    rows = make_history(epochs, seed)
    history = {k: [r[k] for r in rows] for k in rows[0]} if rows else {}
    keys = ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    (run / "history.csv").write_text(
        ",".join(keys) + "\n" + "".join(",".join(str(r[k]) for k in keys) + "\n" for r in rows)
    )
    if not csv_only:
        (run / "history.json").write_text(json.dumps({"epochs": rows}))
    if evaluation:
        (run / "evaluation.json").write_text(json.dumps({"outputs": make_evaluation()}))
    if weights:
        (run / "weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    stamp = datetime.strptime(name[:15], "%Y%m%d-%H%M%S")
    summary = {
        "status": status,
        "started": stamp.isoformat(),
        "ended": None if status == "running" else stamp.replace(minute=59).isoformat(),
        "epochs_done": epochs,
        "device": "CPU",
        "best": best_metrics(history),
        "final": {k: v for k, v in rows[-1].items() if k not in ("epoch",)} if rows else {},
        "test": {"loss": 0.2, "accuracy": 0.9} if status == "finished" else None,
        "error": "The loss became NaN at epoch 3." if status == "failed" else None,
    }
    (run / "run.json").write_text(json.dumps(summary, indent=2))
    return run


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mnist.runs"
    make_run(root, "20261126-153000", "finished", epochs=10)
    make_run(root, "20261127-090000", "stopped", epochs=3, seed=0.05)
    make_run(root, "20261125-120000", "failed", epochs=2, seed=0.1, csv_only=True)
    (root / "imported").mkdir()
    (root / "imported" / "weights.h5").write_bytes(b"")
    (root / "autosave").mkdir()
    (root / "autosave" / "run.json").write_text("{}")  # never a run, whatever it holds
    (root / "20261101-000000").mkdir()  # a run that died before writing run.json
    (root / "notes.txt").write_text("my notes")
    return root


# ----------------------------------------------------------------------------- listing
def test_list_runs_newest_first_skipping_other_folders(runs_dir):
    runs = list_runs(runs_dir)
    assert [r.name for r in runs] == ["20261127-090000", "20261126-153000", "20261125-120000"]
    assert [r.status for r in runs] == ["stopped", "finished", "failed"]
    assert all(isinstance(r, RunInfo) for r in runs)


def test_list_runs_of_a_missing_folder_or_none_is_empty(tmp_path):
    assert list_runs(None) == []
    assert list_runs(tmp_path / "nothing.runs") == []


def test_collision_suffixes_sort_after_their_base(tmp_path):
    root = tmp_path / "a.runs"
    for name in ("20261126-153000", "20261126-153000-2", "20261126-153000-10"):
        make_run(root, name, epochs=1)
    names = [r.name for r in list_runs(root)]
    assert names == ["20261126-153000-10", "20261126-153000-2", "20261126-153000"]


def test_read_run_fields(runs_dir):
    info = read_run(runs_dir / "20261126-153000")
    assert info.status == "finished"
    assert info.epochs_done == 10
    assert info.device == "CPU"
    assert info.started == "2026-11-26T15:30:00"
    assert info.ended == "2026-11-26T15:59:00"
    assert info.best["val_accuracy"] == pytest.approx(
        max(r["val_accuracy"] for r in make_history(10))
    )
    assert info.best["loss"] == pytest.approx(min(r["loss"] for r in make_history(10)))
    assert info.test == {"loss": 0.2, "accuracy": 0.9}
    assert info.error is None
    failed = read_run(runs_dir / "20261125-120000")
    assert failed.status == "failed" and failed.error == "The loss became NaN at epoch 3."
    assert failed.test is None


def test_label(runs_dir):
    info = read_run(runs_dir / "20261126-153000")
    value = info.best["val_accuracy"]
    assert info.label == f"20261126-153000 · finished · 10 epochs · val_accuracy {value:.3f}"
    one = RunInfo(Path("x"), "20261126-153000", "stopped", "", None, 1, "", {"loss": 0.12345})
    assert one.label == "20261126-153000 · stopped · 1 epoch · loss 0.1235"
    bare = RunInfo(Path("x"), "20261126-153000", "running", "", None, 0, "")
    assert bare.label == "20261126-153000 · running · 0 epochs"


def test_broken_run_json_lists_as_unreadable(tmp_path):
    root = tmp_path / "p.runs"
    for name, text in [
        ("20261126-100000", "{not json"),
        ("20261126-110000", "[1, 2]"),
        ("20261126-120000", ""),
    ]:
        (root / name).mkdir(parents=True)
        (root / name / "run.json").write_text(text)
    (root / "20261126-130000").mkdir()
    (root / "20261126-130000" / "run.json").write_bytes(b"\xff\xfe\x00garbage")
    runs = list_runs(root)
    assert len(runs) == 4
    assert {r.status for r in runs} == {"unreadable"}
    assert all(r.error for r in runs)
    assert runs[0].label == "20261126-130000 · unreadable"


def test_lenient_run_json(tmp_path):
    run = tmp_path / "p.runs" / "20261126-100000"
    run.mkdir(parents=True)
    (run / "run.json").write_text(
        json.dumps(
            {
                "status": "failed",
                "epochs_done": "x",
                "best": {"loss": None, "acc": "0.5", "x": "?"},
                "error": {"message": "Out of memory.", "detail": "Traceback ..."},
                "test": [1],
            }
        )
    )
    info = read_run(run)
    assert info.status == "failed"
    assert info.epochs_done == 0
    assert info.best == {"acc": 0.5}
    assert info.error == "Out of memory."
    assert info.test is None and info.ended is None and info.device == ""


# ----------------------------------------------------------------------------- history
def test_read_history_from_json(runs_dir):
    h = read_history(runs_dir / "20261126-153000")
    assert list(h)[0] == "epoch"
    assert set(h) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert h["epoch"] == [float(e) for e in range(10)]
    assert all(len(v) == 10 for v in h.values())
    assert h["lr"][:3] == [0.001, 0.001, 0.0005]


def test_read_history_fills_missing_keys_with_nan(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "history.json").write_text(
        json.dumps(
            {
                "epochs": [
                    {"epoch": 0, "loss": 1.0, "accuracy": 0.5},
                    {"epoch": 1, "loss": 0.5, "val_loss": 0.7, "accuracy": None},
                    "garbage",
                ]
            }
        )
    )
    h = read_history(run)
    assert h["loss"] == [1.0, 0.5]
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][1] == 0.7
    assert h["accuracy"][0] == 0.5 and math.isnan(h["accuracy"][1])


def test_read_history_falls_back_to_csv(runs_dir, tmp_path):
    h = read_history(runs_dir / "20261125-120000")  # csv only
    assert h["epoch"] == [0.0, 1.0]
    assert h["loss"] == pytest.approx([r["loss"] for r in make_history(2, 0.1)])
    run = tmp_path / "csvlogger"
    run.mkdir()
    (run / "history.json").write_text("{broken")
    (run / "history.csv").write_text("epoch,accuracy,loss,val_loss\n0,0.5,1.0,NA\n1,0.7,nan,0.6\n")
    h = read_history(run)
    assert h["accuracy"] == [0.5, 0.7]
    assert math.isnan(h["val_loss"][0]) and math.isnan(h["loss"][1])


def test_read_history_of_nothing_is_empty(tmp_path):
    assert read_history(tmp_path) == {}


# ----------------------------------------------------------------------------- evaluation
def test_read_evaluation(runs_dir, tmp_path):
    outputs = read_evaluation(runs_dir / "20261126-153000")
    assert [o["output"] for o in outputs] == ["species", "size"]
    assert outputs[0]["confusion"][1] == [4, 41, 3]
    assert read_evaluation(tmp_path) is None
    (tmp_path / "evaluation.json").write_text("{")
    assert read_evaluation(tmp_path) is None
    (tmp_path / "evaluation.json").write_text('{"outputs": 3}')
    assert read_evaluation(tmp_path) is None


# ----------------------------------------------------------------------------- best metrics
def test_best_metrics_directions():
    history = {
        "epoch": [0.0, 1.0, 2.0],
        "loss": [1.0, 0.4, 0.5],
        "val_loss": [1.1, math.nan, 0.6],
        "accuracy": [0.5, 0.8, 0.7],
        "val_auc": [0.6, 0.9, 0.95],
        "dense_1_loss": [3.0, 2.0, 2.5],
        "val_precision": [0.1, 0.3, 0.2],
        "mae": [2.0, 1.5, 1.7],
        "lr": [0.1, 0.01, 0.001],
        "weird": [1.0, 2.0, 3.0],
        "recall": [math.nan, math.nan, math.nan],
    }
    assert best_metrics(history) == {
        "loss": 0.4,
        "val_loss": 0.6,
        "accuracy": 0.8,
        "val_auc": 0.95,
        "dense_1_loss": 2.0,
        "val_precision": 0.3,
        "mae": 1.5,
    }


@pytest.mark.parametrize(
    "key, direction",
    [
        ("loss", "min"),
        ("val_loss", "min"),
        ("accuracy_head_loss", "min"),
        ("sparse_categorical_accuracy", "max"),
        ("val_acc", "max"),
        ("f1_score", "max"),
        ("mean_io_u", "max"),
        ("mean_absolute_error", "min"),
        ("val_mse", "min"),
        ("categorical_crossentropy", "min"),
        ("epoch", None),
        ("lr", None),
        ("learning_rate", None),
        ("true_positives", None),
    ],
)
def test_metric_direction(key, direction):
    assert metric_direction(key) == direction


def test_format_metric():
    assert format_metric("val_accuracy", 0.97812) == "0.978"
    assert format_metric("loss", 0.0812345) == "0.08123"
    assert format_metric("mae", 1234.5678) == "1235"
    assert format_metric("loss", math.nan) == "–"


# ----------------------------------------------------------------------------- writing
def test_new_run_dir_is_unique(tmp_path):
    now = datetime(2026, 11, 26, 15, 30, 0)
    root = tmp_path / "p.runs"
    first = new_run_dir(root, now)
    second = new_run_dir(root, now)
    third = new_run_dir(root, now)
    assert [p.name for p in (first, second, third)] == [
        "20261126-153000",
        "20261126-153000-2",
        "20261126-153000-3",
    ]
    assert all(p.is_dir() and p.parent == root for p in (first, second, third))
    assert new_run_dir(root).parent == root  # the current time works too


def test_write_json_atomic(tmp_path):
    import numpy as np

    target = tmp_path / "run.json"
    target.write_text("old")
    write_json_atomic(
        target, {"loss": np.float32(0.5), "nan": math.nan, "a": np.arange(3), "path": tmp_path}
    )
    data = json.loads(target.read_text())
    assert data == {"loss": 0.5, "nan": None, "a": [0, 1, 2], "path": str(tmp_path)}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left


def test_write_json_atomic_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "run.json"
    target.write_text('{"old": 1}')
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


# ----------------------------------------------------------------------------- delete
def test_delete_run(runs_dir):
    run = runs_dir / "20261126-153000"
    delete_run(run)
    assert not run.exists()
    assert [r.name for r in list_runs(runs_dir)] == ["20261127-090000", "20261125-120000"]


def test_delete_run_refuses_anything_else(runs_dir, tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "run.json").write_text("{}")  # has run.json, but not inside a .runs folder
    (precious / "thesis.tex").write_text("...")
    for path in (
        precious,
        runs_dir,  # the runs folder itself
        runs_dir / "imported",  # another feature's folder
        runs_dir / "autosave",  # has a run.json, still not a run
        runs_dir / "20261101-000000",  # no run.json
        runs_dir / "notes.txt",  # a file
        runs_dir / "missing",
    ):
        with pytest.raises(ValueError):
            delete_run(path)
    assert (precious / "thesis.tex").exists()
    assert (runs_dir / "imported" / "weights.h5").exists()
    assert (runs_dir / "20261101-000000").exists()


def test_delete_run_refuses_a_link(runs_dir, tmp_path):
    target = tmp_path / "elsewhere.runs" / "20261126-000000"
    target.mkdir(parents=True)
    (target / "run.json").write_text("{}")
    link = runs_dir / "20261126-000001"
    link.symlink_to(target, target_is_directory=True)
    with pytest.raises(ValueError):
        delete_run(link)
    assert (target / "run.json").exists()
