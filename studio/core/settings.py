"""A project's data and training settings: defaults, normalising, checking.

The settings live in ``Project.settings["data"]`` and ``Project.settings["training"]`` as
plain JSON (schema in ``docs/training.md``). This module fills in what a project leaves out
(:func:`training_settings`, :func:`data_settings`), chooses sensible defaults for a graph (a
softmax output gets a cross-entropy loss and accuracy), and checks the settings against the
graph and the training catalog, with messages that name the setting
(:func:`check_settings`). It imports neither Qt nor TensorFlow.
"""

from __future__ import annotations

import copy
from typing import Any

from studio.catalog import ParamSpec
from studio.catalog.training import TrainingCatalog, load_training_catalog
from studio.core.graph import Graph
from studio.core.validation import ERROR, WARNING, Diagnostic

CALLBACK_ORDER = (
    "EarlyStopping",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "CSVLogger",
    "TensorBoard",
    "TerminateOnNaN",
    "BackupAndRestore",
)
#: Callbacks on in a new project, with their starting parameters.
DEFAULT_CALLBACKS: dict[str, dict[str, Any]] = {
    "EarlyStopping": {"enabled": False, "params": {"monitor": "val_loss", "patience": 3}},
    "ModelCheckpoint": {
        "enabled": True,
        "params": {"monitor": "val_loss", "save_best_only": True},
    },
    "ReduceLROnPlateau": {"enabled": False, "params": {"monitor": "val_loss", "patience": 2}},
    "CSVLogger": {"enabled": True, "params": {}},
    "TensorBoard": {"enabled": False, "params": {}},
    "TerminateOnNaN": {"enabled": True, "params": {}},
    "BackupAndRestore": {"enabled": False, "params": {}},
}
TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 10,
    "batch_size": 32,
    "steps_per_execution": 1,
    "jit_compile": False,
    "mixed_precision": False,
}
#: ``training.distribution``: which ``tf.distribute`` strategy trains the model.
STRATEGIES = ("default", "mirrored", "multi_worker")
DISTRIBUTION_DEFAULTS: dict[str, Any] = {
    # "default" (one device), "mirrored" (this machine's GPUs, or logical CPU devices),
    # "multi_worker" (MultiWorkerMirroredStrategy; each worker reads TF_CONFIG)
    "strategy": "default",
    # mirrored only: ["GPU:0", "GPU:1"]; None = all GPUs (all logical CPU devices without one)
    "devices": None,
    # no GPU: split the CPU into this many logical devices (None = do not split)
    "cpu_replicas": None,
    # "host:port" of every worker, chief first (for the launch dialog; a worker reads TF_CONFIG)
    "workers": [],
}
_STRATEGY_ALIASES = {
    "default": "default", "none": "default", "one_device": "default", "single": "default",
    "onedevicestrategy": "default", "mirrored": "mirrored", "mirroredstrategy": "mirrored",
    "multi_worker": "multi_worker", "multiworker": "multi_worker",
    "multiworkermirrored": "multi_worker", "multiworkermirroredstrategy": "multi_worker",
}  # fmt: skip
DATA_DEFAULTS: dict[str, Any] = {
    "source": None,
    "validation": {"split": 0.2},
    "test": {"split": 0.1},
    "shuffle": True,
    "seed": 42,
    "cache": True,
    "prefetch": True,
}
SOURCE_KINDS = ("bundled", "csv", "npz", "npy", "image_folder", "text_folder", "keras")
BUNDLED = ("digits", "iris", "wine", "breast_cancer", "reviews", "multi_io",
           # generated for the templates (studio/engine/data.py)
           "shapes_segmentation", "timeseries", "interactions", "shapes_rgb")  # fmt: skip
KERAS_DATASETS = (
    "mnist",
    "fashion_mnist",
    "cifar10",
    "cifar100",
    "imdb",
    "reuters",
    "boston_housing",
)
ENCODINGS = ("sparse", "onehot", "raw")


# ===================================================================== the graph's ends
def input_names(graph: Graph) -> list[str]:
    """The model's inputs, in the order Keras sees them (the InputLayer nodes)."""
    return [n.name for n in graph.input_nodes]


