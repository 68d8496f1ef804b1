"""Studio's trainer against plain Keras ``model.fit``, and how smooth the window stays.

Usage::

    python bench/train.py [--project resources/examples/mnist_cnn.studio.json] [--epochs 10]
                          [--repeats 5]

For each repeat, alternating: (1) plain Keras trains the project's model on the same prepared
data for the same epochs with ``model.fit`` and the same callbacks the project switches on
(EarlyStopping, ModelCheckpoint, ...), in a child process (the window's process never imports
TensorFlow, in the app or here); (2) Studio trains it the way the
window does: a :class:`~studio.ui.training.controller.TrainingController` runs the trainer in
its process, the live-curve bridge sends every batch and epoch, and a real dashboard draws
the curves, while a 5 ms timer on the GUI thread records the longest gap between its ticks
(the longest event-loop stall). Both start from the same initial weights.

Printed: each time, the median ratio Studio / Keras of the ``fit`` time (target at most 1.05)
and the longest GUI stall during training (target under 50 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def plain_keras(project_data: dict, project_dir: str, epochs: int, workdir: Path) -> float:
    """Seconds of ``model.fit`` for the project's model, data and callbacks, in plain Keras
    (run in a child process, like Studio's trainer, so the window's process stays free of
    TensorFlow as it is in the app)."""
    from studio.engine import load_keras
    from studio.project import project_from_dict

    keras = load_keras()
    project = project_from_dict(project_data)

    from studio.core.settings import data_settings, input_names, output_names, training_settings
    from studio.engine.build import build_model
    from studio.engine.data import prepare
    from studio.engine.training import compile_arguments

    graph = project.graph
    training = training_settings(project.settings, graph)
    training["epochs"] = epochs
    data = data_settings(project.settings, graph)
    keras.utils.set_random_seed(0)
    model = build_model(graph)
    ins, outs = input_names(graph), output_names(graph)
    shapes_in = {n: tuple(t.shape) for n, t in zip(ins, model.inputs)}
    shapes_out = {n: tuple(t.shape) for n, t in zip(outs, model.outputs)}
    prepared = prepare(data, shapes_in, shapes_out, Path(project_dir))
    x, y = prepared.train
    vx, vy = prepared.validation
    pick = (lambda d, names: d[names[0]] if len(names) == 1 else [d[n] for n in names])  # noqa: E731
    model.compile(**compile_arguments(training, outs))
    callbacks = []
    files = {
        "ModelCheckpoint": {"filepath": str(workdir / "best.keras")},
        "CSVLogger": {"filename": str(workdir / "history.csv")},
        "TensorBoard": {"log_dir": str(workdir / "logs")},
        "BackupAndRestore": {"backup_dir": str(workdir / "backup")},
    }
    for name, entry in training["callbacks"].items():
        if entry["enabled"]:
            callbacks.append(getattr(keras.callbacks, name)(**entry["params"], **files.get(name, {})))
    t0 = time.perf_counter()
    model.fit(
        pick(x, ins),
        pick(y, outs),
        batch_size=training["batch_size"],
        epochs=epochs,
        validation_data=(pick(vx, ins), pick(vy, outs)),
        callbacks=callbacks,
        verbose=0,
    )
    return time.perf_counter() - t0


def studio_trainer(app, project, epochs: int, workdir: Path) -> tuple[float, float, int]:
    """(fit seconds reported by the trainer, longest GUI stall in s, batch events drawn)."""
    from PySide6.QtCore import QEventLoop, QTimer

    from studio.ui.training.controller import TrainingController
    from studio.ui.training.dashboard import DashboardWidget

    controller = TrainingController()
    dashboard = DashboardWidget()
    dashboard.resize(900, 600)
    dashboard.show()
    controller.events.connect(dashboard.add_events)
    state = {"last": None, "stall": 0.0, "seconds": None, "training": False, "batches": 0}

    def tick() -> None:
        now = time.perf_counter()
        if state["training"] and state["last"] is not None:
            state["stall"] = max(state["stall"], now - state["last"])
        state["last"] = now

    def on_events(events: list) -> None:
        for e in events:
            if e["type"] == "start":
                state["training"] = True
                dashboard.start(e)
            elif e["type"] == "batch":
                state["batches"] += 1
            elif e["type"] in ("finished", "error"):
                state["training"] = False
                state["seconds"] = e.get("seconds")
                if e["type"] == "error":
                    print("Studio's run failed:", e["message"], file=sys.stderr)

    controller.events.connect(on_events)
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    timer.start()
    loop = QEventLoop()
    controller.stateChanged.connect(lambda s: loop.quit() if s == "idle" else None)
    controller.train(project, overrides={"epochs": epochs}, run_dir=workdir / "run")
    loop.exec()
    timer.stop()
    dashboard.close()
    return state["seconds"] or float("nan"), state["stall"], state["batches"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=str(ROOT / "resources/examples/mnist_cnn.studio.json"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import multiprocessing

    from PySide6.QtWidgets import QApplication

    from studio.project import load_project, project_to_dict

    app = QApplication.instance() or QApplication([])
    project = load_project(args.project)
    # The same number of epochs for both: no early stopping.
    callbacks = project.settings.setdefault("training", {}).setdefault("callbacks", {})
    callbacks["EarlyStopping"] = {"enabled": False, "params": {}}
    project_data, project_dir = project_to_dict(project), str(project.path.parent)
    pool = multiprocessing.get_context("spawn").Pool(1)
    print(f"{project.name}: {args.epochs} epochs, {args.repeats} repeats, alternating")
    ratios, stalls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            keras_s = pool.apply(plain_keras, (project_data, project_dir, args.epochs, Path(tmp)))
            studio_s, stall, batches = studio_trainer(app, project, args.epochs, Path(tmp) / str(i))
            ratios.append(studio_s / keras_s)
            stalls.append(stall)
            print(
                f"  run {i + 1}: Keras fit {keras_s:.2f} s, Studio fit {studio_s:.2f} s "
                f"(ratio {studio_s / keras_s:.3f}), {batches} batch events, "
                f"longest GUI stall {stall * 1000:.1f} ms"
            )
    pool.close()
    print(f"median time ratio Studio/Keras: {statistics.median(ratios):.3f} (target <= 1.05)")
    print(f"longest event-loop stall during training: {max(stalls) * 1000:.1f} ms (target < 50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
