"""Reusable blocks in the editor: Group into Block and Ungroup on the real canvas, the
palette's "My Blocks" across windows, and a block used twice drawn from one definition."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QInputDialog

from studio.core.commands import InSubgraph, SetParam
from studio.project.blocks import BlockLibrary
from studio.ui.document import Document

from .conftest import small_graph
from .test_canvas import drag, node_center, vp


def _info(shape):
    return SimpleNamespace(outputs=[(shape, "float32")], params=0, error=None, blocked_by=None,
                           warnings=[])  # fmt: skip


def _small_shapes():
    return SimpleNamespace(nodes={
        "image": _info((None, 28, 28, 1)),
        "conv": _info((None, 26, 26, 32)),
        "flat": _info((None, 21632)),
        "dense": _info((None, 10)),
    }, total_params=0, seconds=0.0)  # fmt: skip


@pytest.fixture
def make_window(make_window, tmp_path):
    """The conftest window, with a block library in ``tmp_path``."""
    library = BlockLibrary(tmp_path / "library")

    def make(document=None):
        window = make_window(document)
        window.block_actions.set_library(library)
        return window

    return make


def test_group_with_the_rubber_band_then_ungroup_gives_back_the_graph(
    make_window, qtbot, monkeypatch
):
    from studio.project import Project

    w = make_window(Document(Project(name="small", graph=small_graph())))
    w.scene.set_shapes(_small_shapes())  # what the engine process would have sent
    original = w.document.graph.copy()
    scene, view = w.scene, w.view
    view.set_zoom(1.0)
    view.centerOn(scene.items_rect().center())
    qtbot.wait(10)
    # Rubber band around conv and flat.
    conv = scene.node_item("conv").sceneBoundingRect()
    flat = scene.node_item("flat").sceneBoundingRect()
    drag(view, vp(view, QPointF(conv.center().x(), conv.top() - 40)),
         vp(view, QPointF(flat.center().x(), flat.bottom() + 40)))  # fmt: skip
    assert scene.selected_names() == ["conv", "flat"]
    # Ctrl+G, the name prompt answered "features".
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("features", True))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key_G, Qt.ControlModifier)
    g = w.document.graph
    assert [n.name for n in g.nodes] == ["image", "features", "dense"]
    use = g.node("features")
    assert use.block == "features" and use.subgraph is g.blocks["features"]
    assert [n.name for n in use.subgraph.nodes] == ["image", "conv", "flat"]
    assert use.subgraph.input_nodes[0].params == {"shape": [28, 28, 1]}
    assert scene.node_item("features").is_model and scene.selected_names() == ["features"]
    assert w.act_undo.text() == "&Undo Group into block features"
    # Ungroup from the Edit menu's action (Ctrl+Shift+G): the same structure as before,
    # and the same positions (the layers keep theirs; the block had its own).
    qtbot.keyClick(view, Qt.Key_G, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.document.graph.structure() == original.structure()
    assert w.document.graph.signature() == original.signature()
    assert w.document.graph.blocks == {}
    assert {i.name for i in scene.node_items()} == {"image", "conv", "flat", "dense"}
    # Undo twice: grouped again, then the original.
    w.document.undo()
    assert "features" in w.document.graph and w.document.graph.node("features").block
    w.document.undo()
    assert w.document.graph.signature() == original.signature()
    # Refusals are said in the status bar.
    scene.select_nodes(["image", "conv"])
    w.block_actions.act_group.trigger()
    assert "InputLayer" in w.statusBar().currentMessage()
    assert w.document.graph.signature() == original.signature()


def test_block_used_twice_redraws_both_uses_and_the_library_reaches_another_window(
    make_window, qtbot, tmp_path
):
    from studio.project import Project

    w = make_window(Document(Project(name="small", graph=small_graph())))
    w.scene.set_shapes(_small_shapes())
    w.scene.select_nodes(["flat", "dense"])
    assert w.block_actions.group_selection("head")
    use2 = w.block_actions.add_use("head", (600.0, 250.0))
    assert use2 == "head_1"
    g = w.document.graph
    assert g.node("head").subgraph is g.node("head_1").subgraph
    # An edit inside one use (as the canvas does when the nested graph is open) redraws both.
    w.scene.open_path(["head"])
    w.scene.push(SetParam("dense", "units", 7))
    assert g.node("head_1").subgraph.node("dense").params["units"] == 7
    w.scene.open_path([])
    w.document.push(InSubgraph(["head_1"], SetParam("dense", "units", 5)))
    assert g.node("head").subgraph.node("dense").params["units"] == 5
    w.document.undo()
    assert g.node("head").subgraph.node("dense").params["units"] == 7
    # Compile as inline, from the inspector's combo.
    w.scene.select_nodes(["head_1"])
    qtbot.waitUntil(lambda: w.inspector.compile_combo.isVisible())
    w.inspector.compile_combo.setCurrentIndex(1)
    w.inspector.compile_combo.activated.emit(1)
    assert g.node("head_1").params == {"compile": "inline"}
    assert g.node("head").params == {}
    # Save the block to the library: the palette's My Blocks shows it, here and in a new
    # window with a new project.
    path = w.block_actions.save_to_library("head")
    assert path is not None and path.name == "head.studio-block.json"
    assert w.layer_palette.item_for("block:head") is not None

    w2 = make_window()
    from studio.ui.panels.palette import BLOCKS_CATEGORY

    item = w2.layer_palette.item_for("block:head")
    assert item is not None and item.parent().text(0) == BLOCKS_CATEGORY
    # Double-click (activation) inserts a use of it into the new project.
    w2.layer_palette.layerActivated.emit("block:head")
    g2 = w2.document.graph
    assert [n.name for n in g2.nodes] == ["head"] and g2.node("head").block == "head"
    assert g2.blocks["head"].node("dense").params["units"] == 7
    # Dropping it again adds a second use of the same definition.
    from .test_canvas import drop_layer

    drop_layer(w2.view, "block:head", QPointF(300, 300))
    assert [n.name for n in g2.nodes] == ["head", "head_1"]
    assert set(g2.blocks) == {"head"}
    assert g2.node("head_1").subgraph is g2.blocks["head"]
    # The node menu of a use offers the block entries; Make Unique detaches it.
    menu = w2.scene.build_context_menu(node_center(w2.scene, "head"), w2.view)
    texts = [a.text() for a in menu.actions()]
    assert {"Group into Block…", "Ungroup", "Make Unique", "Save Block to Library…"} <= set(texts)
    next(a for a in menu.actions() if a.text() == "Make Unique").trigger()
    assert g2.node("head").block is None and g2.node("head_1").block == "head"
    assert g2.node("head").subgraph is not g2.blocks["head"]


@pytest.mark.slow
def test_a_library_block_inserted_in_a_new_project_builds(make_window, tmp_path, qtbot):
    from studio.core.graph import Edge, Node, Output
    from studio.project import Project

    w = make_window(Document(Project(name="small", graph=small_graph())))
    w.scene.set_shapes(_small_shapes())
    w.scene.select_nodes(["conv", "flat"])
    assert w.block_actions.group_selection("features")
    assert w.block_actions.save_to_library("features") is not None
    w2 = make_window()
    g = w2.document.graph
    w2.document.push(
        __import__("studio.core.commands", fromlist=["AddNode"]).AddNode(
            Node("img", "InputLayer", {"shape": [28, 28, 1]})
        )
    )
    use = w2.block_actions.insert_from_library("features", (200.0, 0.0))
    from studio.core.commands import Connect, SetOutputs

    w2.document.push(Connect(Edge("img", 0, use, "image")))
    w2.document.push(SetOutputs([Output(use)]))
    from studio.engine.build import build_model

    model = build_model(g)
    assert model.output.shape == (None, 21632)


def test_a_copied_use_pastes_as_a_plain_nested_model():
    from studio.core.commands import UndoStack
    from studio.ui.canvas.clipboard import (
        parse_payload,
        paste_command,
        payload_text,
        selection_payload,
    )

    from ..unit.test_blocks import _twice

    g = _twice()
    copied = parse_payload(payload_text(selection_payload(g, ["blk_1"])))
    assert copied is not None and copied.node("blk_1").subgraph is not None
    command, names = paste_command(g, copied, (10.0, 10.0))
    stack = UndoStack(g)
    stack.push(command)
    pasted = g.node(names[0])
    assert pasted.block is None and pasted.subgraph.structure() == g.blocks["blk"].structure()
