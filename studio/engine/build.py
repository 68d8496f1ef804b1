"""Graph -> Keras: layer objects from nodes, and a Functional ``keras.Model`` from a graph.

A node's parameters are the layer's own config keys, so making its layer is
``cls.from_config(defaults | params | {"name": node.name})``, the same path Keras takes when
it loads a saved model. Layer names equal node names; inputs follow node order and outputs
follow ``graph.outputs``.
"""

from __future__ import annotations

import importlib
from typing import Any

from studio.catalog import Catalog, LayerSpec, load_catalog
from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Graph, GraphError, Node
from studio.engine import EngineError, load_keras
from studio.engine.errors import explain

keras = load_keras()

_CLASS_CACHE: dict[tuple[str, str], type] = {}


def keras_class(spec: LayerSpec) -> type:
    """The Keras class behind a catalog entry (imported once)."""
    if spec.module == "studio.custom":  # a custom layer: the class the project's code made
        from studio.engine.custom import active_class

        return active_class(spec.class_name)
    key = (spec.module, spec.class_name)
    cls = _CLASS_CACHE.get(key)
    if cls is None:
        cls = getattr(importlib.import_module(spec.module), spec.class_name)
        _CLASS_CACHE[key] = cls
    return cls


def input_config(node: Node, spec: LayerSpec | None) -> dict[str, Any]:
    """The InputLayer constructor arguments: ``shape`` (+ ``batch_size``) or ``batch_shape``."""
    cfg = spec.config(node.params) if spec else dict(node.params)
    if "shape" in node.params:
        cfg.pop("batch_shape", None)
    cfg["name"] = node.name
    return cfg


def layer_config(node: Node, spec: LayerSpec) -> dict[str, Any]:
    cfg = spec.config(node.params)
    cfg["name"] = node.name
    return cfg


def make_layer(node: Node, spec: LayerSpec):
    """A fresh (unbuilt) Keras layer or operation for ``node``."""
    cls = keras_class(spec)
    try:
        return cls.from_config(layer_config(node, spec))
    except Exception as exc:  # Keras validates arguments in __init__
        _raise_if_user_code(exc, node)
        raise EngineError(explain(exc, node, spec), node.name) from exc


def _raise_if_user_code(exc: BaseException, node: Node) -> None:
    """An exception raised inside the project's code: its sentence names the user's line."""
    if node.type.startswith("custom."):
        from studio.engine.custom import as_code_error

        error = as_code_error(exc, node=node.name)
        if error is not None:
            raise error from exc


def node_spec(node: Node, catalog: Catalog) -> LayerSpec:
    spec = catalog.get(node.type)
    if spec is None:
        raise EngineError(f"Unknown layer type '{node.type}'.", node.name)
    return spec


def port_names(node: Node, spec: LayerSpec | None, subgraph: Graph | None = None) -> list[str]:
    """The input ports of a node, in call order (a nested model's: its graph's inputs)."""
    if node.type == MODEL_TYPE:
        subgraph = subgraph or node.subgraph
        if subgraph is None:
            raise EngineError("This nested model has no graph.", node.name)
        return [n.name for n in subgraph.input_nodes]
    return [p.name for p in spec.inputs] if spec else []


def gather_inputs(graph: Graph, node: Node, produced: dict[str, list[Any]]) -> dict[str, Any]:
    """``{port: tensor}`` (or a slot-ordered list for variadic ports) from the node's edges."""
    by_port: dict[str, list[tuple[int, Any]]] = {}
    for e in graph.in_edges(node.name):
        outs = produced.get(e.src)
        if outs is None:
            raise EngineError(f"'{e.src}' has not produced a tensor yet.", node.name)
        if e.src_output >= len(outs):
            raise EngineError(
                f"'{e.src}' has {len(outs)} output(s); output {e.src_output} does not exist.",
                node.name,
            )
        by_port.setdefault(e.dst_port, []).append((e.slot, outs[e.src_output]))
    return {port: [t for _, t in sorted(items, key=lambda x: x[0])] for port, items in by_port.items()}


def call_layer(
    layer,
    node: Node,
    spec: LayerSpec | None,
    inputs: dict[str, list[Any]],
    subgraph: Graph | None = None,
):
    """Call a layer/op/nested model the way the Functional API would, return its outputs."""
    if node.type == MODEL_TYPE:
        # A shared nested model takes the ports of the owner's graph.
        names = port_names(node, spec, subgraph)
        args = [inputs[n][0] if n in inputs else None for n in names]
        missing = [n for n, a in zip(names, args) if a is None]
        if missing:
            raise EngineError(f"Nothing is connected to input '{missing[0]}'.", node.name)
        result = layer(args[0] if len(args) == 1 else args)
        return as_list(result)

    args, kwargs = call_arguments(node, spec, inputs)
    result = layer(*args, **kwargs)
    return as_list(result)


