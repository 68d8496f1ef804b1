"""The training side of the main window: its docks, actions and the training controller.

:class:`TrainingWorkbench` adds to a :class:`~studio.ui.mainwindow.MainWindow` the Data and
Training settings docks (beside the inspector), the Training dashboard and Evaluation docks
(beside problems and summary), the Runs dock (beside the layer palette), a Training menu and
toolbar (Train, Pause/Resume, Stop, Evaluate), and the :class:`TrainingController` that runs
the jobs. It only reads the document and pushes commands (settings, weights).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QToolBar, QWidget

from studio.core.settings import check_settings
from studio.core.validation import format_diagnostic
from studio.project.runs import read_evaluation, read_run
from studio.ui.training.controller import TrainingController, runs_folder
from studio.ui.training.dashboard import DashboardWidget
from studio.ui.training.evaluation import EvaluationWidget
from studio.ui.training.runs_panel import RunsWidget


class TrainingWorkbench(QObject):
    """Docks, actions and the controller for training in one main window."""

    message = Signal(str)  # a line for the status bar

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.document = None
        self.controller = TrainingController(self)
        self.controller.events.connect(self._on_events)
        self.controller.stateChanged.connect(self._on_state)
        self.controller.finished.connect(self._on_finished)
        self.controller.evaluated.connect(self._on_evaluated)
        self.controller.failed.connect(self._on_failed)

        self.dashboard = DashboardWidget()
        self.evaluation = EvaluationWidget()
        self.runs = RunsWidget()
        self.runs.loadWeightsRequested.connect(self.load_run_weights)
        self.runs.evaluationRequested.connect(self.show_run_evaluation)
        self.data_panel = None
        self.settings_panel = None

        self.data_dock = self._dock("Data", "data", Qt.RightDockWidgetArea)
        self.settings_dock = self._dock("Training", "training", Qt.RightDockWidgetArea)
        self.dashboard_dock = self._dock("Curves", "dashboard", Qt.BottomDockWidgetArea)
        self.evaluation_dock = self._dock("Evaluation", "evaluation", Qt.BottomDockWidgetArea)
        self.runs_dock = self._dock("Runs", "runs", Qt.LeftDockWidgetArea)
        self.dashboard_dock.setWidget(self.dashboard)
        self.evaluation_dock.setWidget(self.evaluation)
        self.runs_dock.setWidget(self.runs)
        window.tabifyDockWidget(window.inspector_dock, self.data_dock)
        window.tabifyDockWidget(self.data_dock, self.settings_dock)
        window.tabifyDockWidget(window.summary_dock, self.dashboard_dock)
        window.tabifyDockWidget(self.dashboard_dock, self.evaluation_dock)
        window.tabifyDockWidget(window.palette_dock, self.runs_dock)
        window.inspector_dock.raise_()
        window.palette_dock.raise_()
        window.problems_dock.raise_()
        self._build_actions()

    @property
    def docks(self) -> list[QDockWidget]:
        return [self.data_dock, self.settings_dock, self.dashboard_dock, self.evaluation_dock,
                self.runs_dock]  # fmt: skip

    def _dock(self, title: str, name: str, area) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(QWidget())
        self.window.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        w = self.window

        def action(text, slot, shortcut=None, tip=""):
            act = QAction(text, w)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.setToolTip(f"{text.replace('&', '')} ({shortcut})" if shortcut else text)
            act.setStatusTip(tip)
            act.triggered.connect(lambda _=False: slot())
            act.setShortcutContext(Qt.ApplicationShortcut)  # also from floating docks
            w.addAction(act)
            return act

        self.act_train = action("&Train", self.train, "F5", "Train the model on its data")
        self.act_pause = action("&Pause", self.toggle_pause, "F6", "Pause or resume training")
        self.act_stop = action("&Stop", self.stop, "Shift+F5", "Stop after the current batch")
        self.act_evaluate = action(
            "&Evaluate Latest Run", self.evaluate_latest, None, "Evaluate on the test split"
        )
        self.act_resume = action(
            "&Resume Interrupted Run", self.resume_run, None,
            "Continue the selected run from its last backup (BackupAndRestore)",
        )
        self.act_show_data = action("&Data…", lambda: self._raise(self.data_dock))
        self.act_show_settings = action(
            "Training &Settings…", lambda: self._raise(self.settings_dock)
        )
        self.act_cluster = action(
            "&Multi-Worker Setup…", self.show_cluster_dialog, None,
            "Write one launch command (with its TF_CONFIG) per worker machine",
        )
        bar_menu = w.menuBar()
        menu = QMenu("&Training", w)
        menus = [a for a in bar_menu.actions() if a.menu() is not None]
        bar_menu.insertMenu(menus[-1], menu) if menus else bar_menu.addMenu(menu)  # before Help
        view = next((a.menu() for a in menus if a.text() == "&View"), None)
        if view is not None:
            view.addSeparator()
            for dock in self.docks:
                view.addAction(dock.toggleViewAction())
        for act in (self.act_train, self.act_pause, self.act_stop, None, self.act_evaluate,
                    self.act_resume, None, self.act_show_data,
                    self.act_show_settings, self.act_cluster):  # fmt: skip
            menu.addSeparator() if act is None else menu.addAction(act)
        bar = QToolBar("Training", w)
        bar.setObjectName("toolbar_training")
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for act in (self.act_train, self.act_pause, self.act_stop):
            bar.addAction(act)
        w.addToolBar(Qt.TopToolBarArea, bar)
        self.toolbar = bar
        self._on_state("idle")

    # ------------------------------------------------------------------ document
    def set_document(self, document) -> None:
        from studio.ui.training.data_panel import DataWidget
        from studio.ui.training.settings_panel import TrainingSettingsWidget

        self.document = document
        old = (self.data_panel, self.settings_panel)
        self.data_panel = DataWidget(document, getattr(self.window, "engine", None))
        self.settings_panel = TrainingSettingsWidget(document)
        self.data_dock.setWidget(self.data_panel)
        self.settings_dock.setWidget(self.settings_panel)
        for widget in old:
            if widget is not None:
                widget.deleteLater()
        document.pathChanged.connect(lambda _p: self._refresh_runs())
        self._refresh_runs()

    def _refresh_runs(self) -> None:
        if self.document is None:
            return
        self.runs.set_runs_dir(runs_folder(self.document.project))
        self.runs.refresh()

    def _raise(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()
        if dock in (self.dashboard_dock, self.evaluation_dock) and not dock.isFloating():
            # Curves and a confusion matrix need room: give the bottom panel ~40 % of the height.
            want = int(self.window.height() * 0.4)
            if dock.height() < want - 20:
                self.window.resizeDocks([dock], [want], Qt.Vertical)

    # ------------------------------------------------------------------ actions
    def show_cluster_dialog(self):
        """Training > Multi-Worker Setup…: launch commands for MultiWorkerMirroredStrategy."""
        from studio.ui.training.cluster_dialog import ClusterDialog

        if self.document is None:
            return None
        dialog = ClusterDialog(self.document, self.window)
        dialog.open()
        return dialog

    def train(self) -> bool:
        """Check the graph and the settings, then start training; False when refused."""
        if self.document is None or self.controller.is_busy():
            return False
        doc = self.document
        if doc.graph.code and not doc.trusted_code and not self._offer_trust():
            return False
        errors = [d for d in doc.diagnostics if d.is_error]
        if errors:
            self._refuse(
                "The model has problems to fix before it can train:",
                [format_diagnostic(d) for d in errors[:8]],
                self.window.problems_dock,
            )
            return False
        try:
            problems = check_settings(doc.project.settings, doc.graph)
        except Exception as exc:  # a settings shape nobody foresaw: say so, never a traceback
            self._refuse(f"The project's training settings cannot be read: {exc}", [],
                         self.settings_dock)  # fmt: skip
            return False
        no_data = [d for d in problems if d.code == "no-data"]
        if no_data:
            self._refuse(no_data[0].message, [], self.data_dock)
            return False
        bad = [d for d in problems if d.is_error]
        if bad:
            dock = self.data_dock if (bad[0].param or "").startswith("data") else self.settings_dock
            self._refuse(
                "The training settings have problems:",
                [f"{d.param}: {d.message}" for d in bad[:8]],
                dock,
            )
            return False
        try:
            run_dir = self.controller.train(doc.project, trusted_code=doc.trusted_code)
        except OSError as exc:
            self._refuse(f"Could not create the run folder: {exc}", [], None)
            return False
        self.dashboard.set_running(True)
        self.runs.set_active_run(run_dir)  # not deletable while it trains
        self._raise(self.dashboard_dock)
        self.message.emit(f"Training started; the run is saved in {run_dir}.")
        return True

    def _same_trusted_code(self, project) -> bool:
        """A run's code may run when it is the open, trusted project's code, unchanged."""
        from studio.core.code import code_fingerprint

        doc = self.document
        if not project.graph.code:
            return True  # nothing to run
        return bool(doc is not None and doc.trusted_code) and code_fingerprint(
            project.graph
        ) == code_fingerprint(doc.graph)

    def _offer_trust(self) -> bool:
        """Training runs the project's code: refuse, offering to trust the project."""
        box = QMessageBox(self.window)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Cannot train yet")
        box.setText("This project's code has not been run.")
        box.setInformativeText(
            "Training runs the project's custom code. Look at it in the Custom Code panel; "
            "trust the project to run it and train."
        )
        trust = box.addButton("Trust and Run", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is not trust:
            dock = getattr(self.window, "custom_code_dock", None)
            if dock is not None:
                self._raise(dock)
            return False
        self.window.trust_project()
        return True

    def _refuse(self, title: str, lines: list[str], dock: QDockWidget | None) -> None:
        if dock is not None:
            self._raise(dock)
        text = title + ("\n\n" + "\n".join(f"• {line}" for line in lines) if lines else "")
        QMessageBox.warning(self.window, "Cannot train yet", text)

    def toggle_pause(self) -> None:
        if self.controller.state == "paused":
            self.controller.resume()
        else:
            self.controller.pause()

    def stop(self) -> None:
        self.controller.stop()

    def resume_run(self, run_dir: Path | None = None) -> bool:
        """Continue an interrupted run (one with a BackupAndRestore backup) in its own folder,
        with the project exactly as that run trained it."""
        if self.controller.is_busy() or self.document is None:
            return False
        if run_dir is None:
            selected = self.runs.selected_runs()
            run_dir = selected[0] if len(selected) == 1 else None
        if run_dir is None or not (Path(run_dir) / "backup").is_dir():
            QMessageBox.information(
                self.window,
                "Resume a run",
                "Select one run that was interrupted in the Runs panel. A run can be resumed "
                "when it trained with the BackupAndRestore callback on (Training panel).",
            )
            return False
        from studio.project import ProjectError, load_project

        try:
            project = load_project(Path(run_dir) / "project.studio.json")
        except ProjectError as exc:
            self._refuse(f"This run cannot be resumed: {exc}", [], None)
            return False
        project.path = self.document.path  # data paths are relative to the project's folder
        project.weights = None  # the backup holds the weights
        trusted = self._same_trusted_code(project)
        self.controller.train(project, run_dir=Path(run_dir), trusted_code=trusted)
        self.dashboard.set_running(True)
        self.runs.set_active_run(run_dir)
        self._raise(self.dashboard_dock)
        self.message.emit(f"Resuming run {Path(run_dir).name} from its last backup.")
        return True

    def evaluate_latest(self) -> None:
        runs = self.runs.runs() if hasattr(self.runs, "runs") else []
        if not runs:
            from studio.project.runs import list_runs

            runs = list_runs(runs_folder(self.document.project)) if self.document else []
        usable = [r for r in runs if r.status in ("finished", "stopped")]
        if not usable:
            QMessageBox.information(
                self.window, "Evaluate", "There is no finished run to evaluate yet: train first."
            )
            return
        self.evaluate_run(usable[0].path)

    def evaluate_run(self, run_dir: Path) -> None:
        if self.controller.is_busy():
            self.message.emit("Wait for the current training to end.")
            return
        project_dir = self.document.path.parent if self.document and self.document.path else None
        trusted = False
        try:
            from studio.project import load_project

            trusted = self._same_trusted_code(load_project(Path(run_dir) / "project.studio.json"))
        except Exception:  # an unreadable run: its code stays untrusted
            pass
        self.controller.evaluate(Path(run_dir), project_dir, trusted_code=trusted)
        self.dashboard.set_running(True)

    def show_run_evaluation(self, run_dir: Path) -> None:
        outputs = read_evaluation(run_dir)
        if outputs:
            self.evaluation.show_results(outputs)
            self._raise(self.evaluation_dock)
        else:
            self.evaluate_run(run_dir)

    def load_run_weights(self, run_dir: Path) -> None:
        """Make a run's final weights the project's weights (undoable)."""
        weights = Path(run_dir) / "weights.h5"
        if not weights.exists():
            QMessageBox.warning(
                self.window,
                "Load weights",
                f"The run {Path(run_dir).name} has no saved weights (it may have failed before "
                "the end of its first epoch).",
            )
            return
        doc = self.document
        base = doc.path.parent if doc.path else None
        value = str(weights)
        if base is not None:
            try:
                value = Path(os.path.relpath(weights, base)).as_posix()
            except ValueError:  # another drive
                value = str(weights)
        doc.set_weights(value, f"Load weights of run {Path(run_dir).name}")
        self.message.emit(f"The graph now uses the weights of run {Path(run_dir).name}.")

    # ------------------------------------------------------------------ controller
    def _on_events(self, events: list) -> None:
        self.dashboard.add_events(events)  # a "start" event clears the previous curves

    def _on_state(self, state: str) -> None:
        busy = state != "idle"
        self.act_train.setEnabled(not busy)
        self.act_evaluate.setEnabled(not busy)
        self.act_resume.setEnabled(not busy)
        self.act_pause.setEnabled(state in ("running", "paused"))
        self.act_pause.setText("&Resume" if state == "paused" else "&Pause")
        self.act_stop.setEnabled(state in ("starting", "running", "paused"))
        if not busy:
            self.dashboard.set_running(False)
            self.runs.set_active_run(None)
            self._refresh_runs()

    def _on_finished(self, event: dict) -> None:
        best = event.get("best") or {}
        key = next((k for k in ("val_accuracy", "val_loss", "accuracy", "loss") if k in best), None)
        figure = f" Best {key}: {best[key]:.4g}." if key else ""
        word = "stopped" if event.get("status") == "stopped" else "finished"
        full = [e for e in event.get("history") or [] if not e.get("partial")]
        self.message.emit(f"Training {word} after {len(full)} epoch"
                          f"{'' if len(full) == 1 else 's'}." + figure)  # fmt: skip
        self._refresh_runs()
        if event.get("run_dir"):
            self.runs.select_runs([event["run_dir"]])  # its curves in the comparison plot

    def _on_evaluated(self, event: dict) -> None:
        self.evaluation.show_results(event.get("outputs") or [])
        self._raise(self.evaluation_dock)

    def _on_failed(self, event: dict) -> None:
        self.message.emit("Training failed: " + event.get("message", ""))
        self._raise(self.dashboard_dock)
        custom_code = getattr(self.window, "custom_code", None)
        if custom_code is not None:  # an error in the project's code: mark the user's line
            custom_code.show_error(event.get("message", ""))

    # ------------------------------------------------------------------ closing
    def confirm_close(self) -> bool:
        """Ask before closing while training (the caller stops it with ``controller.shutdown()``
        once unsaved changes are dealt with). False: keep the window."""
        if not self.controller.is_busy():
            return True
        answer = QMessageBox.question(
            self.window,
            "Training is running",
            "Training is still running. Stop it and close? The weights and curves so far are "
            "saved in the run folder.",
            QMessageBox.Yes | QMessageBox.No,
            QMessageBox.No,
        )
        return answer == QMessageBox.Yes

    def run_info(self, run_dir: Path):
        return read_run(run_dir)
