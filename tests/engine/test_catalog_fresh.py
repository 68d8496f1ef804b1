"""The committed catalog matches what tools/generate_catalog.py makes from the installed Keras."""

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STALE = "resources/catalog.json is out of date with the installed Keras; run `make catalog`."


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location(
        "generate_catalog", ROOT / "tools" / "generate_catalog.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fresh(generator):
    return generator.build_catalog()


@pytest.fixture(scope="module")
def committed():
    return (ROOT / "resources" / "catalog.json").read_text(encoding="utf-8")


@pytest.mark.slow
def test_committed_catalog_is_fresh(generator, fresh, committed):
    if generator.dumps(fresh) == committed:
        return
    old = json.loads(committed)
    changed = sorted(
        t
        for t in set(old["layers"]) | set(fresh["layers"])
        if old["layers"].get(t) != fresh["layers"].get(t)
    )
    head = {k: v for k, v in fresh.items() if k != "layers"}
    old_head = {k: v for k, v in old.items() if k != "layers"}
    detail = f"entries that differ: {changed[:20]}" if changed else ""
    if head != old_head:
        detail += f" top-level fields differ: {[k for k in head if head[k] != old_head.get(k)]}"
    pytest.fail(f"{STALE} {detail}")


@pytest.mark.slow
def test_build_is_deterministic(generator, fresh):
    assert generator.dumps(generator.build_catalog()) == generator.dumps(fresh)


@pytest.mark.slow
def test_every_public_layer_is_an_entry_or_documented(keras, fresh):
    """Each public class in keras.layers is an entry, or an alias of one, or an exclusion;
    docs/catalog.md names every alias and every exclusion."""
    public = [n for n in dir(keras.layers) if isinstance(getattr(keras.layers, n), type)]
    layers = fresh["layers"]
    aliases = {
        a for t, d in layers.items() if not t.startswith("ops.") for a in d.get("aliases", [])
    }
    doc = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
    excluded = set(re.findall(r"^\| `(\w+)` \| [^`]", doc, flags=re.M))
    missing = [n for n in public if n not in layers and n not in aliases and n not in excluded]
    assert missing == [], f"neither in the catalog nor excluded in docs/catalog.md: {missing}"
    undocumented = sorted(a for a in aliases if f"`{a}`" not in doc)
    assert undocumented == [], f"aliases missing from docs/catalog.md: {undocumented}"


@pytest.mark.slow
def test_defaults_rebuild_every_layer(keras, generator, fresh):
    """Each entry's defaults, plus the generator's example required arguments, make a layer."""
    failures = []
    for type_, entry in fresh["layers"].items():
        if type_.startswith("ops.") or type_ == "Model" or type_ in generator.SIGNATURE_DEFAULTS:
            continue
        required = {}
        examples = generator.REQUIRED_EXAMPLES.get(type_) or generator.APPLICATION_LAYERS.get(
            type_, (None, {})
        )[1]
        for key, value in examples.items():
            if isinstance(value, tuple) and isinstance(value[-1], dict):  # an inner layer
                value = keras.saving.serialize_keras_object(
                    getattr(keras.layers, value[0])(**value[1])
                )
            required[key] = value
        try:
            cls = getattr(importlib.import_module(entry["module"]), entry["class_name"])
            cls.from_config({**entry["defaults"], **required})
        except Exception as exc:  # noqa: BLE001 - collect them all
            failures.append(f"{type_}: {exc}")
    assert failures == []


@pytest.mark.slow
def test_ops_defaults_make_the_operation(fresh):
    failures = []
    for type_, entry in fresh["layers"].items():
        if not type_.startswith("ops.") or any(p["required"] for p in entry["params"]):
            continue
        module = importlib.import_module(entry["module"])
        try:
            getattr(module, entry["class_name"])(**entry["defaults"])
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{type_}: {exc}")
    assert failures == []
