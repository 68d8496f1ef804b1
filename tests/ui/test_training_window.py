"""Training from the window, as a user does it: F5, the curves, Pause, Stop, errors, closing."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from studio.core.commands import SetParam
from studio.core.graph import Graph
from studio.ui.document import Document
from studio.ui.mainwindow import MainWindow
from studio.ui.recovery import RecoveryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
TIMEOUT = 120_000  # ms: the training process imports TensorFlow first

pytestmark = pytest.mark.slow


@pytest.fixture
def make_window(qtbot, tmp_path):
    windows = []

    def make(example: str = "iris_mlp", edit=None):
        path = tmp_path / f"{example}.studio.json"
        shutil.copy(EXAMPLES / f"{example}.studio.json", path)
        if edit is not None:
            data = json.loads(path.read_text())
            edit(data)
            path.write_text(json.dumps(data))
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(
            Document.open(path), settings=settings, recovery=RecoveryStore(tmp_path / "rec")
        )
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.training.controller.shutdown()
        w.maybe_save = lambda: True
        w.close()
        w.engine.shutdown()
        w.deleteLater()


def epochs(n: int):
    def edit(data):
        data["settings"]["training"]["epochs"] = n

    return edit


def click(qtbot, window, action) -> None:
    """Click the action's button on the Training toolbar, as a user does."""
    button = window.training.toolbar.widgetForAction(action)
    assert button is not None and button.isEnabled(), action.text()
    qtbot.mouseClick(button, Qt.LeftButton)


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.training.controller.state == "idle", timeout=TIMEOUT)


def test_train_button_trains_with_live_curves_and_shows_the_confusion_matrix(qtbot, make_window):
    w = make_window("iris_mlp", epochs(8))
    training = w.training
    click(qtbot, w, training.act_train)
    assert training.controller.state == "starting"
    assert not training.act_train.isEnabled()
    qtbot.waitUntil(lambda: training.dashboard.batch_points() > 0, timeout=TIMEOUT)
    wait_idle(qtbot, w)
    training.dashboard.flush()
    xs, ys = training.dashboard.epoch_curve("loss")
    assert len(xs) == 8 and ys[-1] < ys[0]
    assert len(training.dashboard.epoch_curve("val_accuracy")[0]) == 8
    assert "CPU" in training.dashboard.device_text() or "GPU" in training.dashboard.device_text()
    matrix = training.evaluation.confusion_matrix()
    assert matrix is not None and matrix.shape == (3, 3) and matrix.sum() == 30
    assert training.evaluation.sample_count() > 0
    assert training.act_train.isEnabled()
    runs = training.runs.selected_runs() or [r.path for r in training.runs.runs()]
    assert runs, "the run is listed in the Runs panel"
    info = json.loads((runs[0] / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_done"] == 8

    # The run's weights become the graph's (undoable), and the next run starts from them.
    training.runs.select_runs([runs[0]])
    training.runs.loadWeightsRequested.emit(runs[0])
    assert w.document.project.weights == f"iris_mlp.runs/{runs[0].name}/weights.h5"
    assert w.document.project.weights_path.exists()
    w.act_undo.trigger()
    assert w.document.project.weights is None
    w.act_redo.trigger()

    # Evaluation on demand, for a run whose evaluation is not saved.
    (runs[0] / "evaluation.json").unlink()
    training.evaluation.clear()
    training.runs.evaluationRequested.emit(runs[0])
    qtbot.waitUntil(lambda: training.evaluation.confusion_matrix() is not None, timeout=TIMEOUT)
    assert (runs[0] / "evaluation.json").exists()
    wait_idle(qtbot, w)


def test_pause_resume_and_stop_within_one_batch(qtbot, make_window):
    w = make_window("iris_mlp", epochs(500))
    training = w.training
    click(qtbot, w, training.act_train)
    qtbot.waitUntil(lambda: training.controller.state == "running", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: training.dashboard.batch_points() >= 3, timeout=TIMEOUT)

    click(qtbot, w, training.act_pause)
    qtbot.waitUntil(lambda: training.controller.state == "paused", timeout=10_000)
    assert training.act_pause.text() == "&Resume"
    qtbot.wait(300)
    paused_at = training.dashboard.batch_points()
    qtbot.wait(600)
    assert training.dashboard.batch_points() == paused_at  # nothing trains while paused

    click(qtbot, w, training.act_pause)  # now labelled Resume
    qtbot.waitUntil(lambda: training.dashboard.batch_points() > paused_at + 5, timeout=10_000)

    click(qtbot, w, training.act_pause)  # Pause again, then Stop: not one more batch
    qtbot.waitUntil(lambda: training.controller.state == "paused", timeout=10_000)
    qtbot.wait(200)
    before_stop = training.dashboard.batch_points()
    t0 = time.monotonic()
    click(qtbot, w, training.act_stop)
    wait_idle(qtbot, w)
    assert time.monotonic() - t0 < 30
    assert training.dashboard.batch_points() == before_stop
    run_dir = training.controller.run_dir
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "stopped"
    assert info["batches"] == before_stop
    assert (run_dir / "final.keras").exists() and (run_dir / "weights.h5").exists()
    assert training.dashboard.epoch_curve("loss")[0], "the history so far is kept"


def test_a_failing_run_shows_its_error_and_the_window_stays_usable(qtbot, make_window):
    def wrong_size(data):
        data["settings"]["data"]["source"]["image_size"] = 8

    w = make_window("mnist_cnn", wrong_size)
    training = w.training
    training.act_train.trigger()
    wait_idle(qtbot, w)
    error = training.dashboard.error_text()
    assert "image" in error and "(28, 28, 1)" in error and "(8, 8, 1)" in error
    assert training.act_train.isEnabled()
    # Still an editor: edits and undo work.
    assert w.document.push(SetParam("dense", "units", 64))
    w.act_undo.trigger()
    assert w.document.graph.node("dense").params["units"] == 128


def test_train_without_data_says_where_to_choose_it(qtbot, make_window, monkeypatch):
    def no_data(data):
        data["settings"]["data"]["source"] = None

    w = make_window("iris_mlp", no_data)
    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: said.append(a[2]))
    assert not w.training.train()
    assert said and "Data panel" in said[0]
    assert w.training.controller.state == "idle"


def test_closing_during_training_asks_then_stops_cleanly(qtbot, make_window, monkeypatch):
    w = make_window("iris_mlp", epochs(500))
    training = w.training
    training.act_train.trigger()
    qtbot.waitUntil(lambda: training.dashboard.batch_points() > 0, timeout=TIMEOUT)
    answers = [QMessageBox.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    w.maybe_save = lambda: True
    assert not w.close()
    assert training.controller.is_busy()
    answers.append(QMessageBox.Yes)
    assert w.close()
    assert not training.controller.is_busy()
    info = json.loads((training.controller.run_dir / "run.json").read_text())
    assert info["status"] == "stopped"


def test_runs_of_a_bundled_example_never_go_into_studios_installation(qapp):
    from studio.project import Project, load_project
    from studio.ui.training.controller import runs_folder

    folder = runs_folder(load_project(EXAMPLES / "iris_mlp.studio.json"))
    assert folder.name == "iris_mlp.runs" and EXAMPLES not in folder.parents
    unsaved = runs_folder(Project("my: model", Graph()))
    assert unsaved.name == "my_ model.runs"
