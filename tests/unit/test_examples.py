"""The bundled examples: valid, canonical files, in step with tools/make_examples.py."""

import glob
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.validation import validate
from studio.project import dumps_project, load_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(glob.glob(str(ROOT / "resources/examples/*.studio.json")))


def test_there_are_the_four_seed_examples():
    names = {Path(p).name for p in EXAMPLES}
    assert {
        "mnist_cnn.studio.json",
        "functional_mlp.studio.json",
        "text_classifier.studio.json",
        "multi_io.studio.json",
    } <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).name)
def test_example_is_valid_and_save_open_save_gives_identical_bytes(path, tmp_path):
    project = load_project(path)
    assert validate(project.graph) == []
    text = Path(path).read_text(encoding="utf-8")
    assert dumps_project(project) == text
    from studio.project import save_project

    save_project(project, tmp_path / "copy.studio.json")
    again = load_project(tmp_path / "copy.studio.json")
    assert (tmp_path / "copy.studio.json").read_text(encoding="utf-8") == text
    assert again.graph == project.graph


def test_examples_are_what_the_generator_writes():
    result = subprocess.run(
        [sys.executable, "tools/make_examples.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
