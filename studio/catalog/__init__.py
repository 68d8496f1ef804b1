"""The layer catalog: what each Keras layer (and ``keras.ops`` operation) is.

The catalog is generated from the installed Keras by ``tools/generate_catalog.py`` and
committed as ``resources/catalog.json``, so Studio can list layers, draw ports and validate
parameters without importing TensorFlow. This module only reads that file.

Schema of ``catalog.json`` (see ``docs/catalog.md``)::

    {
      "format": "studio.catalog", "version": 1, "keras_version": "3.15.1",
      "choices": {"activation": [...], "initializer": [...], "regularizer": [...],
                  "constraint": [...], "padding": [...], "data_format": [...], "dtype": [...]},
      "aliases": {"initializer": {"GlorotUniform": "glorot_uniform", ...}, ...},
      "layers": {
        "Dense": {
          "module": "keras.layers", "class_name": "Dense",
          "category": "Core", "description": "Just your regular densely-connected NN layer.",
          "inputs": [{"name": "inputs", "variadic": false, "optional": false}],
          "outputs": ["output"],
          "output_rules": [{"param": "return_state", "value": true,
                            "outputs": ["output", "state_h", "state_c"]}],
          "params": [{"name": "units", "kind": "int", "default": null, "required": true,
                      "nullable": false, "min": 1, "max": null, "choices": null,
                      "length": null, "doc": "Positive integer, ..."}],
          "call_params": [{"name": "use_causal_mask", "kind": "bool", "default": false}],
          "defaults": { the complete get_config() of a default instance, without "name" },
          "common": true,
          "starter": {"units": 32}   (values for required parameters on a new node)
        },
        "ops.Add": {"module": "keras.src.ops.numpy", "class_name": "Add",
                    "category": "Operations", ...}
      }
    }

Parameter kinds: ``int``, ``float``, ``bool``, ``str``, ``choice`` (one of ``choices``),
``int_tuple`` (``length`` ints), ``int_or_tuple``, ``float_or_tuple``, ``shape`` (ints or
null), ``int_list``, ``float_list``, ``activation``, ``initializer``, ``regularizer``,
``constraint``, ``dtype``, ``layer`` (a serialized inner layer, for wrappers), ``any``
(any JSON value).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.resources import resource_path

CATALOG_FILE = "catalog.json"


@dataclass(frozen=True)
class ParamSpec:
    """One constructor (or call) argument of a layer."""

    name: str
    kind: str = "any"
    default: Any = None
    required: bool = False
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    length: int | None = None
    doc: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ParamSpec:
        return cls(
            name=d["name"],
            kind=d.get("kind", "any"),
            default=d.get("default"),
            required=bool(d.get("required", False)),
            nullable=bool(d.get("nullable", False)),
            min=d.get("min"),
            max=d.get("max"),
            choices=tuple(d["choices"]) if d.get("choices") is not None else None,
            length=d.get("length"),
            doc=d.get("doc", ""),
        )


@dataclass(frozen=True)
class PortSpec:
    """One tensor argument of a layer's ``call``."""

    name: str
    variadic: bool = False
    optional: bool = False


@dataclass(frozen=True)
class LayerSpec:
    """Everything Studio knows about one node type without importing Keras."""

    type: str
    module: str
    class_name: str
    category: str
    description: str
    inputs: tuple[PortSpec, ...]
    outputs: tuple[str, ...]
    params: tuple[ParamSpec, ...]
    call_params: tuple[ParamSpec, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    output_rules: tuple[dict[str, Any], ...] = ()
    common: bool = False
    starter: dict[str, Any] = field(default_factory=dict)

    @property
    def is_op(self) -> bool:
        return self.type.startswith("ops.")

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    def call_param(self, name: str) -> ParamSpec | None:
        for p in self.call_params:
            if p.name == name:
                return p
        return None

    def port(self, name: str) -> PortSpec | None:
        for p in self.inputs:
            if p.name == name:
                return p
        return None

    @property
    def required_params(self) -> list[ParamSpec]:
        return [p for p in self.params if p.required]

    def output_names(self, params: dict[str, Any] | None = None) -> tuple[str, ...]:
        """The names of the outputs for these (non-default) parameters."""
        params = params or {}
        for rule in self.output_rules:
            key = rule["param"]
            value = params.get(key, self.defaults.get(key))
            if value == rule["value"]:
                return tuple(rule["outputs"])
        return self.outputs

    def config(self, params: dict[str, Any]) -> dict[str, Any]:
        """The full constructor config: defaults overlaid with the node's parameters."""
        cfg = json.loads(json.dumps(self.defaults))
        cfg.update(params)
        return cfg

    @classmethod
    def from_dict(cls, type_: str, d: dict[str, Any]) -> LayerSpec:
        return cls(
            type=type_,
            module=d.get("module", "keras.layers"),
            class_name=d.get("class_name", type_),
            category=d.get("category", "Other"),
            description=d.get("description", ""),
            inputs=tuple(
                PortSpec(p["name"], bool(p.get("variadic")), bool(p.get("optional")))
                for p in d.get("inputs", [])
            ),
            outputs=tuple(d.get("outputs", ["output"])),
            params=tuple(ParamSpec.from_dict(p) for p in d.get("params", [])),
            call_params=tuple(ParamSpec.from_dict(p) for p in d.get("call_params", [])),
            defaults=d.get("defaults", {}),
            output_rules=tuple(d.get("output_rules", [])),
            common=bool(d.get("common", False)),
            starter=d.get("starter", {}),
        )


class Catalog:
    """All node types, by name, with the curated choice lists."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.keras_version: str = data.get("keras_version", "")
        self.choices: dict[str, list[Any]] = data.get("choices", {})
        self.aliases: dict[str, dict[str, str]] = data.get("aliases", {})
        self.layers: dict[str, LayerSpec] = {
            name: LayerSpec.from_dict(name, d) for name, d in data.get("layers", {}).items()
        }

    def get(self, type_: str) -> LayerSpec | None:
        return self.layers.get(type_)

    def __getitem__(self, type_: str) -> LayerSpec:
        return self.layers[type_]

    def __contains__(self, type_: object) -> bool:
        return type_ in self.layers

    def __len__(self) -> int:
        return len(self.layers)

    def by_class(self, module: str, class_name: str) -> LayerSpec | None:
        """The spec for a Keras config entry's ``module``/``class_name``."""
        if module.startswith("keras.src.ops") or module.startswith("keras.ops"):
            return self.layers.get(f"ops.{class_name}")
        return self.layers.get(class_name)

    def categories(self) -> dict[str, list[LayerSpec]]:
        """Layer specs grouped by category, common ones first, then alphabetically."""
        groups: dict[str, list[LayerSpec]] = {}
        for spec in self.layers.values():
            groups.setdefault(spec.category, []).append(spec)
        for specs in groups.values():
            specs.sort(key=lambda s: (not s.common, s.type.lower()))
        return dict(sorted(groups.items()))

    @property
    def keras_layer_types(self) -> list[str]:
        return [t for t, s in self.layers.items() if not s.is_op and t != "Model"]


@lru_cache(maxsize=1)
def load_catalog(path: str | None = None) -> Catalog:
    """Read the committed catalog (cached)."""
    p = Path(path) if path else resource_path(CATALOG_FILE)
    with open(p, encoding="utf-8") as f:
        return Catalog(json.load(f))
