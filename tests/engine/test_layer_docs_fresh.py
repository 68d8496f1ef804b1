"""The committed layer documentation matches what tools/generate_catalog.py makes from the
installed Keras (Help > Layer Documentation reads it; the GUI never imports Keras)."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location(
        "generate_catalog", ROOT / "tools" / "generate_catalog.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_committed_layer_docs_are_fresh(generator):
    catalog = json.loads((ROOT / "resources" / "catalog.json").read_text(encoding="utf-8"))
    fresh = generator.dumps(generator.build_layer_docs(catalog))
    committed = (ROOT / "resources" / "layer_docs.json").read_text(encoding="utf-8")
    if fresh != committed:
        old, new = json.loads(committed)["docs"], json.loads(fresh)["docs"]
        changed = sorted(t for t in set(old) | set(new) if old.get(t) != new.get(t))
        pytest.fail(
            "resources/layer_docs.json is out of date with the installed Keras; run "
            f"`make catalog`. Entries that differ: {changed[:20]}"
        )


def test_every_keras_entry_has_its_docstring():
    catalog = json.loads((ROOT / "resources" / "catalog.json").read_text(encoding="utf-8"))
    docs = json.loads((ROOT / "resources" / "layer_docs.json").read_text(encoding="utf-8"))
    assert docs["keras_version"] == catalog["keras_version"]
    assert docs["docs"]["Dense"].startswith("Just your regular densely-connected NN layer.")
    missing = [
        t for t in catalog["layers"]
        if t not in docs["docs"] and t not in ("Backbone", "PreprocessInput")
    ]  # fmt: skip
    assert missing == ["CustomScaleLayer"]  # no docstring in Keras: Help shows its description
