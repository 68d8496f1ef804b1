"""Shapes and parameter counts of every node, kept up to date edit by edit.

Each node's result is cached on what determines it: its type, full config, call arguments,
the layer it shares, and the shapes/dtypes it receives. After one edit only nodes whose key
changed are recomputed: the edited node and, if its output changed, the nodes downstream.

Layers are built inside a Keras ``StatelessScope`` that does not initialise variables, so
building for a parameter count allocates no weights and no TensorFlow variables.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from studio.catalog import Catalog, load_catalog
from studio.core.code import catalog_for, code_fingerprint, is_custom_type
from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Graph, GraphError, Node
from studio.engine import EngineError, load_keras
from studio.engine.build import (
    as_list,
    build_model,
    call_arguments,
    call_layer,
    input_config,
    layer_config,
    make_layer,
    node_spec,
)
from studio.engine.custom import as_code_error, load_code
from studio.engine.errors import explain, shape_text

keras = load_keras()

try:  # Keras internals: a scope that records variables without creating them, and the
    # pieces of Layer.__call__ that build a layer and infer its output (see _symbolic_call).
    from keras.src.backend.common import global_state  # noqa: E402
    from keras.src.backend.common.stateless_scope import StatelessScope  # noqa: E402
    from keras.src.layers.layer import CallSpec  # noqa: E402
except ImportError:  # pragma: no cover - a future Keras; fall back to real builds
    StatelessScope = None
    global_state = None
    CallSpec = None

Spec = tuple[tuple[int | None, ...], str]  # (shape including batch, dtype)


@dataclass
class NodeInfo:
    """What shape inference knows about one node."""

    outputs: list[Spec] = field(default_factory=list)
    params: int = 0
    trainable: int = 0
    non_trainable: int = 0
    error: str | None = None
    blocked_by: str | None = None  # an upstream node whose error hides this node's shape
    warnings: list[str] = field(default_factory=list)
    # Not an error: the node is (or follows) a custom layer whose code has not run because
    # the project is not trusted; the sentence says so (NOT_EVALUATED, or naming the node).
    not_evaluated: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.blocked_by is None and self.not_evaluated is None

    def output_text(self) -> str:
        if not self.outputs:
            return "?"
        texts = [shape_text(s) for s, _ in self.outputs]
        return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


@dataclass
class ShapeResult:
    nodes: dict[str, NodeInfo]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    recomputed: list[str]
    seconds: float

    @property
    def errors(self) -> dict[str, str]:
        return {n: i.error for n, i in self.nodes.items() if i.error}

    @property
    def not_evaluated(self) -> dict[str, str]:
        """Nodes whose shape waits for the project's code to be trusted, with the reason."""
        return {n: i.not_evaluated for n, i in self.nodes.items() if i.not_evaluated}


#: The status of a custom layer's node while the project's code is not trusted.
NOT_EVALUATED = "Code not evaluated: trust the project to run it."


