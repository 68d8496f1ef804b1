"""Wrapper layers (Bidirectional, TimeDistributed, SpectralNormalization) in the inspector:
the wrapped layer's class in a combo box and its parameters as rows, driven like a user."""

from __future__ import annotations

import copy

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox  # noqa: E402

from studio.core.commands import SetParam  # noqa: E402
from studio.core.graph import Edge, Graph, Node, Output  # noqa: E402
from studio.project import Project  # noqa: E402
from studio.ui.document import Document  # noqa: E402
from studio.ui.panels import InspectorWidget  # noqa: E402


def layer(class_name: str, **config) -> dict:
    return {
        "module": "keras.layers",
        "class_name": class_name,
        "config": config,
        "registered_name": None,
    }


LSTM = layer("LSTM", name="lstm", units=64, return_sequences=True)


def _graph() -> Graph:
    """tokens (20, 8) -> Bidirectional(LSTM(64, return_sequences)) -> TimeDistributed(Dense(8))"""
    g = Graph("seq")
    g.add_node(Node("tokens", "InputLayer", {"shape": [20, 8]}, (0.0, 0.0)))
    g.add_node(Node("bidi", "Bidirectional", {"layer": copy.deepcopy(LSTM)}, (260.0, 0.0)))
    g.add_node(
        Node("td", "TimeDistributed", {"layer": layer("Dense", name="dense", units=8)}, (520.0, 0))
    )
    g.add_node(Node("sn", "SpectralNormalization", {"layer": layer("Dense", units=4)}, (780, 0)))
    g.add_edge(Edge("tokens", 0, "bidi", "sequences"))
    g.add_edge(Edge("bidi", 0, "td", "inputs"))
    g.add_edge(Edge("td", 0, "sn", "inputs"))
    g.set_outputs([Output("sn")])
    return g


@pytest.fixture
def document() -> Document:
    return Document(Project(name="seq", graph=_graph()))


@pytest.fixture
def inspector(qtbot, document) -> InspectorWidget:
    w = InspectorWidget(document)
    qtbot.addWidget(w)
    w.resize(380, 900)
    with qtbot.waitActive(w):
        w.show()
        w.activateWindow()
    w.set_node([], "bidi")
    return w


