"""Reading and writing project files (``<name>.studio.json``).

A project file is plain JSON holding the network (:class:`~studio.core.graph.Graph`, nested
models included), free-form settings and the relative path of a weights file. Weights and run
history live in the runs folder ``<name>.runs/`` beside the file, never inside it. Loading only
parses JSON: nothing in a file is ever executed (no pickle, no eval, no imports).

Writing is canonical: the same project always gives the same bytes (fixed key order, sorted
parameter keys, nodes in graph order, sorted edges, positions rounded to 0.1), so files diff
cleanly and ``save -> open -> save`` is byte-identical. Saving is atomic: a temp file in the same
folder is written, flushed, fsynced and moved over the target with :func:`os.replace`.

Loading checks the *structure* of the file (that it is a Studio project, that every node has a
name and a type, that connections and outputs name existing nodes, ...) and raises a
:class:`ProjectError` whose ``str()`` is a sentence for the user, with the file name and, where
it can be found, the line. It does not check *meaning*: unknown layer types, cycles and bad
parameter values load fine and are reported by the validator.

This module imports neither Qt nor TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.graph import Edge, Graph, GraphError, Node, Output

FORMAT = "studio.project"
FORMAT_VERSION = 1
PROJECT_SUFFIX = ".studio.json"
RUNS_SUFFIX = ".runs"

#: Upgrades of the file's dict: ``MIGRATIONS[n]`` turns a format-``n`` dict into format ``n+1``.
#: :func:`migrate` applies them in order up to :data:`FORMAT_VERSION`. Empty while version 1
#: is the only format there has been.
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}

#: Every :attr:`ProjectError.kind`.
ERROR_KINDS = (
    "unreadable",  # missing, a folder, no permission, I/O error
    "empty",  # nothing (or only blank space) in the file
    "encoding",  # not UTF-8 text
    "json",  # not valid JSON, or truncated JSON
    "format",  # valid JSON but not a Studio project (top level not an object, wrong "format")
    "version",  # "version" missing, not an integer, newer than supported, or not migratable
    "structure",  # a Studio project whose content is malformed (nodes, edges, outputs, ...)
    "unsavable",  # save: a value that JSON cannot hold (a set, an object, a non-string key)
    "unwritable",  # save: the file could not be written
)


class ProjectError(Exception):
    """A project file that cannot be read (or written), with a sentence that says why.

    Attributes:
        message: what is wrong, one sentence, without the file name.
        path: the file (or the ``source`` given to :func:`project_from_dict`), or None.
        line, column: 1-based position in the file, when known.
        node: the name of the offending node, when the error is about one.
        node_path: for a node inside nested models, the names from the top graph down to it.
        kind: one of :data:`ERROR_KINDS`.

    ``str(error)`` is the full sentence: ``"mnist.studio.json, line 12: Node 'dense' has no
    type."``.
    """

    def __init__(
        self,
        message: str,
        path: str | os.PathLike | None,
        line: int | None = None,
        node: str | None = None,
        *,
        kind: str = "structure",
        column: int | None = None,
        node_path: tuple[str, ...] = (),
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        self.node = node
        self.node_path = tuple(node_path) if node_path else ((node,) if node else ())
        self.kind = kind
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        where = []
        if self.path is not None and str(self.path):
            where.append(Path(self.path).name or str(self.path))
        if self.line is not None:
            where.append(f"line {self.line}")
            if self.column is not None:
                where.append(f"column {self.column}")
        if not where:
            return self.message
        return f"{', '.join(where)}: {self.message}"

    def __str__(self) -> str:
        return self._sentence()


@dataclass
class Project:
    """A network and what goes with it, as stored in one project file.

    Args:
        name: the project's name (shown in the title bar).
        graph: the network.
        settings: free-form JSON-able settings (training, data, ...), owned by later features.
        weights: path of a weights file relative to the project's folder, normally inside the
            runs folder (``"mnist.runs/imported/weights.h5"``), or None.
        path: where the project was last loaded from or saved to; not stored in the file.
        description: free text.
    """

    name: str
    graph: Graph
    settings: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None
    path: Path | None = None
    description: str = ""

    @property
    def runs_dir(self) -> Path | None:
        """The runs folder beside the file (None while the project has never been saved)."""
        return runs_dir(self.path) if self.path is not None else None

    @property
    def weights_path(self) -> Path | None:
        """The weights file, resolved against the project's folder (None when there is none)."""
        if self.weights is None:
            return None
        base = self.path.parent if self.path is not None else Path()
        return base / self.weights


