"""The architecture's boundaries: the document model never pulls in TensorFlow or Qt."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE_MODULES = [
    "studio",
    "studio.core.graph",
    "studio.core.commands",
    "studio.core.validation",
    "studio.core.layout",
    "studio.core.settings",
    "studio.core.codegen",
    "studio.catalog",
    "studio.catalog.training",
    "studio.project",
    "studio.project.runs",
    "studio.cli",
]
HEAVY = ("tensorflow", "keras", "PySide6", "pyqtgraph", "shiboken6")


def test_document_model_catalog_and_validation_load_neither_tensorflow_nor_qt():
    code = (
        "import sys\n"
        f"for m in {PURE_MODULES!r}: __import__(m)\n"
        "from studio.catalog import load_catalog\n"
        "from studio.core.validation import validate\n"
        "from studio.project import load_project\n"
        "p = load_project('resources/examples/mnist_cnn.studio.json')\n"
        "assert validate(p.graph, load_catalog()) is not None\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"heavy modules were imported: {out.stdout.strip()}"


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_engine_imports_keras_and_only_the_ui_imports_qt():
    offenders = []
    for path in sorted((ROOT / "studio").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        roots = _imported_roots(path)
        if roots & {"tensorflow", "keras"} and not rel.startswith("studio/engine/"):
            offenders.append(f"{rel} imports TensorFlow/Keras")
        if roots & {"PySide6", "pyqtgraph"} and not rel.startswith("studio/ui/"):
            offenders.append(f"{rel} imports Qt")
    assert offenders == []


def test_the_window_process_never_imports_tensorflow_for_training():
    """Training runs in its own process: the controller, panels and dashboard load without
    TensorFlow (importing it would freeze the window for half a second)."""
    code = (
        "import sys\n"
        "import studio.ui.training.workbench, studio.ui.training.controller\n"
        "import studio.engine.trainer_process\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.strip() == ""
