"""Checks that tell a user what stops a graph from becoming a Keras model, and why.

:func:`validate` reads a :class:`~studio.core.graph.Graph` against the layer catalog and
returns :class:`Diagnostic` objects: errors (the model cannot be built) and warnings (it can,
but something is probably a mistake). It is pure Python with networkx and runs on every edit,
so each check is linear in the size of the graph: edges are indexed per node once, and
reachability is one reverse search from the outputs.

Conventions this module relies on:

* a ``Model`` node's input ports are named after the ``InputLayer`` nodes of its subgraph
  (in node order) and its outputs are the subgraph's :attr:`~studio.core.graph.Graph.outputs`
  (a ``"sequential"`` subgraph with no marked output has one: its last layer);
* an ``ops.*`` node's tensor port may instead hold a constant in ``call_args[port]``;
* a node with ``shared_with`` takes its configuration from the node that owns the layer, so
  its own parameters are not checked.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from studio.catalog import Catalog, LayerSpec, ParamSpec, load_catalog
from studio.core.code import catalog_for, code_problems
from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Edge, Graph, Node

ERROR = "error"
WARNING = "warning"

#: How many cycles are reported; one is enough to act on, a few show the extent.
MAX_CYCLES = 3

# (min, max) tensors on a variadic port. Otherwise a Keras layer's variadic ``inputs`` (the
# merge layers) takes at least two, and any other variadic port at least one.
_INPUT_COUNTS: dict[tuple[str, str], tuple[int, int | None]] = {
    ("Dot", "inputs"): (2, 2),
    ("Subtract", "inputs"): (2, 2),
    ("Attention", "inputs"): (2, 3),
    ("AdditiveAttention", "inputs"): (2, 3),
    ("LSTM", "initial_state"): (2, 2),
    ("ConvLSTM1D", "initial_state"): (2, 2),
    ("ConvLSTM2D", "initial_state"): (2, 2),
    ("ConvLSTM3D", "initial_state"): (2, 2),
    ("GRU", "initial_state"): (1, 1),
    ("SimpleRNN", "initial_state"): (1, 1),
}

# InputLayer is built from ``shape`` (or ``batch_shape``), which Keras' config spells
# differently from the constructor; these keys are always understood.
_INPUT_LAYER_KEYS = {"shape", "batch_shape", "batch_size", "dtype", "sparse", "ragged", "name"}

_KIND_TEXT = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "int_tuple": "a list of integers",
    "int_or_tuple": "an integer or a list of integers",
    "float_or_tuple": "a number or a list of numbers",
    "shape": "a list of integers or None",
    "int_list": "a list of integers",
    "float_list": "a list of numbers",
    "activation": "an activation name or a serialized activation",
    "initializer": "an initializer name or a serialized initializer",
    "regularizer": "a regularizer name or a serialized regularizer",
    "constraint": "a constraint name or a serialized constraint",
    "dtype": "a dtype name or a serialized dtype policy",
    "layer": "a serialized layer (a dict with 'class_name' and 'config')",
}


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a graph.

    Args:
        severity: ``"error"`` (the model cannot be built) or ``"warning"``.
        message: a sentence for the user that names the node (and value) concerned.
        node: the node it is about, if any; for a problem inside a nested model, the
            outer ``Model`` node.
        port: the input port concerned, if any.
        param: the parameter concerned, if any.
        code: a short stable identifier (``"cycle"``, ``"param-range"``, ...).
    """

    severity: str
    message: str
    node: str | None = None
    port: str | None = None
    param: str | None = None
    code: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    """True when any diagnostic is an error."""
    return any(d.severity == ERROR for d in diagnostics)


def format_diagnostic(d: Diagnostic) -> str:
    """One line for a terminal or a log: ``"error: dense_1: ..."``."""
    if d.node:
        return f"{d.severity}: {d.node}: {d.message}"
    return f"{d.severity}: {d.message}"


