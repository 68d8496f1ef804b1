"""The live training view: learning curves, progress, device, status and errors.

:class:`DashboardWidget` takes the trainer's event dicts (``docs/training.md``) as the window
drains them (``add_events``) and shows:

* **Loss**: ``loss`` and ``val_loss`` per epoch (markers; validation dashed), every other
  ``*_loss`` of a multi-output model, and the per-batch loss smoothed (an exponential moving
  average, a thin line between the epoch markers; x in fractional epochs);
* **one plot per kind of metric**: accuracy-like metrics (accuracy, AUC, precision, recall,
  F1, ...; all in 0..1) share one plot, every other metric (``mae``, ``mse``, ...) gets its
  own, each with its ``val_`` counterpart;
* **Learning rate** per epoch (a log axis once it spans more than a decade);
* a progress bar and ``"Epoch 3/10 · batch 25/45 · 1,234 samples/s · 0:12 left"``, the
  device, a status line and, after a failure, a red error box with a "Details…" button for
  the traceback. The box stays until the next run starts; the curves so far stay after an
  error or a stop.

Epoch ``e`` (0-based, as the trainer counts) is drawn at x = ``e + 1``: the end of the epoch,
where the per-batch curve arrives at it. Events only store numbers; the plots are redrawn by a
timer at most every :data:`REDRAW_MS`, never per event, so hundreds of batches a second cost
next to nothing.

The module also holds the plot styling the evaluation and runs views share
(:func:`make_plot`, :func:`series_color`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.project.runs import format_metric, metric_direction

#: The fastest the plots are redrawn while events arrive.
REDRAW_MS = 100
#: The per-batch curve is drawn with at most this many points (every k-th batch).
MAX_BATCH_POINTS = 3000
#: Weight of the moving average that smooths the per-batch loss (TensorBoard-style, debiased).
SMOOTHING = 0.9
#: Series colours (Tableau 10): metric ``i`` is drawn in ``2i`` (training) and ``2i+1``
#: (validation), so training and validation differ in colour as well as in line style.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
ERROR_RED = "#d1242f"
#: The clock of the time-left estimate (a module attribute, so tests can set the time).
_now = time.monotonic
#: Log keys that are not curves of their own.
NOT_CURVES = frozenset({"epoch", "lr", "learning_rate", "partial", "seconds", "batch", "size"})
TICK_FONT_PT = 8


# ===================================================================== shared plot styling
def series_color(index: int, validation: bool = False) -> QColor:
    """The colour of metric ``index`` (training) or of its validation counterpart."""
    return QColor(PALETTE[(2 * index + (1 if validation else 0)) % len(PALETTE)])


def plot_colors(widget: QWidget | None = None) -> tuple[QColor, QColor, QColor]:
    """(background, text, muted) colours for plots, from the application's palette: plots
    follow a light or dark theme."""
    pal = widget.palette() if widget is not None else QGuiApplication.palette()
    bg = pal.color(QPalette.ColorRole.Base)
    fg = pal.color(QPalette.ColorRole.Text)
    muted = QColor(fg)
    muted.setAlpha(140)
    return bg, fg, muted


class EpochAxis(pg.AxisItem):
    """A bottom axis that only puts ticks on whole numbers (epochs, class indices)."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        levels = [(s, o) for s, o in super().tickSpacing(minVal, maxVal, size) if s >= 1]
        return levels or [(1.0, 0.0)]


