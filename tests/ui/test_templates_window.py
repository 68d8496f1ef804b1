"""File > New from Template: the gallery lists every template with a picture of its graph,
Create opens one as a new untitled project, and each template trains from the window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from studio.ui.document import Document
from studio.ui.mainwindow import MainWindow
from studio.ui.recovery import RecoveryStore

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "resources" / "templates"
NAMES = [t["name"] for t in json.loads((TEMPLATES / "index.json").read_text())["templates"]]
TIMEOUT = 180_000  # ms: each run starts a training process that imports TensorFlow
# Each run from the window costs a training process that imports TensorFlow: about 150 s
# for all nine templates on 2 cores (transfer_learning, unet and text_classifier take most).


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    # Runs of untitled projects go to the user's application data: here, to tmp_path.
    from studio.ui.training import controller

    monkeypatch.setattr(controller, "runs_folder", lambda project: tmp_path / "runs")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(Document(), settings=settings, recovery=RecoveryStore(tmp_path / "rec"))
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.training.controller.shutdown()
    w.maybe_save = lambda: True
    w.close()
    w.engine.shutdown()
    w.deleteLater()


def open_gallery(qtbot, w):
    action = w.act_new_template
    assert action in w.file_menu.actions()
    assert action.shortcut().toString() == "Ctrl+Shift+N"
    action.trigger()
    gallery = w.template_gallery
    qtbot.waitUntil(gallery.isVisible)
    return gallery


def create(qtbot, w, name: str) -> None:
    gallery = open_gallery(qtbot, w)
    assert gallery.select(name)
    qtbot.mouseClick(gallery.create_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: w.document.project.name == name)


def test_gallery_lists_the_templates_with_pictures_and_creates_an_untitled_project(qtbot, window):
    gallery = open_gallery(qtbot, window)
    assert gallery.list.count() == len(NAMES) == 9
    qtbot.waitUntil(lambda: not gallery._pending, timeout=10_000)  # pictures drawn lazily
    for row in range(gallery.list.count()):
        icon = gallery.list.item(row).icon()
        assert not icon.isNull() and not icon.pixmap(64, 64).isNull()
    assert gallery.select("unet")
    assert "shapes_segmentation" in gallery.detail.text()
    qtbot.mouseClick(gallery.create_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: window.document.project.name == "unet")
    doc = window.document
    assert doc.path is None and not doc.is_modified()  # untitled: Save asks where
    assert "unsaved" in doc.title
    assert {"down1", "skip1", "mask"} <= {n.name for n in doc.graph.nodes}
    assert doc.project.settings["data"]["source"]["name"] == "shapes_segmentation"
    # the resources file stays untouched and a second gallery opens with cached pictures
    gallery = open_gallery(qtbot, window)
    assert not gallery._pending
    gallery.reject()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_template_trains_from_the_window_and_its_loss_falls(qtbot, window, name):
    create(qtbot, window, name)
    window.document.project.settings["training"]["epochs"] = 2
    training = window.training
    button = training.toolbar.widgetForAction(training.act_train)
    qtbot.mouseClick(button, Qt.LeftButton)
    qtbot.waitUntil(lambda: training.controller.state == "idle", timeout=TIMEOUT)
    curve = training.dashboard.epoch_curve("loss")[1]
    assert len(curve) == 2, curve
    assert curve[-1] < curve[0], curve


def test_create_before_the_pictures_are_drawn_stops_drawing_cleanly(qtbot, window, monkeypatch):
    from studio.ui import templates

    monkeypatch.setattr(templates, "_PICTURES", {})  # nothing cached: every picture pending
    gallery = open_gallery(qtbot, window)
    assert gallery._pending
    assert gallery.select("mnist_cnn")
    qtbot.mouseClick(gallery.create_button, Qt.LeftButton)  # closes and deletes the gallery
    qtbot.waitUntil(lambda: window.document.project.name == "mnist_cnn")
    qtbot.wait(200)  # queued drawing must not touch the deleted list (pytest-qt fails on it)
