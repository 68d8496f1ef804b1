"""Where Studio's bundled resources (catalog, examples, templates, icons, styles) live."""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

# In a checkout (and its editable install), resources/ sits beside the package. A wheel ships
# it inside the package as studio/_resources/ (see setup.py), and so does the PyInstaller
# application, under its bundle folder (sys._MEIPASS; see packaging/studio.spec).
_CANDIDATES = tuple(
    dict.fromkeys(
        [_PACKAGE / "_resources"]
        + (
            [Path(sys._MEIPASS) / "studio" / "_resources"]
            if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS")
            else []
        )
        + [_PACKAGE.parent / "resources"]
    )
)


def resources_dir() -> Path:
    for candidate in _CANDIDATES:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("Studio's resources folder is missing from this installation.")


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def example_path(name: str) -> Path:
    return resource_path("examples", name)
