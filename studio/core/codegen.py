"""Project -> a standalone Keras Python script.

Pure Python: generates text from the graph, the catalog and the settings; imports neither Qt
nor TensorFlow. The script's ``build_model()`` reproduces :func:`studio.engine.build.build_model`
(same layers, configs and names); its ``main()`` loads and preprocesses the data as
:mod:`studio.engine.data` does, compiles as :mod:`studio.engine.training` does, trains,
evaluates and saves.

With ``settings["training"]["distribution"]`` the script trains under ``tf.distribute``:
``"mirrored"`` builds and compiles in a ``MirroredStrategy`` scope and calls ``fit`` with the
global batch; ``"multi_worker"`` reads ``TF_CONFIG`` (``MultiWorkerMirroredStrategy``) and
trains with a custom loop (Keras 3's ``fit`` fails under that strategy), checkpointing every
epoch so that a restarted cluster resumes; its docstring says how to launch two machines.

Three styles: ``"functional"`` (any graph), ``"sequential"`` (a single chain of layers) and
``"subclass"`` (a ``keras.Model`` subclass: layers in ``__init__``, flow in ``call``).
"""

from __future__ import annotations

import ast
import json
import keyword
import math
import re
import shutil
import subprocess
from typing import Any

from studio.catalog import Catalog, LayerSpec, load_catalog
from studio.core.code import (
    CUSTOM_MODULE,
    CUSTOM_PREFIX,
    catalog_for,
    defines_class,
    init_accepts_kwargs,
    root_code,
)
from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Graph, Node
from studio.core.settings import data_settings, output_names, training_settings

STYLES = ("functional", "sequential", "subclass")
LINE = 88  # ruff's default: an exported script is checked where it is saved
_INPUT_KWARGS = ("shape", "batch_size", "dtype", "sparse", "ragged", "batch_shape", "optional")
# Names a keras.Model subclass must not use as layer attributes.
_MODEL_ATTRS = frozenset(
    """input inputs output outputs layers layer name names weights variables dtype built
    trainable call build compile fit summary add predict evaluate save optimizer loss losses
    metrics history stop_training supports_masking training config get_config from_config
    count_params submodules non_trainable_weights trainable_weights compute_dtype
    dtype_policy input_spec input_shape output_shape path quantize export""".split()
)
_RESERVED = frozenset({"keras", "layers", "np", "model", "Path", "inputs", "outputs", "self"})


