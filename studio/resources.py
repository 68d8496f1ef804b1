"""Where Studio's bundled resources (catalog, examples, icons) live."""

from __future__ import annotations

from pathlib import Path

# resources/ sits beside the package in a checkout; an installed build ships it inside.
_CANDIDATES = (
    Path(__file__).resolve().parent / "resources",
    Path(__file__).resolve().parent.parent / "resources",
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
