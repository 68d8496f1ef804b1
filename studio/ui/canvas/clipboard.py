"""Copying nodes: a selection as JSON (the project file's graph format) and back as commands.

Pure Python (no Qt), so it is testable on its own. The payload is::

    {"format": "studio.nodes", "version": 1,
     "graph": <graph_to_dict of the copied nodes and the edges among them>,
     "shared_outside": {node: owner}}   # layers shared with nodes that were not copied
"""

from __future__ import annotations

import json
import re
from typing import Any

from studio.core.commands import AddNode, Command, Connect, Macro
from studio.core.graph import Edge, Graph, Node, detached_copy
from studio.project.io import ProjectError, graph_from_dict, graph_to_dict

MIME_NODES = "application/x-studio-nodes"
PAYLOAD_FORMAT = "studio.nodes"


def selection_payload(graph: Graph, names: list[str]) -> dict[str, Any]:
    """The nodes ``names`` of ``graph`` (in graph order) and the edges among them."""
    chosen = set(names)
    sub = Graph("clipboard")
    shared_outside: dict[str, str] = {}
    for node in graph.nodes:
        if node.name not in chosen:
            continue
        copy = node.copy()
        if copy.shared_with is not None and copy.shared_with not in chosen:
            shared_outside[copy.name] = copy.shared_with
            copy.shared_with = None
        sub.add_node(copy)
    for edge in graph.edges:
        if edge.src in chosen and edge.dst in chosen:
            sub.add_edge(edge)
    # Block uses carry their definitions; they paste as plain nested models (copies).
    from studio.core.blocks import definitions_of

    sub.blocks = definitions_of(sub)
    return {
        "format": PAYLOAD_FORMAT,
        "version": 1,
        "graph": graph_to_dict(sub),
        "shared_outside": shared_outside,
    }


def payload_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload, indent=1, ensure_ascii=False)


def parse_payload(text: str | bytes) -> Graph | None:
    """The copied graph, or None when ``text`` is not a node payload."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("format") != PAYLOAD_FORMAT:
        return None
    try:
        graph = graph_from_dict(data.get("graph"), "<clipboard>")
    except ProjectError:
        return None
    shared = data.get("shared_outside") or {}
    graph.shared_outside = {k: v for k, v in shared.items()
                            if isinstance(k, str) and isinstance(v, str)}  # fmt: skip
    return graph


def _free_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    base = re.sub(r"_\d+$", "", name) or name
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def paste_command(
    target: Graph, copied: Graph, offset: tuple[float, float]
) -> tuple[Command, list[str]] | None:
    """A macro adding ``copied``'s nodes (renamed where taken) and inner edges to ``target``.

    Returns the command and the new node names, or None when there is nothing to paste.
    """
    if not len(copied):
        return None
    taken = {n.name for n in target.nodes}
    renamed: dict[str, str] = {}
    for node in copied.nodes:
        new = _free_name(node.name, taken)
        taken.add(new)
        renamed[node.name] = new
    shared_outside = getattr(copied, "shared_outside", {})
    cmds: list[Command] = []
    for node in copied.nodes:
        new = Node(
            name=renamed[node.name],
            type=node.type,
            params=node.params,
            position=(node.position[0] + offset[0], node.position[1] + offset[1]),
            call_args=node.call_args,
            shared_with=None,
            # A copy of its own, with no block use left at any depth: the definitions
            # named inside may be missing from the target, or be other blocks there.
            subgraph=detached_copy(node).subgraph,
        )
        if node.shared_with is not None:
            new.shared_with = renamed.get(node.shared_with)
        elif node.name in shared_outside and shared_outside[node.name] in target:
            owner = target.node(shared_outside[node.name])
            if owner.type == node.type:
                new.shared_with = owner.name
        cmds.append(AddNode(new))
    for e in copied.edges:
        cmds.append(Connect(Edge(renamed[e.src], e.src_output, renamed[e.dst], e.dst_port, e.slot)))
    n = len(renamed)
    text = f"Paste {n} node" + ("s" if n != 1 else "")
    return Macro(text, cmds), list(renamed.values())
