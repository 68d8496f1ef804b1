"""The side panels driven like a user: keyboard and mouse on real widgets (pytest-qt)."""

from __future__ import annotations

import types

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from studio.core.commands import AddNode, Connect, Rename, SetParam  # noqa: E402
from studio.core.graph import Edge, Graph, Node, Output  # noqa: E402
from studio.project import Project  # noqa: E402
from studio.resources import resource_path  # noqa: E402
from studio.ui.document import Document  # noqa: E402
from studio.ui.panels import (  # noqa: E402
    LAYER_MIME,
    InspectorWidget,
    PaletteWidget,
    ProblemsWidget,
    SummaryWidget,
)
from studio.ui.panels.inspector import format_tuple, parse_tuple  # noqa: E402

EXAMPLE = resource_path("examples") / "mnist_cnn.studio.json"


# ----------------------------------------------------------------------------- fixtures
def _graph() -> Graph:
    g = Graph("model")
    g.add_node(Node("input", "InputLayer", {"shape": [16]}))
    g.add_node(Node("dense", "Dense", {"units": 32, "activation": "relu"}, position=(200, 0)))
    g.add_node(Node("dropout", "Dropout", {"rate": 0.5}, position=(400, 0)))
    g.add_edge(Edge("input", 0, "dense", "inputs"))
    g.add_edge(Edge("dense", 0, "dropout", "inputs"))
    g.outputs = [Output("dropout")]
    return g


@pytest.fixture
def document() -> Document:
    return Document(Project(name="test", graph=_graph()))


@pytest.fixture
def mnist() -> Document:
    return Document.open(EXAMPLE)


def _show(qtbot, widget, width=360, height=700):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    with qtbot.waitActive(widget):
        widget.show()
        widget.activateWindow()
    return widget


@pytest.fixture
def inspector(qtbot, document) -> InspectorWidget:
    w = _show(qtbot, InspectorWidget(document))
    w.set_node([], "dense")
    return w


