"""Generate ``resources/training_catalog.json`` from the installed Keras.

Usage::

    python tools/generate_training_catalog.py           # (re)write the file
    python tools/generate_training_catalog.py --check   # exit 1 if the committed file is stale

The training catalog lists every public ``keras.optimizers`` class, learning-rate schedule,
``keras.losses`` class and ``keras.metrics`` class, and the callbacks the training panel
offers, each with its constructor parameters (kind, default, documentation), so the training
panel can offer them and :mod:`studio.core.settings` can check a project's settings without
importing TensorFlow. The schema is in :mod:`studio.catalog.training`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT))
OUTPUT = ROOT / "resources" / "training_catalog.json"

from generate_catalog import (  # noqa: E402
    doc_sections,
    first_sentence,
    jsonable,
    kind_of_default,
)

# Classes that are public but are not something a user picks from a list, and why.
EXCLUDED = {
    "optimizers": {
        "Optimizer": "abstract base class",
        "LossScaleOptimizer": "wraps another optimizer; Studio applies it itself when mixed "
        "precision is on",
        "MultiOptimizer": "needs a separate optimizer per group of layers",
        "OptimizerMap": "a mapping of optimizers to variables, not an optimizer",
    },
    "schedules": {"LearningRateSchedule": "abstract base class"},
    "losses": {
        "Loss": "abstract base class",
        "CTC": "needs label and prediction lengths that a plain (x, y) dataset does not carry",
    },
    "metrics": {
        "Metric": "abstract base class",
        "Mean": "averages an arbitrary value, not a metric of predictions",
        "Sum": "sums an arbitrary value, not a metric of predictions",
        "MeanMetricWrapper": "wraps a Python function",
    },
}

# Values for constructor arguments that have no default (the ones a new entry starts with).
STARTERS: dict[str, dict[str, Any]] = {
    "CosineDecay": {"initial_learning_rate": 0.001, "decay_steps": 1000},
    "CosineDecayRestarts": {"initial_learning_rate": 0.001, "first_decay_steps": 1000},
    "ExponentialDecay": {"initial_learning_rate": 0.001, "decay_steps": 1000, "decay_rate": 0.9},
    "InverseTimeDecay": {"initial_learning_rate": 0.001, "decay_steps": 1000, "decay_rate": 0.5},
    "PiecewiseConstantDecay": {"boundaries": [1000, 2000], "values": [0.001, 0.0005, 0.0001]},
    "PolynomialDecay": {"initial_learning_rate": 0.001, "decay_steps": 1000},
    "IoU": {"num_classes": 2, "target_class_ids": [0, 1]},
    "MeanIoU": {"num_classes": 2},
    "OneHotIoU": {"num_classes": 2, "target_class_ids": [0, 1]},
    "OneHotMeanIoU": {"num_classes": 2},
    "PrecisionAtRecall": {"recall": 0.5},
    "RecallAtPrecision": {"precision": 0.5},
    "SensitivityAtSpecificity": {"specificity": 0.5},
    "SpecificityAtSensitivity": {"sensitivity": 0.5},
}

# Arguments that are not settings: set by Studio itself (names, dtypes, file paths).
HIDDEN = {"name", "dtype", "kwargs", "filepath", "filename", "log_dir", "backup_dir"}

# The callbacks the training panel offers, with the parameters it shows.
CALLBACKS = {
    "EarlyStopping": [
        "monitor", "min_delta", "patience", "mode", "baseline", "restore_best_weights",
        "start_from_epoch",
    ],
    "ModelCheckpoint": ["monitor", "mode", "save_best_only", "save_freq"],
    "ReduceLROnPlateau": ["monitor", "factor", "patience", "mode", "min_delta", "cooldown", "min_lr"],
    "CSVLogger": ["separator", "append"],
    "TensorBoard": ["histogram_freq", "write_graph", "write_images", "update_freq", "profile_batch"],
    "TerminateOnNaN": [],
    "BackupAndRestore": ["save_freq", "delete_checkpoint"],
}  # fmt: skip

CHOICES = {
    "mode": ["auto", "min", "max"],
    "reduction": ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none"],
    "curve": ["ROC", "PR"],
    "summation_method": ["interpolation", "minoring", "majoring"],
    "average": [None, "micro", "macro", "weighted"],
}
# Parameters whose default is None but whose values are numbers.
NUMBERS = {
    "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor",
    "ema_overwrite_frequency", "gradient_accumulation_steps", "baseline", "thresholds",
    "top_k", "class_id", "num_labels", "threshold", "label_smoothing", "ignore_class",
    "alpha", "warmup_target", "t_mul", "m_mul",
}  # fmt: skip
INTS = {"gradient_accumulation_steps", "ema_overwrite_frequency", "top_k", "class_id",
        "num_labels", "ignore_class", "num_classes", "patience", "cooldown", "start_from_epoch",
        "decay_steps", "first_decay_steps", "warmup_steps", "histogram_freq", "k"}  # fmt: skip
FLOATS = {"min_delta", "min_lr", "factor", "epsilon", "learning_rate", "delta", "alpha", "gamma",
          "beta", "weight_decay"}  # fmt: skip


def param_entry(name: str, p: inspect.Parameter, docs: dict[str, str]) -> dict[str, Any]:
    required = p.default is inspect.Parameter.empty
    default = None if required else p.default
    try:
        default = jsonable(default)
    except TypeError:
        default = None
    kind = kind_of_default(default)
    if name in CHOICES:
        kind = "choice"
    elif default is None and name in NUMBERS:
        kind = "int" if name in INTS else "float"
    elif name in INTS and kind == "float":
        kind = "int"
    elif name in FLOATS and kind == "int":
        kind = "float"
    if kind == "int_tuple":
        kind = "int_list"
    return {
        "name": name,
        "kind": kind,
        "default": default,
        "required": required,
        "nullable": default is None and not required,
        "min": 0 if kind in ("int", "float") and name not in ("baseline",) else None,
        "max": 1 if name in ("beta_1", "beta_2", "rho", "momentum", "label_smoothing") else None,
        "choices": CHOICES.get(name),
        "length": None,
        "doc": docs.get(name, ""),
    }


def class_entry(group: str, name: str, cls: type, keep: list[str] | None = None) -> dict[str, Any]:
    docs = doc_sections(cls.__doc__)["args"]
    params = []
    for pname, p in inspect.signature(cls.__init__).parameters.items():
        if pname == "self" or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if pname in HIDDEN or (keep is not None and pname not in keep):
            continue
        params.append(param_entry(pname, p, docs))
    if keep is not None:
        params.sort(key=lambda e: keep.index(e["name"]))
    module = cls.__module__
    public = {"optimizers": "keras.optimizers", "schedules": "keras.optimizers.schedules",
              "losses": "keras.losses", "metrics": "keras.metrics",
              "callbacks": "keras.callbacks"}[group]  # fmt: skip
    return {
        "class_name": name,
        "module": public if module.startswith("keras") else module,
        "description": first_sentence(cls.__doc__),
        "params": params,
        "starter": STARTERS.get(name, {}),
    }


def public_classes(module, base: type, group: str) -> dict[str, type]:
    out = {}
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if inspect.isclass(obj) and issubclass(obj, base) and name not in EXCLUDED[group]:
            out[name] = obj
    return out


def build() -> dict[str, Any]:
    import keras

    groups = {
        "optimizers": public_classes(keras.optimizers, keras.optimizers.Optimizer, "optimizers"),
        "schedules": public_classes(
            keras.optimizers.schedules, keras.optimizers.schedules.LearningRateSchedule, "schedules"
        ),
        "losses": public_classes(keras.losses, keras.losses.Loss, "losses"),
        "metrics": public_classes(keras.metrics, keras.metrics.Metric, "metrics"),
    }
    catalog: dict[str, Any] = {
        "format": "studio.training_catalog",
        "version": 1,
        "keras_version": keras.__version__,
        "excluded": EXCLUDED,
    }
    for group, classes in groups.items():
        catalog[group] = {name: class_entry(group, name, cls) for name, cls in classes.items()}
    catalog["callbacks"] = {
        name: class_entry("callbacks", name, getattr(keras.callbacks, name), keep)
        for name, keep in CALLBACKS.items()
    }
    return catalog


def dumps(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    from studio.engine import load_keras

    load_keras()
    text = dumps(build())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run `make catalog`.", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date.")
        return 0
    args.output.write_text(text, encoding="utf-8")
    data = json.loads(text)
    counts = ", ".join(
        f"{len(data[g])} {g}" for g in ("optimizers", "schedules", "losses", "metrics", "callbacks")
    )
    print(f"Wrote {args.output}: {counts}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
