"""Pictures of the graph as the canvas draws it: PNG and SVG, for papers and slides.

The scene renders itself (nodes, wires, shape labels) onto a white page cropped to the
graph, without the view's grid, selection or hover highlights. Files are written atomically:
a temporary file beside the target, then a rename.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter

PICTURE_FORMATS = ("png", "svg")
MARGIN = 32.0


def _page(scene) -> QRectF:
    rect = scene.items_rect()
    for item in scene.edge_items():  # wires that bulge outside the nodes' box
        rect = rect.united(item.sceneBoundingRect())
    if rect.isNull():
        rect = QRectF(0, 0, 200, 120)
    return rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)


def _temp_beside(path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


def render_picture(scene, path: str | os.PathLike, fmt: str | None = None, scale: float = 2.0) -> Path:
    """Write a PNG (``scale`` pixels per scene unit) or an SVG of ``scene``'s graph.

    Raises OSError when the file cannot be written (nothing is left half-written)."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in PICTURE_FORMATS:
        raise ValueError(f"Pictures are PNG or SVG, not {fmt!r}.")
    from PySide6.QtWidgets import QGraphicsItem

    selected = scene.selectedItems()
    for item in selected:  # a clean picture: no selection highlight
        item.setSelected(False)
    # Nodes cache themselves as screen bitmaps; a picture draws them afresh, so an SVG gets
    # real text and shapes and a PNG is sharp at any scale.
    cached = [(item, item.cacheMode()) for item in scene.node_items()]
    for item, _mode in cached:
        item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    source = _page(scene)
    tmp = _temp_beside(path)
    try:
        if fmt == "png":
            size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
            image = QImage(size, QImage.Format.Format_ARGB32)
            image.fill(QColor(Qt.GlobalColor.white))
            painter = QPainter(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            scene.render(painter, QRectF(image.rect()), source)
            painter.end()
            if not image.save(str(tmp), "PNG"):
                raise OSError(f"Could not write {path}.")
        else:
            from PySide6.QtSvg import QSvgGenerator

            generator = QSvgGenerator()
            generator.setFileName(str(tmp))
            generator.setSize(QSize(round(source.width()), round(source.height())))
            generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
            generator.setTitle(scene.graph.name)
            generator.setDescription("A network drawn by Studio")
            painter = QPainter(generator)
            painter.fillRect(QRectF(0, 0, source.width(), source.height()), Qt.GlobalColor.white)
            scene.render(painter, QRectF(0, 0, source.width(), source.height()), source)
            painter.end()
            if tmp.stat().st_size == 0:
                raise OSError(f"Could not write {path}.")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, not mkstemp's private one
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        for item, mode in cached:
            item.setCacheMode(mode)
        for item in selected:
            item.setSelected(True)
    return path


def render_project_picture(project, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """A picture of ``project``'s graph without a window (``studio export --format png``):
    shapes are inferred in this process, then the canvas draws the graph."""
    from PySide6.QtWidgets import QApplication

    from studio.engine.shapes import infer_shapes
    from studio.ui.canvas import GraphScene
    from studio.ui.document import Document

    app = QApplication.instance() or QApplication([])
    scene = GraphScene(Document(project))
    scene.set_shapes(infer_shapes(project.graph))
    app.processEvents()
    return render_picture(scene, path, fmt)


def render_image(scene, size: QSize) -> QImage:
    """A picture of ``scene``'s graph fitted into ``size`` (aspect kept, centred on white),
    cropped to the nodes (wires that bulge further out are cut): a thumbnail, such as the
    template gallery shows, drawn without a file."""
    from PySide6.QtWidgets import QGraphicsItem

    cached = [(item, item.cacheMode()) for item in scene.node_items()]
    for item, _mode in cached:
        item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    try:
        source = scene.items_rect()
        if source.isNull():
            source = QRectF(0, 0, 200, 120)
        source = source.adjusted(-MARGIN / 2, -MARGIN / 2, MARGIN / 2, MARGIN / 2)
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(QColor(Qt.GlobalColor.white))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        scale = min(size.width() / source.width(), size.height() / source.height())
        target = QRectF(0, 0, source.width() * scale, source.height() * scale)
        target.moveCenter(QRectF(image.rect()).center())
        scene.render(painter, target, source)
        painter.end()
    finally:
        for item, mode in cached:
            item.setCacheMode(mode)
    return image
