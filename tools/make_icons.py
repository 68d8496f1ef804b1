"""Render Studio's application icon, resources/icons/studio.svg, as PNGs.

Run ``python tools/make_icons.py``; it writes ``resources/icons/studio-<size>.png`` for each
size in ``SIZES``, rendered with Qt's SVG renderer (QSvgRenderer). ``--check`` exits 1 when a
PNG is missing or its pixels differ from what this script renders now (pixels, not bytes:
PNG encoders may differ between Qt builds).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "studio.svg"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def png_path(size: int) -> Path:
    return ICONS / f"studio-{size}.png"


def render(size: int):
    """The icon at ``size`` x ``size`` pixels (a QImage, transparent outside the tile)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG.")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def _same(a, b, tolerance: int = 2) -> bool:
    """Pixels equal within ``tolerance`` per channel (antialiasing may differ by a step)."""
    if a.size() != b.size():
        return False
    from PySide6.QtGui import QImage

    a = a.convertToFormat(QImage.Format.Format_ARGB32)
    b = b.convertToFormat(QImage.Format.Format_ARGB32)
    da, db = bytes(a.constBits()), bytes(b.constBits())
    return all(abs(x - y) <= tolerance for x, y in zip(da, db)) and len(da) == len(db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when a PNG is missing or stale"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    stale = []
    for size in SIZES:
        image = render(size)
        path = png_path(size)
        if args.check:
            if not path.is_file() or not _same(QImage(str(path)), image):
                stale.append(path.name)
        elif not image.save(str(path), "PNG"):
            raise SystemExit(f"Could not write {path}.")
    if args.check:
        if stale:
            print("Stale icons (run python tools/make_icons.py): " + ", ".join(stale))
            return 1
        print(f"{len(SIZES)} icons are up to date.")
        return 0
    print(f"Wrote {len(SIZES)} icons to {ICONS.relative_to(ROOT)}/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