# ===================================================================== file names
def project_basename(path: str | os.PathLike) -> str:
    """The file name without ``.studio.json`` (or without its last suffix for other names)."""
    name = Path(path).name
    if name.lower().endswith(PROJECT_SUFFIX):
        return name[: -len(PROJECT_SUFFIX)]
    return Path(name).stem


def runs_dir(path: str | os.PathLike) -> Path:
    """``<name>.runs/`` beside the project file ``<name>.studio.json`` (not created here)."""
    p = Path(path)
    return p.parent / f"{project_basename(p)}{RUNS_SUFFIX}"


_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')


def default_filename(name: str) -> str:
    """A file name for a project called ``name``: ``"mnist"`` -> ``"mnist.studio.json"``."""
    base = _UNSAFE.sub("_", name).strip(" .") or "untitled"
    return base + PROJECT_SUFFIX


# ===================================================================== writing
def _canonical(value: Any, where: str) -> Any:
    """``value`` as plain JSON types with dict keys sorted, recursively; raises TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        out = {}
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key {key!r} that is not text")
        for key in sorted(value):
            out[key] = _canonical(value[key], f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist) and type(value).__module__.split(".")[0] == "numpy":
        return _canonical(tolist(), where)
    raise TypeError(f"{where} is a {type(value).__name__}, which a project file cannot hold")


def _coord(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        return 0.0
    return round(x, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _canonical_for_node(value: Any, node: str, what: str) -> Any:
    try:
        return _canonical(value, what)
    except TypeError as e:
        raise ProjectError(
            f"Node '{node}' cannot be saved: {e}.", None, node=node, kind="unsavable"
        ) from None


def graph_to_dict(graph: Graph) -> dict:
    """The graph as the canonical dict of the file format (nested models included)."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    nodes = []
    for n in graph.nodes:
        d: dict[str, Any] = {
            "name": n.name,
            "type": n.type,
            "position": [_coord(n.position[0]), _coord(n.position[1])],
            "params": _canonical_for_node(n.params, n.name, "params"),
        }
        if n.call_args:
            d["call_args"] = _canonical_for_node(n.call_args, n.name, "call_args")
        if n.shared_with is not None:
            d["shared_with"] = n.shared_with
        if n.block is not None:
            d["block"] = n.block  # a use of the root's definition "blocks"[name]
        elif n.subgraph is not None:
            try:
                d["subgraph"] = graph_to_dict(n.subgraph)
            except ProjectError as e:
                raise ProjectError(
                    f"In model '{n.name}': {e.message}",
                    None,
                    node=e.node,
                    kind=e.kind,
                    node_path=(n.name, *e.node_path),
                ) from None
        nodes.append(d)
    edges = sorted(
        graph.edges,
        key=lambda e: (index.get(e.dst, len(index)), e.dst_port, e.slot, e.src, e.src_output),
    )
    outputs = []
    for o in graph.outputs:
        od: dict[str, Any] = {"node": o.node, "output": int(o.index)}
        if o.name is not None:
            od["name"] = o.name
        outputs.append(od)
    head: dict[str, Any] = {"name": graph.name}
    if graph.style != "functional":
        head["style"] = graph.style
    tail: dict[str, Any] = {}
    if getattr(graph, "code", None):
        # Custom layers, losses and metrics (studio.core.code), stored verbatim; never run.
        tail["code"] = [
            {"name": c.name, "kind": c.kind, "source": c.source} for c in graph.code.values()
        ]
    if getattr(graph, "blocks", None):
        # Block definitions (studio.core.blocks), by name; uses write "block": name.
        blocks = {}
        for bname in sorted(graph.blocks):
            try:
                blocks[bname] = graph_to_dict(graph.blocks[bname])
            except ProjectError as e:
                raise ProjectError(
                    f"In block '{bname}': {e.message}",
                    None,
                    node=e.node,
                    kind=e.kind,
                    node_path=(bname, *e.node_path),
                ) from None
        tail["blocks"] = blocks
    return {
        **head,
        "nodes": nodes,
        "edges": [
            {
                "from": e.src,
                "output": int(e.src_output),
                "to": e.dst,
                "port": e.dst_port,
                "slot": int(e.slot),
            }
            for e in edges
        ],
        "outputs": outputs,
        **tail,
    }


