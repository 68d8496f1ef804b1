"""File > Export from the window: pictures of the graph and model files, checked on disk."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog, QInputDialog

from studio.core.commands import SetParam
from studio.ui.document import Document
from studio.ui.mainwindow import MainWindow
from studio.ui.recovery import RecoveryStore

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120_000

pytestmark = pytest.mark.slow


@pytest.fixture
def window(qtbot, tmp_path):
    path = tmp_path / "mnist.studio.json"
    shutil.copy(ROOT / "resources" / "examples" / "mnist_cnn.studio.json", path)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(Document.open(path), settings=settings, recovery=RecoveryStore(tmp_path / "r"))
    w.show()
    qtbot.waitExposed(w)
    with qtbot.waitSignal(w.shapesShown, timeout=TIMEOUT):
        w.engine.start()
    yield w
    w.maybe_save = lambda: True
    w.close()
    w.engine.shutdown()
    w.deleteLater()


def _save_as(monkeypatch, path: Path) -> None:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))


def test_png_and_svg_pictures_show_the_graph(window, tmp_path, monkeypatch):
    png, svg = tmp_path / "graph.png", tmp_path / "graph.svg"
    _save_as(monkeypatch, png)
    window.exporting.actions["png"].trigger()
    _save_as(monkeypatch, svg)
    window.exporting.actions["svg"].trigger()

    image = QImage(str(png))
    assert image.width() > 1000 and image.height() > 100
    white = QColor("white").rgb()
    step = 4
    inked = sum(
        1
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
        if image.pixel(x, y) != white
    )
    assert inked > 0.05 * (image.width() // step) * (image.height() // step)  # not blank
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "conv2d" in text and "(None, 26, 26, 32)" in text  # names and shapes, as drawn


def test_model_files_from_the_menu(window, qtbot, tmp_path, monkeypatch):
    exported: list[tuple[str, str]] = []
    window.exporting.exported.connect(lambda fmt, path: exported.append((fmt, path)))
    failures: list[str] = []
    window.exporting.failed.connect(lambda fmt, message: failures.append(message))

    target = tmp_path / "model.keras"
    _save_as(monkeypatch, target)
    window.exporting.actions["keras"].trigger()
    qtbot.waitUntil(lambda: bool(exported or failures), timeout=TIMEOUT)
    assert not failures, failures
    assert exported == [("keras", str(target))]
    assert zipfile.is_zipfile(target)  # a .keras file is a zip archive

    lite = tmp_path / "model.tflite"
    _save_as(monkeypatch, lite)
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("float16", True))
    window.exporting.actions["tflite"].trigger()
    qtbot.waitUntil(lambda: len(exported) == 2 or bool(failures), timeout=TIMEOUT)
    assert not failures, failures
    assert lite.stat().st_size > 100_000  # 225,034 parameters at two bytes each

    summary = tmp_path / "summary.md"
    _save_as(monkeypatch, summary)
    window.exporting.actions["summary"].trigger()
    qtbot.waitUntil(lambda: len(exported) == 3 or bool(failures), timeout=TIMEOUT)
    assert "225,034" in summary.read_text(encoding="utf-8")


def test_code_panel_follows_edits_and_the_script_exports(window, qtbot, tmp_path, monkeypatch):
    from studio.core.codegen import generate_script

    window.code_dock.show()
    window.code_dock.raise_()
    qtbot.waitUntil(lambda: "def build_model" in window.code.code(), timeout=10_000)
    assert "layers.Dense(128" in window.code.code()
    window.document.push(SetParam("dense", "units", 64))
    qtbot.waitUntil(lambda: "layers.Dense(64" in window.code.code(), timeout=10_000)

    target = tmp_path / "mnist.py"
    _save_as(monkeypatch, target)
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: (a[3][0], True))  # Functional
    window.exporting.actions["python"].trigger()
    expected = generate_script(window.document.project, style="functional")
    assert target.read_text(encoding="utf-8") == expected == window.code.code()


def test_a_project_with_code_exports_only_when_trusted(qtbot, tmp_path, monkeypatch):
    from studio.core.code import CodeDef
    from studio.core.graph import Edge, Graph, Node, Output
    from studio.project.io import Project, save_project

    from ..engine.test_custom_code import SEED_LAYER

    g = Graph("custom_net")
    g.add_node(Node("x", "InputLayer", {"shape": [8]}))
    g.add_node(Node("custom", "custom.CustomLayer", {"units": 16}))
    g.add_node(Node("out", "Dense", {"units": 1}))
    g.add_edge(Edge("x", 0, "custom", "inputs"))
    g.add_edge(Edge("custom", 0, "out", "inputs"))
    g.set_outputs([Output("out")])
    g.set_code("CustomLayer", CodeDef("CustomLayer", "layer", SEED_LAYER))
    path = save_project(Project("custom_net", g), tmp_path / "custom.studio.json")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    document = Document.open(path)
    assert not document.trusted_code  # a file's code is not trusted until the user says so
    w = MainWindow(document, settings=settings, recovery=RecoveryStore(tmp_path / "r"))
    monkeypatch.setattr("studio.ui.exporting.QMessageBox.warning", lambda *a, **k: None)
    exported: list[tuple[str, str]] = []
    failures: list[str] = []
    w.exporting.exported.connect(lambda fmt, p: exported.append((fmt, p)))
    w.exporting.failed.connect(lambda fmt, message: failures.append(message))
    try:
        w.show()
        qtbot.waitExposed(w)
        with qtbot.waitSignal(w.shapesShown, timeout=TIMEOUT):
            w.engine.start()

        untrusted = tmp_path / "untrusted.keras"
        w.exporting.export("keras", str(untrusted))
        qtbot.waitUntil(lambda: bool(exported or failures), timeout=TIMEOUT)
        assert not exported and len(failures) == 1
        assert "not trusted" in failures[0], failures
        assert not untrusted.exists()

        failures.clear()
        w.document.set_trusted_code(True)
        trusted = tmp_path / "trusted.keras"
        w.exporting.export("keras", str(trusted))
        qtbot.waitUntil(lambda: bool(exported or failures), timeout=TIMEOUT)
        assert not failures, failures
        assert exported == [("keras", str(trusted))]
        assert zipfile.is_zipfile(trusted)
    finally:
        w.maybe_save = lambda: True
        w.close()
        w.engine.shutdown()
        w.deleteLater()