def output_names(graph: Graph) -> list[str]:
    """The model's outputs by the names that key losses, metrics and targets."""
    return [o.name or o.node for o in graph.outputs]


def _output_node(graph: Graph, output: str):
    for o in graph.outputs:
        if (o.name or o.node) == output and o.node in graph:
            return graph.node(o.node)
    return None


def output_kind(graph: Graph, output: str) -> str:
    """A guess at what an output predicts, from its layer: ``"classification"`` (softmax),
    ``"binary"`` (one sigmoid unit), ``"multilabel"`` (several sigmoid units) or
    ``"regression"``."""
    node = _output_node(graph, output)
    if node is None:
        return "regression"
    activation = node.params.get("activation")
    if node.type == "Activation":
        activation = node.params.get("activation")
    units = node.params.get("units")
    if node.type == "Softmax" or activation == "softmax":
        return "classification"
    if activation == "sigmoid":
        return "binary" if units in (1, None) else "multilabel"
    return "regression"


def default_loss(kind: str) -> dict[str, Any]:
    return {
        "classification": {"class": "SparseCategoricalCrossentropy", "params": {}, "weight": 1.0},
        "binary": {"class": "BinaryCrossentropy", "params": {}, "weight": 1.0},
        "multilabel": {"class": "BinaryCrossentropy", "params": {}, "weight": 1.0},
        "regression": {"class": "MeanSquaredError", "params": {}, "weight": 1.0},
    }[kind]


def default_metrics(kind: str) -> list[dict[str, Any]]:
    return {
        "classification": [{"class": "SparseCategoricalAccuracy", "params": {"name": "accuracy"}}],
        "binary": [{"class": "BinaryAccuracy", "params": {"name": "accuracy"}}],
        "multilabel": [{"class": "BinaryAccuracy", "params": {"name": "accuracy"}}],
        "regression": [{"class": "MeanAbsoluteError", "params": {"name": "mae"}}],
    }[kind]


# ===================================================================== filling in
def _obj(value: Any) -> dict:
    """``value`` if it is a JSON object, else an empty one (hand-written files)."""
    return value if isinstance(value, dict) else {}


def _entry(value: Any) -> dict[str, Any]:
    """A ``{"class", "params"}`` entry; a bare class name (``"AUC"``) is accepted."""
    if isinstance(value, str):
        return {"class": value, "params": {}}
    value = _obj(value)
    return {**value, "class": value.get("class", ""), "params": dict(_obj(value.get("params")))}


def _with_starter(entry: dict[str, Any], group: str, catalog: TrainingCatalog) -> dict:
    """Required constructor arguments missing from ``params`` take the catalog's starter
    values (what the panel shows in an empty required field)."""
    spec = catalog.get(group, entry.get("class", ""))
    if spec is not None:
        for p in spec.params:
            if p.required and entry["params"].get(p.name) is None and p.name in spec.starter:
                entry["params"][p.name] = copy.deepcopy(spec.starter[p.name])
    return entry