def validate(graph: Graph, catalog: Catalog | None = None) -> list[Diagnostic]:
    """Check a graph; errors first, then in node order.

    Args:
        graph: the network to check (nested models are checked too).
        catalog: the layer catalog; the bundled one by default.

    Returns:
        The diagnostics, errors first, each group in node order (graph-wide ones first).
    """
    # The graph's custom layers (studio.core.code) join the catalog; a nested graph has no
    # code of its own and keeps the overlay it is given.
    catalog = catalog_for(graph, catalog if catalog is not None else load_catalog())
    diags = _Validator(graph, catalog).run() + _code_diagnostics(graph)
    order = {name: i for i, name in enumerate(n.name for n in graph.nodes)}
    return sorted(
        diags,
        key=lambda d: (d.severity != ERROR, order.get(d.node, -1) if d.node else -1),
    )


def wrappable_types(catalog: Catalog, wrapper: str) -> list[str]:
    """The catalog types that ``wrapper``'s layer parameter can hold, alphabetically:
    recurrent layers for Bidirectional, layers with a ``kernel`` or ``embeddings`` for
    SpectralNormalization, any Keras layer for TimeDistributed (and other wrappers)."""
    out = []
    for type_, spec in catalog.layers.items():
        if spec.is_op or type_ in (INPUT_TYPE, MODEL_TYPE) or spec.module != "keras.layers":
            continue
        names = {p.name for p in spec.params}
        if wrapper == "Bidirectional":
            ok = {"go_backwards", "return_sequences"} <= names
        elif wrapper == "SpectralNormalization":
            # Its kernel: Dense, Conv*, DepthwiseConv*, EinsumDense; or Embedding's table.
            # (Not SeparableConv: two kernels; not LSTM or attention: no `kernel` of theirs.)
            ok = spec.category in ("Core", "Convolution") and (
                "kernel_initializer" in names
                or "embeddings_initializer" in names
                or ("depthwise_initializer" in names and "pointwise_initializer" not in names)
            )
        else:
            ok = True
        if ok:
            out.append(type_)
    return sorted(out, key=str.lower)


def _code_diagnostics(graph: Graph) -> list[Diagnostic]:
    """Syntax and structure problems of the graph's code definitions (nothing runs)."""
    out = []
    for name, problems in code_problems(graph).items():
        for p in problems:
            out.append(
                Diagnostic(ERROR, f"Code '{name}', line {p.line}: {p.message}", code="code")
            )
    return out


