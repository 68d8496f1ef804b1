"""The project's training runs: list, compare, load, evaluate, open, delete.

:class:`RunsWidget` lists the runs of a runs folder (``<project>.runs/``, see
:mod:`studio.project.runs`), newest first, with a status colour and the best value of the main
metrics. Selecting several runs overlays their learning curves (the metric picked in the
"Compare" combo, one curve per run, as TensorBoard's scalars do). The actions act on the
selection; the window wires the two that need the document:

* "Load weights into graph" emits :attr:`RunsWidget.loadWeightsRequested` with the run folder;
* "Show evaluation" emits :attr:`RunsWidget.evaluationRequested` with the run folder;
* "Open folder" opens the run folder in the file manager;
* "Delete…" asks first, then deletes with :func:`~studio.project.runs.delete_run` (which only
  ever deletes run folders).

The list refreshes itself when folders appear in or vanish from the runs folder (a
QFileSystemWatcher), and on :meth:`RunsWidget.refresh`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QFileSystemWatcher, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QDesktopServices, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QSplitter,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.project.runs import (
    EVALUATION_FILE,
    HISTORY_CSV,
    HISTORY_JSON,
    RunInfo,
    delete_run,
    format_metric,
    list_runs,
    metric_direction,
    read_history,
)
from studio.ui.training.dashboard import (
    ERROR_RED,
    PALETTE,
    add_legend,
    make_plot,
    set_plot_title,
)

PATH_ROLE = Qt.ItemDataRole.UserRole
#: Status colours (the dot before each run).
STATUS_COLORS = {
    "running": "#2f81f7",
    "finished": "#2e9d57",
    "stopped": "#c77700",
    "failed": ERROR_RED,
    "unreadable": "#8c959f",
}
#: Best-metric columns shown at most (all of them are in the row's tooltip).
MAX_METRIC_COLUMNS = 4
#: Files that hold weights the graph can load.
WEIGHT_FILES = ("weights.h5", "best.keras", "final.keras")


def _dot(color: str, size: int = 10) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pix)


def _metric_order(key: str) -> tuple:
    """val_ metrics first, losses before the rest, then by name."""
    base = key[4:] if key.startswith("val_") else key
    return (not key.startswith("val_"), metric_direction(base) != "min", base)


class RunsWidget(QWidget):
    """The runs of one project: a list, an overlay of their curves, and actions.

    Signals:
        loadWeightsRequested(Path): load this run's weights into the graph.
        evaluationRequested(Path): show this run's evaluation (``evaluation.json``).
    """

    loadWeightsRequested = Signal(object)
    evaluationRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs_dir: Path | None = None
        self._runs: list[RunInfo] = []
        self._active: Path | None = None
        self._history_cache: dict[Path, tuple[tuple, dict[str, list[float]]]] = {}
        self._overlay: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._metric_columns: list[str] = []
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._schedule_refresh)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.refresh)
        self._build()
        self._update_actions()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(4)

        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setToolTip("Read the runs folder again")
        self.refresh_action.triggered.connect(self.refresh)
        self.load_action = QAction("Load weights into graph", self)
        self.load_action.setToolTip("Put this run's trained weights into the graph's layers")
        self.load_action.triggered.connect(self._load_weights)
        self.evaluation_action = QAction("Show evaluation", self)
        self.evaluation_action.setToolTip("Show this run's test-set evaluation")
        self.evaluation_action.triggered.connect(self._show_evaluation)
        self.open_action = QAction("Open folder", self)
        self.open_action.setToolTip("Open the run folder in the file manager")
        self.open_action.triggered.connect(self._open_folder)
        self.delete_action = QAction("Delete…", self)
        self.delete_action.setIconText("Delete…")  # tool buttons drop a trailing "…"
        self.delete_action.setToolTip("Delete the selected runs from the disk")
        self.delete_action.triggered.connect(self.delete_selected)
        self.actions_in_order = [
            self.load_action,
            self.evaluation_action,
            self.open_action,
            self.delete_action,
            self.refresh_action,
        ]

        # A tool bar, not a row of buttons: in a narrow dock the actions that do not fit go
        # into its » menu instead of forcing the dock (and the palette beside it) wide.
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.setIconSize(QSize(12, 12))
        for action in self.actions_in_order:
            bar.addAction(action)
        outer.addWidget(bar)
        self.toolbar = bar

        self.info_label = QLabel()
        self.info_label.setObjectName("runsInfo")
        outer.addWidget(self.info_label)

        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        self.tree = QTreeWidget()
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setIconSize(QSize(10, 10))
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        split.addWidget(self.tree)

        lower = QWidget()
        box = QVBoxLayout(lower)
        box.setContentsMargins(0, 2, 0, 0)
        box.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare:"))
        self.metric_combo = QComboBox()
        self.metric_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric_combo.setToolTip("The curve to compare across the selected runs")
        self.metric_combo.currentIndexChanged.connect(self._update_overlay)
        row.addWidget(self.metric_combo)
        self.compare_hint = QLabel("Select several runs (Ctrl/Shift+click) to overlay them.")
        self.compare_hint.setEnabled(False)
        self.compare_hint.setWordWrap(True)
        self.compare_hint.setMinimumWidth(40)
        row.addStretch(1)
        box.addLayout(row)
        box.addWidget(self.compare_hint)  # its own line: a narrow dock wraps it, not the row
        self.plot = make_plot("Runs", "", parent=self)
        self.legend = add_legend(self.plot, "top-right")
        box.addWidget(self.plot, 1)
        split.addWidget(lower)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([200, 300])
        outer.addWidget(split, 1)
        self._set_columns([])

    def _set_columns(self, metrics: list[str]) -> None:
        self._metric_columns = metrics
        self.tree.setColumnCount(1 + len(metrics))
        self.tree.setHeaderLabels(["Run", *(f"best {m}" for m in metrics)])
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, 1 + len(metrics)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)

    # ------------------------------------------------------------------ public API
    def set_runs_dir(self, path: str | os.PathLike | None) -> None:
        """Show the runs of ``path`` (a ``<project>.runs`` folder, which may not exist yet),
        or of nothing (None, an unsaved project). Call :meth:`refresh` to read it."""
        self._runs_dir = Path(path) if path is not None else None
        self._history_cache.clear()
        watched = self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)
        if self._runs_dir is not None and self._runs_dir.is_dir():
            self._watcher.addPath(str(self._runs_dir))

    def runs_dir(self) -> Path | None:
        return self._runs_dir

    def set_active_run(self, path: str | os.PathLike | None) -> None:
        """The run being trained now (it cannot be deleted), or None."""
        self._active = Path(path) if path is not None else None
        self._update_actions()

    def refresh(self) -> None:
        """Read the runs folder again; keeps the selection and the compared metric."""
        self._debounce.stop()
        selected = set(self.selected_runs())
        root = self._runs_dir
        if root is not None and root.is_dir() and str(root) not in self._watcher.directories():
            self._watcher.addPath(str(root))
        self._runs = list_runs(root)
        metrics = sorted({k for r in self._runs for k in r.best}, key=_metric_order)
        self._set_columns(metrics[:MAX_METRIC_COLUMNS])

        self.tree.blockSignals(True)
        self.tree.clear()
        for run in self._runs:
            item = self._make_item(run)
            self.tree.addTopLevelItem(item)
            if run.path in selected:
                item.setSelected(True)
        self.tree.blockSignals(False)

        if root is None:
            self.info_label.setText("Save the project to keep its training runs.")
        elif not self._runs:
            self.info_label.setText(f"No runs in {root.name} yet: train the model to make one.")
        else:
            n = len(self._runs)
            self.info_label.setText(f"{n} run{'' if n == 1 else 's'} in {root.name}")
        self._selection_changed()

    def runs(self) -> list[RunInfo]:
        return list(self._runs)

    def selected_runs(self) -> list[Path]:
        """The selected run folders, in list order (newest first)."""
        items = {id(i) for i in self.tree.selectedItems()}
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if id(item) in items:
                out.append(Path(item.data(0, PATH_ROLE)))
        return out

    def select_runs(self, paths: list[str | os.PathLike]) -> None:
        wanted = {Path(p) for p in paths}
        self.tree.blockSignals(True)
        self.tree.clearSelection()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(Path(item.data(0, PATH_ROLE)) in wanted)
        self.tree.blockSignals(False)
        self._selection_changed()

    def compare_metric(self) -> str | None:
        return self.metric_combo.currentData()

    def set_compare_metric(self, key: str) -> bool:
        index = self.metric_combo.findData(key)
        if index >= 0:
            self.metric_combo.setCurrentIndex(index)
        return index >= 0

    def compare_metrics(self) -> list[str]:
        return [self.metric_combo.itemData(i) for i in range(self.metric_combo.count())]

    def overlay_curves(self) -> dict[str, tuple]:
        """``{run name: (epochs from 1, values)}`` of the curves drawn now."""
        return {name: (x.tolist(), y.tolist()) for name, (x, y) in self._overlay.items()}

    # ------------------------------------------------------------------ rows
    def _make_item(self, run: RunInfo) -> QTreeWidgetItem:
        active = self._active is not None and run.path == self._active
        status = "running" if active else run.status
        item = QTreeWidgetItem([run.label])
        item.setData(0, PATH_ROLE, str(run.path))
        item.setIcon(0, _dot(STATUS_COLORS.get(status, STATUS_COLORS["unreadable"])))
        if status in ("failed", "unreadable"):
            item.setForeground(0, QBrush(QColor(STATUS_COLORS[status])))
        for c, key in enumerate(self._metric_columns, start=1):
            value = run.best.get(key)
            item.setText(c, format_metric(key, value) if value is not None else "")
            item.setTextAlignment(c, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setToolTip(0, self._tooltip(run))
        return item

    @staticmethod
    def _tooltip(run: RunInfo) -> str:
        lines = [f"<b>{run.name}</b> — {run.status}"]
        if run.started:
            lines.append(f"Started {run.started.replace('T', ' ')}")
        if run.ended:
            lines.append(f"Ended {run.ended.replace('T', ' ')}")
        if run.device:
            lines.append(f"Device: {run.device}")
        if run.status != "unreadable":
            lines.append(f"Epochs: {run.epochs_done}")
        if run.best:
            best = ", ".join(
                f"{k} {format_metric(k, v)}" for k, v in sorted(run.best.items(),
                                                                key=lambda kv: _metric_order(kv[0]))
            )  # fmt: skip
            lines.append(f"Best: {best}")
        if run.test:
            test = ", ".join(f"{k} {format_metric(k, v)}" for k, v in run.test.items())
            lines.append(f"Test: {test}")
        if run.error:
            lines.append(f"<span style='color:{ERROR_RED}'>{run.error}</span>")
        lines.append(f"<small>{run.path}</small>")
        return "<br>".join(lines)

    # ------------------------------------------------------------------ selection
    def _selection_changed(self) -> None:
        paths = self.selected_runs()
        keys: list[str] = []
        for path in paths:
            for key in self._history(path):
                if key != "epoch" and key not in keys:
                    keys.append(key)
        keys.sort(key=lambda k: (k in ("lr", "learning_rate"), *_metric_order(k)))
        current = self.metric_combo.currentData()
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        for key in keys:
            self.metric_combo.addItem(key, key)
        if current in keys:
            self.metric_combo.setCurrentIndex(keys.index(current))
        elif keys:
            default = next((k for k in ("val_loss", "loss") if k in keys), keys[0])
            self.metric_combo.setCurrentIndex(keys.index(default))
        self.metric_combo.blockSignals(False)
        self.compare_hint.setVisible(len(paths) < 2)
        self._update_overlay()
        self._update_actions()

    def _history(self, path: Path) -> dict[str, list[float]]:
        stamp = []
        for name in (HISTORY_JSON, HISTORY_CSV):
            try:
                st = (path / name).stat()
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        key = tuple(stamp)
        cached = self._history_cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        history = read_history(path)
        self._history_cache[path] = (key, history)
        return history

    def _update_overlay(self) -> None:
        metric = self.metric_combo.currentData()
        item = self.plot.getPlotItem()
        for curve in list(item.listDataItems()):
            item.removeItem(curve)
        self.legend.clear()
        self._overlay = {}
        paths = self.selected_runs()
        set_plot_title(self.plot, metric if metric else "Select runs to compare their curves")
        item.setLabel("left", metric or "")
        if not metric:
            return
        higher = metric_direction(metric) == "max"
        self.legend.setOffset((-6, -6) if higher else (-6, 4))
        colors = {r.path: i for i, r in enumerate(self._runs)}
        for path in paths:
            history = self._history(path)
            ys = history.get(metric)
            if not ys:
                continue
            epochs = history.get("epoch")
            if epochs and len(epochs) == len(ys) and all(math.isfinite(e) for e in epochs):
                xs = np.asarray(epochs, dtype=float) + 1
            else:
                xs = np.arange(1, len(ys) + 1, dtype=float)
            y = np.asarray(ys, dtype=float)
            color = QColor(PALETTE[colors.get(path, 0) % len(PALETTE)])
            curve = self.plot.plot(
                xs, y, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=4,
                symbolBrush=color, symbolPen=color, connect="finite",
            )  # fmt: skip
            self.legend.addItem(curve, path.name)
            self._overlay[path.name] = (xs, y)
        item.enableAutoRange()

    def _update_actions(self) -> None:
        paths = self.selected_runs()
        one = paths[0] if len(paths) == 1 else None
        self.load_action.setEnabled(
            one is not None and any((one / f).is_file() for f in WEIGHT_FILES)
        )
        self.evaluation_action.setEnabled(one is not None and (one / EVALUATION_FILE).is_file())
        self.open_action.setEnabled(one is not None)
        deletable = bool(paths) and (self._active is None or self._active not in paths)
        self.delete_action.setEnabled(deletable)

    def _context_menu(self, pos) -> None:
        if self.tree.itemAt(pos) is None:
            return
        menu = QMenu(self)
        for action in self.actions_in_order[:-1]:
            menu.addAction(action)
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    # ------------------------------------------------------------------ actions
    def _load_weights(self) -> None:
        paths = self.selected_runs()
        if len(paths) == 1:
            self.loadWeightsRequested.emit(paths[0])

    def _show_evaluation(self) -> None:
        paths = self.selected_runs()
        if len(paths) == 1:
            self.evaluationRequested.emit(paths[0])

    def _open_folder(self) -> None:
        paths = self.selected_runs()
        if paths:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths[0])))

    def delete_selected(self) -> bool:
        """Ask, then delete the selected runs; True when something was deleted."""
        paths = [p for p in self.selected_runs() if p != self._active]
        if not paths:
            return False
        if len(paths) == 1:
            question = f"Delete the run {paths[0].name}?"
        else:
            names = ", ".join(p.name for p in paths[:4]) + (", …" if len(paths) > 4 else "")
            question = f"Delete {len(paths)} runs ({names})?"
        answer = QMessageBox.question(
            self,
            "Delete runs" if len(paths) > 1 else "Delete run",
            question + "\n\nIts models, weights, history and logs are removed from the disk. "
            "This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        errors = []
        deleted = 0
        for path in paths:
            try:
                delete_run(path)
                deleted += 1
            except (ValueError, OSError) as e:
                reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
                errors.append(f"{path.name}: {reason}")
            self._history_cache.pop(path, None)
        self.refresh()
        if errors:
            QMessageBox.warning(
                self,
                "Delete run",
                "Some runs could not be deleted:\n\n" + "\n".join(errors),
            )
        return deleted > 0

    # ------------------------------------------------------------------ watching
    def _schedule_refresh(self, *_args) -> None:
        self._debounce.start()