def training_settings(
    settings: dict[str, Any], graph: Graph, catalog: TrainingCatalog | None = None
) -> dict[str, Any]:
    """The complete training settings for ``graph``: the project's, with defaults for what
    they leave out (a loss and metrics for every output; entries for outputs that no longer
    exist are dropped). Values of the wrong JSON type are treated as missing; a bare class
    name stands for ``{"class": name}``."""
    catalog = catalog or load_training_catalog()
    given = copy.deepcopy(_obj(settings.get("training")))
    out: dict[str, Any] = {}
    optimizer = _entry(given.get("optimizer") or {"class": "Adam"})
    schedule = optimizer.get("schedule")
    out["optimizer"] = {
        "class": optimizer["class"] or "Adam",
        "params": optimizer["params"],
        "schedule": _with_starter(_entry(schedule), "schedules", catalog) if schedule else None,
    }
    losses = _obj(given.get("losses"))
    metrics = _obj(given.get("metrics"))
    out["losses"] = {}
    out["metrics"] = {}
    for name in output_names(graph):
        kind = output_kind(graph, name)
        loss = _entry(losses.get(name) or default_loss(kind))
        weight = _obj(losses.get(name)).get("weight", 1.0)
        out["losses"][name] = {
            "class": loss["class"] or default_loss(kind)["class"],
            "params": loss["params"],
            "weight": weight,
        }
        chosen = metrics.get(name)
        if chosen is None:
            out["metrics"][name] = default_metrics(kind)
        else:
            chosen = chosen if isinstance(chosen, list) else [chosen]
            out["metrics"][name] = [_with_starter(_entry(m), "metrics", catalog) for m in chosen]
    for key, value in TRAINING_DEFAULTS.items():
        out[key] = given.get(key, value)
    out["distribution"] = distribution_settings(given.get("distribution"))
    callbacks = _obj(given.get("callbacks"))
    out["callbacks"] = {}
    for name in CALLBACK_ORDER:
        entry = callbacks.get(name, DEFAULT_CALLBACKS[name])
        if isinstance(entry, bool):  # "EarlyStopping": true
            entry = {"enabled": entry, "params": DEFAULT_CALLBACKS[name]["params"]}
        entry = _obj(entry)
        out["callbacks"][name] = {
            "enabled": bool(entry.get("enabled", False)),
            "params": dict(_obj(entry.get("params"))),
        }
    return out


def strategy_name(value: Any) -> Any:
    """The canonical strategy name for a hand-written one (``"multi-worker"``,
    ``"MirroredStrategy"``, ``None``); a value it does not know comes back unchanged (for
    :func:`check_settings` to report)."""
    if value is None:
        return "default"
    if isinstance(value, str):
        key = value.strip().lower().replace("-", "_").replace(" ", "_")
        return _STRATEGY_ALIASES.get(key, _STRATEGY_ALIASES.get(key.replace("_", ""), value))
    return value


def device_name(value: Any) -> Any:
    """``"gpu:0"``, ``"/GPU:0"``, ``"/device:GPU:0"`` -> ``"GPU:0"``; other values unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    for prefix in ("/job:localhost/replica:0/task:0", "/physical_device:", "/device:", "/"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix):]
    kind, _, index = text.partition(":")
    return f"{kind.upper()}:{index.strip()}" if index.strip() else value.strip()


def _list_of(value: Any) -> Any:
    """A list from a comma-separated string (``"GPU:0, GPU:1"``); a list stays a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return list(value) if isinstance(value, (list, tuple)) else value


def distribution_settings(value: Any) -> dict[str, Any]:
    """The complete ``training.distribution`` object. Accepts a bare strategy name
    (``"mirrored"``), comma-separated device and worker strings, device names in any case
    with or without ``/device:``, and ``"all"``/``""``/``[]`` for all devices. Values of a
    kind it cannot read are kept as written, for :func:`check_settings` to name."""
    if isinstance(value, str) or value is None:
        value = {"strategy": value}
    given = _obj(value)
    out = copy.deepcopy(DISTRIBUTION_DEFAULTS)
    out["strategy"] = strategy_name(given.get("strategy"))
    devices = given.get("devices")
    if isinstance(devices, str) and devices.strip().lower() in ("", "all", "auto"):
        devices = None
    devices = _list_of(devices)
    if isinstance(devices, list):
        devices = [device_name(d) for d in devices] or None
    out["devices"] = devices
    replicas = given.get("cpu_replicas")
    if isinstance(replicas, float) and replicas.is_integer():
        replicas = int(replicas)
    elif isinstance(replicas, str) and replicas.strip().isdigit():
        replicas = int(replicas.strip())
    elif isinstance(replicas, str) and replicas.strip().lower() in ("", "none", "auto"):
        replicas = None
    out["cpu_replicas"] = None if replicas in (0, None) else replicas
    workers = _list_of(given.get("workers"))
    out["workers"] = [] if workers is None else workers
    if isinstance(out["workers"], list):
        out["workers"] = [w.strip() if isinstance(w, str) else w for w in out["workers"]]
    return out


