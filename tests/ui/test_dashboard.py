"""The training views fed like the window feeds them: the dashboard with a fake training's
events, the evaluation view with evaluation results, the runs panel on a fake runs folder."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QListView, QMessageBox, QPlainTextEdit, QPushButton  # noqa: E402

from studio.ui.training.dashboard import (  # noqa: E402
    DashboardWidget,
    format_duration,
    metric_title,
)
from studio.ui.training.evaluation import EvaluationWidget, image_pixmap  # noqa: E402
from studio.ui.training.runs_panel import RunsWidget  # noqa: E402
from tests.unit.test_runs import make_evaluation, make_run  # noqa: E402

EPOCHS, STEPS = 3, 20
TRACEBACK = (
    'Traceback (most recent call last):\n  File "fit.py", line 1\nResourceExhaustedError: OOM'
)


# ----------------------------------------------------------------------------- fake events
def fake_training(epochs: int = EPOCHS, steps: int = STEPS, total: int | None = None) -> list:
    """The events of a training run as the trainer sends them."""
    rng = random.Random(0)
    events: list[dict] = [
        {"type": "status", "text": "Starting TensorFlow…"},
        {"type": "device", "text": "CPU"},
        {"type": "status", "text": "Loading the data…", "fraction": 0.4},
        {"type": "status", "text": "Compiling…"},
        {
            "type": "start",
            "run_dir": "/tmp/p.runs/20261126-153000",
            "epochs": total or epochs,
            "steps": steps,
            "samples": steps * 32,
            "validation_samples": 128,
            "test_samples": 64,
            "initial_epoch": 0,
        },
        {"type": "status", "text": "Training…"},
    ]
    for e in range(epochs):
        for b in range(steps):
            t = e + (b + 1) / steps
            logs = {
                "loss": 1.5 * math.exp(-t) + 0.1 + rng.uniform(-0.05, 0.05),
                "accuracy": 0.5 + 0.4 * (1 - math.exp(-t)),
            }
            events.append(
                {
                    "type": "batch",
                    "epoch": e,
                    "batch": b,
                    "logs": logs,
                    "lr": None,
                    "samples_per_second": 1234.4,
                }
            )
        events.append(
            {
                "type": "epoch",
                "epoch": e,
                "logs": {
                    "loss": 1.0 / (e + 1),
                    "accuracy": 0.6 + 0.1 * e,
                    "val_loss": 1.2 / (e + 1),
                    "val_accuracy": 0.55 + 0.1 * e,
                },
                "lr": 0.001 * 0.5**e,
                "seconds": 2.0,
                "partial": False,
            }
        )
    return events


def feed(widget: DashboardWidget, events: list, chunk: int = 7) -> None:
    """As the window's drain timer does: a few events at a time."""
    for i in range(0, len(events), chunk):
        widget.add_events(events[i : i + chunk])


@pytest.fixture
def dashboard(qtbot):
    w = DashboardWidget()
    qtbot.addWidget(w)
    w.resize(900, 600)
    return w


# ----------------------------------------------------------------------------- dashboard
def test_a_fake_training_fills_the_curves(dashboard):
    w = dashboard
    w.set_running(True)
    feed(w, fake_training())
    w.flush()
    assert w.batch_points() == EPOCHS * STEPS
    xs, ys = w.epoch_curve("loss")
    assert xs == [1.0, 2.0, 3.0]
    assert ys == pytest.approx([1.0, 0.5, 1 / 3])
    assert w.epoch_curve("val_accuracy")[1] == pytest.approx([0.55, 0.65, 0.75])
    assert w.epoch_curve("lr")[1] == pytest.approx([0.001, 0.0005, 0.00025])
    assert w.epoch_curve("nothing") == ([], [])
    assert w.plot_titles() == ["loss", "metrics", "lr"]
    # the per-batch curve: smoothed, in fractional epochs
    bx, by = w.batch_curve_data()
    assert len(bx) == EPOCHS * STEPS
    assert bx[0] == pytest.approx(1 / STEPS) and bx[-1] == pytest.approx(EPOCHS)
    assert by[-1] < by[0]
    # the plots hold what was stored
    px, py = w.loss_plot.curves["val_loss"].getData()
    assert list(px) == [1.0, 2.0, 3.0] and py[0] == pytest.approx(1.2)
    assert len(w.batch_curve.getData()[0]) == EPOCHS * STEPS
    assert "accuracy" in w._metric_plots["metrics"].curves
    # progress, device, status
    text = w.progress_text()
    assert text.startswith("Epoch 3/3 · batch 20/20 · 1,234 samples/s")
    assert w.progress_bar.value() == 1000
    assert w.device_text() == "Device: CPU"
    assert w.status_text() == "Training…"
    assert w.error_text() == ""


