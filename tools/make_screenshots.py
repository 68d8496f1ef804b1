"""Take every picture that README.md and docs/user-guide.md show, from the real window.

    .venv/bin/python tools/make_screenshots.py [--out docs/images] [--only NAME ...]

The pictures are taken the way ``studio --screenshot OUT.png PROJECT`` takes its picture
(``studio.ui.app``: a fixed 1920x1080 window with default panels and settings, grabbed once
the shapes are on screen, the first layer selected, the graph framed for reading), in one
window and with one engine process, so that all of them take about a minute instead of a
window start each. The states ``--screenshot`` cannot reach (a panel raised, training
finished, the confusion matrix) are reached as a user reaches them: raise the dock, press
Train, wait for the run to end. The examples are copied into a temporary folder first, so
runs and settings never land in the repository or the user's folders.

tests/test_user_guide.py regenerates every picture the guide uses with this tool and checks
that each exists, is not blank and has the committed picture's size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EXAMPLES = ROOT / "resources" / "examples"
DEFAULT_OUT = ROOT / "docs" / "images"
SIZE = (1920, 1080)  # as studio --screenshot
TIMEOUT_S = 300
GUIDE_EPOCHS = 3  # the guide trains for 3 epochs, in the window and with studio train

#: name -> (example, what to show). Every picture the guide and the README use.
SHOTS: dict[str, tuple[str, str]] = {
    "guide-window.png": ("mnist_cnn", "canvas"),
    "guide-summary.png": ("mnist_cnn", "summary"),
    "guide-data.png": ("mnist_cnn", "data"),
    "guide-training-settings.png": ("mnist_cnn", "training"),
    "guide-curves.png": ("mnist_cnn", "curves"),
    "guide-evaluation.png": ("mnist_cnn", "evaluation"),
    "guide-code.png": ("mnist_cnn", "code"),
    "guide-text.png": ("text_classifier", "canvas"),
}


def _wait(app, predicate, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"make_screenshots: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def _settle(app, window) -> None:
    """As ``studio --screenshot``: wait until the open graph's shapes are on screen."""
    engine = window.engine
    _wait(
        app,
        lambda: (
            engine.is_loaded and window.shown_generation == engine.generation and not window._jobs
        ),
        "the shapes",
    )
    for _ in range(10):
        app.processEvents()
        time.sleep(0.02)


def _copy_example(name: str, folder: Path) -> Path:
    path = folder / f"{name}.studio.json"
    data = json.loads((EXAMPLES / path.name).read_text(encoding="utf-8"))
    data["settings"]["training"]["epochs"] = GUIDE_EPOCHS
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def make_screenshots(out: Path, only: list[str] | None = None) -> list[Path]:
    from PySide6.QtCore import QSettings, QTimer

    from studio.ui.app import _application, _frame_for_reading
    from studio.ui.document import Document
    from studio.ui.mainwindow import MainWindow
    from studio.ui.recovery import RecoveryStore

    wanted = {n: s for n, s in SHOTS.items() if not only or n in only}
    unknown = set(only or ()) - set(SHOTS)
    if unknown:
        raise SystemExit(f"make_screenshots: no picture called {', '.join(sorted(unknown))}")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    app = _application()
    settings = QSettings(str(work / "settings.ini"), QSettings.IniFormat)
    window = None
    written: list[Path] = []
    try:
        for example in dict.fromkeys(e for e, _ in wanted.values()):
            path = _copy_example(example, work)
            if window is None:
                window = MainWindow(
                    Document.open(path), settings=settings, recovery=RecoveryStore(work / "rec")
                )
                window.resize(*SIZE)
                window.show()
                QTimer.singleShot(0, window.engine.start)
            else:
                window.document.stack.set_clean()
                window.open_path(path)
            _settle(app, window)
            layers = [n.name for n in window.document.graph.nodes if not n.is_input]
            if layers:
                window.scene.select_nodes(layers[:1])
            _frame_for_reading(window.view)
            trained = False
            for name, (ex, state) in wanted.items():
                if ex != example:
                    continue
                training = window.training
                if state in ("curves", "evaluation") and not trained:
                    assert training.train(), "Train was refused"
                    _wait(app, lambda t=training: t.controller.state == "idle", "training")
                    _wait(app, lambda t=training: t.evaluation.isVisible(), "the evaluation")
                    trained = True
                dock = {
                    "canvas": window.problems_dock,
                    "summary": window.summary_dock,
                    "code": window.code_dock,
                    "data": training.data_dock,
                    "training": training.settings_dock,
                    "curves": training.dashboard_dock,
                    "evaluation": training.evaluation_dock,
                }[state]
                if state in ("data", "training"):
                    training._raise(dock)
                else:
                    window.inspector_dock.raise_()
                    training._raise(dock)
                if state == "code":  # generated off the GUI thread: wait for the text
                    _wait(app, lambda w=window: "def build_model" in _code_text(w), "the code")
                for _ in range(30):
                    app.processEvents()
                    time.sleep(0.02)
                target = out / name
                if not window.grab().save(str(target)):
                    raise SystemExit(f"make_screenshots: could not write {target}")
                print(f"Saved {target}")
                written.append(target)
    finally:
        if window is not None:
            window.document.stack.set_clean()
            window.training.controller.shutdown()
            window.close()
            window.engine.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return written


def _code_text(window) -> str:
    from PySide6.QtWidgets import QPlainTextEdit, QTextEdit

    widget = window.code_dock.widget()
    texts = widget.findChildren(QPlainTextEdit) + widget.findChildren(QTextEdit)
    if isinstance(widget, (QPlainTextEdit, QTextEdit)):
        texts.append(widget)
    return "\n".join(t.toPlainText() for t in texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the pictures")
    parser.add_argument("--only", nargs="*", metavar="NAME", help="only these pictures")
    args = parser.parse_args(argv)
    make_screenshots(args.out, args.only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