def _part(value: Any) -> dict[str, Any]:
    """A validation/test part: a bare fraction stands for ``{"split": f}``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"split": value}
    return _obj(value)


def data_settings(settings: dict[str, Any], graph: Graph) -> dict[str, Any]:
    """The complete data settings for ``graph``: the project's, with defaults; every model
    input and output has a mapping (empty when the project has none). A bare field name
    stands for ``{"field": name}``."""
    given = copy.deepcopy(_obj(settings.get("data")))
    out = {key: given.get(key, copy.deepcopy(value)) for key, value in DATA_DEFAULTS.items()}
    for key in ("validation", "test"):
        out[key] = _part(out[key])
    inputs = _obj(given.get("inputs"))
    outputs = _obj(given.get("outputs"))

    def mapping(value: Any) -> dict:
        return {"field": value} if isinstance(value, str) else dict(_obj(value))

    out["inputs"] = {name: mapping(inputs.get(name)) for name in input_names(graph)}
    out["outputs"] = {}
    for name in output_names(graph):
        m = mapping(outputs.get(name))
        if "encoding" not in m:
            kind = output_kind(graph, name)
            m["encoding"] = "sparse" if kind == "classification" else "raw"
        out["outputs"][name] = m
    return out


def rebase_paths(settings: dict[str, Any], old_dir: str, new_dir: str) -> bool:
    """Keep relative data paths pointing at the same files when the project file moves from
    ``old_dir`` to ``new_dir`` (Save As into another folder). Returns True when one changed."""
    import os
    import posixpath

    changed = False

    def rebase(path: Any) -> Any:
        nonlocal changed
        if not isinstance(path, str) or not path or os.path.isabs(path):
            return path
        target = os.path.normpath(os.path.join(old_dir, path))
        try:
            new = os.path.relpath(target, new_dir)
        except ValueError:  # another drive: keep it absolute
            new = target
        new = new.replace(os.sep, posixpath.sep)
        changed = changed or new != path
        return new

    data = _obj(settings.get("data"))
    sources = [_obj(data.get("source"))]
    sources += [_obj(_obj(data.get(k)).get("source")) for k in ("validation", "test")]
    for source in sources:
        if "path" in source:
            source["path"] = rebase(source["path"])
        if isinstance(source.get("paths"), dict):
            source["paths"] = {k: rebase(v) for k, v in source["paths"].items()}
    return changed


def rename_in_settings(settings: dict[str, Any], old: str, new: str) -> bool:
    """Follow a node's rename in the settings keyed by input and output names (data mapping,
    losses, metrics). Returns True when something was renamed."""
    changed = False
    places = [
        ((settings.get("data") or {}).get("inputs")),
        ((settings.get("data") or {}).get("outputs")),
        ((settings.get("training") or {}).get("losses")),
        ((settings.get("training") or {}).get("metrics")),
    ]
    for table in places:
        if isinstance(table, dict) and old in table and new not in table:
            table[new] = table.pop(old)
            changed = True
    return changed


# ===================================================================== checking
def check_settings(
    settings: dict[str, Any], graph: Graph, catalog: TrainingCatalog | None = None
) -> list[Diagnostic]:
    """Problems with the data and training settings, each naming the setting (``param`` is
    its dotted path, such as ``training.optimizer.params.learning_rate``)."""
    catalog = catalog or load_training_catalog()
    out: list[Diagnostic] = []

    def add(where: str, message: str, severity: str = ERROR, code: str = "setting") -> None:
        out.append(Diagnostic(severity, message, param=where, code=code))

    training = settings.get("training") or {}
    data = settings.get("data") or {}
    if not isinstance(training, dict) or not isinstance(data, dict):
        add("settings", "The training and data settings must be JSON objects.")
        return out
    for key in ("optimizer", "losses", "metrics", "callbacks"):
        value = training.get(key)
        if value is not None and not isinstance(value, dict) and not (
            key == "optimizer" and isinstance(value, str)
        ):
            add(f"training.{key}", f"Training setting '{key}' must be a JSON object "
                f"(it is {value!r}).")  # fmt: skip
    for key in ("inputs", "outputs"):
        value = data.get(key)
        if value is not None and not isinstance(value, dict):
            add(f"data.{key}", f"Data setting '{key}' must be a JSON object that maps each "
                f"model {key[:-1]} to a field (it is {value!r}).")  # fmt: skip
    t = training_settings(settings, graph, catalog)

    for key in ("epochs", "batch_size", "steps_per_execution"):
        value = t[key]
        if not _is_int(value) or value < 1:
            add(f"training.{key}", f"Training setting '{key}' must be a whole number of at "
                f"least 1 (it is {value!r}).")  # fmt: skip
    for key in ("jit_compile", "mixed_precision"):
        if not isinstance(t[key], bool):
            add(f"training.{key}", f"Training setting '{key}' must be true or false.")

    _check_distribution(add, t["distribution"], t)

    opt = t["optimizer"]
    spec = catalog.get("optimizers", opt["class"])
    if spec is None:
        add("training.optimizer.class", f"Unknown optimizer '{opt['class']}'. Choose one of: "
            + ", ".join(catalog.names("optimizers")) + ".")  # fmt: skip
    else:
        _check_params(add, "training.optimizer", f"Optimizer {spec.name}", spec, opt["params"])
    schedule = opt.get("schedule")
    if schedule:
        sspec = catalog.get("schedules", schedule.get("class", ""))
        if sspec is None:
            add("training.optimizer.schedule.class",
                f"Unknown learning-rate schedule '{schedule.get('class')}'.")  # fmt: skip
        else:
            _check_params(add, "training.optimizer.schedule", f"Schedule {sspec.name}", sspec,
                          schedule.get("params") or {}, starter=True)  # fmt: skip

    for output, loss in t["losses"].items():
        where = f"training.losses.{output}"
        lspec = catalog.get("losses", loss["class"])
        if str(loss["class"]).startswith("custom."):
            _check_custom(add, f"{where}.class", f"Output '{output}'", "loss", loss, graph)
        elif lspec is None:
            add(f"{where}.class", f"Output '{output}': unknown loss '{loss['class']}'.")
        else:
            _check_params(add, where, f"Output '{output}' loss {lspec.name}", lspec,
                          loss["params"])  # fmt: skip
        if not _is_number(loss["weight"]) or loss["weight"] < 0:
            add(f"{where}.weight", f"Output '{output}': the loss weight must be a number of at "
                f"least 0 (it is {loss['weight']!r}).")  # fmt: skip
    for output, metrics in t["metrics"].items():
        for i, metric in enumerate(metrics):
            where = f"training.metrics.{output}.{i}"
            name = metric.get("class", "")
            mspec = catalog.get("metrics", name)
            if str(name).startswith("custom."):
                _check_custom(add, f"{where}.class", f"Output '{output}'", "metric", metric, graph)
            elif mspec is None:
                add(f"{where}.class", f"Output '{output}': unknown metric '{name}'.")
            else:
                _check_params(add, where, f"Output '{output}' metric {mspec.name}", mspec,
                              metric.get("params") or {}, starter=True)  # fmt: skip
    for name, entry in t["callbacks"].items():
        cspec = catalog.get("callbacks", name)
        if entry["enabled"] and cspec is not None:
            _check_params(add, f"training.callbacks.{name}", f"Callback {name}", cspec,
                          entry["params"])  # fmt: skip

    d = data_settings(settings, graph)
    validation = d.get("validation") or {}
    no_validation = "source" not in validation and not validation.get("split")
    for name, entry in t["callbacks"].items():
        monitor = entry["params"].get("monitor", "val_loss" if name in (
            "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau") else None)  # fmt: skip
        if entry["enabled"] and no_validation and str(monitor).startswith("val_"):
            add(f"training.callbacks.{name}.params.monitor", f"Callback {name} watches "
                f"'{monitor}', but there is no validation data: set a validation split or "
                "watch a training metric.", severity=WARNING)  # fmt: skip
    _check_data(add, d, graph)
    return out


def _check_distribution(add, dist: dict[str, Any], training: dict[str, Any]) -> None:
    where = "training.distribution"
    strategy = dist["strategy"]
    if strategy not in STRATEGIES:
        add(f"{where}.strategy", f"Unknown distribution strategy {strategy!r}; choose one of: "
            + ", ".join(STRATEGIES) + ".")  # fmt: skip
    devices = dist["devices"]
    if devices is not None:
        if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
            add(f"{where}.devices", "The devices must be a list of device names such as "
                f'["GPU:0", "GPU:1"], or null for all (it is {devices!r}).')  # fmt: skip
        else:
            for i, d in enumerate(devices):
                kind, _, index = d.partition(":")
                if kind not in ("GPU", "CPU") or not index.isdigit():
                    add(f"{where}.devices.{i}", f"Device {d!r} is not a device name such as "
                        "GPU:0 or CPU:1.")  # fmt: skip
            if len(set(devices)) != len(devices):
                add(f"{where}.devices", "A device is listed twice.")
            if strategy != "mirrored":
                add(f"{where}.devices", "The device list is used by the mirrored strategy "
                    "only; it is ignored.", severity=WARNING)  # fmt: skip
    replicas = dist["cpu_replicas"]
    if replicas is not None and (not _is_int(replicas) or not 1 <= replicas <= 64):
        add(f"{where}.cpu_replicas", "CPU replicas must be a whole number from 1 to 64, or "
            f"null not to split the CPU (it is {replicas!r}).")  # fmt: skip
    workers = dist["workers"]
    if not isinstance(workers, list):
        add(f"{where}.workers", 'The workers must be a list of "host:port" addresses '
            f"(it is {workers!r}).")  # fmt: skip
    else:
        for i, w in enumerate(workers):
            host, _, port = w.rpartition(":") if isinstance(w, str) else ("", "", "")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                add(f"{where}.workers.{i}", f"Worker address {w!r} is not host:port "
                    "(such as 10.0.0.2:12345).")  # fmt: skip
        if len(set(map(str, workers))) != len(workers):
            add(f"{where}.workers", "A worker address is listed twice.")
    if strategy != "default" and _is_int(training.get("batch_size")):
        n = len(devices) if isinstance(devices, list) and devices else (
            replicas if _is_int(replicas) else None)  # fmt: skip
        if strategy == "mirrored" and n and training["batch_size"] % n:
            add("training.batch_size", f"The batch size {training['batch_size']} is the global "
                f"batch, split across {n} replicas: a multiple of {n} gives every replica "
                "the same share.", severity=WARNING)  # fmt: skip


def _check_custom(add, where: str, label: str, kind: str, entry: dict, graph: Graph) -> None:
    """A ``custom.<name>`` loss or metric: the project's code must define it (as that kind)."""
    from studio.core.code import custom_names

    name = str(entry.get("class"))[len("custom.") :]
    names = custom_names(graph, kind)
    if name not in names:
        known = ", ".join(f"custom.{n}" for n in names) if names else "none"
        plural = "losses" if kind == "loss" else "metrics"
        add(where, f"{label}: the project's code defines no {kind} '{name}' "
            f"(custom {plural}: {known}).")  # fmt: skip