def test_progress_text_mid_run(dashboard):
    w = dashboard
    events = fake_training(epochs=2, total=10)
    feed(w, events[:-6])  # stop inside epoch 2
    assert w.progress_text().startswith("Epoch 2/10 · batch 15/20 · 1,234 samples/s")
    assert 0.1 < w.progress_bar.value() / 1000 < 0.2


def test_time_left_is_estimated(dashboard, monkeypatch):
    import studio.ui.training.dashboard as dash

    clock = [1000.0]
    monkeypatch.setattr(dash, "_now", lambda: clock[0])
    events = fake_training(epochs=1, total=4)
    dashboard.add_events(events[:6])  # up to the start
    clock[0] += 30.0  # one epoch of four took 30 s
    dashboard.add_events(events[6:])
    assert dashboard.progress_text().endswith("· 1:30 left")


def test_plots_are_redrawn_on_a_timer_not_per_event(dashboard, qtbot, monkeypatch):
    w = dashboard
    w.show()
    qtbot.waitExposed(w)
    w.flush()
    calls = []
    original = w._redraw
    monkeypatch.setattr(w, "_redraw", lambda: (calls.append(1), original()))
    feed(w, fake_training(), chunk=1)  # 66 add_events calls in a row
    assert calls == []
    qtbot.waitUntil(lambda: len(calls) >= 1, timeout=2000)
    qtbot.wait(250)
    assert len(calls) == 1
    assert len(w.loss_plot.curves["loss"].getData()[0]) == EPOCHS


def test_an_error_is_shown_and_the_curves_stay(dashboard, qtbot):
    w = dashboard
    w.set_running(True)
    feed(w, fake_training())
    message = "Out of memory while training. Lower the batch size or make the model smaller."
    w.add_events(
        [
            {
                "type": "error",
                "message": message,
                "where": "training.batch_size",
                "detail": TRACEBACK,
                "history": [],
            }
        ]
    )
    w.set_running(False)
    w.flush()
    assert w.error_text() == message
    assert not w.error_box.isHidden()
    assert w.error_label.wordWrap()
    assert not w.details_button.isHidden()
    assert w.status_text() == "Training failed."
    assert w.epoch_curve("loss")[0] == [1.0, 2.0, 3.0]  # kept
    assert w.batch_points() == EPOCHS * STEPS
    dialog = w.show_details()
    text = dialog.findChild(QPlainTextEdit, "errorDetail")
    assert "ResourceExhaustedError" in text.toPlainText()
    dialog.close()
    # the error stays while idle, and goes when the next run starts
    w.add_events([{"type": "status", "text": "Idle"}])
    assert w.error_text() == message
    w.add_events(fake_training(epochs=1)[:5])
    assert w.error_text() == ""
    assert w.epoch_curve("loss") == ([], [])
    assert w.batch_points() == 0


def test_an_error_without_detail_has_no_details_button(dashboard):
    dashboard.add_events(
        [
            {
                "type": "error",
                "message": "The data folder is empty.",
                "where": "data.source",
                "detail": "",
            }
        ]
    )
    assert dashboard.error_text() == "The data folder is empty."
    assert dashboard.details_button.isHidden()


