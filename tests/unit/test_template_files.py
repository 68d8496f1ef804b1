"""The project templates: valid, canonical files with full settings, listed by index.json and
in step with tools/make_templates.py."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.settings import check_settings
from studio.core.validation import validate
from studio.project import dumps_project, load_project

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "resources" / "templates"
INDEX = json.loads((TEMPLATES / "index.json").read_text(encoding="utf-8"))["templates"]
SEED = {"mnist_cnn", "text_classifier", "multi_io", "residual_cnn", "unet", "lstm_forecaster",
        "recommender", "autoencoder"}  # fmt: skip


def test_the_index_lists_every_template_with_its_metadata():
    names = [t["name"] for t in INDEX]
    assert SEED <= set(names)
    assert len(names) == len(set(names))
    files = {p.name.removesuffix(".studio.json") for p in TEMPLATES.glob("*.studio.json")}
    assert files == set(names)
    for entry in INDEX:
        for key in ("title", "purpose", "area", "data", "training"):
            assert entry[key].strip(), (entry["name"], key)


@pytest.mark.parametrize("name", [t["name"] for t in INDEX])
def test_template_is_valid_canonical_and_has_data_and_training(name):
    path = TEMPLATES / f"{name}.studio.json"
    project = load_project(path)
    assert validate(project.graph) == []
    assert dumps_project(project) == path.read_text(encoding="utf-8")
    assert project.description
    assert project.settings["data"]["source"]["kind"] == "bundled"
    assert [d for d in check_settings(project.settings, project.graph) if d.is_error] == []
    assert 1 <= project.settings["training"]["epochs"] <= 10


def test_templates_are_what_the_generator_writes():
    result = subprocess.run(
        [sys.executable, "tools/make_templates.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