def _check_data(add, d: dict[str, Any], graph: Graph) -> None:
    source = d.get("source")
    if not source:
        add("data.source", "No training data is chosen: pick a source in the Data panel.",
            severity=WARNING, code="no-data")  # fmt: skip
    else:
        _check_source(add, "data.source", source)
    fractions = 0.0
    for key in ("test", "validation"):
        part = d.get(key) or {}
        if "source" in part:
            _check_source(add, f"data.{key}.source", part["source"])
        elif "split" in part:
            f = part["split"]
            if not _is_number(f) or not 0 <= f < 1:
                add(f"data.{key}.split", f"The {key} split must be a fraction from 0 to below 1 "
                    f"(it is {f!r}).")  # fmt: skip
            else:
                fractions += f
    if fractions >= 0.95:
        add("data.validation.split", "The validation and test splits leave almost nothing "
            f"to train on ({1 - fractions:.0%}).")  # fmt: skip
    if source:
        for name, mapping in d["inputs"].items():
            if not mapping.get("field"):
                add(f"data.inputs.{name}", f"Input '{name}' is not fed by any field of the data.")
        for name, mapping in d["outputs"].items():
            if not mapping.get("field"):
                add(f"data.outputs.{name}", f"Output '{name}' has no target field in the data.")
            if mapping.get("encoding", "sparse") not in ENCODINGS:
                add(f"data.outputs.{name}.encoding", f"Output '{name}': encoding must be one of "
                    + ", ".join(ENCODINGS) + ".")  # fmt: skip