def test_error_history_fills_missed_epochs(dashboard):
    history = [
        {"epoch": 0, "loss": 0.9, "val_loss": 1.0, "lr": 0.01},
        {"epoch": 1, "loss": 0.7, "partial": True},
    ]
    dashboard.add_events(
        [
            {
                "type": "error",
                "message": "Training failed: boom",
                "where": None,
                "detail": "x",
                "history": history,
            }
        ]
    )
    assert dashboard.epoch_curve("loss") == ([1.0, 2.0], [0.9, 0.7])


def test_finished_stopped_paused_and_evaluation(dashboard, qtbot):
    w = dashboard
    feed(w, fake_training())
    w.add_events([{"type": "paused"}])
    assert w.status_text().startswith("Paused")
    w.add_events([{"type": "resumed"}])
    assert w.status_text() == "Training…"
    outputs = make_evaluation()
    with qtbot.waitSignal(w.evaluationReceived) as signal:
        w.add_events([{"type": "evaluation", "outputs": outputs, "test": {"loss": 0.3}}])
    assert signal.args == [outputs]
    assert "species accuracy 90.0%" in w.status_text()
    w.add_events(
        [
            {
                "type": "finished",
                "status": "finished",
                "run_dir": "x",
                "history": [],
                "final": {},
                "best": {"val_accuracy": 0.75},
                "test": {"accuracy": 0.9},
                "seconds": 75.0,
            }
        ]
    )
    assert w.status_text() == (
        "Finished: 3 epochs in 1:15. best val_accuracy 0.750 · test accuracy 0.900"
    )
    w.add_events([{"type": "finished", "status": "stopped", "history": []}])
    assert w.status_text().startswith("Stopped after 3 epochs")
    assert "left" not in w.progress_text()


def test_malformed_events_are_skipped(dashboard):
    dashboard.add_events(
        [
            None,
            {"type": "nope"},
            {"type": "batch", "epoch": "x"},
            {"type": "epoch"},
            {"type": "start", "epochs": None, "steps": None},
            {"type": "batch", "logs": None},
            {"type": "epoch", "epoch": 0, "logs": {"loss": "nan?", "val_loss": None}},
        ]
    )
    dashboard.flush()
    assert dashboard.progress_text().startswith("Epoch 1")


def test_multi_output_and_regression_metrics_get_their_plots(dashboard):
    logs = {
        "loss": 1.0,
        "class_loss": 0.6,
        "reg_loss": 0.4,
        "class_accuracy": 0.7,
        "class_auc": 0.8,
        "reg_mae": 0.5,
        "val_loss": 1.1,
        "val_reg_mae": 0.6,
    }
    dashboard.add_events(
        [
            {"type": "start", "epochs": 2, "steps": 1, "samples": 8},
            {"type": "epoch", "epoch": 0, "logs": logs, "lr": 0.1},
        ]
    )
    dashboard.flush()
    assert dashboard.plot_titles() == ["loss", "metrics", "reg_mae", "lr"]
    assert set(dashboard.loss_plot.curves) == {"loss", "class_loss", "reg_loss", "val_loss"}
    assert set(dashboard._metric_plots["reg_mae"].curves) == {"reg_mae", "val_reg_mae"}


def test_toolbar_slot_takes_buttons(dashboard):
    dashboard.toolbar_layout.addWidget(QPushButton("Train"))
    assert dashboard.toolbar_layout.count() == 1


def test_helpers():
    assert format_duration(12) == "0:12"
    assert format_duration(3723) == "1:02:03"
    assert metric_title("val_mae") == "MAE"
    assert metric_title("sparse_categorical_accuracy") == "Sparse categorical accuracy"