class CompactAxis(pg.AxisItem):
    """Tick labels with at most 4 significant digits (``0.0005``, ``1.2e+04``)."""

    #: When True the data are log10 of the values and the labels show the values
    #: (``-3`` reads ``0.001``): a log axis without pyqtgraph's crowded minor-tick labels.
    exponent = False

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        if not self.exponent:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = min(minVal, maxVal), max(minVal, maxVal)
        majors = [float(n) for n in range(math.floor(lo), math.ceil(hi) + 1) if lo <= n <= hi]
        minors = []
        if size / max(hi - lo, 1e-9) > 60:  # room for 1-2-5 steps within each decade
            for n in range(math.floor(lo), math.ceil(hi) + 1):
                minors += [n + f for f in (math.log10(2), math.log10(5)) if lo <= n + f <= hi]
        return [(1.0, majors), (0.5, minors)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        out = []
        for v in values:
            v = v * scale
            if self.exponent:
                out.append(f"{10.0**v:.1g}")
            else:
                out.append("0" if abs(v) < 1e-12 else f"{v:.4g}")
        return out


def make_plot(
    title: str,
    left: str = "",
    bottom: str = "epoch",
    *,
    parent: QWidget | None = None,
    integer_x: bool = True,
) -> pg.PlotWidget:
    """A PlotWidget in Studio's style: the palette's background, small readable axes and
    title, a faint grid, no pyqtgraph context menu, whole-number x ticks (``integer_x``)."""
    axes = {"left": CompactAxis("left")}
    axes["bottom"] = EpochAxis("bottom") if integer_x else CompactAxis("bottom")
    widget = pg.PlotWidget(parent=parent, axisItems=axes)
    bg, fg, muted = plot_colors(parent)
    widget.setBackground(bg)
    item = widget.getPlotItem()
    item.setMenuEnabled(False)
    item.showGrid(x=True, y=True, alpha=0.12)
    font = QFont()
    font.setPointSize(TICK_FONT_PT)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(muted))
        axis.setTextPen(pg.mkPen(fg))
        # Major and minor ticks only: fewer grid lines, cheaper to paint, cleaner.
        axis.setStyle(tickFont=font, tickTextOffset=3, maxTickLevel=1)
        axis.enableAutoSIPrefix(False)
    label_style = {"color": fg.name(), "font-size": f"{TICK_FONT_PT}pt"}
    if left:
        item.setLabel("left", left, **label_style)
    if bottom:
        item.setLabel("bottom", bottom, **label_style)
    set_plot_title(widget, title)
    widget.setMinimumSize(150, 100)
    widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return widget


def set_plot_title(widget: pg.PlotWidget, title: str) -> None:
    _, fg, _ = plot_colors(widget)
    widget.getPlotItem().setTitle(f"<b>{title}</b>", color=fg.name(), size="9pt")


def add_legend(widget: pg.PlotWidget, corner: str = "top-right", columns: int = 1):
    """A compact, half-transparent legend in a corner of the plot."""
    bg, fg, muted = plot_colors(widget)
    fill = QColor(bg)
    fill.setAlpha(210)
    offsets = {
        "top-right": (-6, 4),
        "bottom-right": (-6, -6),
        "top-left": (6, 4),
        "bottom-left": (6, -6),
    }
    legend = widget.getPlotItem().addLegend(
        offset=offsets[corner],
        labelTextColor=fg,
        labelTextSize=f"{TICK_FONT_PT}pt",
        brush=pg.mkBrush(fill),
        pen=pg.mkPen(muted),
        verSpacing=-6,
        horSpacing=4,
        colCount=columns,
    )
    return legend


def format_duration(seconds: float) -> str:
    """``0:12``, ``12:05``, ``1:02:03``."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


_ACRONYMS = {"mae", "mse", "rmse", "mape", "msle", "auc", "iou", "f1", "r2", "kl", "lr"}


def metric_title(key: str) -> str:
    """``"sparse_categorical_accuracy"`` -> ``"Sparse categorical accuracy"``, ``"val_mae"``
    -> ``"MAE"``, ``"f1_score"`` -> ``"F1 score"``."""
    words = [w for w in key.split("_") if w]
    if words[:1] == ["val"]:
        words = words[1:]
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    if not words:
        return key
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _int(value: Any, default: int = 0) -> int:
    """A non-negative whole number from ``value``, ``default`` when it is none."""
    f = _float(value)
    return int(f) if math.isfinite(f) and f >= 0 else default


# ===================================================================== storage
class _Series:
    """A growable pair of float arrays (amortised O(1) appends, no Python lists to convert)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.resize(self.x, 2 * self.n)
            self.y = np.resize(self.y, 2 * self.n)
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]


class _Plot:
    """One plot of the dashboard and its curves (by key)."""

    def __init__(self, widget: pg.PlotWidget, group: str, corner: str) -> None:
        self.widget = widget
        self.group = group
        self.bases: list[str] = []
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.legend = add_legend(widget, corner, columns=1)
        self.val_sample: pg.PlotDataItem | None = None


