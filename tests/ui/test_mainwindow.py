"""The main window as a user meets it: files, undo, unsaved changes, recovery, shapes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from studio.core.commands import Connect, SetParam
from studio.core.graph import Edge, Node
from studio.project import load_project
from studio.ui.document import Document
from studio.ui.recovery import LIVE_SESSIONS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "mnist_cnn.studio.json"


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "mnist.studio.json"
    shutil.copy(EXAMPLE, path)
    return path




def test_window_title_marks_unsaved_changes_and_undo_names_the_step(make_window, project_file):
    w = make_window(Document.open(project_file))
    assert w.windowTitle().startswith("mnist.studio.json")
    assert not w.isWindowModified()
    w.document.push(SetParam("dense", "units", 64))
    assert w.isWindowModified()
    assert w.act_undo.text() == "&Undo Set dense.units"
    w.act_undo.trigger()
    assert w.document.graph.node("dense").params["units"] == 128
    assert not w.isWindowModified()
    assert w.act_redo.text() == "&Redo Set dense.units"
    w.act_redo.trigger()
    assert w.document.graph.node("dense").params["units"] == 64


def test_save_reopen_and_compare(make_window, project_file, tmp_path):
    w = make_window(Document.open(project_file))
    w.document.push(SetParam("dropout", "rate", 0.25))
    w.view.setFocus()
    w.act_save.trigger()
    assert not w.isWindowModified()
    reopened = load_project(project_file)
    assert reopened.graph == w.document.graph
    assert reopened.graph.node("dropout").params["rate"] == 0.25


def test_unsaved_changes_prompt_cancel_keeps_the_window_discard_closes(
    make_window, project_file, monkeypatch
):
    w = make_window(Document.open(project_file))
    w.document.push(SetParam("dense", "units", 7))
    asked = []

    def answer(choice):
        def fake(*args, **kwargs):
            asked.append(args[2] if len(args) > 2 else "")
            return choice

        return fake

    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.Cancel))
    assert w.close() is False
    assert w.isVisible() and asked and "mnist.studio.json" in asked[0]

    monkeypatch.setattr(QMessageBox, "warning", answer(QMessageBox.Discard))
    assert w.close() is True
    assert load_project(project_file).graph.node("dense").params["units"] == 128


def test_unsaved_changes_prompt_save_writes_the_file(make_window, project_file, monkeypatch):
    w = make_window(Document.open(project_file))
    w.document.push(SetParam("dense", "units", 9))
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Save)
    assert w.close() is True
    assert load_project(project_file).graph.node("dense").params["units"] == 9


def test_recovery_after_a_simulated_crash(make_window, project_file, tmp_path, monkeypatch):
    recovery = tmp_path / "rec"
    w = make_window(Document.open(project_file), recovery_dir=recovery)
    w.document.push(SetParam("dense", "units", 77))
    assert not w.document.push(Connect(Edge("image", 0, "conv2d_1", "inputs", 0)))  # occupied
    w._structural_save.timeout.emit()  # what the debounced autosave timer does
    edited = w.document.graph.copy()
    assert list(recovery.glob("*.studio.json"))
    # The crash: the window disappears without closeEvent and its session ends with the
    # process; the file on disk is the old one.
    w.hide()
    LIVE_SESSIONS.discard(w.session)
    assert load_project(project_file).graph.node("dense").params["units"] == 128

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    w2 = make_window(recovery_dir=recovery)
    assert w2.offer_recovery() is True
    assert w2.document.graph == edited
    assert w2.document.path == project_file
    assert w2.isWindowModified()


def test_no_recovery_offer_after_a_clean_close(make_window, project_file, tmp_path, monkeypatch):
    recovery = tmp_path / "rec2"
    w = make_window(Document.open(project_file), recovery_dir=recovery)
    w.document.push(SetParam("dense", "units", 5))
    w.write_recovery()
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.Save)
    assert w.close()
    assert not list(recovery.glob("*.studio.json"))
    w2 = make_window(recovery_dir=recovery)
    assert w2.offer_recovery() is False


@pytest.mark.slow
def test_shapes_arrive_from_the_engine_process(make_window, project_file, qtbot):
    w = make_window(Document.open(project_file))
    assert w.scene.node_item("conv2d").shape_state == "pending"  # TensorFlow not loaded yet
    assert "loading" in w.engine_label.text()
    with qtbot.waitSignal(w.shapesShown, timeout=180_000):
        w.engine.start()
    assert w.scene.node_item("conv2d").shape_state == "ok"
    assert "225,034" in w.params_label.text()
    assert "TensorFlow" in w.engine_label.text()
    # An edit in the inspector gives new shapes without blocking.
    with qtbot.waitSignal(w.shapesShown, timeout=60_000):
        w.document.push(SetParam("dense", "units", 64))
    assert "212,426" in w.params_label.text() or w.engine.latest.total_params != 225_034


def test_add_layer_from_the_palette_by_activation(make_window):
    w = make_window()
    w.add_layer_at_centre("Dense")
    assert "dense" in w.document.graph
    assert w.document.graph.node("dense").params == {"units": 32}
    w.act_undo.trigger()
    assert "dense" not in w.document.graph


def test_the_window_appears_before_tensorflow_is_imported(tmp_path):
    code = (
        "import sys\n"
        "from studio.ui.app import _application\n"
        "app = _application()\n"
        "from studio.ui.document import Document\n"
        "from studio.ui.mainwindow import MainWindow\n"
        f"w = MainWindow(Document.open(r'{EXAMPLE}'))\n"
        "w.show(); app.processEvents()\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "STUDIO_RECOVERY_DIR": str(tmp_path), "PATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_dropped_node_is_usable_in_the_window(make_window):
    w = make_window()
    from studio.core.commands import AddNode

    w.document.push(AddNode(Node("x", "InputLayer", {"shape": [4]})))
    assert "x" in w.document.graph


def test_a_running_window_s_autosave_is_not_offered_as_a_crash(make_window, tmp_path, monkeypatch):
    recovery = tmp_path / "rec3"
    w1 = make_window(recovery_dir=recovery)
    w1.add_layer_at_centre("Dense")
    w1.write_recovery()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.No)
    w2 = make_window(recovery_dir=recovery)
    assert w2.offer_recovery() is False
    assert asked == []
    assert list(recovery.glob("*.studio.json"))  # w1's copy is still there


def test_layers_added_from_the_palette_get_keras_style_names(make_window):
    w = make_window()
    w.add_layer_at_centre("Conv2D")
    w.add_layer_at_centre("Conv2D")
    assert [n.name for n in w.document.graph.nodes] == ["conv2d", "conv2d_1"]


def test_opening_a_broken_file_keeps_the_open_work_and_says_why(
    make_window, project_file, tmp_path, monkeypatch
):
    w = make_window(Document.open(project_file))
    w.document.push(SetParam("dense", "units", 3))
    broken = tmp_path / "broken.studio.json"
    broken.write_text("{ not json", encoding="utf-8")
    shown, asked = [], []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: shown.append(a[2]))
    monkeypatch.setattr(
        QMessageBox, "warning", lambda *a, **k: asked.append(a) or QMessageBox.Discard
    )
    assert w.open_path(broken) is False
    assert asked == [] and "broken.studio.json" in shown[0]
    assert w.document.graph.node("dense").params["units"] == 3


def test_ctrl_z_in_an_inspector_field_after_a_commit_undoes_the_edit(
    make_window, project_file, qtbot
):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    w = make_window(Document.open(project_file))
    w.scene.select_nodes(["dense"])
    spin = w.inspector.editor("units")
    line = spin.lineEdit()
    spin.setFocus()
    qtbot.waitUntil(lambda: spin.hasFocus())
    line.selectAll()
    QTest.keyClicks(line, "64")
    QTest.keyClick(line, Qt.Key_Return)
    assert w.document.graph.node("dense").params["units"] == 64
    QTest.keyClick(spin, Qt.Key_Z, Qt.ControlModifier)  # the focus widget gets the keys
    qtbot.waitUntil(lambda: w.document.graph.node("dense").params["units"] == 128)
    qtbot.waitUntil(lambda: spin.value() == 128)


def test_renaming_inside_a_nested_model_keeps_the_node_selected(make_window, project_file):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from studio.core.commands import Group

    w = make_window(Document.open(project_file))
    g = w.document.graph
    w.document.push(Group(g, ["conv2d", "max_pooling2d"], "block", {("image", 0): [28, 28, 1]}))
    w.scene.open_nested("block")
    w.scene.select_nodes(["conv2d"])
    edit = w.inspector.name_edit
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "c1")
    QTest.keyClick(edit, Qt.Key_Return)
    assert w.scene.selected_names() == ["c1"] and w.inspector.node_name == "c1"
    w.document.undo()
    assert w.scene.selected_names() == ["conv2d"] and w.inspector.node_name == "conv2d"
    assert "c1" not in w.document.graph.node("block").subgraph


def test_save_as_into_another_folder_keeps_data_and_weights_paths(tmp_path):
    source = tmp_path / "work" / "iris.studio.json"
    source.parent.mkdir()
    shutil.copy(ROOT / "resources" / "examples" / "iris_mlp.studio.json", source)
    doc = Document.open(source)
    doc.project.settings["data"]["source"] = {"kind": "csv", "path": "data/iris.csv",
                                              "target": "species"}  # fmt: skip
    doc.project.weights = "iris.runs/1/weights.h5"
    target = tmp_path / "elsewhere" / "deeper" / "iris.studio.json"
    target.parent.mkdir(parents=True)
    doc.save(target)
    saved = load_project(target)
    assert saved.settings["data"]["source"]["path"] == "../../work/data/iris.csv"
    assert saved.weights_path.resolve() == (tmp_path / "work/iris.runs/1/weights.h5").resolve()