def test_dashboard_screenshot(dashboard, qtbot, tmp_path):
    w = dashboard
    for name in ("Train", "Pause", "Stop"):
        w.toolbar_layout.addWidget(QPushButton(name))
    w.show()
    qtbot.waitExposed(w)
    feed(w, fake_training(epochs=6, steps=45, total=10), chunk=50)
    w.add_events(
        [
            {
                "type": "error",
                "message": "Training failed: the process ended.",
                "where": None,
                "detail": TRACEBACK,
            }
        ]
    )
    w.flush()
    path = tmp_path / "dashboard.png"
    assert w.grab().save(str(path))
    assert path.stat().st_size > 10_000


# ----------------------------------------------------------------------------- evaluation
@pytest.fixture
def evaluation(qtbot):
    w = EvaluationWidget()
    qtbot.addWidget(w)
    w.resize(900, 600)
    return w


def test_classification_results(evaluation):
    w = evaluation
    assert w.current_output() is None and w.confusion_matrix() is None
    w.show_results(make_evaluation())
    assert w.current_output() == "species"
    assert w.confusion_matrix().tolist() == [[50, 2, 1], [4, 41, 3], [0, 5, 44]]
    assert w.class_names() == ["cat", "dog", "bird"]
    assert not w.output_combo.isHidden() and w.output_combo.count() == 2
    assert w.summary_text().startswith("Accuracy 90.0%")
    # counts drawn in the cells
    texts = [t.textItem.toPlainText() for t in w._cell_texts]
    assert len(texts) == 9 and texts[4] == "41"
    # the per-class table
    table = w.class_table
    assert table.rowCount() == 3
    assert [table.item(r, 0).text() for r in range(3)] == ["cat", "dog", "bird"]
    assert table.item(1, 1).text() == f"{41 / 48:.3f}"
    assert table.item(2, 3).text() == "49"
    # samples: mistakes first, marked red, thumbnails
    assert w.sample_count() == 6
    first = w.sample_list.item(0)
    assert first.text() == "true: dog · pred: cat (0.61)"
    assert first.foreground().color().name() == "#d1242f"
    assert not first.icon().isNull()
    assert w.sample_list.item(5).text().startswith("true: ")
    assert w.sample_list.viewMode() == QListView.ViewMode.IconMode
    assert w.sample_list.item(5).foreground().style() == Qt.BrushStyle.NoBrush


def test_regression_results(evaluation):
    w = evaluation
    w.show_results(make_evaluation())
    assert w.set_current_output("size")
    assert w.current_output() == "size"
    assert w.confusion_matrix() is None
    assert w.sample_count() == 40
    assert w.summary_text().startswith("MAE 0.19 · RMSE 0.21 · R²")
    x, y = w.scatter.getData()
    assert len(x) == 40 and y[1] == pytest.approx(0.5 + 0.3 * math.sin(1))
    rx, ry = w.residuals.getData()
    assert ry[1] == pytest.approx(0.3 * math.sin(1))
    assert w.stack.currentWidget() is w.reg_page


def test_single_output_hides_the_combo_and_text_samples_list(evaluation):
    text = [
        {
            "image": None,
            "text": f"review number {i} " * 5,
            "true": "pos",
            "pred": "neg" if i % 2 else "pos",
            "confidence": 0.7,
            "correct": i % 2 == 0,
        }
        for i in range(4)
    ]
    evaluation.show_results(
        [
            {
                "output": "sentiment",
                "task": "classification",
                "classes": ["neg", "pos"],
                "confusion": [[10, 2], [3, 12]],
                "accuracy": 22 / 27,
                "samples": text,
            }
        ]
    )
    assert evaluation.output_combo.isHidden()
    assert evaluation.sample_list.viewMode() == QListView.ViewMode.ListMode
    assert evaluation.sample_list.item(0).text().startswith("✗ true: pos · pred: neg (0.70)\n“")
    # precision/recall computed from the matrix when missing
    assert evaluation.class_table.item(0, 1).text() == f"{10 / 13:.3f}"