# --------------------------------------------------------------------------- helpers
def _fmt(value: Any) -> str:
    """A value as the user typed it: floats without a needless ``.0``."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_seq(v: Any) -> bool:
    return isinstance(v, (list, tuple))


def _is_serialized(v: Any) -> bool:
    return isinstance(v, dict) and isinstance(v.get("class_name"), str)


def _is_sequential(graph: Graph) -> bool:
    return getattr(graph, "style", "functional") == "sequential"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _Validator:
    def __init__(self, graph: Graph, catalog: Catalog) -> None:
        self.graph = graph
        self.catalog = catalog
        self.diags: list[Diagnostic] = []
        self.nodes: dict[str, Node] = {n.name: n for n in graph.nodes}
        self.in_edges: dict[str, list[Edge]] = {name: [] for name in self.nodes}
        self.specs: dict[str, LayerSpec | None] = {}
        self._param_index: dict[str, dict[str, ParamSpec]] = {}
        self._call_index: dict[str, dict[str, ParamSpec]] = {}
        self._choice_sets: dict[str, set[str]] = {}
        self._port_names: dict[str, set[str]] = {}
        self._required: dict[str, list[ParamSpec]] = {}

    # ------------------------------------------------------------------ plumbing
    def add(
        self,
        severity: str,
        code: str,
        message: str,
        node: str | None = None,
        port: str | None = None,
        param: str | None = None,
    ) -> None:
        self.diags.append(Diagnostic(severity, message, node, port, param, code))

    def spec(self, node: Node) -> LayerSpec | None:
        if node.type not in self.specs:
            self.specs[node.type] = self.catalog.get(node.type)
        return self.specs[node.type]

    def params_of(self, spec: LayerSpec) -> dict[str, ParamSpec]:
        index = self._param_index.get(spec.type)
        if index is None:
            index = self._param_index[spec.type] = {p.name: p for p in spec.params}
        return index

    def port_names(self, spec: LayerSpec) -> set[str]:
        names = self._port_names.get(spec.type)
        if names is None:
            names = self._port_names[spec.type] = {p.name for p in spec.inputs}
        return names

    def required_of(self, spec: LayerSpec) -> list[ParamSpec]:
        """Required parameters that have no default value in the catalog."""
        req = self._required.get(spec.type)
        if req is None:
            req = self._required[spec.type] = [
                p for p in spec.params if p.required and spec.defaults.get(p.name) is None
            ]
        return req

    def call_params_of(self, spec: LayerSpec) -> dict[str, ParamSpec]:
        index = self._call_index.get(spec.type)
        if index is None:
            index = self._call_index[spec.type] = {p.name: p for p in spec.call_params}
        return index

    def choice_set(self, kind: str) -> set[str]:
        """Accepted string spellings of an activation/initializer/...: names and aliases."""
        s = self._choice_sets.get(kind)
        if s is None:
            s = {c for c in self.catalog.choices.get(kind, []) if isinstance(c, str)}
            for cls, alias in self.catalog.aliases.get(kind, {}).items():
                s.add(cls)
                if isinstance(alias, str):
                    s.add(alias)
            self._choice_sets[kind] = s
        return s

    def output_names(self, node: Node) -> tuple[str, ...] | None:
        """The outputs ``node`` has, or None when unknown (unknown type, missing subgraph)."""
        if node.type == MODEL_TYPE:
            if node.subgraph is None:
                return None
            if _is_sequential(node.subgraph) and not node.subgraph.outputs:
                return ("output",)  # a Sequential's output is its last layer
            return tuple(o.name or f"output_{i}" for i, o in enumerate(node.subgraph.outputs))
        if node.type == INPUT_TYPE:
            return ("output",)
        spec = self.spec(node)
        if spec is None:
            return None
        for rule in spec.output_rules:
            key = rule.get("param")
            if rule.get("call_param"):
                cp = self.call_params_of(spec).get(key)
                value = node.call_args.get(key, cp.default if cp is not None else None)
            else:
                value = node.params.get(key, spec.defaults.get(key))
            if value == rule.get("value"):
                return tuple(rule.get("outputs", ()))
        return spec.outputs

    # ------------------------------------------------------------------ checks
    def run(self) -> list[Diagnostic]:
        for e in self.graph.edges:
            if e.src not in self.nodes or e.dst not in self.nodes:
                missing = e.src if e.src not in self.nodes else e.dst
                self.add(
                    ERROR,
                    "bad-port",
                    f"A connection from '{e.src}' to '{e.dst}' refers to a missing node "
                    f"'{missing}'.",
                    node=e.dst if e.dst in self.nodes else None,
                    port=e.dst_port,
                )
                continue
            self.in_edges[e.dst].append(e)

        self.check_inputs_outputs()
        self.check_cycles()
        for node in self.nodes.values():
            self.check_node(node)
        self.check_reachability()
        return self.diags

    def check_inputs_outputs(self) -> None:
        if not any(n.type == INPUT_TYPE for n in self.nodes.values()):
            self.add(ERROR, "no-input", "The model has no input: add an InputLayer node.")
        if not self.graph.outputs and not _is_sequential(self.graph):
            self.add(ERROR, "no-output", "The model has no output: mark a node as an output.")
        names: set[str] = set()
        for i, out in enumerate(self.graph.outputs):
            node = self.nodes.get(out.node)
            if node is None:
                self.add(
                    ERROR,
                    "bad-output",
                    f"Model output {i} refers to '{out.node}', which is not in the model.",
                )
                continue
            outputs = self.output_names(node)
            if outputs is not None and not 0 <= out.index < len(outputs):
                self.add(
                    ERROR,
                    "bad-output",
                    f"Model output {i} uses output {out.index} of '{node.name}', which has "
                    f"{_plural(len(outputs), 'output')}.",
                    node=node.name,
                )
            if out.name is not None:
                if out.name in names:
                    self.add(
                        ERROR,
                        "bad-output",
                        f"Two model outputs are named '{out.name}'; output names must differ.",
                        node=node.name,
                    )
                names.add(out.name)

    def check_cycles(self) -> None:
        # Kahn's algorithm finds whether there is a cycle in linear time without building a
        # networkx graph; networkx then names the cycles among the nodes it could not order.
        indegree = {name: 0 for name in self.nodes}
        succ: dict[str, list[str]] = {name: [] for name in self.nodes}
        for edges in self.in_edges.values():
            for e in edges:
                indegree[e.dst] += 1
                succ[e.src].append(e.dst)
        ready = [name for name, d in indegree.items() if d == 0]
        while ready:
            cur = ready.pop()
            for nxt in succ[cur]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    ready.append(nxt)
        blocked = [name for name, d in indegree.items() if d > 0]
        if not blocked:
            return

        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(blocked)
        g.add_edges_from((u, v) for u in blocked for v in succ[u] if indegree[v] > 0)
        order = {name: i for i, name in enumerate(self.nodes)}
        components = [
            c
            for c in nx.strongly_connected_components(g)
            if len(c) > 1 or any(g.has_edge(n, n) for n in c)
        ]
        components.sort(key=lambda c: min(order[n] for n in c))
        for comp in components[:MAX_CYCLES]:
            start = min(comp, key=order.__getitem__)
            sub = g.subgraph(comp)
            cycle_edges = nx.find_cycle(sub, source=start)
            path = [u for u, _v in cycle_edges]
            # Start the sentence at the earliest node, so it is the same on every run.
            first = min(range(len(path)), key=lambda i: order[path[i]])
            path = path[first:] + path[:first]
            self.add(
                ERROR,
                "cycle",
                "Cycle: " + " → ".join(path + [path[0]]) + ". A model must not feed a "
                "layer's output back into itself.",
                node=path[0],
            )

    def check_node(self, node: Node) -> None:
        if node.type == MODEL_TYPE:
            self.check_model_node(node)
            return
        spec = self.spec(node)
        self.check_shared(node)
        if spec is None:
            if node.type == INPUT_TYPE:
                self.check_input_layer(node, None)
            else:
                self.add(
                    ERROR,
                    "unknown-type",
                    f"'{node.name}' has the type '{node.type}', which Studio does not know.",
                    node=node.name,
                )
            self.check_sources(node)
            return
        if node.type == INPUT_TYPE:
            self.check_input_layer(node, spec)
        elif node.shared_with is None or node.shared_with not in self.nodes:
            self.check_params(node, spec)
        self.check_call_args(node, spec)
        self.check_ports(node, spec)
        self.check_sources(node)

    def check_sources(self, node: Node) -> None:
        """Every edge into ``node`` leaves an output its source has."""
        for e in self.in_edges[node.name]:
            src = self.nodes[e.src]
            outputs = self.output_names(src)
            if outputs is None or 0 <= e.src_output < len(outputs):
                continue
            listing = ", ".join(f"'{o}'" for o in outputs) or "none"
            self.add(
                ERROR,
                "bad-port",
                f"'{node.name}' input '{e.dst_port}' is connected to output {e.src_output} "
                f"of '{src.name}', which has {_plural(len(outputs), 'output')} ({listing}).",
                node=node.name,
                port=e.dst_port,
            )
        if node.type == INPUT_TYPE:
            for e in self.in_edges[node.name]:
                self.add(
                    ERROR,
                    "bad-port",
                    f"'{node.name}' is a model input and takes no connection, but "
                    f"'{e.src}' is connected to it.",
                    node=node.name,
                    port=e.dst_port,
                )

    def check_ports(self, node: Node, spec: LayerSpec) -> None:
        by_port: dict[str, list[Edge]] = {}
        for e in self.in_edges[node.name]:
            by_port.setdefault(e.dst_port, []).append(e)
        known = self.port_names(spec)
        for port, edges in by_port.items():
            if port not in known and node.type != INPUT_TYPE:
                have = ", ".join(f"'{p}'" for p in known) or "none"
                self.add(
                    ERROR,
                    "bad-port",
                    f"'{node.name}' has no input '{port}' (its inputs: {have}), but "
                    f"'{edges[0].src}' is connected to it.",
                    node=node.name,
                    port=port,
                )
        for p in spec.inputs:
            edges = by_port.get(p.name, [])
            self.check_port_sources(node, p.name, p.variadic, edges)
            constant = node.is_op and p.name in node.call_args
            if not edges:
                if not p.optional and not constant:
                    self.add(
                        ERROR,
                        "unconnected-input",
                        f"'{node.name}' has nothing connected to its input '{p.name}'.",
                        node=node.name,
                        port=p.name,
                    )
                continue
            if p.variadic:
                self.check_input_count(node, spec, p.name, len(edges) + int(constant))

    def check_port_sources(self, node: Node, port: str, variadic: bool, edges: list[Edge]) -> None:
        if len(edges) < 2:
            return
        if not variadic:
            srcs = ", ".join(f"'{e.src}'" for e in edges)
            self.add(
                ERROR,
                "duplicate-source",
                f"'{node.name}' input '{port}' takes one tensor but is fed by {srcs}.",
                node=node.name,
                port=port,
            )
            return
        seen: dict[int, Edge] = {}
        for e in edges:
            other = seen.get(e.slot)
            if other is not None:
                self.add(
                    ERROR,
                    "duplicate-source",
                    f"'{node.name}' input '{port}' has both '{other.src}' and '{e.src}' in "
                    f"position {e.slot}.",
                    node=node.name,
                    port=port,
                )
                return
            seen[e.slot] = e

    def check_input_count(self, node: Node, spec: LayerSpec, port: str, count: int) -> None:
        if node.is_op:
            lo, hi = 1, None
        else:
            lo, hi = _INPUT_COUNTS.get(
                (spec.class_name, port), (2, None) if port == "inputs" else (1, None)
            )
        if count >= lo and (hi is None or count <= hi):
            return
        if hi is None:
            need = f"at least {lo}"
        elif hi == lo:
            need = f"exactly {lo}"
        else:
            need = f"{lo} or {hi}" if hi == lo + 1 else f"{lo} to {hi}"
        self.add(
            ERROR,
            "input-count",
            f"'{node.name}' ({node.type}) needs {need} tensors on its input '{port}'; "
            f"it has {count}.",
            node=node.name,
            port=port,
        )

    def check_shared(self, node: Node) -> None:
        owner_name = node.shared_with
        if owner_name is None:
            return
        if owner_name == node.name:
            msg = f"'{node.name}' is set to share its own layer."
        elif owner_name not in self.nodes:
            msg = f"'{node.name}' shares the layer of '{owner_name}', which is not in the model."
        elif self.nodes[owner_name].type != node.type:
            owner = self.nodes[owner_name]
            msg = (
                f"'{node.name}' ({node.type}) shares the layer of '{owner_name}', which is a "
                f"{owner.type}; a shared layer must be of the same type."
            )
        else:
            return
        self.add(ERROR, "bad-shared", msg, node=node.name)

    def check_input_layer(self, node: Node, spec: LayerSpec | None) -> None:
        params = node.params
        shape = params.get("shape")
        batch_shape = params.get("batch_shape")
        if shape is None and batch_shape is None:
            self.add(
                ERROR,
                "param-required",
                f"'{node.name}' needs a shape: set parameter 'shape' (for example [28, 28, 1]).",
                node=node.name,
                param="shape",
            )
        for key in ("shape", "batch_shape"):
            value = params.get(key)
            if value is not None and not self.shape_ok(value):
                self.add(
                    ERROR,
                    "param-type",
                    f"'{node.name}' parameter '{key}' must be a list of positive integers or "
                    f"None. Received: {key}={_fmt(value)}.",
                    node=node.name,
                    param=key,
                )
        if spec is None:
            return
        known = self.params_of(spec)
        for key, value in params.items():
            if key in ("shape", "batch_shape"):
                continue
            p = known.get(key)
            if p is None:
                if key not in _INPUT_LAYER_KEYS and key not in spec.defaults:
                    self.unknown_param(node, spec, key)
                continue
            self.check_value(node, p, value)

    @staticmethod
    def shape_ok(value: Any) -> bool:
        return _is_seq(value) and all(v is None or (_is_int(v) and v >= 0) for v in value)

    def check_params(self, node: Node, spec: LayerSpec) -> None:
        known = self.params_of(spec)
        for key, value in node.params.items():
            p = known.get(key)
            if p is None:
                if key not in spec.defaults:
                    self.unknown_param(node, spec, key)
                continue
            self.check_value(node, p, value, owner=spec.type)
        for p in self.required_of(spec):
            if p.name not in node.params:
                self.add(
                    ERROR,
                    "param-required",
                    f"'{node.name}' needs a value for parameter '{p.name}'.",
                    node=node.name,
                    param=p.name,
                )

    def check_call_args(self, node: Node, spec: LayerSpec) -> None:
        known = self.call_params_of(spec)
        ports = self.port_names(spec)
        for key, value in node.call_args.items():
            p = known.get(key)
            if p is not None:
                self.check_value(node, p, value, call=True)
            elif not (node.is_op and key in ports):
                self.add(
                    ERROR,
                    "param-unknown",
                    f"'{node.name}' ({node.type}) has no call argument '{key}'.",
                    node=node.name,
                    param=key,
                )

    def unknown_param(self, node: Node, spec: LayerSpec, key: str) -> None:
        self.add(
            ERROR,
            "param-unknown",
            f"'{node.name}' ({node.type}) has no parameter '{key}'.",
            node=node.name,
            param=key,
        )

    def check_value(
        self,
        node: Node,
        p: ParamSpec,
        value: Any,
        call: bool = False,
        owner: str | None = None,
    ) -> None:
        """Check one value; ``owner`` is the type whose parameter it is (for a wrapped
        layer's parameter, the wrapper's type: ``p.name`` is then a path, "layer.units")."""
        what = "call argument" if call else "parameter"
        if value is None:
            if p.required:
                self.add(
                    ERROR,
                    "param-required",
                    f"'{node.name}' needs a value for {what} '{p.name}'.",
                    node=node.name,
                    param=p.name,
                )
            elif not (p.nullable or p.default is None or p.kind in ("any", "activation", "dtype")):
                self.add(
                    ERROR,
                    "param-type",
                    f"'{node.name}' {what} '{p.name}' cannot be empty "
                    f"(default: {_fmt(p.default)}).",
                    node=node.name,
                    param=p.name,
                )
            return
        if not self.type_ok(p, value):
            if p.kind == "choice" and p.choices:
                expected = "one of " + ", ".join(_fmt(c) for c in p.choices)
            elif p.kind == "int_tuple" and p.length:
                expected = f"a list of {p.length} integers"
            elif p.kind == "int_or_tuple" and p.length:
                expected = f"an integer or a list of {p.length} integers"
            elif p.kind == "float_or_tuple" and p.length:
                expected = f"a number or a list of {p.length} numbers"
            elif p.kind in ("activation", "initializer", "regularizer", "constraint") and (
                isinstance(value, str)
            ):
                expected = f"a known {p.kind} name"
            else:
                expected = _KIND_TEXT.get(p.kind, p.kind)
            self.add(
                ERROR,
                "param-type",
                f"'{node.name}' {what} '{p.name}' must be {expected}. "
                f"Received: {p.name}={_fmt(value)}.",
                node=node.name,
                param=p.name,
            )
            return
        if p.kind == "layer" and not call:
            self.check_inner_layer(node, p, value, owner or node.type)
            return
        self.check_range(node, p, value, what)

    def check_inner_layer(self, node: Node, p: ParamSpec, value: dict, owner: str) -> None:
        """A wrapper's layer (Bidirectional's ``layer``): a known Keras layer that the wrapper
        takes, with valid parameters. Diagnostics name the path: ``param="layer.units"``."""
        class_name = value["class_name"]
        inner = self.catalog.by_class(value.get("module") or "keras.layers", class_name)
        if inner is None or inner.is_op or inner.type in (INPUT_TYPE, MODEL_TYPE):
            self.add(
                ERROR,
                "param-layer",
                f"'{node.name}' parameter '{p.name}' is a '{class_name}', which is not a "
                "Keras layer Studio knows.",
                node=node.name,
                param=p.name,
            )
            return
        if owner == "Bidirectional" and inner.param("go_backwards") is None:
            self.add(
                ERROR,
                "param-layer",
                f"'{node.name}' parameter '{p.name}' must be a recurrent layer (LSTM, GRU, "
                f"SimpleRNN, ConvLSTM...), not {class_name}.",
                node=node.name,
                param=p.name,
            )
            return
        config = value["config"]
        known = self.params_of(inner)
        for key, v in config.items():
            if key == "name":
                if not isinstance(v, str):
                    self.add(
                        ERROR,
                        "param-type",
                        f"'{node.name}' parameter '{p.name}.name' must be a string. "
                        f"Received: name={_fmt(v)}.",
                        node=node.name,
                        param=f"{p.name}.name",
                    )
                continue
            ip = known.get(key)
            if ip is None:
                if key not in inner.defaults:
                    self.add(
                        ERROR,
                        "param-unknown",
                        f"'{node.name}' parameter '{p.name}': {class_name} has no parameter "
                        f"'{key}'.",
                        node=node.name,
                        param=f"{p.name}.{key}",
                    )
                continue
            self.check_value(node, replace(ip, name=f"{p.name}.{key}"), v, owner=inner.type)
        for ip in self.required_of(inner):
            if ip.name not in config:
                self.add(
                    ERROR,
                    "param-required",
                    f"'{node.name}' needs a value for parameter '{p.name}.{ip.name}' "
                    f"(the {class_name}'s {ip.name}).",
                    node=node.name,
                    param=f"{p.name}.{ip.name}",
                )

    def type_ok(self, p: ParamSpec, v: Any) -> bool:
        kind = p.kind
        if kind == "int":
            return _is_int(v)
        if kind == "float":
            return _is_number(v)
        if kind == "bool":
            return isinstance(v, bool)
        if kind == "str":
            return isinstance(v, str)
        if kind == "choice":
            if not p.choices:
                return True
            return any(v == c and type(v) is type(c) for c in p.choices) or (
                _is_number(v) and any(_is_number(c) and v == c for c in p.choices)
            )
        if kind == "int_tuple":
            return (
                _is_seq(v) and all(_is_int(x) for x in v) and (not p.length or len(v) == p.length)
            )
        if kind == "int_or_tuple":
            # Padding and cropping also take one (before, after) pair per axis.
            return _is_int(v) or (
                _is_seq(v)
                and all(_is_int(x) or (_is_seq(x) and all(_is_int(y) for y in x)) for x in v)
                and (not p.length or len(v) == p.length)
            )
        if kind == "float_or_tuple":
            return _is_number(v) or (
                _is_seq(v)
                and all(_is_number(x) for x in v)
                and (not p.length or len(v) == p.length)
            )
        if kind == "shape":
            return _is_seq(v) and all(x is None or _is_int(x) for x in v)
        if kind == "int_list":
            return _is_seq(v) and all(_is_int(x) for x in v)
        if kind == "float_list":
            return _is_seq(v) and all(_is_number(x) for x in v)
        if kind in ("activation", "initializer", "regularizer", "constraint"):
            if isinstance(v, str):
                names = self.choice_set(kind)
                return not names or v in names
            return _is_serialized(v)
        if kind == "dtype":
            return isinstance(v, (str, dict))
        if kind == "layer":
            return _is_serialized(v) and isinstance(v.get("config"), dict)
        return True  # "any" and kinds this version does not know

    def check_range(self, node: Node, p: ParamSpec, value: Any, what: str) -> None:
        if p.min is None and p.max is None:
            return
        if _is_number(value):
            values = [value]
        elif _is_seq(value):
            values = [x for x in value if _is_number(x)]
        else:
            return
        for x in values:
            if (p.min is not None and x < p.min) or (p.max is not None and x > p.max):
                if p.min is not None and p.max is not None:
                    need = f"between {_fmt(p.min)} and {_fmt(p.max)}"
                elif p.min is not None:
                    need = f"at least {_fmt(p.min)}"
                else:
                    need = f"at most {_fmt(p.max)}"
                self.add(
                    ERROR,
                    "param-range",
                    f"'{node.name}' {what} '{p.name}' is {_fmt(value)}; it must be {need}.",
                    node=node.name,
                    param=p.name,
                )
                return

    # ------------------------------------------------------------------ nested models
    def check_model_node(self, node: Node) -> None:
        self.check_shared(node)
        sub = node.subgraph
        if sub is None:
            self.add(
                ERROR,
                "bad-subgraph",
                f"'{node.name}' is a nested model with no content.",
                node=node.name,
            )
            return
        for d in validate(sub, self.catalog):
            self.diags.append(replace(d, message=f"in '{node.name}': {d.message}", node=node.name))
        self.check_sources(node)
        spec = self.spec(node)
        spec_ports = {p.name: p for p in spec.inputs} if spec is not None else {}
        sub_inputs = [n.name for n in sub.nodes if n.type == INPUT_TYPE]
        by_port: dict[str, list[Edge]] = {}
        for e in self.in_edges[node.name]:
            by_port.setdefault(e.dst_port, []).append(e)
        for port, edges in by_port.items():
            if port not in sub_inputs and port not in spec_ports:
                have = ", ".join(f"'{p}'" for p in sub_inputs) or "none"
                self.add(
                    ERROR,
                    "bad-port",
                    f"'{node.name}' has no input '{port}' (its inputs: {have}), but "
                    f"'{edges[0].src}' is connected to it.",
                    node=node.name,
                    port=port,
                )
        variadic = [p for p in spec_ports.values() if p.variadic and p.name in by_port]
        if variadic:
            # Fed as a list on one port: one tensor per nested input.
            port = variadic[0].name
            self.check_port_sources(node, port, True, by_port[port])
            count = len(by_port[port])
            if count != len(sub_inputs):
                self.add(
                    ERROR,
                    "input-count",
                    f"'{node.name}' needs exactly {len(sub_inputs)} tensors on its input "
                    f"'{port}' (one per nested input); it has {count}.",
                    node=node.name,
                    port=port,
                )
            return
        for name in sub_inputs:
            edges = by_port.get(name, [])
            self.check_port_sources(node, name, False, edges)
            if not edges:
                self.add(
                    ERROR,
                    "unconnected-input",
                    f"'{node.name}' has nothing connected to its input '{name}'.",
                    node=node.name,
                    port=name,
                )

    # ------------------------------------------------------------------ warnings
    def check_reachability(self) -> None:
        targets = [o.node for o in self.graph.outputs if o.node in self.nodes]
        if not targets:
            return
        used = set(targets)
        frontier = deque(targets)
        while frontier:
            cur = frontier.popleft()
            for e in self.in_edges[cur]:
                if e.src not in used:
                    used.add(e.src)
                    frontier.append(e.src)
        for node in self.nodes.values():
            if node.name in used:
                continue
            if node.type == INPUT_TYPE:
                self.add(
                    WARNING,
                    "unused-input",
                    f"Input '{node.name}' is not used by any model output.",
                    node=node.name,
                )
            else:
                self.add(
                    WARNING,
                    "unreachable",
                    f"'{node.name}' does not lead to any model output, so it will be left "
                    "out of the model.",
                    node=node.name,
                )
