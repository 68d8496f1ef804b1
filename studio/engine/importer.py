"""Keras -> graph: read ``.keras``, ``.h5`` and Keras JSON files into a Studio graph.

Only the file's config is read (the JSON inside the ``.keras`` zip, the ``model_config``
attribute of an ``.h5`` file, or the JSON file itself): nothing in it runs, and a class that
Studio does not know is reported by name instead of being loaded. Weights are read in a
second step (:func:`read_weights`) with Keras' safe mode on.
"""

from __future__ import annotations

import json
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.catalog import Catalog, LayerSpec, load_catalog
from studio.core.graph import INPUT_TYPE, MODEL_TYPE, Edge, Graph, Node, Output
from studio.core.layout import layout_in_place

NESTED_MODEL_CLASSES = {"Functional", "Model", "Sequential"}
# Keras records these call arguments itself; they are not the user's choice.
_AUTOMATIC_CALL_ARGS = {"mask": (None,), "training": (None, False)}


class ModelImportError(Exception):
    """The file cannot become a graph; ``message`` says why, naming the file and layer."""

    def __init__(self, message: str, layer: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.layer = layer


# ---------------------------------------------------------------------- reading files
def read_model_config(path: str | Path) -> dict[str, Any]:
    """The serialized model (``{"class_name": ..., "config": ...}``) stored in a file."""
    path = Path(path)
    if not path.exists():
        raise ModelImportError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".keras":
            with zipfile.ZipFile(path) as zf:
                data = json.loads(zf.read("config.json").decode("utf-8"))
        elif suffix in {".h5", ".hdf5"}:
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
                if raw is None:
                    raise ModelImportError(
                        f"{path}: this HDF5 file holds no model config (only weights?)."
                    )
                if isinstance(raw, bytes):
                    raw = raw.decode("utf-8")
                data = json.loads(raw)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
    except ModelImportError:
        raise
    except zipfile.BadZipFile:
        raise ModelImportError(f"{path}: not a .keras archive (the zip is damaged).") from None
    except KeyError:
        raise ModelImportError(f"{path}: the archive has no config.json.") from None
    except json.JSONDecodeError as exc:
        raise ModelImportError(
            f"{path}: the model config is not valid JSON (line {exc.lineno}: {exc.msg})."
        ) from None
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if not isinstance(data, dict) or "config" not in data:
        raise ModelImportError(f"{path}: this is not a Keras model config.")
    return data


# ---------------------------------------------------------------------- value normalisation
@lru_cache(maxsize=1)
def _object_aliases() -> dict[tuple[str, str], str]:
    """``(class_name, frozen default config) -> alias`` for initializers etc."""
    from studio.engine import load_keras

    keras = load_keras()
    catalog = load_catalog()
    table: dict[tuple[str, str], str] = {}
    getters = {
        "initializer": keras.initializers.get,
        "regularizer": keras.regularizers.get,
        "constraint": keras.constraints.get,
    }
    for kind, get in getters.items():
        for alias in catalog.choices.get(kind, []):
            try:
                obj = get(alias)
            except Exception:
                continue
            if obj is None:
                continue
            key = (type(obj).__name__, json.dumps(_jsonable(obj.get_config()), sort_keys=True))
            table.setdefault(key, alias)
    return table


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_tuple_default))


