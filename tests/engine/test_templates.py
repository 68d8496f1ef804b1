"""The templates (File > New from Template) train from ``studio train`` and their loss falls;
their generated datasets are deterministic and quick to make."""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest

from studio.cli import main as studio_main
from studio.core.settings import BUNDLED
from studio.engine.data import load_source, prepare

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "resources" / "templates"
NAMES = [t["name"] for t in json.loads((TEMPLATES / "index.json").read_text())["templates"]]
GENERATED = ("shapes_segmentation", "timeseries", "interactions", "shapes_rgb")


@pytest.mark.parametrize("name", GENERATED)
def test_generated_dataset_is_bundled_deterministic_and_quick(name):
    assert name in BUNDLED
    start = time.perf_counter()
    first = load_source({"kind": "bundled", "name": name})
    assert time.perf_counter() - start < 1.0
    again = load_source({"kind": "bundled", "name": name})
    assert first.description and first.description == again.description
    assert first.fields.keys() == again.fields.keys()
    for key, values in first.fields.items():
        assert np.array_equal(values, again.fields[key]), key
        assert np.isfinite(values.astype("float64")).all(), key


def test_the_generated_datasets_have_the_fields_the_templates_read():
    seg = load_source({"kind": "bundled", "name": "shapes_segmentation"})
    assert seg.fields["image"].shape == seg.fields["mask"].shape == (600, 32, 32, 1)
    assert set(np.unique(seg.fields["mask"])) == {0.0, 1.0}
    series = load_source({"kind": "bundled", "name": "timeseries"})
    assert series.fields["window"].shape[1:] == (30, 1) and series.fields["next"].shape[1:] == (1,)
    # the target is the value right after the window, which the next window ends with
    assert series.fields["next"][0, 0] == series.fields["window"][1, -1, 0]
    ratings = load_source({"kind": "bundled", "name": "interactions"})
    assert ratings.fields["user"].max() < 200 and ratings.fields["item"].max() < 100
    assert 1.0 <= ratings.fields["rating"].min() and ratings.fields["rating"].max() <= 5.0
    shapes = load_source({"kind": "bundled", "name": "shapes_rgb"})
    assert shapes.fields["image"].shape == (900, 32, 32, 3)
    assert shapes.classes["label"] == ["circle", "square", "triangle"]
    assert np.bincount(shapes.fields["label"]).tolist() == [300, 300, 300]


def test_one_field_can_feed_an_input_and_be_an_outputs_target():
    data = {
        "source": {"kind": "bundled", "name": "digits", "image_size": 8, "flatten": True},
        "validation": {"split": 0.2}, "test": {"split": 0.1},
        "inputs": {"image": {"field": "image", "scale": 0.0625}},
        "outputs": {"reconstruction": {"field": "image", "encoding": "raw"}},
    }  # fmt: skip
    prepared = prepare(data, {"image": (None, 64)}, {"reconstruction": (None, 64)})
    x, y = prepared.train
    assert x["image"].shape == y["reconstruction"].shape
    np.testing.assert_allclose(x["image"], y["reconstruction"] * 0.0625, rtol=1e-6)
    assert prepared.tasks["reconstruction"] == "regression"


def train(path: Path, run_dir: Path, epochs: int) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = studio_main(["train", str(path), "--epochs", str(epochs), "--run-dir", str(run_dir)])
    assert code == 0, out.getvalue()[-2000:]
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_template_trains_from_studio_train_and_its_loss_falls(name, tmp_path):
    result = train(TEMPLATES / f"{name}.studio.json", tmp_path / "run", epochs=2)
    assert result["status"] == "finished"
    epochs = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]
    assert len(epochs) == 2
    first, last = epochs[0]["loss"], epochs[-1]["loss"]
    assert np.isfinite(last) and last < first, (first, last)
    assert (tmp_path / "run" / "evaluation.json").is_file()  # the test split was evaluated