def _type(qtbot, widget, text: str) -> None:
    """Replace a field's text the way a user does: focus, select all, type, Enter."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _line_edit(widget):
    return widget.lineEdit() if hasattr(widget, "lineEdit") and widget.lineEdit() else widget


# ----------------------------------------------------------------------------- palette
def test_palette_search_filters_as_you_type(qtbot, document):
    w = _show(qtbot, PaletteWidget(document.catalog), 260, 600)
    assert not w.item_for("Dense").isHidden()
    qtbot.keyClicks(w.search, "conv2d")
    visible = w.visible_types()
    assert "Conv2D" in visible and "Conv2DTranspose" in visible
    assert w.item_for("Dense").isHidden()
    assert "Dense" not in visible
    # Matches stay expanded, and the first match is current (Enter would add it).
    assert w.item_for("Conv2D").parent().isExpanded()
    assert w.selected_type() == "Conv2D"

    w.search.clear()
    assert not w.item_for("Dense").isHidden()
    assert len(w.visible_types()) == len(document.catalog) - 1  # all but the nested "Model"
    # The operations group is collapsed again once the filter is cleared.
    assert not w.item_for("ops.Add").parent().isExpanded()


def test_palette_search_matches_category_and_description_case_insensitively(qtbot, document):
    w = _show(qtbot, PaletteWidget(document.catalog), 260, 600)
    qtbot.keyClicks(w.search, "RECURRENT")
    assert "LSTM" in w.visible_types()
    w.search.clear()
    qtbot.keyClicks(w.search, "densely-connected")
    assert w.visible_types() == ["Dense"]


def test_palette_says_when_nothing_matches(qtbot, document):
    w = _show(qtbot, PaletteWidget(document.catalog), 260, 600)
    qtbot.keyClicks(w.search, "xyzzy")
    assert w.visible_types() == []
    assert w.stack.currentWidget() is w.empty_label
    assert w.empty_label.text() == "No layer matches 'xyzzy'"
    w.search.clear()
    assert w.stack.currentWidget() is w.tree


def test_palette_drag_carries_the_type_name(qtbot, document):
    w = _show(qtbot, PaletteWidget(document.catalog), 260, 600)
    item = w.item_for("Dense")
    mime = w.tree.mimeData([item])
    assert mime.hasFormat(LAYER_MIME)
    assert bytes(mime.data(LAYER_MIME)).decode("utf-8") == "Dense"
    assert LAYER_MIME in w.tree.mimeTypes()
    assert item.flags() & Qt.ItemFlag.ItemIsDragEnabled
    assert not item.parent().flags() & Qt.ItemFlag.ItemIsDragEnabled  # categories don't drag
    assert w.tree.mimeData([item.parent()]) is None


def test_palette_double_click_and_enter_activate_a_layer(qtbot, document):
    w = _show(qtbot, PaletteWidget(document.catalog), 260, 600)
    item = w.item_for("Dense")
    w.tree.scrollToItem(item)
    pos = w.tree.visualItemRect(item).center()
    with qtbot.waitSignal(w.layerActivated, timeout=1000) as blocker:
        # A real double-click: press/release, then the double-click event.
        qtbot.mouseClick(w.tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        qtbot.mouseDClick(w.tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == ["Dense"]
    assert w.selected_type() == "Dense"

    # Search, then Enter in the search field adds the best match.
    w.focus_search()
    qtbot.keyClicks(w.search, "dropout")
    with qtbot.waitSignal(w.layerActivated, timeout=1000) as blocker:
        qtbot.keyClick(w.search, Qt.Key.Key_Return)
    assert blocker.args == ["Dropout"]

    # Down moves into the list; Enter there activates the current item.
    qtbot.keyClick(w.search, Qt.Key.Key_Down)
    assert w.selected_type() == "Dropout"
    if QApplication.activeWindow() is w:  # focus is only tracked in an active window
        assert w.tree.hasFocus()
    with qtbot.waitSignal(w.layerActivated, timeout=1000) as blocker:
        qtbot.keyClick(w.tree, Qt.Key.Key_Return)
    assert blocker.args == ["Dropout"]


def test_palette_tooltips_describe_the_layer(qtbot, document):
    w = _show(qtbot, PaletteWidget(document.catalog), 260, 600)
    tip = w.item_for("Concatenate").toolTip(0)
    assert "Concatenate" in tip and "2 or more" in tip
    assert "1 input" in w.item_for("Dense").toolTip(0)


# ----------------------------------------------------------------------------- inspector
def test_inspector_shows_the_node(inspector):
    assert inspector.type_label.text() == "Dense"
    assert inspector.name_edit.text() == "dense"
    assert "units" in inspector.field_keys()
    assert inspector.editor("units").value() == 32
    # Required parameters are marked, and the doc is the tooltip.
    field = inspector._fields[("param", "units")]
    assert field.label.text() == "units *"
    assert "Positive integer" in field.label.toolTip()
    # dtype is under Advanced.
    assert "dtype" in inspector._advanced_keys


def test_inspector_spin_box_edit_is_one_undo_step(qtbot, inspector, document):
    before = document.stack.index
    spin = inspector.editor("units")
    _type(qtbot, spin, "64")
    assert document.graph.node("dense").params["units"] == 64
    assert document.stack.index == before + 1
    # The form is not rebuilt by a value change: the same widget, still focused.
    assert inspector.editor("units") is spin

    document.undo()
    assert document.graph.node("dense").params["units"] == 32
    assert spin.value() == 32
    document.redo()
    assert spin.value() == 64


def test_inspector_keeps_the_field_being_edited(qtbot, inspector, document):
    spin = inspector.editor("units")
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, "99")  # typing, not yet committed
    document.push(SetParam("dense", "activation", "tanh"))  # another field changes
    assert inspector.editor("units") is spin and spin.hasFocus()
    assert spin.text() == "99"
    assert inspector.editor("activation").currentText() == "tanh"
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    assert document.graph.node("dense").params["units"] == 99


def test_inspector_spin_box_arrows_commit_after_a_pause(qtbot, inspector, document):
    spin = inspector.editor("units")
    spin.setFocus()
    before = document.stack.index
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: document.graph.node("dense").params["units"] == 34, timeout=2000)
    assert document.stack.index == before + 1


def test_inspector_refuses_a_value_the_layer_rejects(qtbot, inspector, document):
    inspector.set_node([], "dropout")
    spin = inspector.editor("rate")
    before = document.stack.index
    _type(qtbot, spin, "1.5")
    assert document.stack.index == before
    assert document.graph.node("dropout").params["rate"] == 0.5
    reason = inspector.error_text("rate")
    assert "between 0 and 1" in reason
    assert spin.text() == "1.5"  # kept, so the user can fix it
    # An unrelated change elsewhere keeps the refused text and its reason.
    document.push(SetParam("dense", "units", 7))
    assert inspector.error_text("rate")
    assert spin.text() == "1.5"
    # Fixing it clears the reason.
    _type(qtbot, spin, "0.25")
    assert document.graph.node("dropout").params["rate"] == 0.25
    assert inspector.error_text("rate") == ""


def test_inspector_activation_combo(qtbot, inspector, document):
    combo = inspector.editor("activation")
    _type(qtbot, _line_edit(combo), "tanh")
    assert document.graph.node("dense").params["activation"] == "tanh"
    # An unknown name is refused with the reason.
    _type(qtbot, _line_edit(combo), "tanhh")
    assert document.graph.node("dense").params["activation"] == "tanh"
    assert "activation" in inspector.error_text("activation")
    # Picking from the list commits at once.
    combo.setFocus()
    index = combo.findText("sigmoid")
    combo.showPopup()
    view = combo.view()
    view.setCurrentIndex(view.model().index(index, 0))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert document.graph.node("dense").params["activation"] == "sigmoid"


def test_inspector_choosing_the_default_unsets_the_param(qtbot, inspector, document):
    combo = inspector.editor("activation")
    _type(qtbot, _line_edit(combo), "linear")  # Dense's default activation
    assert "activation" not in document.graph.node("dense").params
    # A bool back to its default, by mouse.
    box = inspector.editor("use_bias")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert document.graph.node("dense").params["use_bias"] is False
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert "use_bias" not in document.graph.node("dense").params


def test_inspector_choice_combo_by_keyboard(qtbot, document):
    g = document.graph
    document.push(AddNode(Node("conv", "Conv2D", {"filters": 8, "kernel_size": [5, 5]})))
    w = _show(qtbot, InspectorWidget(document))
    w.set_node([], "conv")
    combo = w.editor("padding")
    assert combo.currentText() == "valid"
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert g.node("conv").params["padding"] == "same"
    qtbot.keyClick(combo, Qt.Key.Key_Up)
    assert "padding" not in g.node("conv").params

    # A tuple field: "3, 3" -> [3, 3].
    _type(qtbot, w.editor("kernel_size"), "3, 3")
    assert g.node("conv").params["kernel_size"] == [3, 3]
    _type(qtbot, w.editor("strides"), "2")
    assert g.node("conv").params["strides"] == 2
    _type(qtbot, w.editor("strides"), "1, 1")  # the default
    assert "strides" not in g.node("conv").params
    _type(qtbot, w.editor("kernel_size"), "3, x")
    assert "for example" in w.error_text("kernel_size")
    assert g.node("conv").params["kernel_size"] == [3, 3]


def test_inspector_rename(qtbot, inspector, document):
    _type(qtbot, inspector.name_edit, "hidden")
    assert "hidden" in document.graph and "dense" not in document.graph
    assert inspector.node_name == "hidden"
    assert inspector.name_error_text() == ""
    # The form follows the renamed node.
    _type(qtbot, inspector.editor("units"), "48")
    assert document.graph.node("hidden").params["units"] == 48

    before = document.stack.index
    _type(qtbot, inspector.name_edit, "dropout")
    assert "already exists" in inspector.name_error_text()
    assert document.stack.index == before
    assert "hidden" in document.graph

    # Undo of the rename follows the node back.
    document.undo()  # units
    document.undo()  # rename
    assert inspector.node_name == "dense"
    assert inspector.name_edit.text() == "dense"


def test_inspector_hint_multi_selection_and_removed_node(qtbot, inspector, document):
    inspector.set_node([], None)
    assert inspector.stack.currentWidget() is inspector.hint
    inspector.set_nodes([], ["dense", "dropout"])
    assert inspector.stack.currentWidget() is inspector.multi
    assert "2 nodes selected" in inspector.multi.text()
    inspector.set_node([], ["dense", "dropout"])  # the main window passes a list
    assert inspector.stack.currentWidget() is inspector.multi
    inspector.set_node([], "dense")
    assert inspector.stack.currentWidget() is inspector.scroll


def test_inspector_shows_shapes_and_params(qtbot, inspector):
    info = types.SimpleNamespace(
        outputs=[((None, 32), "float32")],
        params=544,
        trainable=544,
        non_trainable=0,
        error=None,
        blocked_by=None,
        warnings=[],
    )
    inspector.set_shapes(types.SimpleNamespace(nodes={"dense": info}))
    assert "(None, 32)" in inspector.shape_label.text()
    assert "544" in inspector.shape_label.text()
    bad = types.SimpleNamespace(outputs=[], params=0, error="Input 0 is incompatible.")
    inspector.set_shapes(types.SimpleNamespace(nodes={"dense": bad}))
    assert "incompatible" in inspector.shape_error_label.text()


def test_inspector_input_layer_shape_first_and_op_constants(qtbot):
    g = Graph("m")
    g.add_node(Node("x", "InputLayer", {"shape": [4]}))
    g.add_node(Node("plus", "ops.Add", call_args={"x2": 3.0}))
    g.add_edge(Edge("x", 0, "plus", "x1"))
    g.outputs = [Output("plus")]
    doc = Document(Project(name="t", graph=g))
    w = _show(qtbot, InspectorWidget(doc))
    w.set_node([], "x")
    assert w.field_keys()[0] == "shape"
    _type(qtbot, w.editor("shape"), "None, 28")
    assert g.node("x").params["shape"] == [None, 28]

    w.set_node([], "plus")
    assert w.field_keys("const") == ["x2"]
    _type(qtbot, w.editor("x2", "const"), "2.5")
    assert g.node("plus").call_args == {"x2": 2.5}
    doc.push(AddNode(Node("n", "Dense", {"units": 2})))  # unrelated: the form stays
    assert w.field_keys("const") == ["x2"]


def test_inspector_model_node_opens_nested(qtbot):
    inner = _graph()
    g = Graph("outer")
    g.add_node(Node("inp", "InputLayer", {"shape": [16]}))
    g.add_node(Node("block", "Model", subgraph=inner))
    g.add_edge(Edge("inp", 0, "block", "input"))
    g.outputs = [Output("block")]
    doc = Document(Project(name="t", graph=g))
    w = _show(qtbot, InspectorWidget(doc))
    w.set_node([], "block")
    assert "3 nodes" in w.model_label.text()
    with qtbot.waitSignal(w.openNested, timeout=1000) as blocker:
        qtbot.mouseClick(w.open_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [["block"]]
    # Editing inside the nested graph goes through the path.
    w.set_node(["block"], "dense")
    _type(qtbot, w.editor("units"), "8")
    assert inner.node("dense").params["units"] == 8
    doc.undo()
    assert inner.node("dense").params["units"] == 32
    assert w.editor("units").value() == 32


def test_inspector_shared_node_is_read_only(qtbot, document):
    document.push(AddNode(Node("dense_again", "Dense", shared_with="dense")))
    w = _show(qtbot, InspectorWidget(document))
    w.set_node([], "dense_again")
    assert "Shares layer of" in w.shared_label.text() and "dense" in w.shared_label.text()
    assert not w.editor("units").isEnabled()
    assert w.editor("units").value() == 32  # the owner's value


def test_tuple_parsing():
    assert parse_tuple("3, 3", "int_or_tuple") == [3, 3]
    assert parse_tuple("3", "int_or_tuple") == 3
    assert parse_tuple("3", "int_list") == [3]
    assert parse_tuple("(3, 3)", "int_tuple") == [3, 3]
    assert parse_tuple("None, 28", "shape") == [None, 28]
    assert parse_tuple("(1, 1), (2, 2)", "int_or_tuple") == [[1, 1], [2, 2]]
    assert parse_tuple("", "shape") is None
    assert parse_tuple(".5, 1e-3", "float_list") == [0.5, 0.001]
    with pytest.raises(ValueError):
        parse_tuple("3 3", "int_tuple")
    assert format_tuple([None, 28]) == "None, 28"
    assert format_tuple([[1, 1], [2, 2]]) == "(1, 1), (2, 2)"


# ----------------------------------------------------------------------------- problems
def _unconnected() -> Document:
    g = Graph("model")
    g.add_node(Node("input", "InputLayer", {"shape": [16]}))
    g.add_node(Node("dense", "Dense", {"units": 4}))
    g.outputs = [Output("dense")]
    return Document(Project(name="t", graph=g))


def test_problems_lists_and_activates_errors(qtbot):
    doc = _unconnected()
    w = _show(qtbot, ProblemsWidget(doc), 700, 240)
    rows = w.problems()
    assert rows[0].severity == "error" and rows[0].node == "dense"
    assert "nothing connected" in rows[0].message
    assert w.count_label.text().startswith("1 error")
    item = w.tree.topLevelItem(0)
    assert item.text(1) == "dense"
    rect = w.tree.visualItemRect(item)
    with qtbot.waitSignal(w.nodeActivated, timeout=1000) as blocker:
        qtbot.mouseClick(w.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["dense"]

    # Keras' own words for a node the validator already faults are not repeated.
    w.set_shapes(
        types.SimpleNamespace(
            nodes={"dense": types.SimpleNamespace(error="Nothing is connected.", warnings=[])}
        )
    )
    assert all(p.source == "studio" for p in w.problems())
    w.set_shapes(None)

    doc.push(Connect(Edge("input", 0, "dense", "inputs")))
    assert w.row_count() == 0
    assert w.count_label.text() == "No problems"


def test_problems_include_keras_errors_and_warnings(qtbot, document):
    w = _show(qtbot, ProblemsWidget(document), 700, 240)
    assert w.count_label.text() == "No problems"
    result = types.SimpleNamespace(
        nodes={
            "dense": types.SimpleNamespace(error="Bad shape.", warnings=[]),
            "dropout": types.SimpleNamespace(error=None, warnings=["Rate is high."]),
        }
    )
    w.set_shapes(result)
    texts = [(p.severity, p.node, p.message) for p in w.problems()]
    assert texts == [
        ("error", "dense", "Keras: Bad shape."),
        ("warning", "dropout", "Keras: Rate is high."),
    ]
    assert w.count_label.text() == "1 error, 1 warning"
    w.set_shapes(None)
    assert w.count_label.text() == "No problems"


# ----------------------------------------------------------------------------- summary
def _info(shape, params, trainable=None):
    return types.SimpleNamespace(
        outputs=[(shape, "float32")],
        params=params,
        trainable=params if trainable is None else trainable,
        non_trainable=0,
        error=None,
        blocked_by=None,
        warnings=[],
    )


def test_summary_table(qtbot, mnist):
    w = _show(qtbot, SummaryWidget(mnist), 800, 400)
    assert w.rows()[1][1] == "computing…"
    assert "computing" in w.total_label.text()
    shapes = {
        "image": _info((None, 28, 28, 1), 0),
        "conv2d": _info((None, 26, 26, 32), 320),
        "max_pooling2d": _info((None, 13, 13, 32), 0),
        "conv2d_1": _info((None, 11, 11, 64), 18496),
        "max_pooling2d_1": _info((None, 5, 5, 64), 0),
        "flatten": _info((None, 1600), 0),
        "dense": _info((None, 128), 204928),
        "dropout": _info((None, 128), 0),
        "dense_1": _info((None, 10), 1290),
    }
    result = types.SimpleNamespace(
        nodes=shapes, total_params=225034, trainable_params=225034, non_trainable_params=0
    )
    w.set_shapes(result)
    rows = w.rows()
    assert [r[0] for r in rows][:3] == [
        "image (InputLayer)",
        "conv2d (Conv2D)",
        "max_pooling2d (MaxPooling2D)",
    ]
    assert rows[1] == ("conv2d (Conv2D)", "(None, 26, 26, 32)", "320", "image[0][0]")
    assert rows[6][2] == "204,928"
    assert w.total_label.text() == "Total params: 225,034 (879.04 KB)"
    assert w.trainable_label.text() == "Trainable params: 225,034 (879.04 KB)"
    assert w.non_trainable_label.text() == "Non-trainable params: 0 (0.00 B)"

    # Renames show at once; a row click names the node.
    mnist.push(Rename("dense", "hidden"))
    assert any(r[0] == "hidden (Dense)" for r in w.rows())
    item = w.table.topLevelItem(0)
    with qtbot.waitSignal(w.nodeActivated, timeout=1000) as blocker:
        qtbot.mouseClick(
            w.table.viewport(),
            Qt.MouseButton.LeftButton,
            pos=w.table.visualItemRect(item).center(),
        )
    assert blocker.args == ["image"]