def project_to_dict(project: Project) -> dict:
    """The project as the canonical dict of the file format (``path`` is not stored)."""
    try:
        settings = _canonical(project.settings or {}, "settings")
    except TypeError as e:
        raise ProjectError(
            f"The settings cannot be saved: {e}.", project.path, kind="unsavable"
        ) from None
    try:
        graph = graph_to_dict(project.graph)
    except ProjectError as e:
        raise ProjectError(
            e.message, project.path, node=e.node, kind=e.kind, node_path=e.node_path
        ) from None
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": project.name,
        "description": project.description or "",
        "graph": graph,
        "settings": settings,
        "weights": project.weights,
    }


def dumps_project(project: Project) -> str:
    """The exact text :func:`save_project` writes (with its trailing newline)."""
    return json.dumps(project_to_dict(project), indent=2, ensure_ascii=False) + "\n"


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_project(project: Project, path: str | os.PathLike | None = None) -> Path:
    """Write ``project`` to ``path`` (default: ``project.path``) atomically; return the path.

    The text is built first, then written to a temp file in the same folder, flushed, fsynced
    and moved over ``path``. On any error the temp file is removed and an existing file at
    ``path`` is left as it was. Nothing else is created (not the runs folder). On success
    ``project.path`` is set to ``path``.

    Raises:
        ProjectError: ``kind="unsavable"`` for values JSON cannot hold, ``kind="unwritable"``
            when the file cannot be written (the ``OSError`` is chained).
    """
    if path is None:
        path = project.path
    if path is None:
        raise ValueError("save_project needs a path: the project has never been saved.")
    target = Path(path)
    try:
        text = dumps_project(project)
    except ProjectError as e:
        raise ProjectError(
            e.message, target, node=e.node, kind=e.kind, node_path=e.node_path
        ) from None
    data = text.encode("utf-8")

    real = Path(os.path.realpath(target)) if target.is_symlink() else target
    folder = real.parent
    try:
        mode = os.stat(real).st_mode & 0o7777
    except OSError:
        mode = _new_file_mode()

    tmp_name: str | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{real.name}.", suffix=".tmp", dir=str(folder) if str(folder) else None
        )
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp_name, mode)
        except OSError:
            pass
        os.replace(tmp_name, real)
        tmp_name = None
    except OSError as e:
        reason = e.strerror or str(e)
        raise ProjectError(
            f"The project could not be saved ({reason}).", target, kind="unwritable"
        ) from e
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
    _fsync_dir(folder)
    project.path = target
    return target


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(str(folder) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ===================================================================== reading
def load_project(path: str | os.PathLike) -> Project:
    """Read a project file. Raises :class:`ProjectError` (see :data:`ERROR_KINDS`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ProjectError("There is no such file.", p, kind="unreadable") from None
    except IsADirectoryError:
        raise ProjectError("This is a folder, not a project file.", p, kind="unreadable") from None
    except PermissionError:
        raise ProjectError(
            "Studio is not allowed to read this file.", p, kind="unreadable"
        ) from None
    except OSError as e:
        raise ProjectError(
            f"The file could not be read ({e.strerror or e}).", p, kind="unreadable"
        ) from None
    project = loads_project(raw, source=p)
    project.path = p
    return project


def loads_project(text: str | bytes, source: str | os.PathLike | None = None) -> Project:
    """Parse the text (or bytes) of a project file; ``source`` names it in errors."""
    if isinstance(text, bytes):
        if not text.strip():
            raise ProjectError("The file is empty.", source, kind="empty")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = text.count(b"\n", 0, e.start) + 1
            if e.end >= len(text) and "unexpected end" in e.reason:
                msg = "The file ends in the middle of a character (truncated?)."
            else:
                msg = (
                    f"The file is not UTF-8 text (byte 0x{text[e.start]:02x} cannot be read); "
                    "it is not a Studio project, or it is damaged."
                )
            raise ProjectError(msg, source, line, kind="encoding") from None
    elif text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ProjectError("The file is empty.", source, kind="empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProjectError(
            _json_message(e, text), source, e.lineno, kind="json", column=e.colno
        ) from None
    except RecursionError:
        raise ProjectError(
            "The JSON is nested too deeply to be a Studio project.", source, kind="json"
        ) from None
    return project_from_dict(data, source, text=text)


_JSON_MESSAGES = {
    "Expecting value": "a value was expected here (a stray comma, or text that is not JSON?)",
    "Expecting ',' delimiter": "expected ',' between two items, or a closing bracket",
    "Expecting ':' delimiter": "expected ':' after a key",
    "Expecting property name enclosed in double quotes": (
        "expected a key in double quotes (a trailing comma before '}'?)"
    ),
    "Extra data": "there is more text after the end of the JSON",
    "Invalid control character at": (
        "a string contains a raw control character (such as a line break)"
    ),
    "Invalid \\escape": "a string contains an invalid backslash escape",
    "Invalid \\uXXXX escape": "a string contains an invalid \\u escape",
}


def _json_message(e: json.JSONDecodeError, text: str) -> str:
    if e.msg.startswith("Unterminated string"):
        return "A string starting here is never closed (is the file truncated?)."
    if e.pos >= len(text.rstrip()) and e.msg != "Extra data":
        return "The file ends in the middle of the JSON (truncated?)."
    plain = _JSON_MESSAGES.get(e.msg, e.msg)
    return f"The file is not valid JSON: {plain}."


def migrate(data: dict, source: str | os.PathLike | None = None) -> dict:
    """Bring a file's dict up to :data:`FORMAT_VERSION` with :data:`MIGRATIONS`, in order."""
    version = data.get("version")
    if "version" not in data:
        raise ProjectError("The file has no format version.", source, kind="version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(
            f"The format version must be a whole number, not {json.dumps(version)}.",
            source,
            kind="version",
        )
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"This project was saved by a newer Studio (format version {version}; "
            f"this Studio reads up to {FORMAT_VERSION}). Update Studio to open it.",
            source,
            kind="version",
        )
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(
                f"Format version {version} is too old: this Studio cannot upgrade it.",
                source,
                kind="version",
            )
        try:
            data = step(data)
        except ProjectError:
            raise
        except Exception as e:
            raise ProjectError(
                f"The project could not be upgraded from format version {version} ({e}).",
                source,
                kind="version",
            ) from e
        if not isinstance(data, dict):
            raise ProjectError(
                f"The upgrade from format version {version} did not give a project.",
                source,
                kind="version",
            )
        version += 1
        data["version"] = version
    return data


