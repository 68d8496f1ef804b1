"""How the editor feels, measured in one run (offscreen Qt unless a display is set).

Prints:
1. time from launch to window shown (target < 1.5 s, TensorFlow not yet imported then),
   next to the time to ``import tensorflow`` on the same machine;
2. open-and-render time of an imported NASNetMobile (target < 2 s);
3. median and worst frame time while panning and zooming it (target median < 16 ms);
4. the longest stall of the GUI event loop while its shapes are inferred (target < 50 ms).

Run: ``.venv/bin/python bench/editor.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

LAUNCH = r"""
import sys, time
t0 = time.perf_counter()
from studio.ui.app import _application
app = _application()
from studio.ui.document import Document
from studio.ui.mainwindow import MainWindow
from studio.resources import example_path
w = MainWindow(Document.open(example_path("mnist_cnn.studio.json")))
w.show()
app.processEvents()
shown = time.perf_counter() - t0
print(f"{shown:.3f} {'tensorflow' in sys.modules}")
"""

IMPORT_TF = "import time; t=time.perf_counter(); import tensorflow; print(f'{time.perf_counter()-t:.3f}')"


def _python(code: str) -> str:
    env = dict(os.environ, STUDIO_RECOVERY_DIR=tempfile.mkdtemp())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode:
        raise SystemExit(out.stderr)
    return out.stdout.strip().splitlines()[-1]


def bench_launch() -> None:
    launches = [_python(LAUNCH).split() for _ in range(3)]
    shown = statistics.median(float(t) for t, _ in launches)
    tf_loaded = any(flag == "True" for _, flag in launches)
    tf = statistics.median(float(_python(IMPORT_TF)) for _ in range(3))
    print(
        f"launch to window shown: {shown:.2f} s (target < 1.5 s; TensorFlow imported then: "
        f"{tf_loaded}); `import tensorflow` alone: {tf:.2f} s"
    )


def _nasnet_project(folder: Path) -> Path:
    from studio.engine import load_keras

    keras = load_keras()
    from studio.engine.importer import config_to_graph
    from studio.project import Project, save_project

    model = keras.applications.NASNetMobile(weights=None)
    graph = config_to_graph({"class_name": "Functional", "config": model.get_config()})
    path = folder / "nasnet.studio.json"
    save_project(Project(name="nasnet", graph=graph), path)
    return path


def bench_big_graph() -> None:
    from PySide6.QtCore import QElapsedTimer, QPointF, QTimer

    from studio.ui.app import _application

    app = _application()
    from studio.ui.mainwindow import MainWindow

    folder = Path(tempfile.mkdtemp())
    os.environ["STUDIO_RECOVERY_DIR"] = str(folder / "recovery")
    path = _nasnet_project(folder)

    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    window.engine.start()
    while not window.engine.is_loaded:
        app.processEvents()
        time.sleep(0.01)

    # 2. open and render
    t = time.perf_counter()
    window.open_path(path)
    window.view.fit_all()
    window.view.viewport().repaint()
    app.processEvents()
    opened = time.perf_counter() - t
    n_nodes = len(window.document.graph)

    # 4. event-loop stalls while the engine infers shapes of the whole graph
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    done = []
    window.shapesShown.connect(lambda g: done.append(time.perf_counter()))
    # Wait for the shapes requested by opening, then drop the engine's cache so that this
    # request infers every node again, as the first inference after opening does.
    while window.shown_generation < window.engine.generation:
        app.processEvents()
        time.sleep(0.005)
    window.engine.run("clear-cache")
    window.engine.request(window.document.graph)
    generation = window.engine.generation
    t_shapes = time.perf_counter()
    last[0] = time.perf_counter()
    timer.start()
    while window.shown_generation < generation and time.perf_counter() - t_shapes < 300:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    shapes_time = time.perf_counter() - t_shapes
    stall = max(gaps) * 1000 if gaps else float("nan")

    # 3. frame times while panning and zooming
    view = window.view
    view.fit_all()
    view.scale(3, 3)
    frames: list[float] = []
    clock = QElapsedTimer()
    for i in range(120):
        if i % 40 < 20:
            view.translate(25, 10)
        else:
            factor = 1.05 if i % 2 else 1 / 1.05
            view.scale(factor, factor)
            view.centerOn(view.mapToScene(view.viewport().rect().center()) + QPointF(5, 0))
        clock.start()
        view.viewport().repaint()
        frames.append(clock.nsecsElapsed() / 1e6)
    print(
        f"NASNetMobile ({n_nodes} nodes): open and render {opened:.2f} s (target < 2 s); "
        f"pan/zoom frame median {statistics.median(frames):.1f} ms, worst {max(frames):.1f} ms "
        f"(target median < 16 ms); shapes of the whole graph in {shapes_time:.1f} s with the "
        f"longest GUI stall {stall:.0f} ms (target < 50 ms)"
    )
    window.document.stack.set_clean()
    window.close()
    window.engine.shutdown()


def main() -> int:
    bench_launch()
    bench_big_graph()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
