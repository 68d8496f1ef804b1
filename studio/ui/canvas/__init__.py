"""The node editor: a hand-written QGraphicsScene/QGraphicsView over the document's graph.

* :class:`GraphScene` shows the document's graph (or a nested one, :meth:`GraphScene.open_path`)
  and turns gestures into commands: items only paint and report hits, commands change the
  model, and the scene redraws from the model's events.
* :class:`GraphView` zooms, pans, draws the grid and handles the canvas' keys.
"""

from studio.ui.canvas.clipboard import MIME_NODES
from studio.ui.canvas.items import BadgeItem, EdgeItem, NodeItem, Port
from studio.ui.canvas.scene import MIME_LAYER, GraphScene
from studio.ui.canvas.style import CATEGORY_COLORS, snake_case
from studio.ui.canvas.view import GraphView, QuickAddPopup

__all__ = [
    "BadgeItem",
    "CATEGORY_COLORS",
    "EdgeItem",
    "GraphScene",
    "GraphView",
    "MIME_LAYER",
    "MIME_NODES",
    "NodeItem",
    "Port",
    "QuickAddPopup",
    "snake_case",
]