def project_from_dict(
    data: Any, source: str | os.PathLike | None = "<path>", *, text: str | None = None
) -> Project:
    """Build a :class:`Project` from the file's dict (migrating older versions first).

    ``source`` names the file in errors; ``text``, the file's text, lets errors give lines.
    ``path`` of the result is None (:func:`load_project` sets it).
    """
    if not isinstance(data, dict):
        raise ProjectError(
            f"This is not a Studio project: the file holds {_json_kind(data)}, not an object.",
            source,
            kind="format",
        )
    fmt = data.get("format")
    if fmt != FORMAT:
        detail = (
            "it has no \"format\" field"
            if "format" not in data
            else f"its format is {json.dumps(fmt, ensure_ascii=False)}, "
            f"not \"{FORMAT}\""
        )
        raise ProjectError(
            f"This is not a Studio project ({detail}).", source, kind="format"
        )
    original_version = data.get("version")
    data = migrate(dict(data), source)
    migrated = original_version != data.get("version")
    reader = _Reader(source, None if migrated else text)
    return reader.project(data)


def graph_from_dict(
    data: Any, source: str | os.PathLike | None = "<graph>", *, text: str | None = None
) -> Graph:
    """Build a :class:`Graph` from its dict (the ``"graph"`` of a file, or a copied subgraph).

    ``text``, when given, is the JSON text of ``data`` alone (used for line numbers).
    """
    return _Reader(source, text).graph(data, ())


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return "an object"