def _freeze(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _spec_of(tensor) -> Spec:
    return (tuple(tensor.shape), str(tensor.dtype))


def _count(weights) -> int:
    return int(sum(math.prod(int(d) for d in w.shape) for w in weights))


class ShapeInference:
    """Incremental shape and parameter-count inference over one graph at a time.

    Thread-affine: Keras keeps its scopes per thread, so use one instance from one thread
    (the GUI's engine worker, or the command line).
    """

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()
        self._cache: dict[tuple, NodeInfo] = {}

    def clear(self) -> None:
        self._cache.clear()

    def infer(self, graph: Graph) -> ShapeResult:
        start = time.perf_counter()
        base = self.catalog
        self._code_state = self._load_code(graph)
        self.catalog = catalog_for(graph, base)
        try:
            result = self._infer(graph)
        finally:
            self.catalog = base
        result.seconds = time.perf_counter() - start
        return result

    _code_state: tuple = ()

    def _load_code(self, graph: Graph) -> tuple:
        """Run the project's code when it is trusted. Returns the part of every cache key
        that custom nodes depend on: (fingerprint, trusted, error or None)."""
        if not getattr(graph, "code", None):
            return ()
        trusted = bool(getattr(graph, "trusted_code", False))
        error = None
        if trusted:
            try:
                load_code(graph)
            except EngineError as exc:
                error = exc.message
        return (code_fingerprint(graph), trusted, error)

    # ------------------------------------------------------------------ internals
    def _infer(self, graph: Graph) -> ShapeResult:
        infos: dict[str, NodeInfo] = {}
        keys: dict[str, tuple] = {}
        recomputed: list[str] = []
        try:
            order = graph.topological_order()
        except GraphError:
            order = []
            for node in graph.nodes:
                infos[node.name] = NodeInfo(error="This node is part of a cycle.")
        in_edges: dict[str, list] = {}
        for e in graph.edges:
            in_edges.setdefault(e.dst, []).append(e)
        live = set()
        specs_by_node: dict[str, list] = {}
        for node_name in order:
            node = graph.node(node_name)
            edges = sorted(in_edges.get(node_name, []), key=lambda e: (e.dst_port, e.slot))
            blocked = None
            in_specs = []
            waiting = next(
                (
                    e.src
                    for e in edges
                    if infos.get(e.src) is not None and infos[e.src].not_evaluated
                ),
                None,
            )
            if waiting is not None and not any(
                infos.get(e.src) is None or infos[e.src].error or infos[e.src].blocked_by
                for e in edges
            ):
                infos[node_name] = NodeInfo(
                    not_evaluated=f"Shape unknown until the project's code runs ('{waiting}' "
                    "is a custom layer that has not been evaluated)."
                )
                continue
            for e in edges:
                src = infos.get(e.src)
                if src is None or not src.ok:
                    blocked = e.src if src is None or src.error else src.blocked_by
                    break
                if e.src_output >= len(src.outputs):
                    blocked = e.src
                    break
                in_specs.append((e.dst_port, e.slot, src.outputs[e.src_output]))
            if blocked is not None:
                infos[node_name] = NodeInfo(blocked_by=blocked)
                continue
            owner = graph.node(node.shared_with) if node.shared_with in graph else None
            config_node = owner if owner is not None else node
            owner_specs = specs_by_node.get(node.shared_with) if node.shared_with else None
            specs_by_node[node_name] = in_specs
            key = (
                node.type,
                config_node.type,
                _freeze(config_node.params),
                _freeze(node.call_args),
                node.shared_with,
                keys.get(node.shared_with) if node.shared_with else None,
                node.subgraph.structure() if node.subgraph is not None else None,
                tuple(in_specs),
                self._code_state if _runs_code(config_node) else None,
            )
            keys[node_name] = key
            live.add(key)
            cached = self._cache.get(key)
            if cached is None and _runs_code(config_node) and not (
                self._code_state and self._code_state[1]
            ):
                cached = NodeInfo(not_evaluated=NOT_EVALUATED)
                self._cache[key] = cached
            elif cached is None and _runs_code(config_node) and self._code_state[2]:
                cached = NodeInfo(error=self._code_state[2])
                self._cache[key] = cached
            if cached is None:
                cached = self._compute(graph, node, config_node, in_specs, owner_specs)
                self._cache[key] = cached
                recomputed.append(node_name)
            info = NodeInfo(
                outputs=cached.outputs,
                params=0 if node.shared_with else cached.params,
                trainable=0 if node.shared_with else cached.trainable,
                non_trainable=0 if node.shared_with else cached.non_trainable,
                error=cached.error,
                warnings=list(cached.warnings),
                not_evaluated=cached.not_evaluated,
            )
            infos[node_name] = info
        # Drop cache entries no node uses any more, so memory stays bounded by the graph.
        if len(self._cache) > 4 * max(len(live), 64):
            self._cache = {k: v for k, v in self._cache.items() if k in live}
        for node in graph.nodes:
            infos.setdefault(node.name, NodeInfo(error="Not reached."))
        total = sum(i.params for i in infos.values())
        trainable = sum(i.trainable for i in infos.values())
        return ShapeResult(
            nodes={n.name: infos[n.name] for n in graph.nodes},
            total_params=total,
            trainable_params=trainable,
            non_trainable_params=total - trainable,
            recomputed=recomputed,
            seconds=0.0,
        )

    def _compute(
        self, graph: Graph, node: Node, config_node: Node, in_specs, owner_specs=None
    ) -> NodeInfo:
        try:
            if node.type == INPUT_TYPE:
                return self._input_info(node)
            if node.type == MODEL_TYPE:
                return self._model_info(node, config_node, in_specs)
            return self._layer_info(node, config_node, in_specs, owner_specs)
        except EngineError as exc:
            return NodeInfo(error=exc.message)
        except Exception as exc:  # any Keras failure becomes this node's diagnostic
            error = as_code_error(exc) if _runs_code(config_node) else None
            if error is not None:
                return NodeInfo(error=error.message)
            return NodeInfo(error=explain(exc, node, self.catalog.get(node.type)))
        finally:
            _forget_deferred_variables()

    def _input_info(self, node: Node) -> NodeInfo:
        layer = keras.layers.InputLayer(**input_config(node, self.catalog.get(INPUT_TYPE)))
        return NodeInfo(outputs=[_spec_of(layer.output)])

    def _inputs_from_specs(self, in_specs) -> dict[str, list[Any]]:
        tensors: dict[str, list[Any]] = {}
        for port, _slot, (shape, dtype) in in_specs:
            tensors.setdefault(port, []).append(keras.KerasTensor(shape, dtype=dtype))
        return tensors

    def _layer_info(self, node: Node, config_node: Node, in_specs, owner_specs=None) -> NodeInfo:
        spec = node_spec(config_node, self.catalog)
        tensors = self._inputs_from_specs(in_specs)
        scope = StatelessScope(initialize_variables=False) if StatelessScope else _NullScope()
        with scope:
            if spec.module == "studio.engine.applications" and spec.class_name == "Backbone":
                return _backbone_info(node, config_node, spec, tensors)
            layer = make_layer(config_node, spec)
            if owner_specs is not None:
                # A shared layer is built where its owner is applied; this application
                # must fit the weights made there.
                try:
                    _symbolic_call(
                        layer, config_node, spec, self._inputs_from_specs(owner_specs)
                    )
                except Exception:
                    raise EngineError(
                        f"'{config_node.name}', whose layer this node shares, has an error."
                    ) from None
            try:
                outputs = _symbolic_call(layer, node, spec, tensors)
            except EngineError:
                raise
            except Exception as exc:
                error = as_code_error(exc, node=node.name) if _runs_code(config_node) else None
                if error is not None:
                    raise error from exc
                raise EngineError(explain(exc, node, spec, tensors), node.name) from exc
        info = NodeInfo(outputs=[_spec_of(t) for t in outputs])
        if not spec.is_op:
            info.trainable = _count(layer.trainable_weights)
            info.non_trainable = _count(layer.non_trainable_weights)
            info.params = info.trainable + info.non_trainable
        if node.type in {"Dense", "EinsumDense"} and tensors.get("inputs"):
            shape = tensors["inputs"][0].shape
            if len(shape) > 2 and node.type == "Dense":
                info.warnings.append(
                    f"Dense receives a {len(shape)}-D tensor {shape_text(shape)} and acts on "
                    "its last axis only; add a Flatten or GlobalPooling layer before it if "
                    "you want one output vector per sample."
                )
        return info

    def _model_info(self, node: Node, config_node: Node, in_specs) -> NodeInfo:
        subgraph = config_node.subgraph
        if subgraph is None:
            raise EngineError("This nested model has no graph.", node.name)
        model = build_model(subgraph, self.catalog, name=config_node.name)
        tensors = self._inputs_from_specs(in_specs)
        outputs = call_layer(model, node, None, tensors, subgraph)
        return NodeInfo(
            outputs=[_spec_of(t) for t in outputs],
            params=_count(model.weights),
            trainable=_count(model.trainable_weights),
            non_trainable=_count(model.non_trainable_weights),
        )


def _backbone_info(node: Node, config_node: Node, spec, tensors) -> NodeInfo:
    """A keras.applications backbone: built with weights=None (never a download; the shapes
    are the same) and kept by configuration, so repeated requests do not rebuild it."""
    from studio.engine.applications import backbone_outputs

    try:
        outputs, model = backbone_outputs(layer_config(config_node, spec), tensors)
    except EngineError as exc:
        raise EngineError(exc.message, node.name) from None
    except Exception as exc:
        raise EngineError(explain(exc, node, spec, tensors), node.name) from exc
    info = NodeInfo(outputs=[_spec_of(t) for t in outputs])
    info.trainable = _count(model.trainable_weights)
    info.non_trainable = _count(model.non_trainable_weights)
    info.params = info.trainable + info.non_trainable
    return info


def _runs_code(node: Node) -> bool:
    """Whether the node's shape needs the project's code: a custom layer, or a nested model
    holding one."""
    if is_custom_type(node.type):
        return True
    if node.subgraph is not None:
        return any(_runs_code(n) for n in node.subgraph.nodes)
    return False


def _symbolic_call(layer, node: Node, spec, tensors) -> list[Any]:
    """Build ``layer`` for these inputs and infer its outputs, without ``Layer.__call__``.

    ``__call__`` on symbolic tensors also records a graph node, sets up name scopes, masks
    and autocasting: three times the work of what shape inference needs. This runs the
    same input check, build and ``compute_output_spec`` that ``__call__`` runs; ops and
    layers whose internals differ from what is expected take the ordinary call.
    """
    if CallSpec is None or spec.is_op or not hasattr(layer, "_maybe_build"):
        return call_layer(layer, node, spec, tensors)
    args, kwargs = call_arguments(node, spec, tensors)
    try:
        call_spec = CallSpec(
            layer._call_signature, layer._call_context_args, list(args), dict(kwargs)
        )
    except (AttributeError, TypeError):
        return call_layer(layer, node, spec, tensors)
    layer._assert_input_compatibility(call_spec.first_arg)
    layer._maybe_build(call_spec)
    return as_list(layer.compute_output_spec(*args, **kwargs))


class _NullScope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _forget_deferred_variables() -> None:
    """Variables made in a non-initialising StatelessScope wait in a per-thread list for
    initialisation that never comes; empty it so repeated inference does not leak."""
    if global_state is not None:
        global_state.set_global_attribute("uninitialized_variables", [])


def infer_shapes(graph: Graph, catalog: Catalog | None = None) -> ShapeResult:
    """One-shot shape inference (the command line's ``summary``)."""
    return ShapeInference(catalog).infer(graph)


def io_shapes(graph, result: ShapeResult) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """The model's input and output shapes (batch axis included) by name, as far as shape
    inference knows them: ``({"image": (None, 28, 28, 1)}, {"dense_1": (None, 10)})``."""
    inputs, outputs = {}, {}
    for node in graph.input_nodes:
        info = result.nodes.get(node.name)
        if info is not None and info.ok and info.outputs:
            inputs[node.name] = tuple(info.outputs[0][0])
    for o in graph.outputs:
        info = result.nodes.get(o.node)
        if info is not None and info.ok and o.index < len(info.outputs):
            outputs[o.name or o.node] = tuple(info.outputs[o.index][0])
    return inputs, outputs