# ===================================================================== the widget
class DashboardWidget(QWidget):
    """Learning curves, progress and errors of the training run in progress.

    Signals:
        evaluationReceived(list): an ``evaluation`` event's ``outputs`` (for the evaluation
            view).

    Attributes:
        toolbar_layout: a QHBoxLayout at the top left, empty, for the window's Train, Pause
            and Stop buttons.
    """

    evaluationReceived = Signal(object)  # a list of results (object: no QVariant conversion)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._running = False
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw_if_visible)
        self._details_dialog: QDialog | None = None
        self.evaluation: list[dict] | None = None
        self.run_dir: Path | None = None
        self._build()
        self.reset()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(4)

        top = QHBoxLayout()
        top.setSpacing(8)
        self.toolbar_layout = QHBoxLayout()
        self.toolbar_layout.setSpacing(4)
        top.addLayout(self.toolbar_layout)
        self.status_label = QLabel()
        self.status_label.setObjectName("dashboardStatus")
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.status_label, 1)
        self.device_label = QLabel()
        self.device_label.setObjectName("dashboardDevice")
        self.device_label.setMaximumWidth(320)
        top.addWidget(self.device_label)
        outer.addLayout(top)

        row = QHBoxLayout()
        row.setSpacing(8)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedHeight(12)
        self.progress_bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        row.addWidget(self.progress_bar, 1)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("dashboardProgress")
        self.progress_label.setMinimumWidth(200)
        row.addWidget(self.progress_label)
        outer.addLayout(row)

        self.error_box = QFrame()
        self.error_box.setObjectName("errorBox")
        self.error_box.setStyleSheet(
            "#errorBox { background: #fdecea; border: 1px solid " + ERROR_RED + ";"
            " border-radius: 4px; }"
            "#errorBox QLabel { color: #82071e; background: transparent; border: none; }"
        )
        box = QHBoxLayout(self.error_box)
        box.setContentsMargins(8, 5, 6, 5)
        box.setSpacing(8)
        icon = QLabel("⚠")
        icon.setStyleSheet(f"color: {ERROR_RED}; font-size: 14pt;")
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        box.addWidget(icon)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        box.addWidget(self.error_label, 1)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Show the full error report (the Python traceback)")
        self.details_button.clicked.connect(self.show_details)
        box.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addWidget(self.error_box)

        self.plots_host = QWidget()
        self.plots_grid = QGridLayout(self.plots_host)
        self.plots_grid.setContentsMargins(0, 0, 0, 0)
        self.plots_grid.setSpacing(6)
        outer.addWidget(self.plots_host, 1)

        self.loss_plot = _Plot(make_plot("Loss", "loss", parent=self), "loss", "top-right")
        self.lr_plot = make_plot("Learning rate", "", parent=self)
        self.lr_curve = self.lr_plot.plot(
            [], [], pen=pg.mkPen(PALETTE[4], width=2), symbol="o", symbolSize=4,
            symbolBrush=PALETTE[4], symbolPen=PALETTE[4], connect="finite",
        )  # fmt: skip
        self.batch_curve = self.loss_plot.widget.plot(
            [], [], pen=pg.mkPen(QColor(31, 119, 180, 110), width=1),
            connect="finite",
        )  # fmt: skip
        self.batch_curve.setZValue(-1)
        self._metric_plots: dict[str, _Plot] = {}

    def _layout_plots(self) -> None:
        """All plots the same size, loss first and the learning rate last: one row of up to
        three, then rows of ``ceil(n / 2)`` (2x2, 3+2, 3x2, ...)."""
        grid = self.plots_grid
        while grid.count():
            grid.takeAt(0)
        plots = [self.loss_plot.widget]
        plots += [p.widget for p in self._metric_plots.values()]
        plots.append(self.lr_plot)
        n = len(plots)
        per_row = n if n <= 3 else math.ceil(n / 2) if n <= 6 else 4
        rows = math.ceil(n / per_row)
        for i, widget in enumerate(plots):
            grid.addWidget(widget, i // per_row, i % per_row)
        for r in range(max(rows, grid.rowCount())):
            grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(max(per_row, grid.columnCount())):
            grid.setColumnStretch(c, 1 if c < per_row else 0)

    # ------------------------------------------------------------------ public API
    def reset(self) -> None:
        """Forget everything: curves, progress, status, device, error."""
        self._clear_curves()
        self._epochs_total = 0
        self._steps = 0
        self._samples = 0
        self._initial_epoch = 0
        self._epoch = 0
        self._batch = -1
        self._rate = 0.0
        self._t0: float | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._left: float | None = None
        self._ended = False
        self.evaluation = None
        self.run_dir = None
        self.device_label.setText("")
        self.device_label.setToolTip("")
        self.status_label.setText("Not trained yet.")
        self.clear_error()
        self._set_bar(0.0)
        self.progress_label.setText("")
        self.flush()

    def start(self, info: dict) -> None:
        """A run starts (the trainer's ``start`` event): clear the curves and the error, note
        the number of epochs, batches per epoch and samples. :meth:`add_events` calls it for
        a ``start`` event, so the window need not."""
        self._clear_curves()
        self.clear_error()
        self._epochs_total = _int(info.get("epochs"))
        self._steps = _int(info.get("steps"))
        self._samples = _int(info.get("samples"))
        self._initial_epoch = _int(info.get("initial_epoch"))
        self._epoch = self._initial_epoch
        self._batch = -1
        self._rate = 0.0
        self._t0 = _now()
        self._paused_at = None
        self._paused_total = 0.0
        self._left = None
        self._ended = False
        self.evaluation = None
        run_dir = info.get("run_dir")
        self.run_dir = Path(run_dir) if run_dir else None
        # Lay the curves out before the first batch, one every 20 ms (not all in one repaint).
        keys = [k for k in info.get("metrics") or () if isinstance(k, str)]
        self._setup_jobs = [lambda k=k: self._note_key(k) for k in keys]
        QTimer.singleShot(20, self._next_setup_job)
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)
        self._set_bar(self._fraction())
        self._update_progress_text()
        for plot in self._all_plots():
            plot.widget.getPlotItem().enableAutoRange()
        if self._epochs_total:
            for plot in self._all_plots():
                self._set_epoch_range(plot.widget)
            self._set_epoch_range(self.lr_plot)
        self._schedule()

    def set_running(self, running: bool) -> None:
        """The window's training state. Going from idle to running clears the previous run's
        error and shows a busy bar until the first batch; the curves stay until ``start``."""
        running = bool(running)
        if running and not self._running and (self._t0 is None or self._ended):
            self.clear_error()
            self.progress_bar.setRange(0, 0)  # busy until the first batch or a fraction
            self.progress_label.setText("")
            self.status_label.setText("Starting…")
        elif not running and self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)
            self._set_bar(self._fraction() if self._t0 is not None else 0.0)
        self._running = running

    def is_running(self) -> bool:
        return self._running

    def add_events(self, events: list[dict]) -> None:
        """Take the trainer's events, in order. Unknown or malformed events are skipped;
        the plots are redrawn later (at most every :data:`REDRAW_MS`)."""
        progress = False
        for event in events or ():
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            handler = self._HANDLERS.get(kind)
            if handler is None:
                continue
            try:
                progress |= bool(handler(self, event))
            except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
                continue  # a malformed event must never take the window down
        if progress:
            self._update_progress_text()
        self._schedule()

    def flush(self) -> None:
        """Redraw the plots now (the timer does it by itself while events arrive)."""
        self._timer.stop()
        self._redraw()
        while self._plot_jobs:
            self._plot_jobs.pop(0)()

    # ------------------------------------------------------------------ for tests / callers
    def epoch_curve(self, key: str) -> tuple[list[float], list[float]]:
        """(x, y) of the per-epoch curve ``key`` (``"loss"``, ``"val_accuracy"``, ``"lr"``):
        x is the epoch number counted from 1 (the end of the epoch), y NaN where an epoch did
        not log ``key``. Empty lists for a key never logged."""
        epochs = sorted(self._epoch_rows)
        if not any(key in self._epoch_rows[e] for e in epochs):
            return [], []
        return [float(e + 1) for e in epochs], [
            _float(self._epoch_rows[e].get(key, math.nan)) for e in epochs
        ]

    def epoch_keys(self) -> list[str]:
        """Every log key seen (in batches or epochs) that has a curve, in the order first
        seen."""
        return list(self._keys)

    def batch_points(self) -> int:
        """How many batch events this run has received."""
        return self._batch_count

    def batch_curve_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x in fractional epochs, smoothed loss) of the per-batch curve."""
        x, y = self._batch_series.data()
        return x.copy(), y.copy()

    def plot_titles(self) -> list[str]:
        """The plots' groups, in layout order: ``["loss", <metric groups>..., "lr"]``."""
        return ["loss", *self._metric_plots, "lr"]

    def progress_text(self) -> str:
        return self.progress_label.text()

    def status_text(self) -> str:
        return self.status_label.text()

    def device_text(self) -> str:
        return self.device_label.text()

    def error_text(self) -> str:
        """The error box's message ("" when no error is shown)."""
        return self.error_label.text() if not self.error_box.isHidden() else ""

    def error_detail(self) -> str:
        return self._error_detail

    # ------------------------------------------------------------------ errors
    def show_error(self, message: str, detail: str = "", where: str | None = None) -> None:
        """Show ``message`` in the red box (until the next run starts); ``detail`` (a
        traceback) behind "Details…"."""
        text = message.strip() or "Training failed."
        self._error_message = text
        self._error_detail = detail or ""
        self.error_label.setText(text)
        self.error_label.setToolTip(f"About: {where}" if where else "")
        self.details_button.setVisible(bool(self._error_detail.strip()))
        self.error_box.show()

    def clear_error(self) -> None:
        self._error_message = ""
        self._error_detail = ""
        self.error_label.setText("")
        self.error_box.hide()

    def show_details(self) -> QDialog:
        """Open (non-blocking) the dialog with the error's full report; returns it."""
        if self._details_dialog is not None:
            self._details_dialog.close()
        dialog = QDialog(self)
        dialog.setWindowTitle("Training error — details")
        dialog.resize(720, 420)
        layout = QVBoxLayout(dialog)
        head = QLabel(self._error_message)
        head.setWordWrap(True)
        layout.addWidget(head)
        text = QPlainTextEdit()
        text.setObjectName("errorDetail")
        text.setReadOnly(True)
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        text.setPlainText(self._error_detail or "(no details)")
        layout.addWidget(text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(
                f"{self._error_message}\n\n{self._error_detail}"
            )
        )
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: setattr(self, "_details_dialog", None))
        self._details_dialog = dialog
        dialog.open()
        return dialog

    # ------------------------------------------------------------------ events
    def _on_status(self, e: dict) -> bool:
        self.status_label.setText(str(e.get("text") or ""))
        fraction = _float(e.get("fraction"))
        if self._t0 is None and math.isfinite(fraction):  # loading data, before the start
            if self.progress_bar.maximum() == 0:
                self.progress_bar.setRange(0, 1000)
            self._set_bar(fraction)
        return False

    def _on_device(self, e: dict) -> bool:
        text = str(e.get("text") or "").strip()
        # A distribution strategy: "2 replicas (MirroredStrategy on CPU:0, CPU:1)".
        strategy = str(e.get("strategy") or "").strip()
        replicas = e.get("replicas")
        several = isinstance(replicas, int) and replicas > 1
        if strategy and (several or "MultiWorker" in strategy):
            self.device_label.setText(f"{strategy} · {text}" if text else strategy)
            self.device_label.setToolTip(f"{strategy}\n{text}")
            self.device_label.setMaximumWidth(560)
            return False
        self.device_label.setMaximumWidth(320)
        self.device_label.setText(f"Device: {text}" if text else "")
        self.device_label.setToolTip(text)
        return False

    def _on_start(self, e: dict) -> bool:
        self.start(e)
        return True

    def _on_batch(self, e: dict) -> bool:
        epoch = int(e.get("epoch", self._epoch))
        batch = int(e.get("batch", self._batch + 1))
        self._epoch, self._batch = epoch, batch
        rate = _float(e.get("samples_per_second"))
        if math.isfinite(rate) and rate > 0:
            self._rate = rate
        self._batch_count += 1
        if self._batch_count == 1:  # the smoothed batch curve joins the loss plot's legend
            self._style_plot(self.loss_plot)
        if batch + 1 > self._max_batch:
            self._max_batch = batch + 1
        steps = self._steps or self._max_batch
        x = epoch + (batch + 1) / max(1, steps)
        logs = e.get("logs") or {}
        for key in logs:
            self._note_key(key)
        loss = _float(logs.get("loss"))
        if math.isfinite(loss):
            self._ema = SMOOTHING * self._ema + (1 - SMOOTHING) * loss
            self._ema_n += 1
            self._batch_series.append(x, self._ema / (1 - SMOOTHING**self._ema_n))
        return True

    def _on_epoch(self, e: dict) -> bool:
        epoch = int(e["epoch"])
        logs = dict(e.get("logs") or {})
        lr = _float(e.get("lr"))
        if not math.isfinite(lr):
            lr = _float(logs.get("lr", logs.get("learning_rate")))
        row = {k: _float(v) for k, v in logs.items() if isinstance(k, str)}
        row.pop("learning_rate", None)
        if math.isfinite(lr):
            row["lr"] = lr
        self._epoch_rows[epoch] = row
        self._epoch_changes += 1
        for key in row:
            self._note_key(key)
        self._epoch = epoch
        self._batch = (self._steps or self._max_batch) - 1
        return True

    def _on_paused(self, e: dict) -> bool:
        if self._paused_at is None:
            self._paused_at = _now()
        self.status_label.setText("Paused — Resume to go on, Stop to end the run.")
        return False

    def _on_resumed(self, e: dict) -> bool:
        if self._paused_at is not None:
            self._paused_total += _now() - self._paused_at
            self._paused_at = None
        self.status_label.setText("Training…")
        return False

    def _on_evaluation(self, e: dict) -> bool:
        outputs = e.get("outputs")
        if isinstance(outputs, list):
            self.evaluation = outputs
            parts = []
            for out in outputs:
                if not isinstance(out, dict):
                    continue
                name = out.get("output", "")
                if out.get("task") == "classification" and out.get("accuracy") is not None:
                    parts.append(f"{name} accuracy {_float(out['accuracy']):.1%}")
                elif out.get("mae") is not None:
                    parts.append(f"{name} MAE {_float(out['mae']):.4g}")
            self.status_label.setText(
                "Evaluated on the test split" + (": " + ", ".join(parts) if parts else ".")
            )
            self.evaluationReceived.emit(outputs)
        return False

    def _on_finished(self, e: dict) -> bool:
        self._fill_from_history(e.get("history"))
        self._ended = True
        self._paused_at = None
        status = e.get("status", "finished")
        done = len(self._epoch_rows)
        seconds = _float(e.get("seconds"))
        took = f" in {format_duration(seconds)}" if math.isfinite(seconds) else ""
        if status == "stopped":
            text = f"Stopped after {done} epoch{'' if done == 1 else 's'}{took}."
        else:
            text = f"Finished: {done} epoch{'' if done == 1 else 's'}{took}."
            self._set_bar(1.0)
        extras = []
        best = e.get("best") or {}
        for key in ("val_accuracy", "val_loss", "accuracy", "loss"):
            if key in best and math.isfinite(_float(best[key])):
                extras.append(f"best {key} {format_metric(key, _float(best[key]))}")
                break
        test = e.get("test") or {}
        for key in ("accuracy", "loss"):
            if key in test and math.isfinite(_float(test[key])):
                extras.append(f"test {key} {format_metric(key, _float(test[key]))}")
                break
        self.status_label.setText(text + (" " + " · ".join(extras) if extras else ""))
        self._left = None
        return True

    def _on_error(self, e: dict) -> bool:
        self._fill_from_history(e.get("history"))
        self._ended = True
        self._paused_at = None
        self.show_error(str(e.get("message") or ""), str(e.get("detail") or ""), e.get("where"))
        self.status_label.setText("Training failed." if self._t0 is not None else "Failed.")
        if self.progress_bar.maximum() == 0:
            self.progress_bar.setRange(0, 1000)
            self._set_bar(self._fraction() if self._t0 is not None else 0.0)
        self._left = None
        return self._t0 is not None

    _HANDLERS = {
        "status": _on_status,
        "device": _on_device,
        "start": _on_start,
        "batch": _on_batch,
        "epoch": _on_epoch,
        "paused": _on_paused,
        "resumed": _on_resumed,
        "evaluation": _on_evaluation,
        "finished": _on_finished,
        "error": _on_error,
    }

    def _fill_from_history(self, history: Any) -> None:
        """Add epochs the events missed from a ``finished``/``error`` event's history."""
        if not isinstance(history, list):
            return
        for row in history:
            if not isinstance(row, dict) or "epoch" not in row:
                continue
            epoch = int(_float(row["epoch"]))
            if epoch in self._epoch_rows:
                continue
            values = {
                k: _float(v) for k, v in row.items() if k not in ("epoch", "partial")
            }  # fmt: skip
            self._epoch_rows[epoch] = values
            self._epoch_changes += 1
            for key in values:
                self._note_key(key)

    # ------------------------------------------------------------------ progress
    def _fraction(self) -> float:
        total = self._epochs_total - self._initial_epoch
        if total <= 0:
            return 0.0
        steps = self._steps or self._max_batch or 1
        done = (self._epoch - self._initial_epoch) + min(1.0, (self._batch + 1) / steps)
        return max(0.0, min(1.0, done / total))

    def _set_bar(self, fraction: float) -> None:
        if self.progress_bar.maximum() == 0 and self._t0 is not None:
            self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(int(round(max(0.0, min(1.0, fraction)) * 1000)))

    def _update_progress_text(self) -> None:
        if self._t0 is None:
            return
        fraction = self._fraction()
        if not self._ended or fraction >= 1.0:
            self._set_bar(fraction)
        epochs = self._epochs_total
        shown_epoch = min(self._epoch + 1, epochs) if epochs else self._epoch + 1
        parts = [f"Epoch {shown_epoch}/{epochs}" if epochs else f"Epoch {shown_epoch}"]
        if self._batch >= 0:
            steps = self._steps
            parts.append(
                f"batch {self._batch + 1}/{steps}" if steps else f"batch {self._batch + 1}"
            )
        if self._rate > 0:
            parts.append(f"{self._rate:,.0f} samples/s")
        if not self._ended:
            now = _now()
            paused = self._paused_total + (now - self._paused_at if self._paused_at else 0.0)
            elapsed = now - self._t0 - paused
            if 0.02 < fraction < 1.0 and elapsed > 1.0:
                self._left = elapsed * (1.0 - fraction) / fraction
            if self._left is not None:
                parts.append(f"{format_duration(self._left)} left")
        self.progress_label.setText(" · ".join(parts))

    # ------------------------------------------------------------------ curves
    def _clear_curves(self) -> None:
        self._epoch_rows: dict[int, dict[str, float]] = {}
        self._epoch_changes = 0
        self._drawn_changes = -1
        self._plot_jobs: list = []
        self._keys: list[str] = []
        self._batch_series = _Series()
        self._batch_count = 0
        self._max_batch = 0
        self._ema = 0.0
        self._ema_n = 0
        # Keep the metric plots for the next run (a new PlotWidget costs a first full paint,
        # which would stall the window when the next run starts); only their curves go.
        spare = getattr(self, "_spare_plots", {})
        if "metrics" not in self._metric_plots and "metrics" not in spare:
            # Accuracy-like metrics are almost always there: their plot is part of the empty
            # layout, so a run's start adds curves instead of re-laying out the dashboard.
            spare["metrics"] = _Plot(make_plot("Metrics", "", parent=self), "metrics",
                                     "bottom-right")  # fmt: skip
        for group, plot in self._metric_plots.items():
            for key in list(plot.curves):
                plot.widget.removeItem(plot.curves.pop(key))
            plot.bases = []
            plot.legend.clear()
            spare[group] = plot
        keep = spare.pop("metrics")
        set_plot_title(keep.widget, "Metrics")
        keep.widget.show()
        for plot in spare.values():
            plot.widget.hide()
        self._spare_plots = spare
        self._metric_plots = {"metrics": keep}
        for key in list(self.loss_plot.curves):
            self.loss_plot.widget.removeItem(self.loss_plot.curves.pop(key))
        self.loss_plot.bases = []
        self.loss_plot.legend.clear()
        self._layout_plots()
        self._dirty = True

    def _note_key(self, key: str) -> None:
        if key in self._keys or key in NOT_CURVES:
            return
        self._keys.append(key)
        base = key[4:] if key.startswith("val_") else key
        direction = metric_direction(base)
        if "loss" in base.split("_") or base == "loss":
            plot = self.loss_plot
        else:
            group = "metrics" if direction == "max" else base
            plot = self._metric_plots.get(group)
            if plot is None and group in getattr(self, "_spare_plots", {}):
                plot = self._spare_plots.pop(group)
                set_plot_title(plot.widget, metric_title(base))
                plot.widget.show()
                self._metric_plots[group] = plot
                if self._epochs_total:
                    self._set_epoch_range(plot.widget)
                self._layout_plots()
            if plot is None:
                corner = "bottom-right" if direction == "max" else "top-right"
                plot = _Plot(make_plot(metric_title(base), "", parent=self), group, corner)
                self._metric_plots[group] = plot
                if self._epochs_total:
                    self._set_epoch_range(plot.widget)
                self._layout_plots()
        if base not in plot.bases:
            plot.bases.append(base)
            if plot.group == "metrics":
                set_plot_title(
                    plot.widget, metric_title(base) if len(plot.bases) == 1 else "Metrics"
                )
                plot.widget.getPlotItem().setLabel(
                    "left", plot.bases[0] if len(plot.bases) == 1 else "value"
                )
            elif plot is not self.loss_plot:
                plot.widget.getPlotItem().setLabel("left", base)
        index = plot.bases.index(base)
        self._add_curve(plot, key, index, key.startswith("val_"))

    def _add_curve(self, plot: _Plot, key: str, index: int, validation: bool) -> None:
        curve = plot.widget.plot([], [], name=None, symbol="o", symbolSize=5, connect="finite")
        plot.curves[key] = curve
        self._style_plot(plot)

    def _style_plot(self, plot: _Plot) -> None:
        """Colours and legend of ``plot``. One metric: training blue and validation orange,
        each in the legend. Several: one colour per metric, validation dashed with hollow
        markers, and the legend names the metrics once plus a "validation" entry."""
        bg, _, muted = plot_colors(self)
        single = len(plot.bases) == 1
        legend = plot.legend
        legend.clear()
        order = sorted(
            plot.curves,
            key=lambda k: (plot.bases.index(k[4:] if k.startswith("val_") else k),
                           k.startswith("val_")),
        )  # fmt: skip
        any_val = False
        for key in order:
            validation = key.startswith("val_")
            base = key[4:] if validation else key
            index = plot.bases.index(base)
            color = series_color(0, validation) if single else QColor(PALETTE[index % 10])
            pen = pg.mkPen(color, width=2)
            if validation:
                pen.setStyle(Qt.PenStyle.DashLine)
            curve = plot.curves[key]
            curve.setPen(pen)
            curve.setSymbolPen(pg.mkPen(color, width=1.5))
            curve.setSymbolBrush(pg.mkBrush(bg if validation else color))
            any_val |= validation
            if single or not validation:
                legend.addItem(curve, key)
        if not single and any_val:
            if plot.val_sample is None:
                pen = pg.mkPen(muted, width=2)
                pen.setStyle(Qt.PenStyle.DashLine)
                plot.val_sample = pg.PlotDataItem(
                    [], [], pen=pen, symbol="o", symbolSize=5, symbolPen=pg.mkPen(muted),
                    symbolBrush=pg.mkBrush(bg),
                )  # fmt: skip
            legend.addItem(plot.val_sample, "val_… (dashed)")
        if plot is self.loss_plot and self._batch_count > 0:
            legend.addItem(self.batch_curve, "batches (smoothed)")

    def _set_epoch_range(self, widget: pg.PlotWidget) -> None:
        """Show the whole run on x (room for the last tick's label)."""
        widget.setXRange(self._initial_epoch - 0.2, self._epochs_total + 0.45, padding=0)

    def _all_plots(self) -> list[_Plot]:
        return [self.loss_plot, *self._metric_plots.values()]

    def _schedule(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def _redraw_if_visible(self) -> None:
        if self.isVisible():
            self._redraw()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._dirty:
            self._schedule()

    def _redraw(self) -> None:
        """Draw what changed. The smoothed batch curve (one plot) is redrawn every time; the
        per-epoch curves only when an epoch was added, one plot per turn of the event loop,
        so that no single repaint of every plot holds the window up."""
        self._dirty = False
        bx, by = self._batch_series.data()
        if len(bx) > MAX_BATCH_POINTS:  # the curve is smooth: every k-th point and the last
            step = math.ceil(len(bx) / MAX_BATCH_POINTS)
            bx = np.append(bx[::step], bx[-1])
            by = np.append(by[::step], by[-1])
        self.batch_curve.setData(bx.copy(), by.copy())
        if self._epoch_changes == self._drawn_changes:
            return
        self._drawn_changes = self._epoch_changes
        epochs = sorted(self._epoch_rows)
        xs = np.array([e + 1 for e in epochs], dtype=float)
        self._plot_jobs = [
            (lambda plot=plot: self._draw_epoch_curves(plot, epochs, xs))
            for plot in self._all_plots()
        ] + [lambda: self._draw_lr(epochs, xs)]
        self._next_plot_job()

    def _next_setup_job(self) -> None:
        jobs = getattr(self, "_setup_jobs", [])
        if jobs:
            jobs.pop(0)()
        if jobs:
            QTimer.singleShot(20, self._next_setup_job)

    def _next_plot_job(self) -> None:
        if self._plot_jobs:
            self._plot_jobs.pop(0)()
        if self._plot_jobs:
            QTimer.singleShot(20, self._next_plot_job)  # let each plot paint on its own

    def _draw_epoch_curves(self, plot: _Plot, epochs: list[int], xs: np.ndarray) -> None:
        for key, curve in plot.curves.items():
            ys = np.array([self._epoch_rows[e].get(key, math.nan) for e in epochs], float)
            curve.setData(xs, ys)

    def _draw_lr(self, epochs: list[int], xs: np.ndarray) -> None:
        lr = np.array([self._epoch_rows[e].get("lr", math.nan) for e in epochs], float)
        finite = lr[np.isfinite(lr) & (lr > 0)]
        log = bool(finite.size) and float(finite.max()) / float(finite.min()) > 10.0
        axis = self.lr_plot.getPlotItem().getAxis("left")
        if log != axis.exponent:
            axis.exponent = log
            axis.picture = None
            axis.update()
            set_plot_title(self.lr_plot, "Learning rate (log scale)" if log else "Learning rate")
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                lr = np.where(lr > 0, np.log10(lr), np.nan)
        self.lr_curve.setData(xs, lr)
        view = self.lr_plot.getPlotItem().getViewBox()
        if finite.size and not log and float(finite.max()) - float(finite.min()) < 1e-3 * float(
            finite.max()
        ):
            # A constant rate: centre it (auto-range would show 0 ± 0.5 and hide the value).
            v = float(finite.max())
            view.setYRange(v * 0.5, v * 1.5, padding=0)
        else:
            view.enableAutoRange(axis="y")