def call_arguments(
    node: Node, spec: LayerSpec, inputs: dict[str, list[Any]]
) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments for calling a layer or op on ``inputs``.

    Layers get their required tensor ports positionally and optional ones by keyword, as
    people write them (``mha(q, v, key=k)``); ops get every operand positionally, with
    constants from ``call_args`` where no edge arrives.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    constants = dict(node.call_args)
    if spec.is_op:
        # Operations take their operands positionally; an unconnected one is a constant.
        skipped = False
        for p in spec.inputs:
            if p.name in inputs:
                value = inputs[p.name] if p.variadic else inputs[p.name][0]
            elif p.name in constants:
                value = constants.pop(p.name)
            elif p.optional:
                skipped = True
                continue
            else:
                raise EngineError(f"Nothing is connected to input '{p.name}'.", node.name)
            if skipped:
                kwargs[p.name] = value
            else:
                args.append(value)
        kwargs.update(constants)
    else:
        for p in spec.inputs:
            if p.name not in inputs:
                if not p.optional:
                    raise EngineError(f"Nothing is connected to input '{p.name}'.", node.name)
                continue
            value = inputs[p.name] if p.variadic else inputs[p.name][0]
            if p.optional:
                kwargs[p.name] = value
            else:
                args.append(value)
        kwargs.update(constants)
    return args, kwargs


def as_list(result) -> list[Any]:
    if isinstance(result, (list, tuple)):
        return list(result)
    if isinstance(result, dict):  # Keras' flatten order
        return [result[k] for k in sorted(result)]
    return [result]


def build_model(graph: Graph, catalog: Catalog | None = None, name: str | None = None):
    """Compile a graph to a Functional ``keras.Model`` (or ``keras.Sequential``).

    Raises:
        EngineError: naming the node whose layer Keras refused, in plain words.
    """
    catalog = catalog or load_catalog()
    if getattr(graph, "code", None):  # the project's custom layers: trusted code only
        from studio.core.code import catalog_for
        from studio.engine.custom import load_code

        load_code(graph)
        catalog = catalog_for(graph, catalog)
    # Model nodes the user chose to compile inline become layers of this graph.
    from studio.core.blocks import expand_inline

    try:
        graph = expand_inline(graph)
    except GraphError as exc:
        raise EngineError(str(exc)) from None
    if graph.style == "sequential":
        return _build_sequential(graph, catalog, name or graph.name)
    try:
        order = graph.topological_order()
    except GraphError as exc:
        raise EngineError(str(exc)) from None
    produced: dict[str, list[Any]] = {}
    layers: dict[str, Any] = {}
    inputs: list[Any] = []
    for node_name in order:
        node = graph.node(node_name)
        if node.type == INPUT_TYPE:
            spec = catalog.get(INPUT_TYPE)
            try:
                layer = keras.layers.InputLayer(**input_config(node, spec))
            except Exception as exc:
                raise EngineError(explain(exc, node, spec), node.name) from exc
            layers[node.name] = layer
            produced[node.name] = [layer.output]
            continue
        spec = None if node.type == MODEL_TYPE else node_spec(node, catalog)
        if node.shared_with:
            if node.shared_with not in layers:
                raise EngineError(
                    f"It shares the layer of '{node.shared_with}', which is not built.",
                    node.name,
                )
            layer = layers[node.shared_with]
        elif node.type == MODEL_TYPE:
            if node.subgraph is None:
                raise EngineError("This nested model has no graph.", node.name)
            layer = build_model(node.subgraph, catalog, name=node.name)
        else:
            layer = make_layer(node, spec)
        layers[node.name] = layer
        ins = gather_inputs(graph, node, produced)
        owner = graph.node(node.shared_with) if node.shared_with else node
        try:
            produced[node.name] = call_layer(layer, node, spec, ins, owner.subgraph)
        except EngineError:
            raise
        except Exception as exc:
            _raise_if_user_code(exc, node)
            raise EngineError(explain(exc, node, spec, ins), node.name) from exc

    for node in graph.input_nodes:
        inputs.append(produced[node.name][0])
    if not graph.outputs:
        raise EngineError("The model has no output: mark a node as an output.")
    outs: list[Any] = []
    for o in graph.outputs:
        tensors = produced.get(o.node)
        if tensors is None or o.index >= len(tensors):
            raise EngineError(f"Output {o.index} of '{o.node}' does not exist.", o.node)
        outs.append(tensors[o.index])
    model_inputs = inputs[0] if len(inputs) == 1 else inputs
    if any(o.name for o in graph.outputs):
        model_outputs: Any = {o.name or o.node: t for o, t in zip(graph.outputs, outs)}
    else:
        model_outputs = outs[0] if len(outs) == 1 else outs
    try:
        return keras.Model(model_inputs, model_outputs, name=name or graph.name)
    except Exception as exc:
        raise EngineError(f"Keras could not assemble the model: {exc}") from exc


def _build_sequential(graph: Graph, catalog: Catalog, name: str):
    order = graph.topological_order()
    stack = []
    for node_name in order:
        node = graph.node(node_name)
        if node.type == INPUT_TYPE:
            stack.append(keras.layers.InputLayer(**input_config(node, catalog.get(INPUT_TYPE))))
        elif node.type == MODEL_TYPE:
            stack.append(build_model(node.subgraph, catalog, name=node.name))
        else:
            stack.append(make_layer(node, node_spec(node, catalog)))
    try:
        return keras.Sequential(stack, name=name)
    except Exception as exc:
        raise EngineError(f"Keras could not assemble the sequential model: {exc}") from exc
