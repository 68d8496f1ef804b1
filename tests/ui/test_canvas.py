"""The canvas as a user drives it: mouse and keys on the real view, checked on the model."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QMouseEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication

from studio.core.commands import Disconnect, Rename, SetParam
from studio.core.graph import Edge, Graph, Node, Output
from studio.ui.canvas import MIME_LAYER, MIME_NODES, GraphScene
from studio.ui.canvas.style import NODE_W

from .conftest import small_graph


# ----------------------------------------------------------------------------- helpers
def vp(view, scene_pos: QPointF) -> QPoint:
    return view.mapFromScene(scene_pos)


def mouse(view, kind, pos: QPoint, button=Qt.LeftButton, buttons=None, mods=Qt.NoModifier):
    """Send one mouse event to the viewport (buttons held: ``buttons``)."""
    if buttons is None:
        buttons = Qt.NoButton if kind == QMouseEvent.Type.MouseButtonRelease else button
    if kind == QMouseEvent.Type.MouseMove:
        button = Qt.NoButton
    widget = view.viewport()
    ev = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, mods)
    QApplication.sendEvent(widget, ev)


def drag(view, a: QPoint, b: QPoint, button=Qt.LeftButton, mods=Qt.NoModifier, steps=6):
    """Press at ``a``, move in steps to ``b`` with the button held, release there."""
    mouse(view, QMouseEvent.Type.MouseButtonPress, a, button, mods=mods)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        mouse(view, QMouseEvent.Type.MouseMove, p, button, buttons=button, mods=mods)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, b, button, mods=mods)


def click(view, pos: QPoint, mods=Qt.NoModifier):
    mouse(view, QMouseEvent.Type.MouseButtonPress, pos, mods=mods)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, pos, mods=mods)


def node_center(scene: GraphScene, name: str) -> QPointF:
    item = scene.node_item(name)
    # The middle of the node's body, away from its name text and its ports.
    return item.mapToScene(QPointF(NODE_W / 2, item.height - 8))


def drop_layer(view, type_name: str, scene_pos: QPointF) -> None:
    """A palette drag: enter, move and drop ``type_name`` at ``scene_pos``."""
    mime = QMimeData()
    mime.setData(MIME_LAYER, type_name.encode("utf-8"))
    pos = vp(view, scene_pos)
    widget = view.viewport()
    enter = QDragEnterEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, move)
    assert move.isAccepted()
    drop = QDropEvent(QPointF(pos), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, drop)


def info(shape, params=0, error=None, blocked_by=None, warnings=None):
    return SimpleNamespace(outputs=[(shape, "float32")] if shape is not None else [], params=params,
                           error=error, blocked_by=blocked_by, warnings=warnings or [])  # fmt: skip


def small_shapes():
    return SimpleNamespace(nodes={
        "image": info((None, 28, 28, 1)),
        "conv": info((None, 26, 26, 32), 320),
        "flat": info((None, 21632)),
        "dense": info((None, 10), 216330),
    }, total_params=216650)  # fmt: skip


def graph_with_spare_dense() -> Graph:
    g = small_graph()
    g.add_node(Node("spare", "Dense", {"units": 4}, (780.0, 180.0)))
    return g


# ----------------------------------------------------------------------------- building
def test_scene_shows_every_node_edge_port_and_the_output_marker(canvas, document):
    scene, _view = canvas
    assert sorted(i.name for i in scene.node_items()) == ["conv", "dense", "flat", "image"]
    assert {e.edge for e in scene.edge_items()} == set(document.graph.edges)
    conv = scene.node_item("conv")
    assert conv.type_name == "Conv2D"
    assert [p.name for p in conv.in_ports] == ["inputs"]
    assert len(conv.out_ports) == 1
    assert scene.node_item("image").in_ports == []
    assert "filters 32" in " ".join(conv.param_items) and "kernel 3×3" in conv.param_items
    assert scene.node_item("dense").is_output and not conv.is_output
    assert conv.shape_display == "shape: …"
    # The edge starts at conv's output port and ends at flat's input port.
    edge = scene.edge_item(Edge("conv", 0, "flat", "inputs"))
    path = edge.path()
    assert path.pointAtPercent(0) == scene.port_scene_pos("conv", 0, True)
    assert path.pointAtPercent(1) == scene.port_scene_pos("flat", "inputs", False)


def test_model_events_update_only_what_changed(canvas, document):
    scene, _view = canvas
    conv = scene.node_item("conv")
    document.push(SetParam("conv", "filters", 64))
    assert "filters 64" in conv.param_items
    document.push(Rename("conv", "features"))
    assert scene.node_item("conv") is None and scene.node_item("features") is conv
    assert scene.edge_item(Edge("image", 0, "features", "inputs")) is not None
    document.undo()
    assert scene.node_item("conv") is conv
    assert {e.edge for e in scene.edge_items()} == set(document.graph.edges)


def test_unknown_layer_type_still_draws_grey_with_a_badge(make_document, make_canvas):
    g = small_graph()
    g.add_node(Node("mystery", "NoSuchLayer", {}, (520.0, 200.0)))
    g.add_edge(Edge("conv", 0, "mystery", "inputs"))
    scene, _view = make_canvas(make_document(g))
    item = scene.node_item("mystery")
    assert item.unknown
    assert [p.name for p in item.in_ports] == ["inputs"]  # from its edge
    assert item.badge is not None and "NoSuchLayer" in item.badge.toolTip()


# ----------------------------------------------------------------------------- palette drop
def test_drop_from_palette_adds_a_node_and_undo_redo(canvas, document):
    scene, view = canvas
    target = QPointF(300.0, 250.0)
    drop_layer(view, "Dense", target)
    assert "dense_1" in document.graph
    node = document.graph.node("dense_1")
    assert node.type == "Dense" and node.params == {"units": 32}
    assert abs(node.position[0] - target.x()) <= 1 and abs(node.position[1] - target.y()) <= 1
    assert scene.node_item("dense_1") is not None
    assert scene.selected_names() == ["dense_1"]
    document.undo()
    assert "dense_1" not in document.graph and scene.node_item("dense_1") is None
    document.redo()
    assert scene.node_item("dense_1") is not None


def test_drop_onto_an_edge_inserts_the_node_in_one_step(canvas, document):
    scene, view = canvas
    old = Edge("flat", 0, "dense", "inputs")
    mid = scene.edge_item(old).path().pointAtPercent(0.5)
    before = document.stack.index
    drop_layer(view, "Dropout", mid)
    g = document.graph
    assert "dropout" in g
    assert old not in g.edges
    assert Edge("flat", 0, "dropout", "inputs") in g.edges
    assert Edge("dropout", 0, "dense", "inputs") in g.edges
    assert document.stack.index == before + 1
    document.undo()
    assert old in document.graph.edges and "dropout" not in document.graph


# ----------------------------------------------------------------------------- connecting
def test_drag_from_an_output_to_an_input_connects_with_undo_redo(make_document, make_canvas):
    document = make_document(graph_with_spare_dense())
    scene, view = make_canvas(document)
    a = vp(view, scene.port_scene_pos("flat", 0, True))
    b = vp(view, scene.port_scene_pos("spare", "inputs", False))
    drag(view, a, b)
    edge = Edge("flat", 0, "spare", "inputs")
    assert edge in document.graph.edges
    assert scene.edge_item(edge) is not None
    assert not scene.is_wiring and scene.node_item("spare").in_ports[0].count == 1
    document.undo()
    assert edge not in document.graph.edges and scene.edge_item(edge) is None
    document.redo()
    assert scene.edge_item(edge) is not None


def test_drag_from_an_input_to_an_output_connects_too(make_document, make_canvas):
    document = make_document(graph_with_spare_dense())
    scene, view = make_canvas(document)
    a = vp(view, scene.port_scene_pos("spare", "inputs", False))
    b = vp(view, scene.port_scene_pos("conv", 0, True))
    drag(view, a, b)
    assert Edge("conv", 0, "spare", "inputs") in document.graph.edges


def test_a_connection_that_makes_a_cycle_is_refused_with_a_reason(canvas, document, qtbot):
    scene, view = canvas
    document.push(Disconnect(Edge("conv", 0, "flat", "inputs")))
    edges = set(document.graph.edges)
    a = vp(view, scene.port_scene_pos("dense", 0, True))
    b = vp(view, scene.port_scene_pos("flat", "inputs", False))
    with qtbot.waitSignal(scene.statusMessage, timeout=1000) as blocker:
        drag(view, a, b)
    assert "cycle" in blocker.args[0]
    assert set(document.graph.edges) == edges
    assert not scene.is_wiring


def test_self_loop_and_occupied_input_are_refused(make_document, make_canvas, qtbot):
    document = make_document(graph_with_spare_dense())
    scene, view = make_canvas(document)
    edges = set(document.graph.edges)
    with qtbot.waitSignal(scene.statusMessage, timeout=1000) as blocker:
        drag(view, vp(view, scene.port_scene_pos("spare", 0, True)),
             vp(view, scene.port_scene_pos("spare", "inputs", False)))  # fmt: skip
    assert "itself" in blocker.args[0]
    assert scene.connect_ports("spare", 0, "dense", "inputs") is False
    assert set(document.graph.edges) == edges


def test_variadic_port_takes_the_next_free_slot(make_document, make_canvas):
    g = Graph("merge")
    g.add_node(Node("a", "InputLayer", {"shape": [4]}, (0.0, 0.0)))
    g.add_node(Node("b", "InputLayer", {"shape": [4]}, (0.0, 150.0)))
    g.add_node(Node("cat", "Concatenate", {}, (300.0, 60.0)))
    document = make_document(g)
    scene, view = make_canvas(document)
    for src in ("a", "b"):
        drag(view, vp(view, scene.port_scene_pos(src, 0, True)),
             vp(view, scene.port_scene_pos("cat", "inputs", False)))  # fmt: skip
    assert sorted(document.graph.edges) == [Edge("a", 0, "cat", "inputs", 0),
                                            Edge("b", 0, "cat", "inputs", 1)]  # fmt: skip
    assert scene.node_item("cat").in_ports[0].count == 2


def test_dragging_an_edge_end_off_its_port_disconnects(canvas, document):
    scene, view = canvas
    a = vp(view, scene.port_scene_pos("dense", "inputs", False))
    drag(view, a, a + QPoint(-40, 160))
    assert Edge("flat", 0, "dense", "inputs") not in document.graph.edges
    document.undo()
    assert Edge("flat", 0, "dense", "inputs") in document.graph.edges


# ----------------------------------------------------------------------------- moving
def test_dragging_a_node_moves_it_in_exactly_one_undo_step(canvas, document):
    scene, view = canvas
    before = document.stack.index
    start = document.graph.node("flat").position
    a = vp(view, node_center(scene, "flat"))
    drag(view, a, a + QPoint(30, 90), steps=10)
    pos = document.graph.node("flat").position
    assert pos == pytest.approx((start[0] + 30, start[1] + 90), abs=1)
    assert document.stack.index == before + 1
    # Edges followed the node.
    edge = scene.edge_item(Edge("conv", 0, "flat", "inputs"))
    assert edge.path().pointAtPercent(1) == scene.port_scene_pos("flat", "inputs", False)
    document.undo()
    assert document.graph.node("flat").position == start
    assert (scene.node_item("flat").pos().x(), scene.node_item("flat").pos().y()) == start


def test_dragging_a_selection_moves_all_selected_nodes_in_one_step(canvas, document):
    scene, view = canvas
    scene.select_nodes(["conv", "flat"])
    before = document.stack.index
    starts = {n: document.graph.node(n).position for n in ("conv", "flat", "dense")}
    a = vp(view, node_center(scene, "conv"))
    drag(view, a, a + QPoint(0, 100))
    assert document.graph.node("conv").position[1] == pytest.approx(starts["conv"][1] + 100, abs=1)
    assert document.graph.node("flat").position[1] == pytest.approx(starts["flat"][1] + 100, abs=1)
    assert document.graph.node("dense").position == starts["dense"]
    assert document.stack.index == before + 1


# ----------------------------------------------------------------------------- selection
def test_click_shift_click_select_all_and_the_selection_signal(canvas, qtbot):
    scene, view = canvas
    with qtbot.waitSignal(scene.selectionChangedNames, timeout=1000) as blocker:
        click(view, vp(view, node_center(scene, "conv")))
    assert blocker.args[0] == ["conv"]
    click(view, vp(view, node_center(scene, "dense")), mods=Qt.ShiftModifier)
    assert scene.selected_names() == ["conv", "dense"]
    click(view, vp(view, node_center(scene, "image")), mods=Qt.ControlModifier)
    assert scene.selected_names() == ["image", "conv", "dense"]
    click(view, vp(view, QPointF(400.0, 300.0)))
    assert scene.selected_names() == []
    qtbot.keyClick(view, Qt.Key_A, Qt.ControlModifier)
    assert scene.selected_names() == ["image", "conv", "flat", "dense"]


def test_rubber_band_selects_the_nodes_it_touches(canvas):
    scene, view = canvas
    conv = scene.node_item("conv").sceneBoundingRect()
    flat = scene.node_item("flat").sceneBoundingRect()
    a = vp(view, QPointF(conv.center().x(), conv.top() - 40))
    b = vp(view, QPointF(flat.center().x(), flat.bottom() + 40))
    drag(view, a, b)
    assert scene.selected_names() == ["conv", "flat"]


# ----------------------------------------------------------------------------- delete
def test_delete_removes_the_selected_node_and_its_edges_undo_restores(canvas, document, qtbot):
    scene, view = canvas
    before = document.graph.copy()
    scene.select_nodes(["flat"])
    qtbot.keyClick(view, Qt.Key_Delete)
    g = document.graph
    assert "flat" not in g and all("flat" not in (e.src, e.dst) for e in g.edges)
    assert scene.node_item("flat") is None and len(scene.edge_items()) == 1
    document.undo()
    assert document.graph == before
    assert {e.edge for e in scene.edge_items()} == set(before.edges)


def test_selected_edge_and_backspace_disconnect(canvas, document, qtbot):
    scene, view = canvas
    edge = Edge("conv", 0, "flat", "inputs")
    click(view, vp(view, scene.edge_item(edge).path().pointAtPercent(0.5)))
    assert scene.selected_edges() == [edge]
    qtbot.keyClick(view, Qt.Key_Backspace)
    assert edge not in document.graph.edges
    assert len(document.graph) == 4


# ----------------------------------------------------------------------------- clipboard
def test_copy_paste_keeps_inner_edges_with_new_names_in_one_step(canvas, document, qtbot):
    scene, view = canvas
    scene.select_nodes(["conv", "flat"])
    qtbot.keyClick(view, Qt.Key_C, Qt.ControlModifier)
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasFormat(MIME_NODES) and '"conv"' in mime.text()
    before = document.stack.index
    qtbot.keyClick(view, Qt.Key_V, Qt.ControlModifier)
    g = document.graph
    assert document.stack.index == before + 1
    assert document.stack.undo_text() == "Paste 2 nodes"
    assert "conv_1" in g and "flat_1" in g
    assert Edge("conv_1", 0, "flat_1", "inputs") in g.edges
    assert len(g.edges) == 4  # the outer edges were not copied
    assert g.node("conv_1").position == (g.node("conv").position[0] + 40, g.node("conv").position[1] + 40)
    assert g.node("conv_1").params == g.node("conv").params
    assert scene.selected_names() == ["conv_1", "flat_1"]
    # Pasting again steps further away.
    scene.paste()
    assert g.node("conv_2").position == (g.node("conv").position[0] + 80, g.node("conv").position[1] + 80)
    document.undo()
    document.undo()
    assert len(document.graph) == 4


def test_cut_then_paste_puts_the_nodes_back(canvas, document, qtbot):
    scene, view = canvas
    scene.select_nodes(["dense"])
    qtbot.keyClick(view, Qt.Key_X, Qt.ControlModifier)
    assert "dense" not in document.graph
    scene.paste()
    assert "dense" in document.graph
    assert document.graph.node("dense").position == (780.0, 0.0)


def test_duplicate_copies_without_the_clipboard(canvas, document, qtbot):
    scene, view = canvas
    QGuiApplication.clipboard().setText("not nodes")
    scene.select_nodes(["dense"])
    qtbot.keyClick(view, Qt.Key_D, Qt.ControlModifier)
    assert "dense_1" in document.graph
    assert document.graph.node("dense_1").params == {"units": 10, "activation": "softmax"}
    assert QGuiApplication.clipboard().text() == "not nodes"
    assert scene.selected_names() == ["dense_1"]


# ----------------------------------------------------------------------------- rename
def test_f2_renames_in_place(canvas, document, qtbot):
    scene, view = canvas
    scene.select_nodes(["conv"])
    qtbot.keyClick(view, Qt.Key_F2)
    editor = view.rename_editor
    assert editor.isVisible() and editor.text() == "conv"
    editor.selectAll()
    qtbot.keyClicks(editor, "features")
    qtbot.keyClick(editor, Qt.Key_Return)
    assert "features" in document.graph and "conv" not in document.graph
    assert not editor.isVisible()
    assert scene.node_item("features").name == "features"
    assert scene.selected_names() == ["features"]


def test_a_refused_rename_says_why(canvas, document, qtbot):
    scene, view = canvas
    scene.select_nodes(["conv"])
    scene.rename_selected()
    editor = view.rename_editor
    editor.selectAll()
    qtbot.keyClicks(editor, "flat")
    with qtbot.waitSignal(scene.statusMessage, timeout=1000) as blocker:
        qtbot.keyClick(editor, Qt.Key_Return)
    assert "already exists" in blocker.args[0]
    assert "conv" in document.graph
    qtbot.keyClick(editor, Qt.Key_Escape)
    assert not editor.isVisible()


def test_double_click_on_the_name_starts_renaming(canvas):
    scene, view = canvas
    item = scene.node_item("flat")
    p = vp(view, item.mapToScene(item.name_rect().center()))
    mouse(view, QMouseEvent.Type.MouseButtonPress, p)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, p)
    mouse(view, QMouseEvent.Type.MouseButtonDblClick, p)
    mouse(view, QMouseEvent.Type.MouseButtonRelease, p)
    assert view.rename_editor.isVisible() and view.rename_editor.node_name == "flat"


# ----------------------------------------------------------------------------- view
def test_wheel_zooms_around_the_cursor_within_limits(canvas):
    scene, view = canvas
    pos = vp(view, node_center(scene, "conv"))
    under = view.mapToScene(pos)

    def wheel(delta):
        ev = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                         QPoint(0, delta), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)  # fmt: skip
        QApplication.sendEvent(view.viewport(), ev)

    wheel(240)
    assert view.zoom() > 1.2
    after = view.mapToScene(pos)
    assert abs(after.x() - under.x()) < 2 and abs(after.y() - under.y()) < 2
    for _ in range(20):
        wheel(-480)
    assert view.zoom() == pytest.approx(0.1)
    for _ in range(30):
        wheel(480)
    assert view.zoom() == pytest.approx(4.0)


def test_keyboard_zoom_and_fit_all(canvas, qtbot):
    scene, view = canvas
    qtbot.keyClick(view, Qt.Key_Plus, Qt.ControlModifier)
    assert view.zoom() == pytest.approx(1.2)
    qtbot.keyClick(view, Qt.Key_Minus, Qt.ControlModifier)
    qtbot.keyClick(view, Qt.Key_Minus, Qt.ControlModifier)
    assert view.zoom() < 1.0
    view.set_zoom(3.0)
    view.centerOn(5000, 5000)
    qtbot.keyClick(view, Qt.Key_F)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for item in scene.node_items():
        assert visible.contains(item.mapRectToScene(item.body_rect()))
    assert view.zoom() <= 1.0


def test_middle_button_pans(canvas):
    _scene, view = canvas
    centre = view.viewport().rect().center()
    before = view.mapToScene(centre)
    drag(view, centre, centre + QPoint(100, 50), button=Qt.MiddleButton)
    after = view.mapToScene(centre)
    assert after.x() == pytest.approx(before.x() - 100, abs=1)
    assert after.y() == pytest.approx(before.y() - 50, abs=1)


def test_space_and_left_drag_pans_without_selecting(canvas, qtbot):
    scene, view = canvas
    centre = view.viewport().rect().center()
    before = view.mapToScene(centre)
    qtbot.keyPress(view, Qt.Key_Space)
    drag(view, centre, centre + QPoint(-80, 0))
    qtbot.keyRelease(view, Qt.Key_Space)
    assert view.mapToScene(centre).x() == pytest.approx(before.x() + 80, abs=1)
    assert scene.selected_names() == []


# ----------------------------------------------------------------------------- shapes & badges
def test_set_shapes_shows_the_shape_on_nodes_and_edges(canvas):
    scene, _view = canvas
    scene.set_shapes_pending(True)
    assert scene.node_item("conv").shape_display == "shapes pending"
    scene.set_shapes(small_shapes())
    conv = scene.node_item("conv")
    assert conv.shape_display == "(None, 26, 26, 32)"
    assert conv.count_display == "320 params"
    assert scene.node_item("dense").count_display == "216.3k params"
    edge = scene.edge_item(Edge("conv", 0, "flat", "inputs"))
    assert edge.label_text == "(None, 26, 26, 32)"
    assert edge.label_visible  # 260 units apart: room for the label
    assert scene.edge_item(Edge("flat", 0, "dense", "inputs")).label_text == "(None, 21632)"


def test_shape_errors_and_diagnostics_get_badges_with_the_message(make_document, make_canvas):
    document = make_document(graph_with_spare_dense())
    scene, _view = make_canvas(document)
    diag = [d for d in document.diagnostics if d.node == "spare"]
    assert diag, "an unconnected layer is a diagnostic"
    badge = scene.node_item("spare").badge
    assert badge is not None and badge.severity == "error"
    assert diag[0].message in badge.toolTip()
    assert scene.node_item("conv").badge is None
    shapes = small_shapes()
    shapes.nodes["flat"] = info(None, error="Flatten cannot take a 1-D input.")
    scene.set_shapes(shapes)
    flat = scene.node_item("flat")
    assert flat.shape_display == "shape error"
    assert "Flatten cannot take a 1-D input." in flat.badge.toolTip()
    # Connecting the spare layer clears its diagnostic and its badge.
    scene.connect_ports("flat", 0, "spare", "inputs")
    assert scene.node_item("spare").badge is None or not any(
        d.node == "spare" and d.severity == "error" for d in document.diagnostics)


# ----------------------------------------------------------------------------- outputs, layout
def test_context_menu_marks_and_unmarks_a_model_output(canvas, document):
    scene, _view = canvas
    menu = scene.build_context_menu(node_center(scene, "flat"))
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert {"Rename", "Delete", "Duplicate", "Mark as output"} <= set(actions)
    actions["Mark as output"].trigger()
    assert Output("flat") in document.graph.outputs
    assert scene.node_item("flat").is_output
    menu = scene.build_context_menu(node_center(scene, "flat"))
    [unmark] = [a for a in menu.actions() if a.text() == "Unmark as output"]
    unmark.trigger()
    assert document.graph.outputs == [Output("dense")]
    empty = scene.build_context_menu(QPointF(300, 400))
    assert {"Add layer…", "Paste", "Arrange nodes"} <= {a.text() for a in empty.actions()}


def test_auto_layout_is_one_undo_step(make_document, make_canvas, qtbot):
    g = small_graph()
    for i, n in enumerate(g.nodes):
        g.move_node(n.name, (37.0 * i, 300.0 * (i % 2)))
    document = make_document(g)
    scene, view = make_canvas(document)
    index = document.stack.index
    qtbot.keyClick(view, Qt.Key_L, Qt.ControlModifier)
    assert document.stack.index == index + 1
    assert document.stack.undo_text() == "Arrange nodes"
    assert {n.position[1] for n in document.graph.nodes} == {0.0}
    xs = [document.graph.node(n).position[0] for n in ("image", "conv", "flat", "dense")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert scene.node_item("conv").pos().x() == xs[1]
    document.undo()
    assert document.graph.node("conv").position == (37.0, 300.0)
    assert scene.node_item("conv").pos().y() == 300.0


# ----------------------------------------------------------------------------- nested models
def nested_graph() -> Graph:
    inner = Graph("block")
    inner.add_node(Node("x", "InputLayer", {"shape": [8]}, (0.0, 0.0)))
    inner.add_node(Node("hidden", "Dense", {"units": 8}, (260.0, 0.0)))
    inner.add_edge(Edge("x", 0, "hidden", "inputs"))
    inner.set_outputs([Output("hidden")])
    g = Graph("outer")
    g.add_node(Node("inp", "InputLayer", {"shape": [8]}, (0.0, 0.0)))
    g.add_node(Node("block", "Model", {}, (260.0, 0.0), subgraph=inner))
    g.add_node(Node("head", "Dense", {"units": 1}, (520.0, 0.0)))
    g.add_edge(Edge("inp", 0, "block", "x"))
    g.add_edge(Edge("block", 0, "head", "inputs"))
    g.set_outputs([Output("head")])
    return g


def test_nested_model_opens_on_double_click_edits_inside_and_goes_back(make_document, make_canvas, qtbot):
    document = make_document(nested_graph())
    scene, view = make_canvas(document)
    block = scene.node_item("block")
    assert block.is_model and [p.name for p in block.in_ports] == ["x"]
    assert [p.name for p in block.out_ports] == ["output_0"]
    p = vp(view, node_center(scene, "block"))
    with qtbot.waitSignal(scene.pathChanged, timeout=1000) as blocker:
        mouse(view, QMouseEvent.Type.MouseButtonPress, p)
        mouse(view, QMouseEvent.Type.MouseButtonRelease, p)
        mouse(view, QMouseEvent.Type.MouseButtonDblClick, p)
        mouse(view, QMouseEvent.Type.MouseButtonRelease, p)
    assert blocker.args[0] == ["block"]
    assert scene.path == ["block"]
    assert sorted(i.name for i in scene.node_items()) == ["hidden", "x"]
    # An edit inside goes to the nested graph, as one undoable step.
    view.set_zoom(1.0)
    view.centerOn(scene.items_rect().center())
    drop_layer(view, "Dropout", QPointF(300.0, 200.0))
    inner = document.graph.node("block").subgraph
    assert "dropout" in inner and "dropout" not in document.graph
    assert scene.node_item("dropout") is not None
    # Moving a node inside is one step too, and undo reaches the nested graph.
    a = vp(view, node_center(scene, "hidden"))
    drag(view, a, a + QPoint(0, 60))
    assert inner.node("hidden").position[1] == pytest.approx(60, abs=1)
    document.undo()
    assert document.graph.node("block").subgraph.node("hidden").position == (260.0, 0.0)
    assert scene.node_item("hidden").pos().y() == 0.0
    document.undo()
    assert scene.node_item("dropout") is None
    # A new input inside gives the outer Model node a port.
    drop_layer(view, "InputLayer", QPointF(0.0, 200.0))
    assert "input_layer" in inner
    with qtbot.waitSignal(scene.pathChanged, timeout=1000) as blocker:
        scene.go_up()
    assert blocker.args[0] == []
    assert sorted(i.name for i in scene.node_items()) == ["block", "head", "inp"]
    assert [p.name for p in scene.node_item("block").in_ports] == ["x", "input_layer"]


def test_opening_a_path_that_is_not_a_model_stays_at_the_nearest_valid_level(make_document, make_canvas):
    document = make_document(nested_graph())
    scene, _view = make_canvas(document)
    scene.open_path(["head"])
    assert scene.path == []
    scene.open_path(["block"])
    assert scene.path == ["block"]
    # Removing the outer Model node while inside it goes back up.
    from studio.core.commands import RemoveNodes

    document.push(RemoveNodes(document.graph, ["block"]))
    assert scene.path == []
    assert scene.node_item("block") is None


# ----------------------------------------------------------------------------- quick add
def test_tab_opens_quick_add_and_enter_adds_the_layer(canvas, document, qtbot):
    scene, view = canvas
    qtbot.keyClick(view, Qt.Key_Tab)
    popup = view.quick_add
    assert popup is not None and popup.isVisible()
    qtbot.keyClicks(popup.edit, "zzzz")
    assert popup.current_type() is None and popup.list.count() == 0
    popup.edit.clear()
    qtbot.keyClicks(popup.edit, "Dropout")
    assert popup.current_type() == "Dropout"
    qtbot.keyClick(popup.edit, Qt.Key_Return)
    assert "dropout" in document.graph
    assert not popup.isVisible()
    assert scene.selected_names() == ["dropout"]


def test_a_wire_released_on_the_canvas_offers_a_connected_layer(canvas, document, qtbot):
    scene, view = canvas
    a = vp(view, scene.port_scene_pos("dense", 0, True))
    drag(view, a, a + QPoint(120, 0))
    popup = view.quick_add
    assert popup is not None and popup.isVisible()
    before = document.stack.index
    qtbot.keyClicks(popup.edit, "Dropout")
    qtbot.keyClick(popup.edit, Qt.Key_Return)
    assert Edge("dense", 0, "dropout", "inputs") in document.graph.edges
    assert document.stack.index == before + 1
    # The new node's input sits where the wire was released.
    assert scene.port_scene_pos("dropout", "inputs", False).y() == pytest.approx(
        scene.port_scene_pos("dense", 0, True).y(), abs=1)


def test_quick_add_ranks_prefix_matches_first(canvas):
    _scene, view = canvas
    popup = view.open_quick_add(QPointF(0, 300))
    assert popup.matches("conv2d")[0] == "Conv2D"
    assert popup.matches("dense")[0] == "Dense"
    assert "ops.Add" in popup.matches("add")
    popup.close()


# ----------------------------------------------------------------------------- speed
def test_a_thousand_node_chain_builds_quickly(make_document, qapp):
    g = Graph("chain")
    g.add_node(Node("input", "InputLayer", {"shape": [16]}, (0.0, 0.0)))
    prev = "input"
    for i in range(999):
        name = f"dense_{i}"
        g.add_node(Node(name, "Dense", {"units": 16, "activation": "relu"},
                        (260.0 * ((i + 1) % 40), 120.0 * ((i + 1) // 40))))  # fmt: skip
        g.add_edge(Edge(prev, 0, name, "inputs"))
        prev = name
    g.set_outputs([Output(prev)])
    document = make_document(g)
    start = time.perf_counter()
    scene = GraphScene(document)
    built = time.perf_counter() - start
    shapes = SimpleNamespace(nodes={n.name: info((None, 16), 272) for n in g.nodes})
    start = time.perf_counter()
    scene.set_shapes(shapes)
    shaped = time.perf_counter() - start
    print(f"\n1,000-node chain: items built in {built * 1000:.0f} ms, shapes applied in {shaped * 1000:.0f} ms")
    assert len(scene.node_items()) == 1000 and len(scene.edge_items()) == 999
    assert built < 2.0
    assert shaped < 2.0


def test_center_on_node_and_zoom_to_selection(canvas, qtbot):
    scene, view = canvas
    view.set_zoom(2.0)
    scene.center_on_node("dense")
    centre = view.mapToScene(view.viewport().rect().center())
    assert scene.node_item("dense").sceneBoundingRect().contains(centre)
    scene.select_nodes(["image", "conv"])
    qtbot.keyClick(view, Qt.Key_F, Qt.ShiftModifier)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    for name in ("image", "conv"):
        item = scene.node_item(name)
        assert visible.contains(item.mapRectToScene(item.body_rect()))


def test_context_menu_opens_a_nested_model(make_document, make_canvas):
    document = make_document(nested_graph())
    scene, _view = make_canvas(document)
    menu = scene.build_context_menu(node_center(scene, "block"))
    [open_action] = [a for a in menu.actions() if a.text() == "Open nested model"]
    open_action.trigger()
    assert scene.path == ["block"]
    menu = scene.build_context_menu(QPointF(2000, 2000))
    [back] = [a for a in menu.actions() if a.text() == "Back to outer model"]
    back.trigger()
    assert scene.path == []