def _check_source(add, where: str, source: Any) -> None:
    if not isinstance(source, dict) or source.get("kind") not in SOURCE_KINDS:
        kind = source.get("kind") if isinstance(source, dict) else source
        add(f"{where}.kind", f"Unknown data source kind {kind!r}; Studio reads "
            + ", ".join(SOURCE_KINDS) + ".")  # fmt: skip
        return
    kind = source["kind"]
    if kind == "bundled" and source.get("name") not in BUNDLED:
        add(f"{where}.name", f"Unknown bundled dataset {source.get('name')!r}; there are "
            + ", ".join(BUNDLED) + ".")  # fmt: skip
    elif kind == "keras" and source.get("name") not in KERAS_DATASETS:
        add(f"{where}.name", f"Unknown keras.datasets dataset {source.get('name')!r}; there are "
            + ", ".join(KERAS_DATASETS) + ".")  # fmt: skip
    elif kind in ("csv", "npz", "image_folder", "text_folder") and not source.get("path"):
        add(f"{where}.path", f"The {kind.replace('_', ' ')} source needs a path.")
    if kind == "csv" and source.get("delimiter") not in (None, "", "\\t", "tab", "\t") and (
        not isinstance(source.get("delimiter"), str) or len(source["delimiter"]) != 1
    ):
        add(f"{where}.delimiter", "The CSV delimiter must be one character (or \\t for a tab); "
            f"it is {source.get('delimiter')!r}.")  # fmt: skip
    elif kind == "npy" and not source.get("paths"):
        add(f"{where}.paths", "The npy source needs a file for each field.")