def _type(qtbot, widget, text: str) -> None:
    """Replace a field's text the way a user does: focus, select all, type, Enter."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _click(qtbot, inspector, widget) -> None:
    """Scroll a check box into view, as a user would, and click it."""
    inspector.scroll.ensureWidgetVisible(widget)
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def _choose(combo: QComboBox, text: str) -> None:
    """Pick an item as a user does (``activated`` is what a click or Enter emits)."""
    index = combo.findText(text)
    assert index >= 0, f"{text} is not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _inner(document: Document, name: str = "bidi", key: str = "layer") -> dict:
    return document.graph.node(name).params[key]


# ----------------------------------------------------------------------------- the form
def test_the_wrapped_layer_gets_a_class_combo_and_a_row_per_parameter(inspector):
    combo = inspector.editor("layer")
    assert isinstance(combo, QComboBox) and combo.currentText() == "LSTM"
    offered = [combo.itemText(i) for i in range(combo.count())]
    assert offered == ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "GRU", "LSTM", "SimpleRNN"]
    units = inspector.editor("layer.units")
    assert isinstance(units, QSpinBox) and units.value() == 64
    assert inspector.editor("layer.return_sequences").isChecked()
    assert inspector.editor("layer.go_backwards").isChecked() is False
    assert inspector.editor("layer.activation").currentText() == "tanh"
    assert inspector.editor("layer.dropout").value() == 0.0
    # Rarely changed parameters are folded away, as they are for the node's own.
    rows = inspector.layer_editor().row_keys()
    assert "unroll" in rows and "units" in rows
    assert not inspector.editor("layer.unroll").isVisibleTo(inspector)
    assert inspector.layer_editor().advanced_button.text() == "Advanced"


def test_other_wrappers_offer_the_layers_they_take(inspector):
    inspector.set_node([], "td")
    td = [inspector.editor("layer").itemText(i) for i in range(inspector.editor("layer").count())]
    assert {"Dense", "Conv2D", "Dropout", "Bidirectional", "LSTM"} <= set(td)
    assert not {"InputLayer", "Model", "Add", "Concatenate"} & set(td)
    assert not any(t.startswith("ops.") for t in td)
    assert inspector.editor("layer.units").value() == 8
    inspector.set_node([], "sn")
    sn = [inspector.editor("layer").itemText(i) for i in range(inspector.editor("layer").count())]
    assert {"Dense", "Conv2D", "Conv1DTranspose", "Embedding"} <= set(sn)
    assert not {"LSTM", "SeparableConv2D", "Dropout"} & set(sn)


# ----------------------------------------------------------------------------- edits
def test_an_inner_spin_box_edit_is_one_undoable_command(qtbot, inspector, document):
    steps = document.stack.index
    _type(qtbot, inspector.editor("layer.units").lineEdit(), "32")
    assert _inner(document) == layer("LSTM", name="lstm", units=32, return_sequences=True)
    assert document.stack.index == steps + 1
    assert document.stack.undo_text() == "Set bidi.layer"
    document.undo()
    assert _inner(document) == LSTM
    qtbot.waitUntil(lambda: inspector.editor("layer.units").value() == 64)
    document.redo()
    assert _inner(document)["config"]["units"] == 32


def test_inner_values_equal_to_the_default_are_left_out(qtbot, inspector, document):
    box = inspector.editor("layer.return_sequences")
    _click(qtbot, inspector, box)
    assert _inner(document)["config"] == {"name": "lstm", "units": 64}  # False is the default
    _type(qtbot, inspector.editor("layer.dropout").lineEdit(), "0.25")
    assert _inner(document)["config"]["dropout"] == 0.25
    _type(qtbot, inspector.editor("layer.dropout").lineEdit(), "0")
    assert "dropout" not in _inner(document)["config"]
    combo = inspector.editor("layer.activation")
    _choose(combo, "relu")
    assert _inner(document)["config"]["activation"] == "relu"


def test_changing_the_class_keeps_shared_parameters(qtbot, inspector, document):
    _type(qtbot, inspector.editor("layer.dropout").lineEdit(), "0.5")
    _choose(inspector.editor("layer"), "GRU")
    value = _inner(document)
    assert value["class_name"] == "GRU"
    assert value["config"] == {"name": "gru", "units": 64, "return_sequences": True, "dropout": 0.5}
    # The rows are GRU's now (reset_after is GRU's own), with the kept values.
    qtbot.waitUntil(lambda: "reset_after" in inspector.layer_editor().row_keys())
    assert inspector.editor("layer.units").value() == 64
    assert inspector.editor("layer.return_sequences").isChecked()
    # One step back is the LSTM with its dropout.
    document.undo()
    assert _inner(document)["class_name"] == "LSTM"
    assert _inner(document)["config"]["dropout"] == 0.5
    qtbot.waitUntil(lambda: inspector.editor("layer").currentText() == "LSTM")
    assert "reset_after" not in inspector.layer_editor().row_keys()


def test_changing_the_class_fills_required_parameters(qtbot, inspector, document):
    _choose(inspector.editor("layer"), "ConvLSTM1D")
    config = _inner(document)["config"]
    assert config["filters"] == 32 and config["kernel_size"] == [3]
    assert config["return_sequences"] is True and "units" not in config
    assert config["name"] == "conv_lstm1d"


def test_timedistributed_class_change(qtbot, inspector, document):
    inspector.set_node([], "td")
    _choose(inspector.editor("layer"), "Dropout")
    assert _inner(document, "td") == layer("Dropout", name="dropout", rate=0.5)
    qtbot.waitUntil(lambda: inspector.editor("layer.rate") is not None)
    _type(qtbot, inspector.editor("layer.rate").lineEdit(), "0.2")
    assert _inner(document, "td")["config"]["rate"] == 0.2


def test_separate_backward_layer(qtbot, inspector, document):
    box = inspector.layer_editor("backward_layer").separate_box
    assert isinstance(box, QCheckBox) and not box.isChecked()
    assert not inspector.editor("backward_layer").isVisibleTo(inspector)
    _click(qtbot, inspector, box)
    backward = _inner(document, key="backward_layer")
    assert backward == layer(
        "LSTM", name="lstm", units=64, return_sequences=True, go_backwards=True
    )
    qtbot.waitUntil(lambda: inspector.editor("backward_layer").isVisibleTo(inspector))
    assert inspector.editor("backward_layer.go_backwards").isChecked()
    _type(qtbot, inspector.editor("backward_layer.units").lineEdit(), "16")
    assert _inner(document, key="backward_layer")["config"]["units"] == 16
    assert _inner(document)["config"]["units"] == 64  # the forward layer is its own
    _click(qtbot, inspector, box)
    assert "backward_layer" not in document.graph.node("bidi").params
    document.undo()
    assert _inner(document, key="backward_layer")["config"]["units"] == 16


# ----------------------------------------------------------------------------- errors
def test_a_value_the_layer_rejects_is_refused_on_its_row(qtbot, inspector, document):
    spin = inspector.editor("layer.dropout")
    _type(qtbot, spin.lineEdit(), "2")
    assert _inner(document) == LSTM  # not pushed
    text = inspector.error_text("layer.dropout")
    assert "'bidi'" in text and "layer.dropout" in text and "between 0 and 1" in text
    assert inspector.error_text("layer.units") == "" and inspector.error_text("layer") == ""
    assert spin.value() == 2  # the text stays for the user to fix
    _type(qtbot, spin.lineEdit(), "0.5")
    assert _inner(document)["config"]["dropout"] == 0.5
    assert inspector.error_text("layer.dropout") == ""
    # Units below 1 read as "no value" (the spin box's None), which a LSTM needs.
    _type(qtbot, inspector.editor("layer.units").lineEdit(), "0")
    assert _inner(document)["config"]["units"] == 64
    assert "needs a value for parameter 'layer.units'" in inspector.error_text("layer.units")


def test_a_bad_inner_value_in_the_document_shows_on_its_row(qtbot, inspector, document):
    bad = layer("LSTM", name="lstm", units=0)
    document.push(SetParam("bidi", "layer", bad))
    qtbot.waitUntil(lambda: "layer.units" in inspector.error_text("layer.units"))
    assert inspector.error_text("layer") == ""
    document.push(SetParam("bidi", "layer", layer("Nope", units=3)))
    qtbot.waitUntil(lambda: "Nope" in inspector.error_text("layer"))
    combo = inspector.editor("layer")
    assert combo.currentText() == "Nope"  # shown as it is, the list still offered
    _choose(combo, "GRU")
    assert _inner(document) == layer("GRU", name="gru", units=3)
    qtbot.waitUntil(lambda: inspector.error_text("layer") == "")


def test_a_shared_wrapper_is_read_only(qtbot, document):
    document.graph.add_node(Node("bidi2", "Bidirectional", {}, shared_with="bidi"))
    w = InspectorWidget(document)
    qtbot.addWidget(w)
    w.set_node([], "bidi2")
    assert w.editor("layer").currentText() == "LSTM"
    assert not w.editor("layer.units").isEnabled()


# ----------------------------------------------------------------------------- main window
@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from studio.ui.mainwindow import MainWindow
    from studio.ui.recovery import RecoveryStore

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(
        Document(Project(name="seq", graph=_graph())),
        settings=settings,
        recovery=RecoveryStore(tmp_path / "recovery"),
    )
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.maybe_save = lambda: True
    w.close()
    w.engine.shutdown()
    w.deleteLater()


def test_window_select_on_canvas_edit_units_and_undo(qtbot, window):
    w = window
    w.scene.select_nodes(["bidi"])
    qtbot.waitUntil(lambda: w.inspector.editor("layer.units") is not None)
    item = w.scene.node_item("bidi")
    assert "LSTM(64)" in item.param_items
    _type(qtbot, w.inspector.editor("layer.units").lineEdit(), "32")
    assert _inner(w.document)["config"]["units"] == 32
    qtbot.waitUntil(lambda: "LSTM(32)" in item.param_items)
    _choose(w.inspector.editor("layer"), "GRU")
    qtbot.waitUntil(lambda: "GRU(32)" in item.param_items)
    assert w.act_undo.text() == "&Undo Set bidi.layer"
    w.act_undo.trigger()
    w.act_undo.trigger()
    assert _inner(w.document) == LSTM
    qtbot.waitUntil(lambda: "LSTM(64)" in item.param_items)
    qtbot.waitUntil(lambda: w.inspector.editor("layer.units").value() == 64)


@pytest.mark.slow
def test_window_shape_label_follows_an_inner_edit(qtbot, window, monkeypatch):
    """Shapes computed in this process (the engine process takes minutes to start here)."""
    from studio.engine import load_keras

    load_keras()
    from studio.engine.shapes import ShapeInference

    w = window
    inference = ShapeInference()
    count = [0]

    def request(graph):
        count[0] += 1
        w._on_shapes(count[0], inference.infer(graph.copy()))
        return count[0]

    monkeypatch.setattr(w.engine, "request", request)
    w._request_shapes()
    item = w.scene.node_item("bidi")
    assert item.shape_display == "(None, 20, 128)" and item.shape_state == "ok"
    assert w.scene.node_item("td").shape_display == "(None, 20, 8)"
    w.scene.select_nodes(["bidi"])
    qtbot.waitUntil(lambda: w.inspector.editor("layer.units") is not None)
    with qtbot.waitSignal(w.shapesShown, timeout=30_000):
        _type(qtbot, w.inspector.editor("layer.units").lineEdit(), "16")
    assert item.shape_display == "(None, 20, 32)"
    assert "Output: (None, 20, 32)" in w.inspector.shape_label.text()
    # Not returning sequences: one vector per sequence, and TimeDistributed then fails.
    with qtbot.waitSignal(w.shapesShown, timeout=30_000):
        _click(qtbot, w.inspector, w.inspector.editor("layer.return_sequences"))
    assert item.shape_display == "(None, 32)"
    assert w.scene.node_item("td").shape_state != "ok"


def test_wrappers_are_in_their_own_palette_category(qtbot, document):
    from studio.ui.panels import PaletteWidget

    palette = PaletteWidget(document.catalog)
    qtbot.addWidget(palette)
    groups = {
        palette.tree.topLevelItem(i).text(0): palette.tree.topLevelItem(i)
        for i in range(palette.tree.topLevelItemCount())
    }
    wrappers = groups["Wrappers"]
    names = {wrappers.child(i).text(0) for i in range(wrappers.childCount())}
    assert {"Bidirectional", "TimeDistributed", "SpectralNormalization"} <= names