def _tuple_default(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return list(obj)
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def simplify_value(value: Any) -> Any:
    """Shorten Keras' serialized objects where a plain name says the same thing."""
    if isinstance(value, dict):
        cls = value.get("class_name")
        cfg = value.get("config")
        module = value.get("module") or ""
        if cls == "DTypePolicy" and isinstance(cfg, dict) and set(cfg) == {"name"}:
            return cfg["name"]
        if cls and isinstance(cfg, dict) and module.startswith(
            ("keras.initializers", "keras.regularizers", "keras.constraints")
        ):
            alias = _object_aliases().get((cls, json.dumps(cfg, sort_keys=True)))
            if alias is not None:
                return alias
        return {k: simplify_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [simplify_value(v) for v in value]
    return value


# Parameters whose default (None) means "the same as another parameter": Keras reports the
# derived value in its config, Studio keeps the default so that the link stays.
_DERIVED = {"strides": "pool_size"}


def params_from_config(
    spec: LayerSpec, config: dict[str, Any], catalog: Catalog | None = None
) -> dict[str, Any]:
    """The node parameters (non-default config entries) of a layer config."""
    config = _jsonable(config)
    params: dict[str, Any] = {}
    for key, value in config.items():
        if key in ("name", "build_config"):
            continue
        pspec = spec.param(key)
        if pspec is not None and pspec.kind == "layer" and isinstance(value, dict):
            value = simplify_layer(value, catalog or load_catalog())
        else:
            value = simplify_value(value)
        if key in spec.defaults and simplify_value(spec.defaults[key]) == value:
            continue
        source = _DERIVED.get(key)
        if source and spec.defaults.get(key) is None and value == config.get(source):
            continue
        params[key] = value
    if isinstance(params.get("backward_layer"), dict) and isinstance(params.get("layer"), dict):
        # Bidirectional: a backward layer that mirrors the forward one is what Keras makes
        # by itself when none is given.
        fwd, bwd = params["layer"], params["backward_layer"]
        mirrored = dict(fwd["config"])
        mirrored["name"] = "backward_" + str(mirrored.get("name", ""))
        if mirrored.get("go_backwards"):
            mirrored.pop("go_backwards")
        else:
            mirrored["go_backwards"] = True
        if bwd.get("class_name") == fwd.get("class_name") and bwd["config"] == mirrored:
            del params["backward_layer"]
    return params


def simplify_layer(value: dict[str, Any], catalog: Catalog) -> dict[str, Any]:
    """A serialized inner layer (of a wrapper) with only its non-default parameters."""
    inner = catalog.by_class(value.get("module") or "keras.layers", value.get("class_name", ""))
    cfg = value.get("config")
    if inner is None or not isinstance(cfg, dict):
        return simplify_value(value)
    name = str(cfg.get("name", ""))
    if name.startswith("forward_"):
        name = name[len("forward_") :]
    params = params_from_config(inner, cfg, catalog)
    if params.get("zero_output_for_mask") == bool(cfg.get("return_sequences")):
        params.pop("zero_output_for_mask")  # Bidirectional sets it from return_sequences
    return {
        "module": value.get("module") or "keras.layers",
        "class_name": value["class_name"],
        "config": {"name": name, **params},
        "registered_name": None,
    }


def input_params(config: dict[str, Any]) -> dict[str, Any]:
    config = _jsonable(config)
    batch_shape = config.get("batch_shape") or config.get("batch_input_shape")
    params: dict[str, Any] = {}
    if batch_shape is not None:
        params["shape"] = list(batch_shape[1:])
        if batch_shape[0] is not None:
            params["batch_size"] = batch_shape[0]
    dtype = simplify_value(config.get("dtype"))
    if dtype not in (None, "float32"):
        params["dtype"] = dtype
    for flag in ("sparse", "ragged", "optional"):
        if config.get(flag):
            params[flag] = True
    return params


# ---------------------------------------------------------------------- config -> graph
def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _history(value: dict[str, Any]) -> tuple[str, int, int]:
    h = value["config"]["keras_history"]
    return (h[0], int(h[1]), int(h[2]))


def _legacy_node(inbound: list) -> tuple[list, dict]:
    """Keras 2's ``[[layer, node, tensor, kwargs], ...]`` as Keras 3's args/kwargs."""
    tensors = []
    kwargs: dict[str, Any] = {}
    for item in inbound:
        tensors.append(
            {"class_name": "__keras_tensor__", "config": {"keras_history": list(item[:3])}}
        )
        if len(item) > 3 and isinstance(item[3], dict):
            kwargs.update(item[3])
    args = [tensors[0]] if len(tensors) == 1 else [tensors]
    return args, kwargs


def _ports_for(node: Node, spec: LayerSpec | None, graph: Graph) -> list[tuple[str, bool, bool]]:
    if node.type == MODEL_TYPE:
        owner = graph.node(node.shared_with) if node.shared_with else node
        if owner.subgraph is not None:
            return [(n.name, False, False) for n in owner.subgraph.input_nodes]
        return []
    return [(p.name, p.variadic, p.optional) for p in spec.inputs] if spec else []


def config_to_graph(model: dict[str, Any], catalog: Catalog | None = None) -> Graph:
    """Turn a serialized Keras model into a graph (nested models become Model nodes).

    Raises:
        ModelImportError: listing every layer class Studio does not know, by name.
    """
    catalog = catalog or load_catalog()
    unknown: dict[str, str] = {}
    _collect_unknown(model, catalog, unknown)
    if unknown:
        listed = ", ".join(f"'{cls}' (layer '{layer}')" for cls, layer in unknown.items())
        raise ModelImportError(
            "The model uses layer classes that are not available in Studio: " + listed + ". "
            "Custom classes are not loaded from model files; add them as custom layers.",
            layer=next(iter(unknown.values())),
        )
    graph = _model_to_graph(model, catalog)
    layout_in_place(graph)
    return graph


def _collect_unknown(model: dict[str, Any], catalog: Catalog, unknown: dict[str, str]) -> None:
    for entry in model.get("config", {}).get("layers", []):
        cls = entry.get("class_name", "?")
        if cls in NESTED_MODEL_CLASSES:
            _collect_unknown(entry, catalog, unknown)
        elif cls != INPUT_TYPE and catalog.by_class(entry.get("module") or "", cls) is None:
            unknown.setdefault(cls, entry.get("config", {}).get("name") or entry.get("name", "?"))


def _model_to_graph(model: dict[str, Any], catalog: Catalog) -> Graph:
    if model.get("class_name") == "Sequential":
        return _sequential_to_graph(model, catalog)
    cfg = model["config"]
    graph = Graph(cfg.get("name") or "model")
    entries = cfg.get("layers", [])
    reserved = {e.get("name") or e["config"]["name"] for e in entries}
    app_names: dict[tuple[str, int], str] = {}
    pending: list[tuple[Node, LayerSpec | None, list, dict]] = []

    # Input order follows the config's input_layers.
    input_refs = _refs(cfg.get("input_layers", []))
    input_order = {ref[0]: i for i, ref in enumerate(input_refs)}
    entries = sorted(
        entries,
        key=lambda e: (
            0 if (e.get("name") or e["config"]["name"]) in input_order else 1,
            input_order.get(e.get("name") or e["config"]["name"], 0),
        ),
    )
    taken = set(reserved)
    for entry in entries:
        layer_name = entry.get("name") or entry["config"]["name"]
        cls = entry["class_name"]
        inbound = entry.get("inbound_nodes", [])
        if cls == INPUT_TYPE:
            node = Node(layer_name, INPUT_TYPE, input_params(entry["config"]))
            graph.add_node(node)
            app_names[(layer_name, 0)] = layer_name
            continue
        spec = None
        if cls in NESTED_MODEL_CLASSES:
            node = Node(layer_name, MODEL_TYPE, subgraph=_model_to_graph(entry, catalog))
            trainable = entry["config"].get("trainable", True)
            if trainable is False:
                node.params["trainable"] = False
        else:
            spec = catalog.by_class(entry.get("module") or "", cls)
            assert spec is not None
            node = Node(layer_name, spec.type, params_from_config(spec, entry["config"], catalog))
        for k, call in enumerate(inbound or [None]):
            if k == 0:
                app = node
            else:
                app_name = f"{layer_name}_call{k + 1}"
                i = 2
                while app_name in taken:
                    app_name = f"{layer_name}_call{k + 1}_{i}"
                    i += 1
                taken.add(app_name)
                app = Node(app_name, node.type, shared_with=layer_name)
            graph.add_node(app)
            app_names[(layer_name, k)] = app.name
            if call is None:
                continue
            if isinstance(call, list):
                args, kwargs = _legacy_node(call)
            else:
                args, kwargs = call.get("args", []), dict(call.get("kwargs", {}))
            pending.append((app, spec, args, kwargs))

    for app, spec, args, kwargs in pending:
        _connect_call(graph, app, spec if not app.shared_with else spec, args, kwargs, app_names)

    outputs = cfg.get("output_layers", [])
    if isinstance(outputs, dict):
        # Keras numbers a dict's tensors in sorted-key order (its flatten order); the
        # outputs keep that order so that edges from a nested model's outputs line up.
        graph.set_outputs(
            [
                Output(app_names[(r[0], r[1])], r[2], key)
                for key, r in ((k, _refs(outputs[k])[0]) for k in sorted(outputs))
            ]
        )
    else:
        graph.set_outputs([Output(app_names[(r[0], r[1])], r[2]) for r in _refs(outputs)])
    return graph


def _refs(value: Any) -> list[tuple[str, int, int]]:
    """``input_layers``/``output_layers`` as a list of (layer, node, tensor)."""
    if not value:
        return []
    if isinstance(value, dict):  # dict inputs/outputs: Keras' flatten order is sorted keys
        return [ref for key in sorted(value) for ref in _refs(value[key])]
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [(value[0], int(value[1]), int(value[2]))]
    if not isinstance(value, list):
        raise ModelImportError(f"Unexpected layer reference {value!r} in the model config.")
    out = []
    for item in value:
        out.extend(_refs(item))
    return out


def _connect_call(graph, node, spec, args, kwargs, app_names) -> None:
    ports = _ports_for(node, spec, graph)
    call_args: dict[str, Any] = {}

    def link(port: str, value: Any, variadic: bool) -> bool:
        if variadic and isinstance(value, list) and all(_is_tensor(v) for v in value):
            for slot, v in enumerate(value):
                _edge(graph, v, node.name, port, slot, app_names)
            return True
        if _is_tensor(value):
            _edge(graph, value, node.name, port, 0, app_names)
            return True
        return False

    if node.type == MODEL_TYPE:
        tensors = args[0] if args and isinstance(args[0], list) else list(args[:1])
        for (port, _, _), value in zip(ports, tensors):
            link(port, value, False)
        return
    positional = list(args)
    for i, value in enumerate(positional):
        if i >= len(ports):
            raise ModelImportError(
                f"Layer '{node.name}' is called with more arguments than Studio knows ports for."
            )
        port, variadic, _ = ports[i]
        if not link(port, value, variadic):
            call_args[port] = value
    port_names = {p[0] for p in ports}
    for key, value in kwargs.items():
        if key in port_names and link(key, value, False):
            continue
        if key in _AUTOMATIC_CALL_ARGS and value in _AUTOMATIC_CALL_ARGS[key]:
            continue
        call_args[key] = _jsonable(value)
    if call_args:
        node.call_args = call_args


def _edge(graph, tensor, dst, port, slot, app_names) -> None:
    layer, node_index, tensor_index = _history(tensor)
    src = app_names.get((layer, node_index))
    if src is None:
        raise ModelImportError(f"Layer '{dst}' refers to unknown layer '{layer}'.", layer=dst)
    graph.add_edge(Edge(src, tensor_index, dst, port, slot))


def _sequential_to_graph(model: dict[str, Any], catalog: Catalog) -> Graph:
    cfg = model["config"]
    graph = Graph(cfg.get("name") or "sequential")
    graph.style = "sequential"
    prev: str | None = None
    entries = cfg.get("layers", [])
    if not entries or entries[0].get("class_name") != INPUT_TYPE:
        shape = cfg.get("build_input_shape")
        if shape is None and entries:
            shape = entries[0].get("build_config", {}).get("input_shape")
        if shape is None:
            raise ModelImportError(
                f"Sequential model '{graph.name}' has no input shape; Studio needs one."
            )
        name = graph.unique_name(f"{graph.name}_input")
        graph.add_node(Node(name, INPUT_TYPE, input_params({"batch_shape": shape})))
        prev = name
    for entry in entries:
        cls = entry["class_name"]
        layer_name = entry["config"]["name"]
        if cls == INPUT_TYPE:
            node = Node(layer_name, INPUT_TYPE, input_params(entry["config"]))
        elif cls in NESTED_MODEL_CLASSES:
            node = Node(layer_name, MODEL_TYPE, subgraph=_model_to_graph(entry, catalog))
        else:
            spec = catalog.by_class(entry.get("module") or "", cls)
            assert spec is not None
            node = Node(layer_name, spec.type, params_from_config(spec, entry["config"], catalog))
        graph.add_node(node)
        if prev is not None:
            port = (
                node.subgraph.input_nodes[0].name
                if node.type == MODEL_TYPE and node.subgraph and node.subgraph.input_nodes
                else "inputs"
            )
            if node.type not in (MODEL_TYPE, INPUT_TYPE):
                spec = catalog.get(node.type)
                port = spec.inputs[0].name if spec and spec.inputs else "inputs"
            graph.add_edge(Edge(prev, 0, node.name, port))
        prev = node.name
    if prev is not None:
        graph.set_outputs([Output(prev, 0)])
    return graph


def import_model_file(path: str | Path, catalog: Catalog | None = None) -> Graph:
    """Read a ``.keras``/``.h5``/``.json`` model file's config into a laid-out graph."""
    data = read_model_config(path)
    try:
        return config_to_graph(data, catalog)
    except ModelImportError as exc:
        raise ModelImportError(f"{Path(path).name}: {exc.message}", exc.layer) from None
    except (KeyError, IndexError, TypeError, ValueError, RecursionError) as exc:
        raise ModelImportError(
            f"{Path(path).name}: the model config has an unexpected structure ({exc})."
        ) from None
