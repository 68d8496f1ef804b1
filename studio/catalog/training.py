"""The training catalog: optimizers, learning-rate schedules, losses, metrics and callbacks.

Generated from the installed Keras by ``tools/generate_training_catalog.py`` and committed as
``resources/training_catalog.json``, so the training panel can list every class with its
parameters and :mod:`studio.core.settings` can check settings without importing TensorFlow.

Schema::

    {"format": "studio.training_catalog", "version": 1, "keras_version": "3.15.1",
     "optimizers": {"Adam": {"class_name": "Adam", "module": "keras.optimizers",
                             "description": "...", "params": [ParamSpec dicts],
                             "starter": {values for required parameters}}, ...},
     "schedules": {...}, "losses": {...}, "metrics": {...}, "callbacks": {...},
     "excluded": {group: {class: why}}}

Parameters use the layer catalog's :class:`~studio.catalog.ParamSpec`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.catalog import ParamSpec
from studio.resources import resource_path

TRAINING_CATALOG_FILE = "training_catalog.json"
GROUPS = ("optimizers", "schedules", "losses", "metrics", "callbacks")


@dataclass(frozen=True)
class ClassSpec:
    """One Keras class a user can pick (an optimizer, a loss, ...)."""

    name: str
    module: str
    description: str
    params: tuple[ParamSpec, ...]
    starter: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if not p.required}


class TrainingCatalog:
    """Every group of the training catalog, by class name."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.keras_version: str = data.get("keras_version", "")
        self.groups: dict[str, dict[str, ClassSpec]] = {}
        for group in GROUPS:
            self.groups[group] = {
                name: ClassSpec(
                    name=name,
                    module=d.get("module", ""),
                    description=d.get("description", ""),
                    params=tuple(ParamSpec.from_dict(p) for p in d.get("params", [])),
                    starter=d.get("starter", {}),
                )
                for name, d in data.get(group, {}).items()
            }
        self.excluded: dict[str, dict[str, str]] = data.get("excluded", {})

    def get(self, group: str, name: str) -> ClassSpec | None:
        return self.groups.get(group, {}).get(name)

    def names(self, group: str) -> list[str]:
        return list(self.groups.get(group, {}))

    @property
    def optimizers(self) -> dict[str, ClassSpec]:
        return self.groups["optimizers"]

    @property
    def schedules(self) -> dict[str, ClassSpec]:
        return self.groups["schedules"]

    @property
    def losses(self) -> dict[str, ClassSpec]:
        return self.groups["losses"]

    @property
    def metrics(self) -> dict[str, ClassSpec]:
        return self.groups["metrics"]

    @property
    def callbacks(self) -> dict[str, ClassSpec]:
        return self.groups["callbacks"]


@lru_cache(maxsize=1)
def load_training_catalog(path: str | None = None) -> TrainingCatalog:
    """Read the committed training catalog (cached)."""
    p = Path(path) if path else resource_path(TRAINING_CATALOG_FILE)
    with open(p, encoding="utf-8") as f:
        return TrainingCatalog(json.load(f))