class _Reader:
    """Checks the structure of a file's dict and builds the objects, locating errors."""

    def __init__(self, source: str | os.PathLike | None, text: str | None) -> None:
        self.source = source
        self.text = text
        self._tracked: tuple[Any, dict[int, tuple[int, int]]] | None = None

    # ----------------------------------------------------------------- errors
    def fail(
        self,
        message: str,
        at: tuple = (),
        key: str | None = None,
        node: str | None = None,
        node_path: tuple[str, ...] = (),
    ) -> ProjectError:
        return ProjectError(
            message,
            self.source,
            self._line(at, key),
            node,
            kind="structure",
            node_path=node_path,
        )

    def _line(self, at: tuple, key: str | None) -> int | None:
        """The line of key ``key`` in the object at JSON path ``at`` (or of the object)."""
        if self.text is None:
            return None
        try:
            if self._tracked is None:
                self._tracked = _tracked_parse(self.text)
            obj, spans = self._tracked
            for step in at:
                obj = obj[step]
            span = spans.get(id(obj)) if isinstance(obj, dict) else None
            if span is None:
                return None
            offset = span[0]
            if key is not None:
                found = _key_offset(self.text, span[0], span[1], key)
                if found is not None:
                    offset = found
            return self.text.count("\n", 0, offset) + 1
        except Exception:  # locating is best effort: never hide the real error
            return None

    # ----------------------------------------------------------------- project
    def project(self, data: dict) -> Project:
        name = data.get("name", None)
        if name is None:
            name = project_basename(self.source) if self.source is not None else "untitled"
        if not isinstance(name, str):
            raise self.fail("The project name must be text.", (), "name")
        description = data.get("description", "")
        if description is None:
            description = ""
        if not isinstance(description, str):
            raise self.fail("The project description must be text.", (), "description")
        if "graph" not in data:
            raise self.fail("The project has no \"graph\" (the network is missing).")
        graph = self.graph(data["graph"], ("graph",))
        settings = data.get("settings", {})
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise self.fail(
                f"The project settings must be an object, not {_json_kind(settings)}.",
                (),
                "settings",
            )
        weights = data.get("weights")
        if weights is not None and not isinstance(weights, str):
            raise self.fail(
                "The weights entry must be the path of a weights file, or null.",
                (),
                "weights",
            )
        return Project(
            name=name,
            graph=graph,
            settings=settings,
            weights=weights or None,
            path=None,
            description=description,
        )

    # ----------------------------------------------------------------- graph
    def graph(self, data: Any, at: tuple, parents: tuple[str, ...] = ()) -> Graph:
        where = f" of model '{parents[-1]}'" if parents else ""
        inside = f" (in model '{'/'.join(parents)}')" if parents else ""
        if not isinstance(data, dict):
            raise self.fail(
                f"The network{where} must be an object, not {_json_kind(data)}.",
                at[:-1],
                at[-1] if at else None,
                parents[-1] if parents else None,
                parents,
            )
        name = data.get("name", "model")
        if not isinstance(name, str):
            raise self.fail(f"The name of the network{where} must be text.", at, "name")
        if "nodes" not in data:
            raise self.fail(f"The network{where} has no \"nodes\" list.", at)
        nodes = data["nodes"]
        if not isinstance(nodes, list):
            raise self.fail(
                f"The \"nodes\" of the network{where} must be a list, not {_json_kind(nodes)}.",
                at,
                "nodes",
            )
        graph = Graph(name)
        style = data.get("style", "functional")
        if style not in ("functional", "sequential"):
            raise self.fail(
                f"The style of the network{where} must be \"functional\" or \"sequential\", "
                f"not {style!r}.",
                at,
                "style",
            )
        graph.style = style
        for i, nd in enumerate(nodes):
            node = self.node(nd, (*at, "nodes", i), i, parents, inside)
            if node.name in graph:
                raise self.fail(
                    f"Two nodes are named '{node.name}'{inside}; node names must be unique.",
                    (*at, "nodes", i),
                    "name",
                    node.name,
                    (*parents, node.name),
                )
            graph.add_node(node)
        for i, node in enumerate(graph.nodes):
            if node.shared_with is not None and node.shared_with not in graph:
                raise self.fail(
                    f"Node '{node.name}'{inside} shares the layer of node "
                    f"'{node.shared_with}', which does not exist.",
                    (*at, "nodes", i),
                    "shared_with",
                    node.name,
                    (*parents, node.name),
                )
        edges = data.get("edges", [])
        if not isinstance(edges, list):
            raise self.fail(
                f"The \"edges\" of the network{where} must be a list, not {_json_kind(edges)}.",
                at,
                "edges",
            )
        for i, ed in enumerate(edges):
            self.edge(graph, ed, (*at, "edges", i), i, parents, inside)
        outputs = data.get("outputs", [])
        if not isinstance(outputs, list):
            raise self.fail(
                f"The \"outputs\" of the network{where} must be a list, "
                f"not {_json_kind(outputs)}.",
                at,
                "outputs",
            )
        graph.outputs = [
            self.output(graph, od, (*at, "outputs", i), i, parents, inside)
            for i, od in enumerate(outputs)
        ]
        if parents and data.get("code") not in (None, []):
            # Only the top-level code is shown in the trust dialog and fingerprinted.
            is_block = len(at) >= 2 and at[-2] == "blocks"
            owner = f"block '{parents[-1]}'" if is_block else f"model '{'/'.join(parents)}'"
            raise self.fail(
                f"The {owner} has \"code\": code definitions belong to the project's "
                "top-level graph.",
                at,
                "code",
                None if is_block else parents[-1],
                () if is_block else parents,
            )
        if data.get("code") is not None:
            self.code(graph, data["code"], at, where)
        if data.get("blocks") is not None or not parents:
            self.blocks(graph, data.get("blocks") or {}, at, parents)
        return graph

    def blocks(self, graph: Graph, data: Any, at: tuple, parents: tuple[str, ...]) -> None:
        """The block definitions of the root graph; then every use is linked to its own."""
        if not isinstance(data, dict):
            raise self.fail(
                f"The \"blocks\" must be an object (name: network), not {_json_kind(data)}.",
                at,
                "blocks",
            )
        for bname, bdata in data.items():
            definition = self.graph(bdata, (*at, "blocks", bname), (*parents, bname))
            definition.name = bname
            graph.blocks[bname] = definition
        from studio.core.blocks import block_cycle, cycle_message, uses

        # Before linking: a cycle of definitions would make every walk over uses endless.
        cycle = block_cycle(graph.blocks)
        if cycle is not None:
            raise self.fail(cycle_message(cycle), (*at, "blocks", cycle[0]))
        graph.link_blocks()

        roots = [graph, *graph.blocks.values()]
        for g in roots:
            for path, node in uses(g):
                if node.block not in graph.blocks:
                    where = "/".join((*path, node.name))
                    raise self.fail(
                        f"Node '{where}' uses the block '{node.block}', which is not defined "
                        "in \"blocks\".",
                        at,
                        "blocks" if data else None,
                        node.name,
                        (*parents, *path, node.name),
                    )

    def code(self, graph: Graph, data: Any, at: tuple, where: str) -> None:
        """The custom code definitions: read as text, never compiled or run here."""
        from studio.core.code import KINDS, CodeDef

        if not isinstance(data, list):
            raise self.fail(
                f"The \"code\" of the network{where} must be a list, not {_json_kind(data)}.",
                at,
                "code",
            )
        for i, cd in enumerate(data):
            label = f"Code definition #{i + 1}"
            here = (*at, "code", i)
            if not isinstance(cd, dict):
                raise self.fail(f"{label} must be an object, not {_json_kind(cd)}.", at, "code")
            for key in ("name", "kind", "source"):
                if key not in cd:
                    raise self.fail(f"{label} has no \"{key}\".", here)
                if not isinstance(cd[key], str):
                    raise self.fail(f"{label} has a \"{key}\" that is not text.", here, key)
            name, kind = cd["name"], cd["kind"]
            if not name.isidentifier():
                raise self.fail(
                    f"{label} has the name {json.dumps(name, ensure_ascii=False)}, which is not "
                    "a Python name.",
                    here,
                    "name",
                )
            if kind not in KINDS:
                raise self.fail(
                    f"Code definition '{name}' has the kind {json.dumps(kind, ensure_ascii=False)}"
                    f"; it must be one of {', '.join(KINDS)}.",
                    here,
                    "kind",
                )
            if name in graph.code:
                raise self.fail(
                    f"Two code definitions are named '{name}'; their names must be unique.",
                    here,
                    "name",
                )
            graph.code[name] = CodeDef(name=name, kind=kind, source=cd["source"])

    def node(
        self, data: Any, at: tuple, i: int, parents: tuple[str, ...], inside: str
    ) -> Node:
        label = f"Node #{i + 1}{inside}"
        if not isinstance(data, dict):
            raise self.fail(f"{label} must be an object, not {_json_kind(data)}.", at)
        if "name" not in data:
            raise self.fail(f"{label} has no name.", at)
        name = data["name"]
        if not isinstance(name, str):
            raise self.fail(
                f"{label} has a name that is not text ({json.dumps(name, ensure_ascii=False)}).",
                at,
                "name",
            )
        if not name:
            raise self.fail(f"{label} has an empty name.", at, "name")
        path = (*parents, name)

        def bad(message: str, key: str | None = "name") -> ProjectError:
            return self.fail(f"Node '{name}'{inside} {message}", at, key, name, path)

        if "type" not in data:
            raise bad("has no type.")
        ntype = data["type"]
        if not isinstance(ntype, str) or not ntype:
            raise bad("has a type that is not a layer name (it must be non-empty text).", "type")
        position = data.get("position", [0.0, 0.0])
        if (
            not isinstance(position, list)
            or len(position) != 2
            or not all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                for c in position
            )
        ):
            raise bad(
                "has a bad position "
                f"({json.dumps(position, ensure_ascii=False)}); it must be two numbers [x, y].",
                "position",
            )
        params = data.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise bad(f"has parameters that are {_json_kind(params)}, not an object.", "params")
        call_args = data.get("call_args", {})
        if call_args is None:
            call_args = {}
        if not isinstance(call_args, dict):
            raise bad(
                f"has call arguments that are {_json_kind(call_args)}, not an object.",
                "call_args",
            )
        shared_with = data.get("shared_with")
        if shared_with is not None and (not isinstance(shared_with, str) or not shared_with):
            raise bad(
                "has a \"shared_with\" that is not the name of a node.", "shared_with"
            )
        subgraph = None
        block = data.get("block")
        if block is not None and (not isinstance(block, str) or not block):
            raise bad("has a \"block\" that is not the name of a block.", "block")
        if block is None and data.get("subgraph") is not None:
            subgraph = self.graph(data["subgraph"], (*at, "subgraph"), path)
        return Node(
            name=name,
            type=ntype,
            params=params,
            position=(float(position[0]), float(position[1])),
            call_args=call_args,
            shared_with=shared_with,
            subgraph=subgraph,
            block=block,
        )

    def edge(
        self, graph: Graph, data: Any, at: tuple, i: int, parents: tuple[str, ...], inside: str
    ) -> None:
        label = f"Connection #{i + 1}{inside}"
        if not isinstance(data, dict):
            raise self.fail(f"{label} must be an object, not {_json_kind(data)}.", at)
        for key in ("from", "to", "port"):
            if key not in data:
                raise self.fail(f"{label} has no \"{key}\".", at)
            if not isinstance(data[key], str) or not data[key]:
                raise self.fail(f"{label} has a \"{key}\" that is not text.", at, key)
        src, dst, port = data["from"], data["to"], data["port"]
        label = f"Connection #{i + 1} ({src} → {dst}.{port}){inside}"
        numbers = {}
        for key in ("output", "slot"):
            value = data.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self.fail(
                    f"{label} has a \"{key}\" that is not a whole number ≥ 0 "
                    f"({json.dumps(value, ensure_ascii=False)}).",
                    at,
                    key,
                )
            numbers[key] = value
        for key, end in (("from", src), ("to", dst)):
            if end not in graph:
                raise self.fail(
                    f"{label} {'comes from' if key == 'from' else 'goes to'} node '{end}', "
                    "which does not exist.",
                    at,
                    key,
                    end,
                    (*parents, end),
                )
        edge = Edge(src, numbers["output"], dst, port, numbers["slot"])
        try:
            graph.add_edge(edge)
        except GraphError:
            raise self.fail(f"{label} appears twice.", at, None, dst, (*parents, dst)) from None

    def output(
        self, graph: Graph, data: Any, at: tuple, i: int, parents: tuple[str, ...], inside: str
    ) -> Output:
        label = f"Model output #{i + 1}{inside}"
        if not isinstance(data, dict):
            raise self.fail(f"{label} must be an object, not {_json_kind(data)}.", at)
        node = data.get("node")
        if not isinstance(node, str) or not node:
            raise self.fail(f"{label} does not name a node.", at, "node" if "node" in data else None)
        index = data.get("output", 0)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise self.fail(
                f"{label} has an \"output\" that is not a whole number ≥ 0.", at, "output"
            )
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise self.fail(f"{label} has a name that is not text.", at, "name")
        if node not in graph:
            raise self.fail(
                f"{label} is node '{node}', which does not exist.",
                at,
                "node",
                node,
                (*parents, node),
            )
        return Output(node, index, name)