def test_malformed_results_show_a_sentence(evaluation):
    evaluation.show_results([{"output": "x", "task": "classification", "confusion": [[1, 2]]}])
    assert evaluation.stack.currentWidget() is evaluation.placeholder
    assert "cannot be shown" in evaluation.placeholder.text()
    evaluation.show_results([])
    assert evaluation.placeholder.text().startswith("No evaluation yet")
    evaluation.show_results(None)
    assert evaluation.current_output() is None


def test_image_pixmap_ranges():
    assert image_pixmap([[0, 16], [8, 4]]).width() == 64
    assert image_pixmap([[[0.1, 0.2, 0.3]] * 3] * 3) is not None
    assert image_pixmap([[-1.0, 1.0], [0.0, 0.5]]) is not None
    assert image_pixmap([1, 2, 3]) is None
    assert image_pixmap("text") is None


def test_evaluation_screenshot(evaluation, qtbot, tmp_path):
    evaluation.show()
    qtbot.waitExposed(evaluation)
    evaluation.show_results(make_evaluation())
    path = tmp_path / "evaluation.png"
    assert evaluation.grab().save(str(path))


# ----------------------------------------------------------------------------- runs
@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    root = tmp_path / "mnist.runs"
    make_run(root, "20261126-153000", "finished", epochs=10)
    make_run(root, "20261127-090000", "stopped", epochs=3, seed=0.05, evaluation=False)
    make_run(
        root,
        "20261125-120000",
        "failed",
        epochs=2,
        seed=0.1,
        csv_only=True,
        weights=False,
        evaluation=False,
    )
    (root / "imported").mkdir()
    return root


@pytest.fixture
def runs(qtbot, runs_dir):
    w = RunsWidget()
    qtbot.addWidget(w)
    w.resize(900, 600)
    w.set_runs_dir(runs_dir)
    w.refresh()
    return w


def test_runs_are_listed(runs, runs_dir):
    tree = runs.tree
    assert tree.topLevelItemCount() == 3
    labels = [tree.topLevelItem(i).text(0) for i in range(3)]
    assert labels[0].startswith("20261127-090000 · stopped · 3 epochs · val_accuracy ")
    assert labels[1].startswith("20261126-153000 · finished · 10 epochs")
    assert labels[2].startswith("20261125-120000 · failed")
    assert tree.topLevelItem(2).foreground(0).color().name() == "#d1242f"
    assert "loss became NaN" in tree.topLevelItem(2).toolTip(0)
    headers = [tree.headerItem().text(c) for c in range(tree.columnCount())]
    assert headers == ["Run", "best val_loss", "best val_accuracy", "best loss", "best accuracy"]
    assert runs.info_label.text() == "3 runs in mnist.runs"
    assert runs.selected_runs() == []
    assert not runs.delete_action.isEnabled()


def test_selecting_runs_overlays_their_curves(runs, runs_dir):
    a, b = runs_dir / "20261126-153000", runs_dir / "20261127-090000"
    runs.select_runs([a, b])
    assert runs.selected_runs() == [b, a]
    assert runs.compare_metric() == "val_loss"
    assert runs.compare_metrics()[:4] == ["val_loss", "val_accuracy", "loss", "accuracy"]
    curves = runs.overlay_curves()
    assert set(curves) == {a.name, b.name}
    assert curves[a.name][0] == [float(e) for e in range(1, 11)]
    assert len(curves[b.name][1]) == 3
    assert runs.set_compare_metric("val_accuracy")
    assert runs.overlay_curves()[a.name][1][0] == pytest.approx(0.58)
    assert len(runs.plot.getPlotItem().listDataItems()) == 2
    # the history.csv-only run joins in too
    runs.select_runs([a, runs_dir / "20261125-120000"])
    assert runs.compare_metric() == "val_accuracy"  # kept
    assert set(runs.overlay_curves()) == {a.name, "20261125-120000"}