class CodegenError(ValueError):
    """A graph a style cannot express; ``node`` names the node at fault (or None)."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


# ===================================================================== literals and lines
def literal(value: Any, tuples: bool = False) -> str:
    """Python source for a JSON value (double quotes, as ruff formats)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        items = [literal(v, tuples) for v in value]
        if tuples or isinstance(value, tuple):
            if len(items) == 1:
                return f"({items[0]},)"
            return "(" + ", ".join(items) + ")"
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{json.dumps(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
        )
    raise CodegenError(f"Cannot write the value {value!r} as Python.")


def call_lines(indent: int, prefix: str, args: list[str], suffix: str = ")") -> list[str]:
    """``prefix(args)suffix`` wrapped the way ruff formats a call that is too long."""
    pad = " " * indent
    one = f"{pad}{prefix}{', '.join(args)}{suffix}"
    if len(one) <= LINE or not args:
        return [one]
    inner = " " * (indent + 4)
    joined = inner + ", ".join(args)
    if len(joined) <= LINE and not any("\n" in a for a in args):
        return [f"{pad}{prefix}", joined, f"{pad}{suffix}"]
    lines = [f"{pad}{prefix}"]
    for a in args:
        lines += _wrap_arg(indent + 4, a, ",")
    return lines + [f"{pad}{suffix}"]


def _wrap_arg(indent: int, arg: str, trailing: str) -> list[str]:
    """One argument on its own line(s): a bracketed value that is too long is exploded."""
    pad = " " * indent
    if len(pad + arg + trailing) <= LINE or arg[-1:] not in ")]}":
        return [pad + arg + trailing]
    close = arg[-1]
    depth, quote, start = 0, False, None
    for i, ch in enumerate(arg):
        if ch == '"' and (i == 0 or arg[i - 1] != "\\"):
            quote = not quote
        if quote:
            continue
        if ch in "([{":
            if depth == 0 and start is None:
                start = i
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i != len(arg) - 1:
                start = None
    if start is None:
        return [pad + arg + trailing]
    head, inner = arg[: start + 1], arg[start + 1 : -1]
    return call_lines(indent, head, _split_args(inner), close + trailing)


def _snake(text: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def _identifier(name: str) -> str:
    s = re.sub(r"\W", "_", _snake(name) if not name.islower() else name)
    s = re.sub(r"_+", "_", s).strip("_") or "x"
    if s[0].isdigit():
        s = "x_" + s
    if keyword.iskeyword(s) or s in ("print", "list", "dict", "type", "input", "id", "len"):
        s += "_"
    return s


class _Names:
    """Unique valid identifiers for node names (deterministic, in first-use order)."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.taken = set(taken)
        self.by_node: dict[str, str] = {}

    def __call__(self, node: str, suffix: str = "") -> str:
        key = node + "\0" + suffix
        if key in self.by_node:
            return self.by_node[key]
        base = _identifier(node) + suffix
        name, i = base, 1
        while name in self.taken:
            name = f"{base}_{i}"
            i += 1
        self.taken.add(name)
        self.by_node[key] = name
        return name


# ===================================================================== layer constructors
def _class_ref(spec: LayerSpec) -> str:
    if spec.module == CUSTOM_MODULE:  # a custom layer: its class is written into the script
        return spec.class_name
    if spec.module == "keras.layers":
        return f"layers.{spec.class_name}"
    if spec.module.startswith("keras.src."):
        # Not in Keras' public API (ConvNeXt's LayerScale): imported from its module.
        _PRIVATE_IMPORTS.add(f"from {spec.module} import {spec.class_name}")
        return spec.class_name
    if spec.module == _PRETRAINED and spec.class_name == "PreprocessInput":
        return "PreprocessInput"  # a small layer class written into the script
    if not spec.module.startswith("keras"):
        raise CodegenError(f"{spec.type} is not a Keras class.")
    return f"{spec.module}.{spec.class_name}"


_PRIVATE_IMPORTS: set[str] = set()
# Custom layer classes whose __init__ takes no **kwargs (no name=): built with named().
_UNNAMEABLE: set[str] = set()
_NAMED_USED: list[bool] = [False]
_CUSTOM_CLASSES: set[str] = set()  # custom metrics that are classes (instantiated)


def _layer_call(spec: LayerSpec, params: dict[str, Any], name: str, catalog) -> tuple[str, list]:
    """``("Class(", [args..., name=...])``; for a custom layer that cannot take ``name=``,
    ``("named(", ["Class(args)", "name"])``: ``named`` sets the name after construction."""
    args = _constructor_args(spec, params, catalog)
    if spec.module == CUSTOM_MODULE and spec.class_name in _UNNAMEABLE:
        _NAMED_USED[0] = True
        return "named(", [f"{_class_ref(spec)}({', '.join(args)})", literal(name)]
    return f"{_class_ref(spec)}(", args + [f"name={literal(name)}"]


def _param_value(spec: LayerSpec | None, key: str, value: Any, catalog: Catalog) -> str:
    p = spec.param(key) if spec else None
    if p is not None and p.kind == "layer" and isinstance(value, dict) and "class_name" in value:
        return _inner_layer(value, catalog)
    tuples = p is not None and p.kind in ("int_tuple", "int_or_tuple") and isinstance(value, list)
    if tuples and all(not isinstance(v, list) for v in value):
        return literal(value, tuples=True)
    return literal(value)


def _inner_layer(serialized: dict, catalog: Catalog) -> str:
    """``layers.LSTM(64, return_sequences=True, name="lstm")`` from a wrapper's parameter."""
    spec = catalog.get(serialized["class_name"])
    if spec is None:
        raise CodegenError(f"Unknown inner layer '{serialized['class_name']}'.")
    config = dict(serialized.get("config") or {})
    name = config.pop("name", None)
    args = _constructor_args(spec, config, catalog)
    if name is not None:
        args.append(f"name={literal(name)}")
    return f"{_class_ref(spec)}({', '.join(args)})"


def _constructor_args(spec: LayerSpec, params: dict[str, Any], catalog: Catalog) -> list[str]:
    """Leading required parameters positionally, the rest by keyword (catalog order)."""
    args: list[str] = []
    order = [p.name for p in spec.params]
    positional = True
    done = set()
    for p in spec.params:
        if not positional or not p.required or p.name not in params:
            positional = False
            continue
        args.append(_param_value(spec, p.name, params[p.name], catalog))
        done.add(p.name)
    rest = sorted(
        (k for k in params if k not in done),
        key=lambda k: (order.index(k) if k in order else len(order), k),
    )
    for k in rest:
        if not k.isidentifier() or keyword.iskeyword(k):
            raise CodegenError(f"The parameter '{k}' cannot be written as a keyword argument.")
        args.append(f"{k}={_param_value(spec, k, params[k], catalog)}")
    return args


def _op_function(spec: LayerSpec) -> str:
    return f"keras.ops.{_snake(spec.class_name)}"


# ===================================================================== the flow
class _Flow:
    """Topological walk of one graph that writes the statements of a model body."""

    def __init__(self, graph: Graph, catalog: Catalog, style: str, helpers: _Helpers) -> None:
        self.graph = graph
        self.catalog = catalog
        self.style = style  # "functional" or "subclass"
        self.helpers = helpers
        self.vars = _Names(_RESERVED)
        self.attrs = _Names(_MODEL_ATTRS | {"self"})
        self.init: list[str] = []  # subclass: __init__ body (indent 8)
        self.body: list[str] = []  # build / call body
        self.layer_ref: dict[str, str] = {}  # node -> expression of its layer object

    # ---------------------------------------------------------------- helpers
    def spec(self, node: Node) -> LayerSpec:
        spec = self.catalog.get(node.type)
        if spec is None:
            raise CodegenError(f"Unknown layer type '{node.type}'.", node.name)
        return spec

    def n_outputs(self, node: Node) -> int:
        owner = self.graph.node(node.shared_with) if node.shared_with else node
        if owner.type == MODEL_TYPE:
            return len(owner.subgraph.outputs) if owner.subgraph else 1
        if owner.is_input:
            return 1
        return len(self.spec(owner).output_names(owner.params))

    def tensor(self, name: str, index: int) -> str:
        node = self.graph.node(name)
        var = self.vars(name)
        if self.n_outputs(node) == 1:
            return var
        owner = self.graph.node(node.shared_with) if node.shared_with else node
        if (
            owner.type == MODEL_TYPE
            and owner.subgraph
            and any(o.name for o in owner.subgraph.outputs)
        ):
            keys = sorted(o.name or o.node for o in owner.subgraph.outputs)
            return f"{var}[{literal(keys[index])}]"
        return f"{var}[{index}]"

    def inputs_by_port(self, node: Node) -> dict[str, list[str]]:
        by_port: dict[str, list[tuple[int, str]]] = {}
        for e in self.graph.in_edges(node.name):
            by_port.setdefault(e.dst_port, []).append((e.slot, self.tensor(e.src, e.src_output)))
        return {p: [t for _, t in sorted(items)] for p, items in by_port.items()}

    def call_arguments(self, node: Node, spec: LayerSpec, ins: dict[str, list[str]]) -> list[str]:
        args: list[str] = []
        kwargs: list[str] = []
        constants = dict(node.call_args)
        skipped = False
        for p in spec.inputs:
            if p.name in ins:
                value = "[" + ", ".join(ins[p.name]) + "]" if p.variadic else ins[p.name][0]
            elif spec.is_op and p.name in constants:
                value = literal(constants.pop(p.name))
            elif p.optional:
                skipped = True
                continue
            else:
                raise CodegenError(f"Nothing is connected to input '{p.name}'.", node.name)
            if (spec.is_op and skipped) or (not spec.is_op and p.optional):
                kwargs.append(f"{p.name}={value}")
            else:
                args.append(value)
        for k, v in constants.items():
            kwargs.append(f"{k}={literal(v)}")
        return args + kwargs

    # ---------------------------------------------------------------- statements
    def layer_expr(self, node: Node) -> str:
        if node.type == BACKBONE_TYPE:
            return f"{_backbone_function(self.helpers, node)}()"
        if node.type == MODEL_TYPE:
            if node.subgraph is None:
                raise CodegenError("This nested model has no graph.", node.name)
            prefix, args = self.helpers.call_for(node)
            return f"{prefix}{', '.join(args)})"
        spec = self.spec(node)
        prefix, args = _layer_call(spec, node.params, node.name, self.catalog)
        return f"{prefix}{', '.join(args)})"

    def layer_args(self, node: Node) -> tuple[str, list[str]]:
        if node.type == BACKBONE_TYPE:
            return f"{_backbone_function(self.helpers, node)}(", []
        if node.type == MODEL_TYPE:
            return self.helpers.call_for(node)
        spec = self.spec(node)
        return _layer_call(spec, node.params, node.name, self.catalog)

    def walk(self) -> None:
        graph = self.graph
        shared_owners = {n.shared_with for n in graph.nodes if n.shared_with}
        for name in graph.topological_order():
            node = graph.node(name)
            if node.is_input:
                if self.style == "functional":
                    self.input_line(node)
                else:
                    self.vars(node.name)
                continue
            var = self.vars(node.name)
            if node.is_op:
                spec = self.spec(node)
                args = self.call_arguments(node, spec, self.inputs_by_port(node))
                params = [f"{k}={literal(v)}" for k, v in node.params.items()]
                self.body += call_lines(
                    self.indent, f"{var} = {_op_function(spec)}(", args + params
                )
                continue
            owner = graph.node(node.shared_with) if node.shared_with else node
            if node.shared_with and node.shared_with not in self.layer_ref:
                raise CodegenError(
                    f"It shares the layer of '{node.shared_with}', which comes later.", node.name
                )
            if node.type == MODEL_TYPE or owner.type == MODEL_TYPE:
                ins = self.inputs_by_port(node)
                ports = [n.name for n in owner.subgraph.input_nodes] if owner.subgraph else []
                missing = [p for p in ports if p not in ins]
                if missing:
                    raise CodegenError(f"Nothing is connected to input '{missing[0]}'.", node.name)
                tensors = [ins[p][0] for p in ports]
                call = [tensors[0] if len(tensors) == 1 else "[" + ", ".join(tensors) + "]"]
            else:
                call = self.call_arguments(node, self.spec(owner), self.inputs_by_port(node))
            if node.shared_with:
                ref = self.layer_ref[node.shared_with]
                self.body += call_lines(self.indent, f"{var} = {ref}(", call)
            elif self.style == "subclass":
                attr = self.attrs(node.name)
                ref = f"self.{attr}"
                prefix, args = self.layer_args(node)
                self.init += call_lines(8, f"{ref} = {prefix}", args)
                self.layer_ref[node.name] = ref
                self.body += call_lines(self.indent, f"{var} = {ref}(", call)
            elif node.name in shared_owners:
                ref = self.vars(node.name, "_layer")
                prefix, args = self.layer_args(node)
                self.body += call_lines(self.indent, f"{ref} = {prefix}", args)
                self.layer_ref[node.name] = ref
                self.body += call_lines(self.indent, f"{var} = {ref}(", call)
            else:
                prefix, args = self.layer_args(node)
                self.layer_ref[node.name] = var
                self.body += _chained(self.indent, f"{var} = {prefix}", args, call)

    @property
    def indent(self) -> int:
        return 8 if self.style == "subclass" else 4

    def input_line(self, node: Node) -> None:
        var = self.vars(node.name)
        params = dict(node.params)
        if "shape" in params:
            params.pop("batch_shape", None)
        unknown = [k for k in params if k not in _INPUT_KWARGS]
        if unknown:
            raise CodegenError(f"Input parameter '{unknown[0]}' is not supported.", node.name)
        args = []
        for k in _INPUT_KWARGS:
            if k in params:
                value = params[k]
                if k in ("shape", "batch_shape") and isinstance(value, list):
                    args.append(f"{k}={literal(value, tuples=True)}")
                else:
                    args.append(f"{k}={literal(value)}")
        args.append(f"name={literal(node.name)}")
        self.body += call_lines(self.indent, f"{var} = keras.Input(", args)

    def model_io(self) -> tuple[str, str]:
        """(inputs expression, outputs expression) the way build.py assembles them."""
        graph = self.graph
        if not graph.outputs:
            raise CodegenError("The model has no output: mark a node as an output.")
        ins = [self.vars(n.name) for n in graph.input_nodes]
        outs = []
        for o in graph.outputs:
            if o.node not in graph:
                raise CodegenError(f"Output '{o.node}' does not exist.", o.node)
            outs.append(self.tensor(o.node, o.index))
        inputs = ins[0] if len(ins) == 1 else "[" + ", ".join(ins) + "]"
        if any(o.name for o in graph.outputs):
            items = [f"{literal(o.name or o.node)}: {t}" for o, t in zip(graph.outputs, outs)]
            outputs = "{" + ", ".join(items) + "}"
        else:
            outputs = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"
        return inputs, outputs


def _chained(indent: int, prefix: str, args: list[str], call: list[str]) -> list[str]:
    """``var = Layer(args)(call)``, wrapped like ruff does when too long."""
    pad = " " * indent
    one = f"{pad}{prefix}{', '.join(args)})({', '.join(call)})"
    if len(one) <= LINE:
        return [one]
    # ruff splits the last bracket pair first: ``Layer(args)(\n    call\n)``.
    head = f"{prefix}{', '.join(args)})("
    if len(pad + head) <= LINE:
        return call_lines(indent, head, call)
    lines = call_lines(indent, prefix, args, suffix=f")({', '.join(call)})")
    return lines


# ===================================================================== nested models
class _Helpers:
    """One ``build_<name>()`` function per nested graph (deduplicated by structure)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.names = _Names({"build_model", "main", "load_data"})
        self.functions: list[list[str]] = []
        self.by_key: dict[Any, str] = {}

    def call_for(self, node: Node) -> tuple[str, list[str]]:
        """``("build_x(", [arguments])``: the call that makes the nested model of ``node``
        (a block use passes its own name to its definition's function)."""
        fname = self.function_for(node)
        if node.block is not None:
            return f"{fname}(", [f"name={literal(node.name)}"]
        return f"{fname}(", []

    def function_for(self, node: Node) -> str:
        sub = node.subgraph
        if node.block is not None:
            # One function per block definition, called once per use with the use's name.
            key = ("block", node.block)
            if key not in self.by_key:
                fname = "build_" + self.names(node.block)
                self.by_key[key] = fname
                lines = [f"def {fname}(name={literal(node.block)}):"]
                lines += _model_body(sub, self.catalog, self, node.block, name_arg="name=name")
                self.functions.append(lines)
            return self.by_key[key]
        key = (node.name, sub.structure())
        if key in self.by_key:
            return self.by_key[key]
        fname = "build_" + self.names(node.name)
        self.by_key[key] = fname
        lines = [f"def {fname}():"]
        lines += _model_body(sub, self.catalog, self, node.name)
        self.functions.append(lines)
        return fname


def _model_body(
    graph: Graph, catalog: Catalog, helpers: _Helpers, name: str, name_arg: str | None = None
) -> list[str]:
    """The indented body of a function returning the model for ``graph`` named ``name``
    (``name_arg``: the ``name=`` argument written instead, ``name=name`` for a block)."""
    graph = _expand_inline(graph)
    if graph.style == "sequential":
        return _sequential_body(graph, catalog, helpers, name, name_arg)
    flow = _Flow(graph, catalog, "functional", helpers)
    flow.walk()
    inputs, outputs = flow.model_io()
    return flow.body + call_lines(
        4, "return keras.Model(", [inputs, outputs, name_arg or f"name={literal(name)}"]
    )


def _expand_inline(graph: Graph) -> Graph:
    """Model nodes compiled inline written as their layers (studio.core.blocks)."""
    from studio.core.blocks import expand_inline
    from studio.core.graph import GraphError

    try:
        return expand_inline(graph)
    except GraphError as exc:
        raise CodegenError(str(exc)) from None


# ===================================================================== pretrained networks
_PRETRAINED = "studio.engine.applications"
BACKBONE_TYPE = "Backbone"


def _backbone_function(helpers: _Helpers, node: Node) -> str:
    """``build_<name>()``: the keras.applications model, frozen or fine-tuned from a layer,
    as studio.engine.applications.Backbone makes it."""
    spec = helpers.catalog.get(BACKBONE_TYPE)
    cfg = spec.config(node.params) if spec else dict(node.params)
    key = (BACKBONE_TYPE, node.name, json.dumps(node.params, sort_keys=True))
    if key in helpers.by_key:
        return helpers.by_key[key]
    fname = "build_" + helpers.names(node.name)
    helpers.by_key[key] = fname
    model = cfg.get("model", "MobileNetV2")
    if not str(model).isidentifier():
        raise CodegenError(f"'{model}' is not a keras.applications model.", node.name)
    args = [f"include_top={literal(bool(cfg.get('include_top')))}"]
    args.append(f"weights={literal(cfg.get('weights'))}")
    if cfg.get("input_shape") is not None:
        args.append(f"input_shape={literal(cfg['input_shape'], tuples=True)}")
    args.append(f"pooling={literal(cfg.get('pooling'))}")
    if cfg.get("include_top"):
        args.append(f"classes={literal(cfg.get('classes', 1000))}")
        args.append(f"classifier_activation={literal(cfg.get('classifier_activation'))}")
    args.append(f"name={literal(node.name)}")
    lines = [f"def {fname}():"]
    lines += call_lines(4, f"backbone = keras.applications.{model}(", args)
    start = cfg.get("fine_tune_from")
    if not cfg.get("trainable"):
        lines.append("    backbone.trainable = False  # frozen: only the layers after it train")
    elif start not in (None, ""):
        if isinstance(start, int) or str(start).lstrip("-").isdigit():
            cut = str(int(start))
        else:
            cut = f"backbone.layers.index(backbone.get_layer({literal(start)}))"
        lines += [
            f"    # Fine-tune from {literal(start)} onwards; the layers before it stay frozen.",
            f"    cut = {cut}",
            "    for layer in backbone.layers[:cut]:",
            "        layer.trainable = False",
        ]
        if cfg.get("freeze_batch_norm", True):
            lines += [
                "    for layer in backbone.layers[cut:]:",
                "        # BatchNormalization stays in inference mode, as Keras recommends.",
                "        if isinstance(layer, layers.BatchNormalization):",
                "            layer.trainable = False",
            ]
    lines.append("    return backbone")
    helpers.functions.append(lines)
    return fname


def _preprocess_class(graph: Graph, catalog: Catalog) -> list[list[str]]:
    """The script's own ``PreprocessInput`` layer (the same maths and config as Studio's,
    registered under the same name, so saved models load in either), if the graph uses it."""
    models: set[str] = set()

    def scan(g: Graph) -> None:
        for n in g.nodes:
            if n.type == "PreprocessInput":
                spec = catalog.get(n.type)
                models.add((spec.config(n.params) if spec else n.params).get("model"))
            if n.subgraph is not None:
                scan(n.subgraph)

    scan(graph)
    if not models:
        return []
    entry = catalog.data.get("layers", {}).get("PreprocessInput", {})
    table = entry.get("modes", {})
    unknown = sorted(str(m) for m in models if m not in table)
    if unknown:
        raise CodegenError(f"PreprocessInput: there is no keras.applications model {unknown[0]}.")
    modes = [f"{literal(m)}: {literal(table[m])}" for m in sorted(models)]
    return [
        [
            '@keras.saving.register_keras_serializable(package="studio")',
            "class PreprocessInput(keras.layers.Layer):",
            '    """keras.applications\' preprocess_input for a model, as a layer that saves."""',
            "",
            *call_lines(4, "MODES = {", modes, "}"),
            "",
            '    def __init__(self, model="MobileNetV2", data_format=None, **kwargs):',
            "        super().__init__(**kwargs)",
            "        self.model = model",
            "        self.data_format = data_format",
            "",
            "    def call(self, inputs):",
            "        x = keras.ops.cast(inputs, self.compute_dtype)",
            "        mode = self.MODES[self.model]",
            '        if mode == "none":  # the model preprocesses its input itself',
            "            return x",
            '        if mode == "tf":  # 0..255 -> -1..1',
            "            return x / 127.5 - 1.0",
            "        data_format = self.data_format or keras.config.image_data_format()",
            '        axis = -3 if data_format == "channels_first" else -1',
            "        shape = [1] * len(x.shape)",
            "        shape[axis] = 3",
            "",
            "        def per_channel(values):",
            "            return keras.ops.reshape(keras.ops.convert_to_tensor(values, x.dtype), shape)",
            "",
            '        if mode == "torch":  # 0..1, then the ImageNet mean and standard deviation',
            "            mean = per_channel([0.485, 0.456, 0.406])",
            "            return (x / 255.0 - mean) / per_channel([0.229, 0.224, 0.225])",
            "        # caffe: RGB -> BGR, then the ImageNet mean is subtracted",
            "        return keras.ops.flip(x, axis=axis) - per_channel([103.939, 116.779, 123.68])",
            "",
            "    def get_config(self):",
            "        config = super().get_config()",
            '        config.update({"model": self.model, "data_format": self.data_format})',
            "        return config",
        ]
    ]


def chain_order(graph: Graph) -> list[str]:
    """The nodes of a single chain (input first), or raise CodegenError saying why not."""
    ins = graph.input_nodes
    if len(ins) != 1:
        raise CodegenError("A Sequential model has exactly one input.")
    if len(graph.outputs) != 1 or graph.outputs[0].index != 0 or graph.outputs[0].name:
        raise CodegenError("A Sequential model has exactly one unnamed output.")
    order = [ins[0].name]
    while True:
        outs = graph.out_edges(order[-1])
        if not outs:
            break
        if len(outs) > 1:
            raise CodegenError("The graph branches here; use the functional style.", order[-1])
        e = outs[0]
        if e.src_output != 0 or len(graph.in_edges(e.dst)) != 1:
            raise CodegenError("This layer takes several inputs.", e.dst)
        order.append(e.dst)
    if len(order) != len(graph):
        stray = next(n.name for n in graph.nodes if n.name not in order)
        raise CodegenError("This node is not on the single chain of layers.", stray)
    if graph.outputs[0].node != order[-1]:
        raise CodegenError("The output is not the last layer of the chain.", graph.outputs[0].node)
    return order


def _check_sequential(graph: Graph, catalog: Catalog) -> list[str]:
    order = chain_order(graph)
    for name in order[1:]:
        node = graph.node(name)
        if node.shared_with:
            raise CodegenError("A Sequential model cannot share layers.", name)
        if node.is_op:
            raise CodegenError("A Sequential model cannot hold keras.ops operations.", name)
        if node.call_args:
            raise CodegenError("A Sequential model cannot pass call arguments.", name)
        if node.type == MODEL_TYPE:
            if node.subgraph is None or len(node.subgraph.outputs) != 1:
                raise CodegenError("A nested model in a Sequential has one output.", name)
            continue
        spec = catalog.get(node.type)
        if spec is None:
            raise CodegenError(f"Unknown layer type '{node.type}'.", name)
        if len(spec.output_names(node.params)) != 1:
            raise CodegenError("A Sequential model's layers have one output each.", name)
        edge = graph.in_edges(name)[0]
        port = spec.port(edge.dst_port)
        if spec.inputs and (port is None or port != spec.inputs[0] or port.variadic):
            raise CodegenError("This layer's input is not its first argument.", name)
    return order


def _sequential_body(
    graph: Graph, catalog: Catalog, helpers: _Helpers, name: str, name_arg: str | None = None
) -> list[str]:
    order = _check_sequential(graph, catalog)
    items: list[str] = []
    for node_name in order:
        node = graph.node(node_name)
        if node.is_input:
            flow = _Flow(graph, catalog, "functional", helpers)
            flow.input_line(node)
            line = flow.body[0].strip()
            items.append(line.split(" = ", 1)[1])
        elif node.type == MODEL_TYPE:
            prefix, args = helpers.call_for(node)
            items.append(f"{prefix}{', '.join(args)})")
        elif node.type == BACKBONE_TYPE:
            items.append(f"{_backbone_function(helpers, node)}()")
        else:
            spec = catalog[node.type]
            prefix, args = _layer_call(spec, node.params, node_name, catalog)
            items.append(f"{prefix}{', '.join(args)})")
    lines = ["    return keras.Sequential(", "        ["]
    for item in items:
        lines += [
            line + ("," if i == len(sub) - 1 else "")
            for sub in [_wrap_item(12, item)]
            for i, line in enumerate(sub)
        ]
    lines += ["        ],", f"        {name_arg or f'name={literal(name)}'},", "    )"]
    return lines


def _wrap_item(indent: int, item: str) -> list[str]:
    pad = " " * indent
    if len(pad + item) + 1 <= LINE:
        return [pad + item]
    prefix, rest = item.split("(", 1)
    args = _split_args(rest[:-1])
    lines = call_lines(indent, prefix + "(", args)
    return lines


def _split_args(text: str) -> list[str]:
    """Split a top-level comma-separated argument list."""
    out, depth, cur, quote = [], 0, "", False
    for ch in text:
        if ch == '"' and not cur.endswith("\\"):
            quote = not quote
        if not quote:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif ch == "," and depth == 0:
                out.append(cur.strip())
                cur = ""
                continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


# ===================================================================== styles
def available_styles(graph: Graph, catalog: Catalog | None = None) -> list[str]:
    """The styles :func:`generate_script` can write this graph in."""
    catalog = catalog_for(graph, catalog or load_catalog())
    styles = ["functional"]
    try:
        graph = _expand_inline(graph)
        _check_sequential(graph, catalog)
        styles.append("sequential")
    except CodegenError:
        pass
    styles.append("subclass")
    return styles


def _class_name(name: str) -> str:
    parts = re.split(r"[^0-9a-zA-Z]+", name)
    s = "".join(p[:1].upper() + p[1:] for p in parts if p) or "Network"
    if s[0].isdigit():
        s = "Model" + s
    return s if s not in ("Model", "Sequential") else s + "Network"


def _build_functions(graph: Graph, name: str, style: str, catalog: Catalog) -> list[list[str]]:
    helpers = _Helpers(catalog)
    graph = _expand_inline(graph)
    if style == "functional":
        main = ["def build_model():"]
        if graph.style == "sequential":
            try:
                body = _sequential_body(graph, catalog, helpers, name)
            except CodegenError:
                body = _model_body(_functional_copy(graph), catalog, helpers, name)
        else:
            body = _model_body(graph, catalog, helpers, name)
        main += body
        return helpers.functions + [main]
    if style == "sequential":
        main = ["def build_model():"]
        main += _sequential_body(graph, catalog, helpers, name)
        return helpers.functions + [main]
    # subclass
    flow = _Flow(graph, catalog, "subclass", helpers)
    flow.walk()
    inputs, outputs = flow.model_io()
    cls = _class_name(name)
    lines = [f"class {cls}(keras.Model):", "    def __init__(self, **kwargs):"]
    lines.append(f"        super().__init__(name={literal(name)}, **kwargs)")
    lines += flow.init
    if any(n.type == "Normalization" for n in graph.nodes):
        lines += [
            "",
            "    def build(self, input_shape):",
            "        # Build the layers on the first (eager) call rather than in a symbolic trace:",
            "        # Normalization computes its mean and variance tensors when it is built.",
            "        self.built = True",
        ]
    lines += ["", "    def call(self, inputs):"]
    input_vars = [flow.vars(n.name) for n in graph.input_nodes]
    if len(input_vars) == 1:
        lines.append(f"        {input_vars[0]} = inputs")
    elif input_vars:
        lines.append(f"        {', '.join(input_vars)} = inputs")
    lines += flow.body
    lines.append(f"        return {outputs}")
    build = ["def build_model():", f"    model = {cls}()"]
    samples = []
    for node in graph.input_nodes:
        params = node.params
        if "shape" in params:
            shape = [1, *params["shape"]]
        else:
            shape = list(params.get("batch_shape") or [None])
            shape[0] = 1
        shape = [1 if d is None else d for d in shape]
        args = [literal(shape, tuples=True)]
        if params.get("dtype") not in (None, "float32"):
            args.append(f"dtype={literal(params['dtype'])}")
        samples.append(f"keras.ops.zeros({', '.join(args)})")
    arg = samples[0] if len(samples) == 1 else "[" + ", ".join(samples) + "]"
    build += call_lines(4, "model(", [arg], ")  # a first call creates the weights")
    build.append("    return model")
    return helpers.functions + [lines, build]


def _functional_copy(graph: Graph) -> Graph:
    g = graph.copy()
    g.style = "functional"
    return g


# ===================================================================== data loaders
# Functions the script defines when its data needs them. Each returns ``(fields, info)``:
# the fields as NumPy arrays of equal length, and what the loader learned (``classes`` per
# label field; for a CSV also how its columns were read, so that a separate validation or
# test file is read the same way).
_CSV_LOADER = r'''def load_csv(
    path, delimiter=None, target=None, features=None, column_types=None, like=None
):
    """A CSV file's fields as Studio reads it: numeric and one-hot categorical feature
    columns make "features", a text column its own field of strings and the target column
    class ids (or numbers). ``like`` is what reading the training file gave."""
    import csv
    import io

    with open(path, encoding="utf-8-sig", newline="") as f:
        text = f.read()
    if delimiter in ("tab", "\\t"):
        delimiter = "\t"
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]]
    rows = rows[1:]
    like = like if like and like.get("kind") == "csv" else {}
    column_types = column_types or {}

    def number(value):
        try:
            x = float(value)
        except ValueError:
            return None
        return x if np.isfinite(x) else None

    def values(column):
        i = header.index(column)
        return [row[i] for row in rows]

    def numbers(vals, column):
        out = [number(v) for v in vals]
        if None in out:
            raise ValueError(f"Column {column!r} of {path} has a value that is not a number.")
        return np.array(out, dtype="float64")

    def class_ids(vals, names):
        index = {name: i for i, name in enumerate(names)}
        return np.array([index[v.strip()] for v in vals], dtype="int32")

    def column_type(vals):
        if sum(number(v) is None for v in vals) < len(vals) / 2:
            return "numeric"
        distinct = {v.strip() for v in vals}
        if len(distinct) <= 20 and len(distinct) < len(vals) / 2:
            return "categorical"
        return "text"

    features = features or [c for c in header if c != target]
    types, categories, blocks, fields = {}, {}, [], {}
    for column in features:
        vals = values(column)
        kind = (
            column_types.get(column)
            or like.get("types", {}).get(column)
            or column_type(vals)
        )
        types[column] = kind
        if kind == "numeric":
            blocks.append(numbers(vals, column)[:, None])
        elif kind == "categorical":
            names = like.get("categories", {}).get(column)
            names = names or sorted({v.strip() for v in vals})
            categories[column] = names
            blocks.append(np.eye(len(names))[class_ids(vals, names)])  # one-hot
        else:
            fields[column] = np.array(vals, dtype=object)
    if blocks:
        fields = {"features": np.concatenate(blocks, axis=1).astype("float32"), **fields}
    classes = {}
    target_type = None
    if target:
        vals = values(target)
        target_type = column_types.get(target) or like.get("target_type")
        if target_type is None:
            numeric = all(number(v) is not None for v in vals)
            target_type = "numeric" if numeric else "categorical"
        if target_type == "numeric":
            y = numbers(vals, target)
            small = y.min() >= 0 and y.max() < 20 and len(np.unique(y)) <= 20
            if small and np.all(y == np.round(y)):  # class ids 0..k-1
                fields[target] = y.astype("int32")
                classes[target] = [str(i) for i in range(int(y.max()) + 1)]
            else:
                fields[target] = y.astype("float32")
        else:
            if target_type == "categorical" and all(number(v) is not None for v in vals):
                # numeric class labels: ordered as numbers ("2" before "10")
                def label(x):
                    return str(int(x)) if float(x).is_integer() else repr(x)

                names = [label(x) for x in sorted({float(v) for v in vals})]
                vals = [label(float(v)) for v in vals]
            else:
                names = sorted({v.strip() for v in vals})
            names = like.get("classes", {}).get(target) or names
            fields[target] = class_ids(vals, names)
            classes[target] = names
    info = {"kind": "csv", "classes": classes, "types": types}
    return fields, info | {"categories": categories, "target_type": target_type}
'''

_IMAGE_FOLDER_LOADER = r'''def load_image_folder(path, image_size, color_mode="rgb"):
    """One image per file, in one subfolder per class (class ids in name order)."""
    ds = keras.utils.image_dataset_from_directory(
        str(path),
        image_size=image_size,
        color_mode=color_mode,
        batch_size=None,
        shuffle=False,
    )
    samples = list(ds.as_numpy_iterator())
    images = np.stack([x for x, _ in samples]).astype("float32")
    labels = np.array([y for _, y in samples], dtype="int32")
    return {"image": images, "label": labels}, {"classes": {"label": ds.class_names}}
'''

_TEXT_FOLDER_LOADER = r'''def load_text_folder(path):
    """One text per .txt file, in one subfolder per class (class ids in name order)."""
    ds = keras.utils.text_dataset_from_directory(str(path), batch_size=None, shuffle=False)
    samples = list(ds.as_numpy_iterator())
    texts = [x.decode("utf-8", "replace") for x, _ in samples]
    labels = np.array([y for _, y in samples], dtype="int32")
    fields = {"text": np.array(texts, dtype=object), "label": labels}
    return fields, {"classes": {"label": ds.class_names}}
'''

_ALIGNED = r'''def aligned(loaded, info):
    """A separate source's fields, its class ids renumbered to the training data's."""
    fields, other = loaded
    for key, names in other.get("classes", {}).items():
        reference = info.get("classes", {}).get(key)
        if reference is None or reference == names or key not in fields:
            continue
        mapping = np.array([reference.index(name) for name in names], dtype="int32")
        fields[key] = mapping[np.asarray(fields[key], dtype="int64")]
    return fields
'''

_KERAS_IMAGES = ("mnist", "fashion_mnist", "cifar10", "cifar100")
_KERAS_NAMES = (*_KERAS_IMAGES, "imdb", "reuters", "boston_housing")
_DEFAULT_NUM_WORDS = 10000  # studio.engine.data.DEFAULT_NUM_WORDS


def _keras_loader(name: str, num_words: Any) -> str:
    """``load_<name>()``: a keras.datasets dataset's training split, the test split in info."""
    call = f"keras.datasets.{name}.load_data()"
    classes = "{}"
    if name in ("imdb", "reuters"):
        call = f"keras.datasets.{name}.load_data(num_words={literal(num_words)})"
        names = (
            '["negative", "positive"]'
            if name == "imdb"
            else "list(keras.datasets.reuters.get_label_names())"
        )
        classes = '{"label": ' + names + "}"
        body = [
            "        sequences = np.empty(len(x), dtype=object)  # word id lists",
            "        for i, s in enumerate(x):",
            "            sequences[i] = list(s)",
            '        return {"sequence": sequences, "label": np.asarray(y, "int32").reshape(-1)}',
        ]
    elif name == "boston_housing":
        body = [
            '        return {"features": np.asarray(x, "float32"), "target": np.asarray(y, "float32")}'
        ]
    else:
        image = "x[..., None]" if name in ("mnist", "fashion_mnist") else "x"
        body = [f'        return {{"image": {image}, "label": np.asarray(y, "int32").reshape(-1)}}']
    lines = [
        f"def load_{name}():",
        f'    """keras.datasets.{name}: the training split\'s fields; its test split in info."""',
        f"    (x, y), (x_test, y_test) = {call}",
        "",
        "    def fields(x, y):",
        *body,
        "",
        f'    return fields(x, y), {{"test": fields(x_test, y_test), "classes": {classes}}}',
    ]
    return "\n".join(lines) + "\n"


def _path_expr(value: Any, base_dir: Any) -> str:
    """A data path as the script finds it: beside the script when the project stores it
    relative to its folder, else as given."""
    text = str(value)
    if text.startswith("~"):
        return f"Path({literal(text)}).expanduser()"
    if base_dir is None or text.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", text):
        return f"Path({literal(text)})"
    return f"DATA_DIR / {literal(text)}"


def _source_call(source: Any, base_dir: Any, helpers: dict[str, str]) -> str | None:
    """The call that loads ``source`` as ``(fields, info)``, defining the function it needs
    in ``helpers``; None for a source kind the generator does not write out this way."""
    if not isinstance(source, dict):
        return None
    kind = source.get("kind")
    if kind in ("csv", "image_folder", "text_folder") and not source.get("path"):
        return None
    if kind == "csv":
        helpers["load_csv"] = _CSV_LOADER
        args = [_path_expr(source["path"], base_dir)]
        for key in ("delimiter", "target", "features", "column_types"):
            if source.get(key):
                args.append(f"{key}={literal(source[key])}")
        return f"load_csv({', '.join(args)})"
    if kind == "image_folder":
        helpers["load_image_folder"] = _IMAGE_FOLDER_LOADER
        size = source.get("image_size") or [256, 256]
        if isinstance(size, int):
            size = [size, size]
        color = source.get("color_mode") or "rgb"
        args = [_path_expr(source["path"], base_dir), literal(list(size), tuples=True)]
        return f"load_image_folder({', '.join(args)}, color_mode={literal(color)})"
    if kind == "text_folder":
        helpers["load_text_folder"] = _TEXT_FOLDER_LOADER
        return f"load_text_folder({_path_expr(source['path'], base_dir)})"
    if kind == "keras" and source.get("name") in _KERAS_NAMES:
        name = source["name"]
        helpers[f"load_{name}"] = _keras_loader(name, source.get("num_words", _DEFAULT_NUM_WORDS))
        return f"load_{name}()"
    return None


# ===================================================================== data and training
def _data_lines(data: dict, base_dir: Any, helpers: dict[str, str]) -> list[str]:
    """The body of ``load_data()``, which returns ``(fields, info)`` (see the loaders);
    the functions it calls go into ``helpers``."""
    source = data.get("source") or {}
    kind = source.get("kind")
    name = source.get("name")
    lines: list[str] = []
    call = _source_call(source, base_dir, helpers)
    if call is not None:
        lines.append(f"    return {call}")  # ruff format wraps a long one
    elif kind == "bundled" and name == "digits":
        side = source.get("image_size", 8)
        if isinstance(side, list):
            side = side[0]
        lines += [
            "    from sklearn.datasets import load_digits",
            "",
            "    bunch = load_digits()",
            '    images = bunch.images.astype("float32")[..., None]  # (N, 8, 8, 1) in 0..16',
        ]
        if side != 8:
            lines += [
                f"    resized = keras.ops.image.resize(images, ({side}, {side}), "
                'interpolation="bilinear", antialias=False)',
                '    resized = np.asarray(keras.ops.convert_to_numpy(resized), dtype="float32")',
                "    images = np.clip(resized, images.min(), images.max())",
            ]
        if source.get("flatten"):
            lines.append("    images = images.reshape(len(images), -1)")
        lines.append('    return {"image": images, "label": bunch.target.astype("int32")}, {}')
    elif kind == "bundled" and name in ("iris", "wine", "breast_cancer"):
        lines += [
            f"    from sklearn.datasets import load_{name}",
            "",
            f"    bunch = load_{name}()",
            "    return {",
            '        "features": np.asarray(bunch.data, dtype="float32"),',
            '        "label": np.asarray(bunch.target, dtype="int32"),',
            "    }, {}",
        ]
    elif kind == "bundled" and name in _generated_names():
        lines += _generator_lines(name)
    elif kind == "bundled" and name == "reviews":
        from studio.resources import resource_path

        path = str(resource_path("datasets", "reviews.csv"))
        lines += [
            "    import csv",
            "",
            f'    with open({literal(path)}, newline="", encoding="utf-8") as f:',
            "        rows = list(csv.DictReader(f))",
            '    names = sorted({row["label"].strip() for row in rows})',
            "    return {",
            '        "text": np.array([row["text"] for row in rows], dtype=object),',
            '        "label": np.array([names.index(row["label"].strip()) for row in rows], dtype="int32"),',
            "    }, {}",
        ]
    elif kind == "npz" and isinstance(source.get("path"), str):
        lines += [
            f"    with np.load({_path_expr(source['path'], base_dir)}, allow_pickle=False) as arrays:",
            "        return {key: arrays[key] for key in arrays.files}, {}",
        ]
    elif kind == "npy" and isinstance(source.get("paths"), dict):
        items = [
            f"{literal(k)}: np.load({_path_expr(v, base_dir)})" for k, v in source["paths"].items()
        ]
        lines += call_lines(4, "return {", items, "}, {}")
    else:
        what = f"{kind} {name or ''}".strip() if kind else "no source"
        lines += [
            f"    # Studio's data source ({what}) is not written out by the script generator:",
            "    # load it here as a dict of NumPy arrays, one per field.",
            f"    raise NotImplementedError({literal('Load the data source: ' + what)})",
        ]
    return lines


def _generated_names() -> tuple[str, ...]:
    from studio.generated_data import GENERATORS

    return tuple(GENERATORS)


def _generator_lines(name: str) -> list[str]:
    """``load_data``'s body for a dataset Studio generates: the generator's own source (from
    studio/generated_data.py), so the script trains on exactly Studio's data."""
    import inspect
    import textwrap

    from studio.generated_data import GENERATORS

    source = inspect.getsource(GENERATORS[name])
    source = source.replace(f"def {name}(", f"def generate_{name}(", 1)
    lines = textwrap.indent(source.rstrip(), "    ").splitlines()
    return [*lines, "", f"    fields, _classes, _description = generate_{name}()", "    return fields, {}"]


def _separate(spec: Any) -> bool:
    """Whether a validation/test setting names a separate source or a built-in split."""
    return isinstance(spec, dict) and bool(spec.get("source") or spec.get("builtin"))


def _prepare_lines(data: dict, graph: Graph, base_dir: Any, helpers: dict[str, str]) -> list[str]:
    """Split and preprocess: ``splits`` maps "train"/"validation"/"test" to (x, y) lists."""
    lines = ["    fields, info = load_data()", "    n = len(next(iter(fields.values())))"]
    if data.get("shuffle", True):
        lines += [
            f"    order = np.random.default_rng({literal(data.get('seed'))}).permutation(n)",
            "    fields = {key: value[order] for key, value in fields.items()}",
        ]
    counts = {}
    separate: list[str] = []
    for part in ("test", "validation"):
        spec = data.get(part) or {"split": 0}
        if _separate(spec):
            counts[part] = 0
            if spec.get("source"):
                call = _source_call(spec["source"], base_dir, helpers)
                if call is None:
                    kind = spec["source"].get("kind") if isinstance(spec["source"], dict) else None
                    raise CodegenError(
                        f"A separate {part} source of kind '{kind}' is not written out by the "
                        "generator."
                    )
                if call.startswith("load_csv("):
                    call = call[:-1] + ", like=info)"  # read as the training file was
                helpers["aligned"] = _ALIGNED
                separate += call_lines(
                    4, f"splits[{literal(part)}] = aligned(", [call, "info"], ")"
                )
            else:
                kind = (data.get("source") or {}).get("kind")
                if part != "test" or kind != "keras":
                    raise CodegenError(f"This data source has no built-in {part} split.")
                separate.append(f'    splits[{literal(part)}] = info["test"]  # the official one')
            continue
        counts[part] = spec.get("split", 0) if isinstance(spec, dict) else 0
    for var, part in (("n_test", "test"), ("n_val", "validation")):
        fraction = counts[part]
        if fraction:
            lines.append(f"    {var} = max(1, round(n * {fraction!r}))")
        else:
            lines.append(f"    {var} = 0")
    lines += [
        "    n_train = n - n_val - n_test",
        "    parts = {",
        '        "train": slice(0, n_train),',
        '        "validation": slice(n_train, n_train + n_val),',
        '        "test": slice(n - n_test, n),',
        "    }",
        "    splits = {name: {key: a[part] for key, a in fields.items()} "
        "for name, part in parts.items()}",
    ]
    if separate:
        lines.append("    # separate validation / test data")
        lines += separate
    lines.append("")
    x_exprs = []
    for name, mapping in data["inputs"].items():
        var = _identifier(name)
        field = mapping.get("field", name)
        lines.append(f"    # input {literal(name)}")
        lines.append(f"    {var} = {{key: part[{literal(field)}] for key, part in splits.items()}}")
        if mapping.get("pad"):
            opts = mapping["pad"] if isinstance(mapping["pad"], dict) else {}
            lines += [
                f"    {var} = {{",
                "        key: keras.utils.pad_sequences(",
                f'            list(a), maxlen={literal(opts.get("maxlen"))}, dtype="int32",',
                f"            padding={literal(opts.get('padding', 'pre'))},",
                f"            truncating={literal(opts.get('truncating', 'pre'))},",
                f"            value={literal(opts.get('value', 0))},",
                "        )",
                f"        for key, a in {var}.items()",
                "    }",
            ]
        if mapping.get("text"):
            opts = mapping["text"] if isinstance(mapping["text"], dict) else {}
            mode = opts.get("output_mode", "int")
            args = [
                f"max_tokens={literal(opts.get('max_tokens') or 20000)}",
                f"output_mode={literal(mode)}",
                f"output_sequence_length={literal(opts.get('sequence_length') if mode == 'int' else None)}",
                f"standardize={literal(opts.get('standardize', 'lower_and_strip_punctuation'))}",
                f"ngrams={literal(opts.get('ngrams'))}",
            ]
            dtype = "int32" if mode == "int" else "float32"
            lines += call_lines(4, "vectorizer = layers.TextVectorization(", args)
            lines += [
                f'    vectorizer.adapt({var}["train"].astype(str), batch_size=1024)',
                f"    {var} = {{",
                "        key: np.asarray(keras.ops.convert_to_numpy(vectorizer(a.astype(str))), "
                f"dtype={literal(dtype)})",
                f"        for key, a in {var}.items()",
                "    }",
            ]
        scale = mapping.get("scale")
        if scale is not None and scale is not False and scale != 1:
            lines.append(
                f'    {var} = {{key: a.astype("float32") * np.float32({literal(scale)}) '
                f"for key, a in {var}.items()}}"
            )
        if mapping.get("normalize"):
            lines += [
                f'    train = {var}["train"].astype("float32")',
                "    normalizer = layers.Normalization(axis=-1 if train.ndim > 1 else None)",
                "    normalizer.adapt(train)",
                f"    {var} = {{",
                "        key: np.asarray(",
                '            keras.ops.convert_to_numpy(normalizer(a.astype("float32"))), '
                'dtype="float32"',
                "        )",
                f"        for key, a in {var}.items()",
                "    }",
            ]
        lines.append(f"    {var} = {{key: as_model_dtype(a) for key, a in {var}.items()}}")
        if mapping.get("reshape"):
            lines.append(
                f"    {var} = {{key: a.reshape((len(a), *INPUT_SHAPES[{literal(name)}])) "
                f"for key, a in {var}.items()}}"
            )
        x_exprs.append(var)
    y_exprs = []
    for name, mapping in data["outputs"].items():
        var = _identifier(name) + "_target"
        field = mapping.get("field", name)
        lines.append(f"    # output {literal(name)}")
        lines.append(f"    {var} = {{key: part[{literal(field)}] for key, part in splits.items()}}")
        encoding = mapping.get("encoding", "sparse")
        if encoding == "sparse":
            lines.append(f'    {var} = {{key: a.astype("int32") for key, a in {var}.items()}}')
        elif encoding == "onehot":
            # as many classes as the source names (else the largest class id + 1) in every split
            lines += [
                f'    names = info.get("classes", {{}}).get({literal(field)}) or []',
                f"    count = len(names) or 1 + max(int(a.max()) for a in {var}.values() if a.size)",
            ]
            lines += _comprehension(
                var, 'keras.utils.to_categorical(a, num_classes=count).astype("float32")'
            )
        else:
            lines.append(f'    {var} = {{key: a.astype("float32") for key, a in {var}.items()}}')
            # one number per sample for an output of shape (batch, 1)
            lines += _comprehension(var, "a[:, None] if a.ndim == 1 else a")
        y_exprs.append(var)
    lines.append("    return {")
    lines.append("        part: (")
    lines.append("            [" + ", ".join(f"{v}[part]" for v in x_exprs) + "],")
    lines.append("            [" + ", ".join(f"{v}[part]" for v in y_exprs) + "],")
    lines.append("        )")
    lines.append("        for part in parts")
    lines.append("    }")
    if not any(re.search(r"\binfo\b", line) for line in lines[1:]):
        lines[0] = "    fields, _ = load_data()"  # the class names are not needed here
    return lines


def _comprehension(var: str, expr: str) -> list[str]:
    """``var = {key: expr for key, a in var.items()}``, wrapped like ruff when too long."""
    one = f"    {var} = {{key: {expr} for key, a in {var}.items()}}"
    if len(one) <= LINE:
        return [one]
    return [f"    {var} = {{", f"        key: {expr} for key, a in {var}.items()", "    }"]


def _entry_expr(module: str, entry: dict, extra: dict[str, str] | None = None) -> str:
    args = [f"{k}={literal(v)}" for k, v in (entry.get("params") or {}).items()]
    if str(entry.get("class", "")).startswith(CUSTOM_PREFIX):  # the project's own code
        fn = entry["class"][len(CUSTOM_PREFIX) :]
        if fn in _CUSTOM_CLASSES:  # a keras.metrics.Metric subclass
            return f"{fn}({', '.join(args)})"
        if module == "metrics" and args:  # a function with settings (its name)
            return f"keras.metrics.MeanMetricWrapper({fn}, {', '.join(args)})"
        return fn
    args += [f"{k}={v}" for k, v in (extra or {}).items()]
    return f"keras.{module}.{entry['class']}({', '.join(args)})"


def _compile_parts(training: dict, outs: list[str]) -> tuple[str, list[str], list[str], list[list[str]]]:
    """The optimizer expression, and per output: the loss expression, its weight and the
    metric expressions."""
    opt = training["optimizer"]
    extra = {}
    if opt.get("schedule"):
        extra["learning_rate"] = _entry_expr("optimizers.schedules", opt["schedule"])
    optimizer = _entry_expr("optimizers", opt, extra)
    losses = [_entry_expr("losses", training["losses"][o]) for o in outs]
    weights = [literal(float(training["losses"][o].get("weight", 1.0))) for o in outs]
    metrics = [[_entry_expr("metrics", m) for m in training["metrics"].get(o, [])] for o in outs]
    return optimizer, losses, weights, metrics


def _distribution(training: dict) -> dict[str, Any]:
    """``training["distribution"]`` with its defaults (an older settings module has none)."""
    dist = training.get("distribution")
    if not isinstance(dist, dict):
        dist = {"strategy": dist if isinstance(dist, str) else "default"}
    strategy = str(dist.get("strategy") or "default").lower().replace("-", "_")
    devices = dist.get("devices")
    replicas = dist.get("cpu_replicas")
    return {
        "strategy": strategy if strategy in ("mirrored", "multi_worker") else "default",
        "devices": [str(d) for d in devices] if isinstance(devices, list) and devices else None,
        "cpu_replicas": replicas if isinstance(replicas, int) and replicas > 1 else None,
    }


def _mixed_precision_lines() -> list[str]:
    """The mixed-precision policy, chosen when the script runs."""
    lines = [
        "    # Mixed precision: compute in 16 bits, keep the weights in float32 (faster on GPUs",
        "    # with tensor cores and on TPUs). float16 needs a GPU; bfloat16 runs on CPU/TPU.",
        '    gpu = bool(tf.config.list_physical_devices("GPU"))',
        '    keras.config.set_dtype_policy("mixed_float16" if gpu else "mixed_bfloat16")',
    ]
    return lines


def _float32_output_lines(graph: Graph, catalog: Catalog, indent: int) -> list[str]:
    """Set the output layers' policy to float32 under mixed precision (a softmax or a loss in
    16 bits loses precision); ops and nested models are left as they are."""
    by_name = {n.name: n for n in graph.nodes}
    names: list[str] = []
    for o in graph.outputs:
        node = by_name.get(o.node)
        if node is None or node.type in (INPUT_TYPE, MODEL_TYPE) or node.name in names:
            continue
        spec = catalog.get(node.type) if node.type in catalog else None
        if spec is not None and not spec.is_op:
            names.append(node.name)
    if not names:
        return []
    pad = " " * indent
    return [
        f"{pad}# The output layers compute in float32: a softmax or a loss in 16 bits loses",
        f"{pad}# precision.",
        f"{pad}for name in {literal(names)}:",
        f'{pad}    model.get_layer(name).dtype_policy = "float32"',
    ]


def _mirrored_lines(dist: dict) -> list[str]:
    """``strategy = tf.distribute.MirroredStrategy(...)`` for the settings' devices."""
    lines = [
        "    # MirroredStrategy: one copy of the model per device; each step splits the batch",
        "    # among them and averages their gradients.",
    ]
    if dist["devices"]:
        lines.append(f"    strategy = tf.distribute.MirroredStrategy({literal(dist['devices'])})")
        return lines
    n = dist["cpu_replicas"]
    if n:
        lines += [
            '    if tf.config.list_physical_devices("GPU"):',
            "        strategy = tf.distribute.MirroredStrategy()  # every GPU",
            "    else:",
            f"        # No GPU: split the CPU into {n} logical devices to try the strategy out.",
            '        cpu = tf.config.list_physical_devices("CPU")[0]',
            f"        config = [tf.config.LogicalDeviceConfiguration()] * {n}",
            "        tf.config.set_logical_device_configuration(cpu, config)",
            '        devices = [d.name for d in tf.config.list_logical_devices("CPU")]',
            "        strategy = tf.distribute.MirroredStrategy(devices)",
        ]
    else:
        lines.append("    strategy = tf.distribute.MirroredStrategy()  # every GPU (else the CPU)")
    lines.append('    print("Replicas (the batch is split among them):", strategy.num_replicas_in_sync)')
    return lines


def _main_lines(project, graph: Graph, epochs: int | None, catalog: Catalog) -> list[str]:
    training = training_settings(project.settings, graph)
    dist = _distribution(training)
    if dist["strategy"] == "multi_worker":
        return _multi_worker_lines(project, graph, epochs, training, catalog)
    mirrored = dist["strategy"] == "mirrored"
    outs = output_names(graph)
    named = any(o.name for o in graph.outputs)
    run_dir = f"{project.name}_run"
    lines = ["def main():"]
    if training.get("mixed_precision"):
        lines += _mixed_precision_lines()
    if mirrored:
        lines += _mirrored_lines(dist)
    lines.append("    keras.utils.set_random_seed(0)")
    ind = 4
    if mirrored:
        # the model, the optimizer and the metrics are created in the strategy's scope
        lines += [
            "    splits = prepare_data()",
            "    # Variables made in the scope are mirrored on every replica.",
            "    with strategy.scope():",
        ]
        ind = 8
    pad = " " * ind
    lines.append(f"{pad}model = build_model()")
    if training.get("mixed_precision"):
        lines += _float32_output_lines(graph, catalog, ind)
    if not mirrored:
        lines += ["    model.summary()", "    splits = prepare_data()"]
    optimizer, losses, weights, metric_lists = _compile_parts(training, outs)
    metrics = ["[" + ", ".join(m) + "]" for m in metric_lists]
    lines += call_lines(ind, "optimizer = ", [optimizer], "")
    args = ["optimizer=optimizer"]
    if len(outs) == 1 and not named:
        args += [f"loss={losses[0]}", f"metrics={metrics[0]}"]
    elif named:

        def as_dict(values):
            return "{" + ", ".join(f"{literal(o)}: {v}" for o, v in zip(outs, values)) + "}"

        args += [
            f"loss={as_dict(losses)}",
            f"loss_weights={as_dict(weights)}",
            f"metrics={as_dict(metrics)}",
        ]
    else:
        args += [
            "loss=[" + ", ".join(losses) + "]",
            "loss_weights=[" + ", ".join(weights) + "]",
            "metrics=[" + ", ".join(metrics) + "]",
        ]
    args.append(f"steps_per_execution={int(training['steps_per_execution'])}")
    args.append(f"jit_compile={bool(training['jit_compile'])}")
    lines += call_lines(ind, "model.compile(", args)
    if mirrored:
        lines.append("    model.summary()")
    files = {
        "ModelCheckpoint": {"filepath": 'str(run_dir / "best.keras")'},
        "CSVLogger": {"filename": 'str(run_dir / "history.csv")'},
        "TensorBoard": {"log_dir": 'str(run_dir / "logs")'},
        "BackupAndRestore": {
            "backup_dir": 'str(run_dir / "backup")',
            "double_checkpoint": "True",
        },
    }
    lines += [f"    run_dir = Path({literal(run_dir)})", "    run_dir.mkdir(exist_ok=True)"]
    callbacks = []
    for cb, entry in training["callbacks"].items():
        if entry.get("enabled"):
            callbacks.append(_entry_expr("callbacks", {"class": cb, **entry}, files.get(cb)))
    lines.append("    callbacks = [")
    for c in callbacks:
        for i, line in enumerate(_wrap_item(8, c)):
            lines.append(line + ("," if i == len(_wrap_item(8, c)) - 1 else ""))
    lines.append("    ]")

    def xy(part: str, which: int) -> str:
        if which == 1 and named:
            return "dict(zip(" + literal(outs) + f", splits[{literal(part)}][1]))"
        count = len(graph.input_nodes) if which == 0 else len(outs)
        s = f"splits[{literal(part)}][{which}]"
        return s + "[0]" if count == 1 else s

    batch = int(training["batch_size"])
    n_epochs = int(epochs if epochs is not None else training["epochs"])
    data = data_settings(project.settings, graph)
    val = data.get("validation") or {}
    has_val = isinstance(val, dict) and (val.get("split", 0) > 0 or _separate(val))
    fit = [
        xy("train", 0),
        xy("train", 1),
        f"batch_size={batch}",
        f"epochs={n_epochs}",
    ]
    if has_val:
        fit.append(f"validation_data=({xy('validation', 0)}, {xy('validation', 1)})")
    fit += [f"shuffle={bool(data.get('shuffle', True))}", "callbacks=callbacks"]
    lines += call_lines(4, "model.fit(", fit)
    test = data.get("test") or {}
    if isinstance(test, dict) and (test.get("split", 0) > 0 or _separate(test)):
        lines += call_lines(
            4,
            "results = model.evaluate(",
            [xy("test", 0), xy("test", 1), f"batch_size={batch}", "return_dict=True"],
        )
        lines.append('    print("Test:", results)')
    lines.append('    model.save(run_dir / "final.keras")')
    return lines


# ===================================================================== several machines
_MW_HELPERS = '''def is_chief(strategy):
    """Worker 0 (or a "chief" task) writes the results; the other workers only train."""
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.task_type:
        return True  # no TF_CONFIG: this machine alone
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def per_sample(loss):
    """One loss value per sample: the mean over every axis but the batch axis."""
    loss = tf.cast(loss, "float32")
    if loss.shape.rank > 1:
        loss = tf.reduce_mean(loss, axis=list(range(1, loss.shape.rank)))
    return loss


def saved_epoch(manager):
    """The epochs done in this worker's last checkpoint (0: none)."""
    latest = manager.latest_checkpoint
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def agreed_epoch(strategy, epochs_done):
    """The epoch all workers resume from: the earliest any of them saved (a worker that died
    while saving is one epoch behind; each keeps its last two checkpoints)."""

    @tf.function
    def mean_over_replicas(value):
        def replica_mean(value):
            context = tf.distribute.get_replica_context()
            return context.all_reduce(tf.distribute.ReduceOp.MEAN, tf.identity(value))

        per_replica = strategy.run(replica_mean, args=(value,))
        return strategy.experimental_local_results(per_replica)[0]

    mean = mean_over_replicas(tf.constant(epochs_done, "float32"))
    return int(np.floor(float(mean) + 1e-6))  # the workers differ by one epoch at most


def make_dataset(x, y, shuffle=False, drop_remainder=False):
    """A tf.data pipeline batched at the global batch size."""
    dataset = tf.data.Dataset.from_tensor_slices((tuple(x), tuple(y)))
    if shuffle:  # the same seed on every worker, so that the shards do not overlap
        dataset = dataset.shuffle(len(x[0]), seed=0, reshuffle_each_iteration=True)
    dataset = dataset.batch(GLOBAL_BATCH_SIZE, drop_remainder=drop_remainder)
    options = tf.data.Options()
    # DATA: every worker reads the whole pipeline and keeps its share of each batch.
    policy = tf.data.experimental.AutoShardPolicy.DATA
    options.experimental_distribute.auto_shard_policy = policy
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)'''


def _launch_doc(dist: dict | None) -> list[str]:
    """The script docstring's lines on how to launch it, for the distributed strategies."""
    if dist is None or dist["strategy"] == "default":
        return []
    if dist["strategy"] == "mirrored":
        return [
            "",
            "Trains with tf.distribute.MirroredStrategy: one replica per device of this machine;",
            "the batch size is the global batch, split among the replicas.",
        ]
    cluster = '{"cluster": {"worker": ["host1:12345", "host2:12345"]},'
    return [
        "",
        "Trains with tf.distribute.MultiWorkerMirroredStrategy and a custom training loop",
        "(Keras 3's model.fit does not run under that strategy). Each worker reads TF_CONFIG",
        "from the environment; without it the script trains on this machine alone. The batch",
        "size is the global batch, split among all replicas of all workers.",
        "",
        "On two machines (host1, host2), copy this script (and its data) to both and run:",
        "",
        f"    host1$ export TF_CONFIG='{cluster}",
        '                            "task": {"type": "worker", "index": 0}}\'',
        "    host1$ python train.py",
        "",
        f"    host2$ export TF_CONFIG='{cluster}",
        '                            "task": {"type": "worker", "index": 1}}\'',
        "    host2$ python train.py",
        "",
        "Worker 0 is the chief: it writes the run folder (final.keras). Every worker saves a",
        "checkpoint after each epoch (the chief in <run>/checkpoints, worker i in",
        "<run>/worker<i>_checkpoints); if a worker dies, restart all workers with the same",
        "commands and they resume from the last epoch saved. --weights-out PATH saves this",
        "worker's final weights as .npz.",
    ]


def _per_sample_loss_expr(entry: dict) -> str:
    """A loss that returns one value per sample (``reduction=None``)."""
    params = {k: v for k, v in (entry.get("params") or {}).items() if k != "reduction"}
    return _entry_expr("losses", {**entry, "params": params}, {"reduction": "None"})


def _multi_worker_lines(
    project, graph: Graph, epochs: int | None, training: dict, catalog: Catalog
) -> list[str]:
    """Constants, helpers and ``main()`` for MultiWorkerMirroredStrategy: a custom loop."""
    outs = output_names(graph)
    named = any(o.name for o in graph.outputs)
    data = data_settings(project.settings, graph)
    val = data.get("validation") or {}
    has_val = isinstance(val, dict) and (val.get("split", 0) > 0 or _separate(val))
    test = data.get("test") or {}
    has_test = isinstance(test, dict) and (test.get("split", 0) > 0 or _separate(test))
    batch = int(training["batch_size"])
    n_epochs = int(epochs if epochs is not None else training["epochs"])
    optimizer, _losses, weights, metric_lists = _compile_parts(training, outs)
    losses = [_per_sample_loss_expr(training["losses"][o]) for o in outs]
    mixed = bool(training.get("mixed_precision"))

    lines = [
        f"GLOBAL_BATCH_SIZE = {batch}  # one step over all workers, split among the replicas",
        f"EPOCHS = {n_epochs}",
        f"OUTPUT_NAMES = {literal(outs)}",
        "",
        "",
        *_MW_HELPERS.split("\n"),
        "",
        "",
        "def main():",
        "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
        '    parser.add_argument("--weights-out", help="save this worker\'s final weights (.npz)")',
        "    args = parser.parse_args()",
    ]
    if mixed:
        lines += _mixed_precision_lines()
    lines += [
        "    # The cluster and this worker's place in it come from TF_CONFIG (see above).",
        "    strategy = tf.distribute.MultiWorkerMirroredStrategy()",
        "    chief = is_chief(strategy)",
        "    replicas = strategy.num_replicas_in_sync",
        '    print(f"{replicas} replica(s) share each step\'s {GLOBAL_BATCH_SIZE} samples.")',
        "    keras.utils.set_random_seed(0)  # the same initial weights on every worker",
        "    splits = prepare_data()",
        "    # The model, the optimizer and the metrics are made in the strategy's scope: their",
        "    # variables are mirrored on every replica and kept in sync.",
        "    with strategy.scope():",
        "        model = build_model()",
    ]
    if mixed:
        lines += _float32_output_lines(graph, catalog, 8)
    lines += call_lines(8, "optimizer = ", [optimizer], "")
    if mixed:
        lines += [
            '        if keras.config.dtype_policy().name == "mixed_float16":',
            "            # scale the loss so that small float16 gradients do not vanish",
            "            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)",
        ]
    lines += ["        # one loss per output, one value per sample"]
    lines += call_lines(8, "losses = [", losses, "]")
    lines.append(f"        loss_weights = [{', '.join(weights)}]")
    lines.append("        # the metrics of each output")
    lines += call_lines(8, "metrics = [", ["[" + ", ".join(m) + "]" for m in metric_lists], "]")
    lines += [
        "    if chief:",
        "        model.summary()",
        "",
    ]
    call_x = "x[0]" if len(graph.input_nodes) == 1 else "list(x)"
    if len(outs) == 1 and not named:
        as_list = "[model(" + call_x + ", training=training)]"
    elif named:
        as_list = "[predictions[name] for name in OUTPUT_NAMES]"
    else:
        as_list = "list(model(" + call_x + ", training=training))"
    lines += ["    def forward(x, ys, training):", '        """Each sample\'s loss; updates the metrics."""']
    if named:
        lines += [f"        predictions = model({call_x}, training=training)"]
    lines += [f"        predictions = {as_list}"]
    lines += [
        "        per_example = 0.0",
        "        for loss, weight, y, p in zip(losses, loss_weights, ys, predictions):",
        "            per_example += weight * per_sample(loss(y, p))",
        "        for group, y, p in zip(metrics, ys, predictions):",
        "            for metric in group:",
        "                metric.update_state(y, p)",
        "        return per_example",
        "",
        "    def replica_train_step(x, ys):",
        '        """One step on one replica: its share of the global batch."""',
        "        with tf.GradientTape() as tape:",
        "            per_example = forward(x, ys, training=True)",
        "            # divided by the GLOBAL batch: summed over replicas it is the batch's mean",
        "            loss = tf.nn.compute_average_loss(",
        "                per_example, global_batch_size=GLOBAL_BATCH_SIZE",
        "            )",
        "            if model.losses:  # regularization, shared among the replicas",
        "                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))",
    ]
    if mixed:
        lines += [
            "            scaled = optimizer.scale_loss(loss)",
            "        gradients = tape.gradient(scaled, model.trainable_variables)",
        ]
    else:
        lines += ["        gradients = tape.gradient(loss, model.trainable_variables)"]
    lines += [
        "        # the optimizer sums the gradients of all replicas before it applies them",
        "        optimizer.apply_gradients(zip(gradients, model.trainable_variables))",
        "        return loss",
        "",
        "    @tf.function",
        "    def train_step(batch):",
        "        per_replica = strategy.run(replica_train_step, args=batch)",
        "        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)",
        "",
        "    def replica_test_step(x, ys):",
        "        per_example = forward(x, ys, training=False)",
        '        return tf.reduce_sum(per_example), tf.cast(tf.size(per_example), "float32")',
        "",
        "    @tf.function",
        "    def test_step(batch):",
        "        total, count = strategy.run(replica_test_step, args=batch)",
        "        total = strategy.reduce(tf.distribute.ReduceOp.SUM, total, axis=None)",
        "        return total, strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None)",
        "",
        '    def metric_logs(prefix=""):',
        "        logs = {}",
        "        for name, group in zip(OUTPUT_NAMES, metrics):",
        "            for metric in group:",
        '                key = metric.name if len(metrics) == 1 else f"{name}_{metric.name}"',
        "                logs[prefix + key] = float(metric.result())",
        "                metric.reset_state()",
        "        return logs",
        "",
        '    def evaluate(dataset, prefix=""):',
        "        total = count = 0.0",
        "        for batch in dataset:",
        "            batch_total, batch_count = test_step(batch)",
        "            total, count = total + float(batch_total), count + float(batch_count)",
        '        return {prefix + "loss": total / max(count, 1.0), **metric_logs(prefix)}',
        "",
        "    distribute = strategy.experimental_distribute_dataset",
        '    train_data = distribute(make_dataset(*splits["train"], shuffle=True, drop_remainder=True))',
    ]
    if has_val:
        lines.append('    validation_data = distribute(make_dataset(*splits["validation"]))')
    lines += [
        "",
        f"    run_dir = Path({literal(f'{project.name}_run')})",
        "    run_dir.mkdir(exist_ok=True)",
        "    # A checkpoint after every epoch: every worker saves (saving is a collective step),",
        "    # the chief into the run folder, each other worker into a folder of its own.",
        '    epoch = tf.Variable(0, dtype="int64", trainable=False)  # the epochs done',
        "    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch)",
        "    task = strategy.cluster_resolver.task_id if strategy.cluster_resolver else 0",
        '    folder = run_dir / ("checkpoints" if chief else f"worker{task}_checkpoints")',
        "    manager = tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=2)",
        "    done = agreed_epoch(strategy, saved_epoch(manager))",
        "    if done:  # a restart: go on from the last epoch saved",
        '        checkpoint.restore(f"{folder}/ckpt-{done}")',
        '        print(f"Resuming from epoch {done + 1} ({folder}/ckpt-{done})")',
        "",
    ]
    lines += _mw_callback_lines(training)
    lines += [
        "    model.stop_training = False  # EarlyStopping sets it to end training early",
        "    callbacks.on_train_begin()",
        "    for index in range(int(epoch.numpy()), EPOCHS):",
        "        callbacks.on_epoch_begin(index)",
        "        start = time.time()",
        "        total = steps = 0",
        "        for batch in train_data:",
        "            total, steps = total + float(train_step(batch)), steps + 1",
        '        logs = {"loss": total / max(steps, 1), **metric_logs()}',
    ]
    if has_val:
        lines.append('        logs.update(evaluate(validation_data, prefix="val_"))')
    lines += [
        "        epoch.assign(index + 1)",
        "        manager.save(checkpoint_number=index + 1)",
        '        shown = " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())',
        '        print(f"Epoch {index + 1}/{EPOCHS} - {time.time() - start:.1f}s - {shown}")',
        "        callbacks.on_epoch_end(index, logs)",
        "        if model.stop_training:",
        "            break",
        "    callbacks.on_train_end()",
    ]
    if has_test:
        lines += [
            '    results = evaluate(distribute(make_dataset(*splits["test"])))',
            '    print("Test:", results)',
        ]
    lines += [
        "    if chief:",
        '        model.save(run_dir / "final.keras")',
        "    if args.weights_out:",
        "        np.savez(args.weights_out, *model.get_weights())",
    ]
    return lines


def _mw_callback_lines(training: dict) -> list[str]:
    """``callbacks``: a CallbackList of the project's callbacks that work in a custom loop;
    the ones that write files only on the chief."""
    files = {
        "ModelCheckpoint": {"filepath": 'str(run_dir / "best.keras")'},
        "CSVLogger": {"filename": 'str(run_dir / "history.csv")'},
    }
    shared, chief_only, left = [], [], []
    for cb, entry in training["callbacks"].items():
        if not entry.get("enabled"):
            continue
        if cb in ("BackupAndRestore", "TensorBoard"):
            left.append(cb)
            continue
        expr = _entry_expr("callbacks", {"class": cb, **entry}, files.get(cb))
        (chief_only if cb in files else shared).append(expr)
    lines = []
    if left:
        lines.append(
            f"    # Not used by this loop: {', '.join(left)} (the checkpoints above resume a run)."
        )
    lines += ["    callbacks = ["]
    for c in shared:
        wrapped = _wrap_item(8, c)
        lines += wrapped[:-1] + [wrapped[-1] + ","]
    lines.append("    ]")
    if chief_only:
        lines.append("    if chief:  # the callbacks that write files")
        lines.append("        callbacks += [")
        for c in chief_only:
            wrapped = _wrap_item(12, c)
            lines += wrapped[:-1] + [wrapped[-1] + ","]
        lines.append("        ]")
    if any(cb == "ReduceLROnPlateau" and e.get("enabled") for cb, e in training["callbacks"].items()):
        lines.append("    model.optimizer = optimizer  # ReduceLROnPlateau changes its learning rate")
    lines.append("    callbacks = keras.callbacks.CallbackList(callbacks, model=model)")
    return lines


def _input_shapes(graph: Graph) -> dict[str, Any]:
    shapes = {}
    for node in graph.input_nodes:
        if "shape" in node.params:
            shapes[node.name] = tuple(node.params["shape"])
        elif "batch_shape" in node.params:
            shapes[node.name] = tuple(node.params["batch_shape"][1:])
    return shapes


# ===================================================================== the script
def generate_script(
    project,
    style: str = "functional",
    catalog: Catalog | None = None,
    epochs: int | None = None,
    format_with_ruff: bool = True,
) -> str:
    """A standalone Python script for ``project`` in ``style``.

    ``epochs`` overrides the training setting (tests train one epoch). Raises
    :class:`CodegenError` when the style cannot express the graph.
    """
    if style not in STYLES:
        raise CodegenError(f"Unknown style '{style}': choose one of {', '.join(STYLES)}.")
    graph: Graph = project.graph
    catalog = catalog_for(graph, catalog or load_catalog())
    name = project.name or graph.name
    for node in graph.nodes:
        if node.type != INPUT_TYPE and node.type != MODEL_TYPE and node.type not in catalog:
            raise CodegenError(f"Unknown layer type '{node.type}'.", node.name)
    _PRIVATE_IMPORTS.clear()
    _UNNAMEABLE.clear()
    _UNNAMEABLE.update(
        c.name for c in root_code(graph).values() if c.kind == "layer" and not init_accepts_kwargs(c)
    )
    _NAMED_USED[0] = False
    _CUSTOM_CLASSES.clear()
    _CUSTOM_CLASSES.update(
        c.name for c in root_code(graph).values() if c.kind != "layer" and defines_class(c)
    )
    functions = _build_functions(graph, name, style, catalog)
    functions = _preprocess_class(graph, catalog) + functions
    private = sorted(_PRIVATE_IMPORTS)
    data = data_settings(project.settings, graph)
    has_data = bool(data.get("source"))

    out: list[str] = []
    title = f'"""{name}: generated by Studio ({style} style).'
    launch = _launch_doc(_distribution(training_settings(project.settings, graph)) if has_data else None)
    if project.description or launch:
        described = ["", *_wrap_text(project.description)] if project.description else []
        out += [title, *described, *launch, '"""', ""]
    else:
        out += [title + '"""', ""]
    futures, definitions = _code_definitions(graph)
    body: list[str] = []
    for fn in functions:
        body += ["", ""] + fn
    if has_data:
        shapes = _input_shapes(graph)
        consts = [f"{literal(k)}: {literal(v, tuples=True)}" for k, v in shapes.items()]
        body += ["", ""]
        body += call_lines(0, "INPUT_SHAPES = {", consts, "}")
        body += [
            "",
            "",
            "def as_model_dtype(a):",
            '    """Whole numbers in at most two dimensions stay int32; the rest is float32."""',
            '    keep_int = a.dtype.kind in "iu" and a.ndim <= 2',
            '    return a.astype("int32" if keep_int else "float32")',
        ]
        base_dir = project.path.parent if getattr(project, "path", None) else None
        helpers: dict[str, str] = {}
        load_body = _data_lines(data, base_dir, helpers)
        prepare_body = _prepare_lines(data, graph, base_dir, helpers)
        uses_dir = any("DATA_DIR" in line for line in load_body + prepare_body)
        if uses_dir:
            body += [
                "",
                "",
                "# The project keeps its data paths relative to its folder: this assumes the",
                "# script is saved beside the project file.",
                "DATA_DIR = Path(__file__).resolve().parent",
            ]
        for helper in helpers.values():
            body += ["", ""] + helper.rstrip("\n").split("\n")
        body += [
            "",
            "",
            "def load_data():",
            '    """The data source\'s fields (NumPy arrays) and what loading them learned."""',
        ]
        body += load_body
        body += [
            "",
            "",
            "def prepare_data():",
            '    """Shuffle, split (test last, validation before it) and preprocess."""',
        ]
        body += prepare_body
        body += ["", ""] + _main_lines(project, graph, epochs, catalog)
        body += ["", "", 'if __name__ == "__main__":', "    main()"]
    text_body = "\n".join(body)
    imports = [f"import {m}" for m in ("argparse", "time") if re.search(rf"\b{m}\.", text_body)]
    if "Path(" in text_body:
        imports += ["from pathlib import Path"]
    if imports:
        imports.append("")
    imports.append("import keras")
    if "np." in text_body:
        imports.append("import numpy as np")
    if re.search(r"\btf\.", text_body):
        imports.append("import tensorflow as tf")
    if "layers." in text_body:
        imports.append("from keras import layers")
    imports += private
    named = _named_lines()
    # Studio runs each definition on its own; the script runs them in one module, next to
    # its own code: a name bound twice would silently change what one of them does.
    _check_code_names(definitions, "\n".join(imports + named + body))
    code = [line for d in definitions for line in d.lines] + named
    if futures:
        out += [f"from __future__ import {', '.join(futures)}", ""]
    text = "\n".join(out + imports) + "\n" + "\n".join(code + body) + "\n"
    if format_with_ruff:
        text = _ruff_format(text)
    return text


class _Definition:
    """One code definition as the script writes it, and the top-level names it binds."""

    def __init__(self, code, lines: list[str], bindings: dict[str, list[str]] | None) -> None:
        self.code = code
        self.lines = lines
        # name -> how it is bound (ast dumps of the binding statements, or "import <target>");
        # None when the source does not parse (Studio reports that error itself).
        self.bindings = bindings


def _code_definitions(graph: Graph) -> tuple[list[str], list[_Definition]]:
    """The ``from __future__`` features of the project's code (hoisted to the script's top,
    the only place Python accepts them) and each definition, verbatim otherwise (ruff leaves
    it as written)."""
    futures: list[str] = []
    definitions: list[_Definition] = []
    for code in root_code(graph).values():
        source = code.source.rstrip()
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            tree = None
        lines = source.split("\n")
        if tree is not None:
            for stmt in tree.body:
                if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                    continue
                futures += [a.name for a in stmt.names if a.name not in futures]
                _hoist_future(code, lines, stmt)
        head = [f"# {code.kind.capitalize()} {code.name}, written in Studio.", "# fmt: off"]
        body = ["", ""] + head + lines + ["# fmt: on"]
        bindings = _top_level_bindings(tree) if tree is not None else None
        definitions.append(_Definition(code, body, bindings))
    return futures, definitions


def _hoist_future(code, lines: list[str], stmt: ast.ImportFrom) -> None:
    """Replace the ``from __future__`` statement ``stmt`` in ``lines`` by a comment."""
    first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
    before = lines[first][: stmt.col_offset]
    after = lines[last][stmt.end_col_offset or 0 :].strip()
    if before.strip() or (after and not after.startswith("#")):
        raise CodegenError(
            f"Code '{code.name}': put its 'from __future__ import' on a line of its own so "
            "the exported script can move it to the top."
        )
    text = " ".join(" ".join(lines[first : last + 1]).split())
    lines[first : last + 1] = [f"# {text}  (moved to the top of the script)"]


def _import_target(alias: ast.alias, module: str | None) -> tuple[str, str]:
    """(bound name, what it refers to) for one imported name."""
    if module is None:  # import a.b [as c]
        if alias.asname:
            target = alias.name
        else:
            target = alias.name.split(".")[0]
        name = alias.asname or alias.name.split(".")[0]
    else:
        target = f"{module}.{alias.name}"
        name = alias.asname or alias.name
    # tensorflow.keras is Keras here (Studio runs the seed's "from tensorflow.keras import
    # layers" as Keras 3's layers), so both spellings name the same module.
    if target == "tensorflow.keras" or target.startswith("tensorflow.keras."):
        target = target[len("tensorflow.") :]
    return name, "import " + target


def _top_level_bindings(tree: ast.Module) -> dict[str, list[str]]:
    """The names a module binds at its top level, each with how it binds them."""
    found: dict[str, list[str]] = {}

    def bind(name: str, how: str) -> None:
        found.setdefault(name, []).append(how)

    def targets(node: ast.AST, how: str) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                bind(sub.id, how)

    def visit(stmts: list[ast.stmt]) -> None:
        for stmt in stmts:
            how = ast.dump(stmt)
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bind(stmt.name, how)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    bind(*_import_target(alias, None))
            elif isinstance(stmt, ast.ImportFrom):
                if stmt.module == "__future__":
                    continue
                for alias in stmt.names:
                    if alias.name == "*":
                        raise CodegenError(
                            f"'from {stmt.module} import *' cannot be exported: it may "
                            "replace the script's own names; import the names it uses."
                        )
                    bind(*_import_target(alias, "." * stmt.level + (stmt.module or "")))
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                    targets(t, how)
            elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                targets(stmt.target, how)
                visit(stmt.body + stmt.orelse)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars, how)
                visit(stmt.body)
            elif isinstance(stmt, (ast.If, ast.While)):
                visit(stmt.body + stmt.orelse)
            elif isinstance(stmt, ast.Try):
                for handler in stmt.handlers:
                    if handler.name:
                        bind(handler.name, how)
                    visit(handler.body)
                visit(stmt.body + stmt.orelse + stmt.finalbody)
            elif isinstance(stmt, ast.Global):
                continue
            else:  # walrus targets in a top-level expression
                for sub in ast.walk(stmt):
                    if isinstance(sub, ast.NamedExpr):
                        bind(sub.target.id, how)

    visit(tree.body)
    return found


def _clash(a: list[str], b: list[str]) -> bool:
    """Whether two ways of binding one name differ (the same import, or the very same
    statement, twice is harmless)."""
    if all(h.startswith("import ") for h in a + b):
        return set(a) != set(b)
    return a != b


def _check_code_names(definitions: list[_Definition], generated: str) -> None:
    """Raise CodegenError when two definitions, or a definition and the script's own code,
    bind the same top-level name differently."""
    try:
        own = _top_level_bindings(ast.parse(generated))
    except SyntaxError:  # pragma: no cover - the generator writes valid Python
        own = {}
    seen: dict[str, tuple[str, list[str]]] = {}
    for d in definitions:
        if d.bindings is None:
            continue
        label = f"{d.code.kind} '{d.code.name}'"
        for name, how in d.bindings.items():
            if name in own and _clash(own[name], how):
                raise CodegenError(
                    f"The {label} defines '{name}', a name the exported script uses for "
                    f"its own code; rename '{name}' in that code to export the script."
                )
            if name in seen and _clash(seen[name][1], how):
                raise CodegenError(
                    f"The {seen[name][0]} and the {label} both define '{name}' at their top "
                    "level: Studio runs each on its own, but the exported script runs them "
                    f"in one module, where one '{name}' would replace the other. Rename "
                    f"'{name}' in one of them to export the script."
                )
            seen.setdefault(name, (label, how))


def _named_lines() -> list[str]:
    """The ``named`` helper for custom layers whose ``__init__`` cannot take ``name=``."""
    if not _NAMED_USED[0]:
        return []
    return [
        "",
        "",
        "def named(layer, name):",
        '    """Name a layer whose __init__ takes no name= argument."""',
        "    layer.name = name",
        "    return layer",
    ]


def _wrap_text(text: str, width: int = LINE - 4) -> list[str]:
    words = text.replace('"""', "'''").replace("\\", "/").split()
    lines, cur = [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    if cur:
        lines.append(cur)
    return lines


def _ruff_executable() -> str | None:
    import os
    import sys

    # Beside the interpreter (a virtual environment), or in the PyInstaller bundle folder.
    for folder in (os.path.dirname(sys.executable), getattr(sys, "_MEIPASS", None)):
        if folder:
            candidate = os.path.join(folder, "ruff.exe" if os.name == "nt" else "ruff")
            if os.path.exists(candidate):
                return candidate
    return shutil.which("ruff")


def _ruff_format(text: str) -> str:
    """The text through ``ruff format`` when ruff is installed (it fixes any line wrapping
    the generator got wrong); unchanged otherwise."""
    ruff = _ruff_executable()
    if ruff is None:
        return text
    try:
        done = subprocess.run(
            [ruff, "format", "--line-length", str(LINE), "--isolated", "-"],
            input=text,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return text
    return done.stdout if done.returncode == 0 and done.stdout else text