# ===================================================================== locating lines
def _tracked_parse(text: str) -> tuple[Any, dict[int, tuple[int, int]]]:
    """Parse ``text`` again, recording where each JSON object starts and ends.

    Uses the pure-Python scanner of :mod:`json` with a wrapped object parser; only run when an
    error must be located, so the fast C parser does the normal work.
    """
    from json import scanner

    spans: dict[int, tuple[int, int]] = {}
    decoder = json.JSONDecoder()
    parse_object = decoder.parse_object

    def tracking(s_and_end, *args, **kwargs):
        start = s_and_end[1] - 1  # the scanner passes the index just after '{'
        obj, end = parse_object(s_and_end, *args, **kwargs)
        spans[id(obj)] = (start, end)
        return obj, end

    decoder.parse_object = tracking
    decoder.scan_once = scanner.py_make_scanner(decoder)
    return decoder.decode(text), spans


def _key_offset(text: str, start: int, end: int, key: str) -> int | None:
    """Offset of ``"key":`` among the direct keys of the object ``text[start:end]``."""
    depth = 0
    i = start + 1
    while i < end:
        c = text[i]
        if c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if depth == 0:
                k = j + 1
                while k < end and text[k] in " \t\r\n":
                    k += 1
                if k < end and text[k] == ":" and json.loads(text[i : j + 1]) == key:
                    return i
            i = j + 1
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
        i += 1
    return None