def test_actions_emit_and_open(runs, runs_dir, qtbot, monkeypatch):
    run = runs_dir / "20261126-153000"
    runs.select_runs([run])
    assert runs.load_action.isEnabled() and runs.evaluation_action.isEnabled()
    with qtbot.waitSignal(runs.loadWeightsRequested) as sig:
        runs.load_action.trigger()
    assert sig.args == [run]
    with qtbot.waitSignal(runs.evaluationRequested) as sig:
        runs.evaluation_action.trigger()
    assert sig.args == [run]
    opened = []
    from studio.ui.training import runs_panel

    monkeypatch.setattr(runs_panel.QDesktopServices, "openUrl", lambda url: opened.append(url))
    runs.open_action.trigger()
    assert opened[0].toLocalFile() == str(run)
    # no evaluation, no weights: the actions say so
    runs.select_runs([runs_dir / "20261125-120000"])
    assert not runs.load_action.isEnabled() and not runs.evaluation_action.isEnabled()
    runs.select_runs([run, runs_dir / "20261127-090000"])
    assert not runs.load_action.isEnabled() and runs.delete_action.isEnabled()


def test_delete_asks_first(runs, runs_dir, monkeypatch):
    run = runs_dir / "20261126-153000"
    runs.select_runs([run])
    asked = []

    def answer(reply):
        def question(parent, title, text, *args):
            asked.append(text)
            return reply

        return question

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    runs.delete_action.trigger()
    assert run.exists()
    assert "20261126-153000" in asked[0]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    runs.delete_action.trigger()
    assert not run.exists()
    assert runs.tree.topLevelItemCount() == 2
    assert runs.selected_runs() == []
    assert (runs_dir / "imported").exists()


def test_delete_errors_are_shown_not_raised(runs, runs_dir, monkeypatch):
    run = runs_dir / "20261127-090000"
    runs.select_runs([run])
    (run / "run.json").unlink()  # no longer a run: delete_run refuses
    warnings = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warnings.append(a[2]))
    runs.delete_action.trigger()
    assert run.exists()
    assert "20261127-090000" in warnings[0]


def test_the_active_run_cannot_be_deleted(runs, runs_dir):
    run = runs_dir / "20261126-153000"
    runs.set_active_run(run)
    runs.select_runs([run])
    assert not runs.delete_action.isEnabled()
    assert runs.delete_selected() is False
    assert run.exists()


def test_no_runs_dir(qtbot, tmp_path):
    w = RunsWidget()
    qtbot.addWidget(w)
    w.set_runs_dir(None)
    w.refresh()
    assert w.tree.topLevelItemCount() == 0
    assert "Save the project" in w.info_label.text()
    w.set_runs_dir(tmp_path / "new.runs")
    w.refresh()
    assert w.info_label.text().startswith("No runs in new.runs yet")
    assert w.overlay_curves() == {}


def test_refresh_keeps_the_selection(runs, runs_dir):
    a = runs_dir / "20261126-153000"
    runs.select_runs([a])
    make_run(runs_dir, "20261128-080000", "finished", epochs=4)
    runs.refresh()
    assert runs.tree.topLevelItemCount() == 4
    assert runs.selected_runs() == [a]


def test_runs_screenshot(runs, runs_dir, qtbot, tmp_path):
    runs.show()
    qtbot.waitExposed(runs)
    runs.select_runs([runs_dir / "20261126-153000", runs_dir / "20261127-090000"])
    path = tmp_path / "runs.png"
    assert runs.grab().save(str(path))


def test_the_device_line_says_how_many_replicas_train(dashboard):
    w = dashboard
    strategy = "2 replicas (MirroredStrategy on CPU:0, CPU:1)"
    feed(w, [{"type": "device", "text": "CPU", "replicas": 2, "strategy": strategy}])
    assert w.device_text() == f"{strategy} · CPU"
    assert strategy in w.device_label.toolTip()
    feed(w, [{"type": "device", "text": "CPU", "replicas": 1,
              "strategy": "1 replica (one device)"}])  # fmt: skip
    assert w.device_text() == "Device: CPU"
