"""Fixtures for the editor's widgets: a small document, and a shown canvas on it."""

from __future__ import annotations

import pytest

from studio.core.graph import Edge, Graph, Node, Output
from studio.project import Project


def small_graph() -> Graph:
    """image -> conv -> flat -> dense (the model output), laid out on one row."""
    g = Graph("small")
    g.add_node(Node("image", "InputLayer", {"shape": [28, 28, 1]}, (0.0, 0.0)))
    g.add_node(Node("conv", "Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"},
                    (260.0, 0.0)))  # fmt: skip
    g.add_node(Node("flat", "Flatten", {}, (520.0, 0.0)))
    g.add_node(Node("dense", "Dense", {"units": 10, "activation": "softmax"}, (780.0, 0.0)))
    g.add_edge(Edge("image", 0, "conv", "inputs"))
    g.add_edge(Edge("conv", 0, "flat", "inputs"))
    g.add_edge(Edge("flat", 0, "dense", "inputs"))
    g.set_outputs([Output("dense")])
    return g


@pytest.fixture
def make_document(qapp):
    """``make_document(graph=None)``: a Document on ``graph`` (default :func:`small_graph`)."""
    from studio.ui.document import Document

    def make(graph: Graph | None = None):
        graph = graph if graph is not None else small_graph()
        return Document(Project(name=graph.name, graph=graph))

    return make


@pytest.fixture
def document(make_document):
    return make_document()


@pytest.fixture
def make_canvas(qtbot):
    """``make_canvas(document)`` -> (scene, view): a 1100x600 view, shown, fitted."""

    def make(document):
        from studio.ui.canvas import GraphScene, GraphView

        scene = GraphScene(document)
        view = GraphView(scene)
        qtbot.addWidget(view)
        view.resize(1100, 600)
        view.show()
        qtbot.waitExposed(view)
        view.set_zoom(1.0)
        view.centerOn(scene.items_rect().center())
        view.setFocus()
        return scene, view

    return make


@pytest.fixture
def canvas(document, make_canvas):
    return make_canvas(document)


@pytest.fixture
def make_window(qtbot, tmp_path):
    """``make_window(document=None, recovery_dir=None)``: a shown MainWindow with its own
    settings file and recovery folder in ``tmp_path``; closed without asking at teardown."""
    from PySide6.QtCore import QSettings

    from studio.ui.mainwindow import MainWindow
    from studio.ui.recovery import RecoveryStore

    windows = []

    def make(document=None, recovery_dir=None):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        store = RecoveryStore(recovery_dir or tmp_path / "recovery")
        window = MainWindow(document, settings=settings, recovery=store)
        # Not qtbot.addWidget: pytest-qt would close it before this fixture's teardown,
        # and a window with unsaved changes asks before closing.
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for w in windows:
        w.maybe_save = lambda: True  # closing at teardown never asks
        w.close()
        w.engine.shutdown()
        w.deleteLater()
