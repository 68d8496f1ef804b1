"""Custom code in the window: the editor, the palette, training settings and trust."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.core.code import STARTERS, CodeDef, code_fingerprint
from studio.core.commands import SetCode
from studio.core.graph import Edge, Graph, Node, Output
from studio.project import Project, save_project
from studio.ui.document import Document
from studio.ui.trust import TrustDialog, is_trusted

MARKER_LAYER = """\
import pathlib

import keras

pathlib.Path(r"{marker}").write_text("module ran")


class Marker(keras.layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        pathlib.Path(r"{marker}").write_text("__init__ ran")
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="zeros")

    def call(self, inputs):
        return keras.ops.matmul(inputs, self.w)
"""

RAISING_CALL = """\
import keras


class Marker(keras.layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def call(self, inputs):
        scale = 2
        raise ValueError("broken on purpose")
"""
RAISING_LINE = 11


def marker_graph(marker) -> Graph:
    g = Graph("marked")
    g.add_node(Node("x", "InputLayer", {"shape": [8]}, (0.0, 0.0)))
    g.add_node(Node("marker", "custom.Marker", {}, (260.0, 0.0)))
    g.add_node(Node("dense", "Dense", {"units": 2}, (520.0, 0.0)))
    g.add_edge(Edge("x", 0, "marker", "inputs"))
    g.add_edge(Edge("marker", 0, "dense", "inputs"))
    g.set_outputs([Output("dense")])
    g.set_code("Marker", CodeDef("Marker", "layer", MARKER_LAYER.format(marker=marker)))
    return g


@pytest.fixture
def marked_file(tmp_path):
    """A project file whose custom layer writes ``ran.txt`` when its code runs."""
    marker = tmp_path / "ran.txt"
    path = tmp_path / "marked.studio.json"
    save_project(Project(name="marked", graph=marker_graph(marker)), path)
    assert not marker.exists()
    return path, marker


@pytest.fixture
def make_window(make_window):
    """The conftest window, with the Custom Code dock shown."""

    def make(document=None):
        window = make_window(document)
        window.custom_code_dock.show()
        window.custom_code_dock.raise_()
        return window

    return make


def when_modal(act: Callable, seen: list) -> None:
    """Once a modal dialog is up, ``act(dialog)`` on it (and note it in ``seen``)."""

    def poll() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, poll)
            return
        seen.append(dialog)
        act(dialog)

    QTimer.singleShot(0, poll)


def wait_for_shapes(qtbot, window, timeout=240_000) -> None:
    """Until the window shows the shapes of the graph as it is now."""
    qtbot.waitUntil(
        lambda: window.engine.is_loaded and window.shown_generation == window.engine.generation,
        timeout=timeout,
    )


def current_line(editor) -> int:
    return editor.textCursor().blockNumber() + 1


# ====================================================================== trust
@pytest.mark.slow
def test_opening_a_project_runs_none_of_its_code_until_trusted(make_window, marked_file, qtbot):
    path, marker = marked_file
    w = make_window()
    seen: list = []
    shown_code: dict = {}

    def open_without_running(dialog):
        shown_code.update({n: e.toPlainText() for n, e in dialog.editors.items()})
        shown_code["read_only"] = all(e.isReadOnly() for e in dialog.editors.values())
        dialog.skip_button.click()

    when_modal(open_without_running, seen)
    assert w.open_path(path)
    assert len(seen) == 1 and isinstance(seen[0], TrustDialog)
    # The dialog showed the code, read-only, before anything ran.
    assert "class Marker" in shown_code["Marker"] and shown_code["read_only"]
    assert not w.document.trusted_code

    w.engine.start()
    wait_for_shapes(qtbot, w)
    assert not marker.exists(), "the project's code ran before it was trusted"
    item = w.scene.node_item("marker")
    assert item.shape_state == "not_evaluated"
    assert item.shape_display == "not evaluated"
    assert "code not evaluated: trust the project to run it" in item.toolTip()
    assert w.document.diagnostics == [] or all(
        d.severity != "error" for d in w.document.diagnostics
    )
    assert w.custom_code.banner.isVisible()
    assert "has not been run" in w.custom_code.banner_label.text()
    # Editing untrusted code keeps it untrusted.
    w.custom_code.editor.moveCursor(w.custom_code.editor.textCursor().MoveOperation.End)
    QTest.keyClick(w.custom_code.editor, Qt.Key.Key_Return)
    QTest.keyClicks(w.custom_code.editor, "# a note")
    wait_for_shapes(qtbot, w)
    assert not marker.exists() and not w.document.trusted_code

    # Trust and Run (the bar in the Custom Code panel).
    qtbot.mouseClick(w.custom_code.trust_button, Qt.MouseButton.LeftButton)
    assert w.document.trusted_code
    qtbot.waitUntil(lambda: w.scene.node_item("marker").shape_state == "ok", timeout=120_000)
    assert marker.exists()
    assert w.scene.node_item("marker").shape_display.startswith("(None, 4)")
    assert not w.custom_code.banner.isVisible()

    # An exception in ``call`` names the user's line on the node and in the editor.
    w.document.push(SetCode(w.document.graph, "Marker", CodeDef("Marker", "layer", RAISING_CALL)))
    qtbot.waitUntil(lambda: w.scene.node_item("marker").shape_state == "error", timeout=120_000)
    rows = [p for p in w.problems.problems() if p.node == "marker"]
    assert rows and f"line {RAISING_LINE}" in rows[0].message, rows
    assert "broken on purpose" in rows[0].message
    qtbot.waitUntil(lambda: any(m.line == RAISING_LINE for m in w.custom_code.marks()))
    assert f"Line {RAISING_LINE}" in w.custom_code.message.text()


def test_trust_is_remembered_per_file_until_the_code_changes(
    make_window, marked_file, monkeypatch, tmp_path
):
    path, marker = marked_file
    asked: list = []

    def trust(dialog):
        dialog.trust_button.click()

    w = make_window()
    when_modal(trust, asked)
    assert w.open_path(path)
    assert len(asked) == 1 and w.document.trusted_code
    assert is_trusted(w.settings, path, code_fingerprint(w.document.graph))

    # The same file, unchanged: opens trusted, without asking.
    monkeypatch.setattr(TrustDialog, "exec", lambda self: pytest.fail("asked again"))
    assert w.open_path(path)
    assert w.document.trusted_code
    monkeypatch.undo()

    # Someone edits the code in the file: asked again.
    graph = marker_graph(marker)
    edited = MARKER_LAYER.format(marker=marker) + "\n# edited\n"
    graph.set_code("Marker", CodeDef("Marker", "layer", edited))
    save_project(Project(name="marked", graph=graph), path)
    skipped: list = []
    when_modal(lambda d: d.skip_button.click(), skipped)
    assert w.open_path(path)
    assert len(skipped) == 1 and not w.document.trusted_code
    assert not marker.exists()


def test_train_refuses_untrusted_code_and_offers_to_trust(make_window, marked_file):
    path, marker = marked_file
    w = make_window()
    when_modal(lambda d: d.skip_button.click(), [])
    w.open_path(path)
    seen: list = []

    def cancel(box):
        assert isinstance(box, QMessageBox)
        assert "has not been run" in box.text()
        assert any(b.text() == "Trust and Run" for b in box.buttons())
        box.button(QMessageBox.StandardButton.Cancel).click()

    when_modal(cancel, seen)
    assert w.training.train() is False
    assert len(seen) == 1
    assert not w.document.trusted_code and not w.training.controller.is_busy()
    assert not marker.exists()


def test_a_new_project_s_own_code_is_trusted(make_window):
    w = make_window()
    assert w.document.trusted_code
    w.custom_code.new_definition("layer")
    assert w.document.trusted_code
    assert not w.custom_code.banner.isVisible()


# ====================================================================== the editor
def test_a_syntax_error_shows_its_line_number_and_a_click_goes_there(make_window, qtbot):
    w = make_window()
    cc = w.custom_code
    assert cc.new_definition("layer") == "CustomLayer"
    editor = cc.editor
    assert editor.toPlainText() == STARTERS["layer"]
    # Type a broken line at the end of line 8 ("        self.units = units").
    line = 8
    assert editor.document().findBlockByNumber(line - 1).text().strip() == "self.units = units"
    editor.go_to(line, 0)
    editor.moveCursor(editor.textCursor().MoveOperation.EndOfLine)
    QTest.keyClicks(editor, " +* )")
    qtbot.waitUntil(lambda: cc.message.isVisible(), timeout=3000)
    assert cc.message.text().startswith(f"Line {line}, column ")
    assert [m.line for m in cc.marks()] == [line]
    # The model keeps the typed source (the project is modified)...
    assert "+* )" in w.document.graph.code["CustomLayer"].source
    assert w.document.is_modified()
    # ... and a click on the message puts the cursor on the line.
    editor.go_to(1, 0)
    qtbot.mouseClick(cc.message, Qt.MouseButton.LeftButton)
    assert current_line(editor) == line
    # Fixing it clears the mark.
    editor.moveCursor(editor.textCursor().MoveOperation.EndOfLine)
    for _ in range(5):
        QTest.keyClick(editor, Qt.Key.Key_Backspace)
    cc.check_now()
    assert cc.marks() == [] and not cc.message.isVisible()


def test_undo_of_typing_restores_the_source_in_one_step(make_window, qtbot):
    w = make_window()
    cc = w.custom_code
    cc.new_definition("loss")
    editor = cc.editor
    before = editor.toPlainText()
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    QTest.keyClicks(editor, "# tweak the penalty")
    assert w.document.graph.code["custom_loss"].source.endswith("# tweak the penalty")
    assert w.act_undo.text().startswith("&Undo Edit code custom_loss")
    w.act_undo.trigger()
    assert w.document.graph.code["custom_loss"].source == before
    assert editor.toPlainText() == before
    w.act_undo.trigger()  # then the definition itself goes
    assert "custom_loss" not in w.document.graph.code
    assert cc.definitions() == []
    w.act_redo.trigger()
    assert cc.definitions() == ["custom_loss"]


def test_tab_and_enter_indent_by_four_spaces(make_window):
    w = make_window()
    cc = w.custom_code
    cc.new_definition("loss")
    editor = cc.editor
    editor.selectAll()
    QTest.keyClicks(editor, "def custom_loss(y_true, y_pred):")
    QTest.keyClick(editor, Qt.Key.Key_Return)
    QTest.keyClicks(editor, "return y_pred")
    assert editor.toPlainText() == "def custom_loss(y_true, y_pred):\n    return y_pred"
    QTest.keyClick(editor, Qt.Key.Key_Home)
    QTest.keyClick(editor, Qt.Key.Key_Tab)
    assert editor.toPlainText().endswith("\n        return y_pred")


def test_renaming_the_class_renames_the_definition_and_its_nodes(make_window, qtbot):
    w = make_window()
    cc = w.custom_code
    cc.new_definition("layer")
    w.add_layer_at_centre("custom.CustomLayer")
    assert w.document.graph.node("custom_layer").type == "custom.CustomLayer"
    editor = cc.editor
    block = editor.document().findBlockByNumber(4)  # "class CustomLayer(layers.Layer):"
    assert block.text().startswith("class CustomLayer(")
    editor.go_to(5, len("class CustomLayer") + 1)
    QTest.keyClicks(editor, "X")
    assert list(w.document.graph.code) == ["CustomLayerX"]
    assert cc.current() == "CustomLayerX"
    assert w.document.graph.node("custom_layer").type == "custom.CustomLayerX"
    assert w.layer_palette.item_for("custom.CustomLayerX") is not None
    assert w.layer_palette.item_for("custom.CustomLayer") is None
    w.act_undo.trigger()
    assert list(w.document.graph.code) == ["CustomLayer"]
    assert cc.current() == "CustomLayer"
    assert w.document.graph.node("custom_layer").type == "custom.CustomLayer"


def test_delete_is_undoable(make_window):
    w = make_window()
    cc = w.custom_code
    cc.new_definition("metric")
    name = cc.current()
    cc.delete_button.click()
    assert name not in w.document.graph.code and cc.definitions() == []
    w.act_undo.trigger()
    assert cc.definitions() == [name]


def test_an_engine_error_marks_the_user_s_line(make_window):
    w = make_window()
    cc = w.custom_code
    cc.new_definition("layer")

    class Info:
        error = "CustomLayer, line 17: TypeError: unsupported operand"

    class Result:
        nodes = {"custom_layer": Info()}

    cc.set_shapes(Result())
    assert [m.line for m in cc.marks()] == [17]
    assert cc.message.text() == "Line 17: TypeError: unsupported operand"
    # A training error in another definition shows that definition at the line.
    cc.new_definition("loss")
    assert cc.current() == "custom_loss"
    assert cc.show_error("custom_loss, line 6: InvalidArgumentError: shapes differ")
    assert cc.current() == "custom_loss" and [m.line for m in cc.marks()] == [6]
    assert cc.show_error("CustomLayer, line 3: boom")
    assert cc.current() == "CustomLayer" and [m.line for m in cc.marks()] == [3]


# ====================================================================== palette, settings
def test_a_new_layer_appears_in_the_palette_and_adds_a_custom_node(make_window, qtbot):
    w = make_window()
    assert w.layer_palette.item_for("custom.CustomLayer") is None
    w.custom_code.new_definition("layer")
    item = w.layer_palette.item_for("custom.CustomLayer")
    assert item is not None and item.parent().text(0) == "Custom"
    tree = w.layer_palette.tree
    tree.setCurrentItem(item)
    tree.setFocus()
    QTest.keyClick(tree, Qt.Key.Key_Return)
    node = w.document.graph.node("custom_layer")
    assert node.type == "custom.CustomLayer"
    spec = w.document.catalog.get("custom.CustomLayer")
    assert [p.name for p in spec.params] == ["units"] and [p.name for p in spec.inputs] == [
        "inputs"
    ]
    node_item = w.scene.node_item("custom_layer")
    assert [p.name for p in node_item.in_ports] == ["inputs"]
    # The inspector's form comes from __init__'s signature.
    w.scene.select_nodes(["custom_layer"])
    w.inspector.refresh()
    assert "units" in w.inspector.field_keys()


def test_custom_losses_and_metrics_are_offered_in_training_settings(make_window, qtbot):
    w = make_window(Document(Project(name="m", graph=_dense_graph())))
    panel = w.training.settings_panel
    box = panel.output_box("dense")
    datas = lambda combo: [combo.itemData(i) for i in range(combo.count())]  # noqa: E731
    assert not any(str(d).startswith("custom.") for d in datas(box.loss_combo))
    w.custom_code.new_definition("loss")
    w.custom_code.new_definition("metric")
    qtbot.waitUntil(lambda: "custom.custom_loss" in datas(panel.output_box("dense").loss_combo))
    box = panel.output_box("dense")
    metric = "custom." + next(n for n, c in w.document.graph.code.items() if c.kind == "metric")
    assert metric in datas(box.metric_combo)
    panel.set_loss("dense", "custom.custom_loss")
    assert (
        w.document.project.settings["training"]["losses"]["dense"]["class"] == "custom.custom_loss"
    )
    panel.add_metric("dense", metric)
    qtbot.waitUntil(
        lambda: panel.output_box("dense").loss_combo.currentData() == "custom.custom_loss"
    )


def _dense_graph() -> Graph:
    g = Graph("m")
    g.add_node(Node("x", "InputLayer", {"shape": [4]}, (0.0, 0.0)))
    g.add_node(Node("dense", "Dense", {"units": 1}, (260.0, 0.0)))
    g.add_edge(Edge("x", 0, "dense", "inputs"))
    g.set_outputs([Output("dense")])
    return g
