"""The personal block library: a folder of ``<name>.studio-block.json`` files (pure Python).

One file holds one block definition, so the library is shared by every project and can be
copied, synced or put under version control like any folder::

    {
      "format": "studio.block",
      "version": 1,
      "name": "conv_block",
      "description": "Conv2D, BatchNormalization, ReLU",
      "created": "2025-01-31T12:00:00+00:00",
      "modified": "2025-01-31T12:00:00+00:00",
      "graph": <the definition, as a project file's graph; "blocks" holds the blocks it uses>
    }

The folder is a parameter: the editor passes ``QStandardPaths.AppDataLocation/blocks``, tests a
temporary folder. Writes are atomic (:func:`studio.project.runs.write_text_atomic`). Every
error is a :class:`BlockLibraryError` whose message names the file. As with projects, nothing
in a block file is executed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from studio.core.graph import Graph
from studio.project.io import ProjectError, graph_from_dict, graph_to_dict

FORMAT = "studio.block"
VERSION = 1
SUFFIX = ".studio-block.json"


class BlockLibraryError(Exception):
    """A block file that cannot be read or written; the message names the file."""

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None


@dataclass
class LibraryBlock:
    name: str
    graph: Graph
    description: str
    created: str
    modified: str
    path: Path


def file_stem(name: str) -> str:
    """A file-name-safe form of a block name (``conv/block`` -> ``conv_block``)."""
    return re.sub(r"[^\w.-]+", "_", name).strip(".") or "block"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class BlockLibrary:
    """Read, write and delete the block files of ``folder`` (created on the first write)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def path_for(self, name: str) -> Path:
        return self.folder / f"{file_stem(name)}{SUFFIX}"

    def files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file())

    def list(self) -> tuple[list[LibraryBlock], list[BlockLibraryError]]:
        """The blocks that read, by name, and an error for each file that did not."""
        blocks, errors = [], []
        for path in self.files():
            try:
                blocks.append(self.read_file(path))
            except BlockLibraryError as exc:
                errors.append(exc)
        blocks.sort(key=lambda b: b.name.lower())
        return blocks, errors

    def names(self) -> list[str]:
        return [b.name for b in self.list()[0]]

    def read(self, name: str) -> LibraryBlock:
        path = self.path_for(name)
        if not path.exists():
            raise BlockLibraryError(f"{path.name}: there is no block named '{name}'.", path)
        return self.read_file(path)

    def read_file(self, path: str | os.PathLike) -> LibraryBlock:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise BlockLibraryError(f"{path.name} cannot be read: {exc}", path) from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BlockLibraryError(f"{path.name} is not valid JSON: {exc}", path) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BlockLibraryError(f"{path.name} is not a Studio block file.", path)
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
            raise BlockLibraryError(
                f"{path.name} was saved by a newer Studio (block format version {version!r}; "
                f"this Studio reads up to {VERSION}).",
                path,
            )
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise BlockLibraryError(f"{path.name} has no block name.", path)
        try:
            graph = graph_from_dict(data.get("graph"), path.name)
        except ProjectError as exc:
            raise BlockLibraryError(str(exc), path) from None
        if graph.code:
            # It would reach a project's blocks, where code is never shown nor trusted.
            raise BlockLibraryError(
                f"{path.name}: the block has \"code\": code definitions belong to the "
                "project's top-level graph.",
                path,
            )
        graph.name = name
        description = data.get("description") or ""
        return LibraryBlock(
            name=name,
            graph=graph,
            description=description if isinstance(description, str) else "",
            created=str(data.get("created") or ""),
            modified=str(data.get("modified") or ""),
            path=path,
        )

    def write(self, name: str, definition: Graph, description: str = "") -> Path:
        """Save ``definition`` (with the definitions it uses in its ``blocks``) as ``name``,
        replacing a block of that name (its creation time is kept)."""
        path = self.path_for(name)
        created = _now()
        if path.exists():
            try:
                created = self.read_file(path).created or created
            except BlockLibraryError:
                pass
        graph = definition.copy()
        graph.name = name
        try:
            graph_data = graph_to_dict(graph)
        except ProjectError as exc:
            raise BlockLibraryError(f"{path.name}: {exc.message}", path) from None
        data = {
            "format": FORMAT,
            "version": VERSION,
            "name": name,
            "description": description,
            "created": created,
            "modified": _now(),
            "graph": graph_data,
        }
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        from studio.project.runs import write_text_atomic

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
        except OSError as exc:
            raise BlockLibraryError(f"{path.name} could not be written: {exc}", path) from None
        return path

    def delete(self, name: str) -> None:
        path = self.path_for(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise BlockLibraryError(
                f"{path.name}: there is no block named '{name}'.", path
            ) from None
        except OSError as exc:
            raise BlockLibraryError(f"{path.name} could not be deleted: {exc}", path) from None


def definition_for_library(root: Graph, block: str) -> Graph:
    """The definition ``block`` of ``root`` with the definitions it uses in its ``blocks``,
    self-contained for a library file."""
    from studio.core.blocks import blocks_used

    definition = root.blocks[block].copy()
    deps = blocks_used(root.blocks[block], root)
    definition.blocks = {d: root.blocks[d].copy() for d in sorted(deps) if d in root.blocks}
    definition.link_blocks()
    return definition
