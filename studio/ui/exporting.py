"""File > Export: model files, pictures of the graph and a Markdown summary.

Model files are written by the engine process (``"export"`` job: TensorFlow never runs in the
window's process), with a busy indicator until it answers; pictures are drawn from the canvas
on the spot. Which weights go into a model file: the project's own (a run loaded into the
graph), a run's, or fresh ones, as the user picks when there is a choice.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox, QProgressDialog

from studio.project import project_basename, project_to_dict
from studio.project.runs import list_runs, write_text_atomic

#: (format, menu text, file filter, suffix); suffix "" means a folder.
EXPORTS = (
    ("python", "Python Script (.py)…", "Python scripts (*.py)", ".py"),
    (None, None, None, None),
    ("keras", "Keras Model (.keras)…", "Keras models (*.keras)", ".keras"),
    ("h5", "Legacy HDF5 Model (.h5)…", "HDF5 models (*.h5)", ".h5"),
    ("weights", "Weights Only (.weights.h5)…", "Keras weights (*.weights.h5)", ".weights.h5"),
    ("savedmodel", "TensorFlow SavedModel (folder)…", "", ""),
    ("tflite", "TensorFlow Lite (.tflite)…", "TFLite models (*.tflite)", ".tflite"),
    ("onnx", "ONNX (.onnx)…", "ONNX models (*.onnx)", ".onnx"),
    (None, None, None, None),
    ("png", "Picture of the Graph (PNG)…", "PNG images (*.png)", ".png"),
    ("svg", "Picture of the Graph (SVG)…", "SVG images (*.svg)", ".svg"),
    ("summary", "Summary (Markdown)…", "Markdown (*.md)", ".md"),
)
QUANTIZE = {"None (float32)": None, "float16": "float16", "Dynamic range (int8 weights)": "dynamic"}


class ExportController(QObject):
    """The File > Export menu of one main window."""

    exported = Signal(str, str)  # format, path
    failed = Signal(str, str)  # format, message

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.menu = QMenu("&Export", window)
        self.actions: dict[str, QAction] = {}
        for fmt, text, _filter, _suffix in EXPORTS:
            if fmt is None:
                self.menu.addSeparator()
                continue
            action = self.menu.addAction(text)
            action.triggered.connect(lambda _=False, f=fmt: self.export_dialog(f))
            self.actions[fmt] = action
        self._jobs: dict[int, tuple[str, str]] = {}
        self._progress: QProgressDialog | None = None
        window.engine.jobDone.connect(self._on_job_done)

    # ------------------------------------------------------------------ dialogs
    def _suggested(self, fmt: str) -> str:
        doc = self.window.document
        suffix = next(s for f, _t, _fl, s in EXPORTS if f == fmt)
        name = project_basename(doc.path) if doc.path else doc.project.name
        folder = doc.path.parent if doc.path else Path.home()
        return str(folder / f"{name}{suffix}")

    def export_dialog(self, fmt: str) -> None:
        """Ask where (and, for TFLite, how to quantise), then export."""
        _f, text, file_filter, _suffix = next(e for e in EXPORTS if e[0] == fmt)
        title = "Export " + text.rstrip("…")
        if fmt == "savedmodel":
            path = QFileDialog.getSaveFileName(self.window, title, self._suggested(fmt))[0]
        else:
            path = QFileDialog.getSaveFileName(
                self.window, title, self._suggested(fmt), f"{file_filter};;All files (*)"
            )[0]
        if not path:
            return
        if fmt == "python":
            from studio.core.codegen import available_styles

            styles = available_styles(self.window.document.graph)
            names = {"functional": "Functional API", "sequential": "Sequential",
                     "subclass": "keras.Model subclass"}  # fmt: skip
            if len(styles) > 1:
                choice, ok = QInputDialog.getItem(
                    self.window, title, "Code style:", [names.get(s, s) for s in styles], 0, False
                )
                if not ok:
                    return
                style = styles[[names.get(s, s) for s in styles].index(choice)]
            else:
                style = styles[0]
            self.export_script(path, style)
            return
        quantize = None
        if fmt == "tflite":
            choice, ok = QInputDialog.getItem(
                self.window, title, "Quantisation:", list(QUANTIZE), 0, False
            )
            if not ok:
                return
            quantize = QUANTIZE[choice]
        weights = None
        if fmt not in ("png", "svg", "summary"):
            ok, weights = self._choose_weights(title)
            if not ok:
                return
        self.export(fmt, path, weights=weights, quantize=quantize)

    def _choose_weights(self, title: str) -> tuple[bool, str | None]:
        """(accepted, weights file or None for fresh weights)."""
        doc = self.window.document
        options: dict[str, str | None] = {}
        own = doc.project.weights_path
        if own is not None and own.exists():
            options[f"The graph's weights ({doc.project.weights})"] = str(own)
        training = getattr(self.window, "training", None)
        runs_dir = training.runs.runs_dir() if training is not None else None
        for run in list_runs(runs_dir) if runs_dir else []:
            if (run.path / "weights.h5").exists():
                options[f"Run {run.label}"] = str(run.path / "weights.h5")
        options["Fresh (untrained) weights"] = None
        if len(options) == 1:
            return True, None
        choice, ok = QInputDialog.getItem(
            self.window, title, "Weights:", list(options), 0, False
        )
        return ok, options.get(choice) if ok else None

    # ------------------------------------------------------------------ exporting
    def export_script(self, path: str, style: str = "functional") -> bool:
        """Write the project as a standalone Python script (atomically)."""
        from studio.core.codegen import CodegenError, generate_script

        try:
            text = generate_script(self.window.document.project, style=style)
        except CodegenError as exc:
            self._fail("python", str(exc))
            return False
        target = Path(path)
        try:
            write_text_atomic(target, text)
        except OSError as exc:
            self._fail("python", f"The script could not be written: {exc}")
            return False
        self._done("python", str(target))
        return True

    def export(self, fmt: str, path: str, weights: str | None = None, quantize=None) -> int | None:
        """Export now (pictures) or start the engine job (model files); returns the job id."""
        doc = self.window.document
        if fmt in ("png", "svg"):
            from studio.ui.canvas.picture import render_picture

            try:
                written = render_picture(self.window.scene, path, fmt)
            except (OSError, ValueError) as exc:
                self._fail(fmt, f"The picture could not be written: {exc}")
                return None
            self._done(fmt, str(written))
            return None
        errors = [d for d in doc.diagnostics if d.is_error]
        if errors and fmt != "summary":
            self._fail(fmt, "The model has problems to fix before it can be exported: "
                       + errors[0].message)  # fmt: skip
            return None
        project_dir = str(doc.path.parent) if doc.path else None
        job = self.window.engine.run(
            "export",
            project_to_dict(doc.project),
            project_dir,
            fmt,
            path,
            weights,
            quantize,
            doc.trusted_code,  # the dict does not carry it; code runs only when trusted
        )
        self._jobs[job] = (fmt, path)
        self._show_progress(f"Exporting {Path(path).name}…")
        return job

    def _show_progress(self, text: str) -> None:
        if self._progress is None:
            self._progress = QProgressDialog(text, "", 0, 0, self.window)
            self._progress.setWindowTitle("Export")
            self._progress.setCancelButton(None)  # conversions cannot be interrupted midway
            self._progress.setWindowModality(Qt.WindowModality.WindowModal)
            self._progress.setMinimumDuration(300)
        self._progress.setLabelText(text)
        self._progress.show()

    def _on_job_done(self, job_id: int, result, error: str) -> None:
        if job_id not in self._jobs:
            return
        fmt, path = self._jobs.pop(job_id)
        if self._progress is not None and not self._jobs:
            self._progress.hide()
        if error:
            self._fail(fmt, error)
        else:
            self._done(fmt, str((result or {}).get("path", path)))

    def _done(self, fmt: str, path: str) -> None:
        self.window.statusBar().showMessage(f"Exported {fmt} to {path}.", 10000)
        self.exported.emit(fmt, path)

    def _fail(self, fmt: str, message: str) -> None:
        self.failed.emit(fmt, message)
        QMessageBox.warning(self.window, "Export failed", message)