def _check_params(add, where: str, what: str, spec, params: dict, starter: bool = False) -> None:
    if not isinstance(params, dict):
        add(f"{where}.params", f"{what}: parameters must be a JSON object.")
        return
    for key, value in params.items():
        p = spec.param(key)
        if p is None:
            if key == "name" and isinstance(value, str):
                continue
            add(f"{where}.params.{key}", f"{what} has no parameter '{key}'.")
            continue
        problem = _value_problem(p, value)
        if problem:
            add(f"{where}.params.{key}", f"{what}: '{key}' {problem}.")
    for p in spec.params:
        if p.required and p.name not in params and not (starter and p.name in spec.starter):
            add(f"{where}.params.{p.name}", f"{what} needs a value for '{p.name}'.")


def _value_problem(p: ParamSpec, value: Any) -> str:
    if value is None:
        return "" if (p.nullable or not p.required) else "needs a value"
    kind = p.kind
    ok = {
        "int": _is_int(value),
        "float": _is_number(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "choice": p.choices is None or value in p.choices,
        "int_list": isinstance(value, list) and all(_is_int(v) for v in value),
        "float_list": isinstance(value, list) and all(_is_number(v) for v in value),
    }.get(kind, True)
    if not ok:
        if kind == "choice":
            return "must be one of " + ", ".join(repr(c) for c in p.choices or ())
        return "must be " + {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "str": "text",
            "int_list": "a list of whole numbers",
            "float_list": "a list of numbers",
        }[kind] + f" (it is {value!r})"
    if kind in ("int", "float"):
        if p.min is not None and value < p.min:
            return f"must be at least {p.min} (it is {value!r})"
        if p.max is not None and value > p.max:
            return f"must be at most {p.max} (it is {value!r})"
    return ""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
