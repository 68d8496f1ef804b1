"""The test-set evaluation of a run: how good the trained model is, output by output.

:class:`EvaluationWidget` shows the evaluation results of ``docs/training.md`` (one dict per
model output; a combo picks the output when there are several):

* **classification**: the confusion matrix (rows: true class, columns: predicted class; the
  colour is the share of the true class, so rare classes read as well as common ones; the
  count is written in each cell), a table of per-class precision, recall and support, the
  overall accuracy, and a grid of sample predictions (image thumbnails or text snippets) with
  ``"true: 3 · pred: 8 (0.61)"``, mistakes first and marked red;
* **regression**: predicted against true values with the ``y = x`` line, the residuals
  (predicted − true) against the true values, MAE, RMSE and R².

Malformed results are shown as a sentence, never as a traceback.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QImage,
    QPainter,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from studio.ui.training.dashboard import ERROR_RED, PALETTE, make_plot, plot_colors

THUMB = 64
#: Counts are written in the cells up to this many classes (beyond, hover a cell).
MAX_CELL_TEXT = 25
_BLUES = pg.ColorMap(pos=[0.0, 0.5, 1.0], color=[(247, 251, 255), (107, 174, 214), (8, 48, 107)])
_MISTAKE_BG = QColor(253, 236, 234)


def _f(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


def image_pixmap(image: Any, size: int = THUMB, mistake: bool = False) -> QPixmap | None:
    """A thumbnail of an image given as nested lists ((h, w), (h, w, 1), (h, w, 3) or
    (h, w, 4)) in any range: scaled to 0..255 (by its maximum, or stretched when it has
    negative values), enlarged without blurring when small, with a red frame for a mistake.
    None when ``image`` is not an image."""
    try:
        a = np.asarray(image, dtype=float)
    except (TypeError, ValueError):
        return None
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[1] < 1:
        return None
    if a.ndim == 3 and a.shape[-1] not in (3, 4):
        return None
    a = np.nan_to_num(a)
    lo, hi = float(a.min()), float(a.max())
    if lo < 0:
        a = (a - lo) / max(hi - lo, 1e-9) * 255
    elif hi <= 1.0:
        a = a * 255
    else:  # 0..255, 0..16 (scikit-learn's digits), 0..65535: stretch to full brightness
        a = a / hi * 255
    a = np.ascontiguousarray(np.clip(np.round(a), 0, 255).astype(np.uint8))
    h, w = a.shape[:2]
    if a.ndim == 2:
        img = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        a = np.ascontiguousarray(a[..., :3])
        img = QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    mode = (
        Qt.TransformationMode.FastTransformation
        if max(h, w) < size
        else Qt.TransformationMode.SmoothTransformation
    )
    scaled = img.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    x = (size - scaled.width()) // 2
    y = (size - scaled.height()) // 2
    painter.drawImage(x, y, scaled)
    if mistake:
        painter.setPen(QPen(QColor(ERROR_RED), 3))
        painter.drawRect(x + 1, y + 1, scaled.width() - 3, scaled.height() - 3)
    painter.end()
    return pix


class _NumberItem(QTableWidgetItem):
    """A table cell that shows ``text`` and sorts by ``value``."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _NumberItem):
            a = -math.inf if math.isnan(self.value) else self.value
            b = -math.inf if math.isnan(other.value) else other.value
            return a < b
        return super().__lt__(other)


class EvaluationWidget(QWidget):
    """Confusion matrix, per-class figures and sample predictions (classification), or
    predicted-versus-true and residuals (regression), for each output of a model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._outputs: list[dict] = []
        self._matrix: np.ndarray | None = None
        self._classes: list[str] = []
        self._cell_texts: list[pg.TextItem] = []
        self._samples = 0
        self._build()
        self.clear()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(4)
        top = QHBoxLayout()
        top.setSpacing(6)
        self.output_label = QLabel("Output:")
        top.addWidget(self.output_label)
        self.output_combo = QComboBox()
        self.output_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.output_combo.currentIndexChanged.connect(self._show_current)
        top.addWidget(self.output_combo)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("evaluationSummary")
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.summary_label, 1)
        outer.addLayout(top)

        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.stack.addWidget(self.placeholder)

        # ---- classification
        self.class_page = QSplitter(Qt.Orientation.Horizontal)
        self.class_page.setChildrenCollapsible(False)
        self.cm_plot = make_plot("Confusion matrix", "true", "predicted", integer_x=False)
        item = self.cm_plot.getPlotItem()
        item.showGrid(x=False, y=False)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.invertY(True)
        item.setAspectLocked(True)
        self.cm_image = pg.ImageItem(axisOrder="row-major")
        self.cm_image.setLookupTable(_BLUES.getLookupTable(nPts=256))
        item.addItem(self.cm_image)
        self.cm_plot.setMinimumWidth(260)
        self.cm_plot.scene().sigMouseMoved.connect(self._cm_hover)
        item.vb.sigResized.connect(self._update_class_ticks)
        self._ticks: tuple = ([], [])
        self.class_page.addWidget(self.cm_plot)

        right = self._right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        self.class_table = QTableWidget(0, 4)
        self.class_table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "Support"])
        self.class_table.verticalHeader().setVisible(False)
        self.class_table.verticalHeader().setDefaultSectionSize(20)
        self.class_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.class_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.class_table.setAlternatingRowColors(True)
        header = self.class_table.horizontalHeader()
        for c in (0, 1, 2, 3):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        right.addWidget(self.class_table)

        samples = QWidget()
        box = QVBoxLayout(samples)
        box.setContentsMargins(0, 4, 0, 0)
        box.setSpacing(2)
        self.samples_label = QLabel("Sample predictions (mistakes first)")
        box.addWidget(self.samples_label)
        self.sample_list = QListWidget()
        self.sample_list.setObjectName("samplePredictions")
        self.sample_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.sample_list.setWordWrap(True)
        self.sample_list.setUniformItemSizes(True)
        box.addWidget(self.sample_list, 1)
        right.addWidget(samples)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        self.class_page.addWidget(right)
        self.class_page.setStretchFactor(0, 1)
        self.class_page.setStretchFactor(1, 1)
        self.stack.addWidget(self.class_page)

        # ---- regression
        self.reg_page = QSplitter(Qt.Orientation.Horizontal)
        self.reg_page.setChildrenCollapsible(False)
        self.scatter_plot = make_plot("Predicted vs true", "predicted", "true", integer_x=False)
        self.residual_plot = make_plot(
            "Residuals (predicted − true)", "residual", "true", integer_x=False
        )
        self.reg_page.addWidget(self.scatter_plot)
        self.reg_page.addWidget(self.residual_plot)
        _, fg, muted = plot_colors(self)
        brush = QColor(PALETTE[0])
        brush.setAlpha(150)
        self.scatter = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(brush))
        self.scatter_plot.addItem(self.scatter)
        line_pen = pg.mkPen(QColor(PALETTE[3]), width=1.5, style=Qt.PenStyle.DashLine)
        self.identity = pg.PlotDataItem([], [], pen=line_pen)
        self.scatter_plot.addItem(self.identity)
        self.residuals = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(brush))
        self.residual_plot.addItem(self.residuals)
        self.zero_line = pg.InfiniteLine(pos=0, angle=0, pen=line_pen)
        self.residual_plot.addItem(self.zero_line)
        self.stack.addWidget(self.reg_page)

    # ------------------------------------------------------------------ public API
    def clear(self, message: str = "") -> None:
        """Show nothing but ``message`` (default: how to get an evaluation)."""
        self._outputs = []
        self._matrix = None
        self._samples = 0
        self.output_combo.blockSignals(True)
        self.output_combo.clear()
        self.output_combo.blockSignals(False)
        self._set_combo_visible(False)
        self.summary_label.setText("")
        self.placeholder.setText(
            message
            or "No evaluation yet. Train with a test split (Data panel), or pick a run and "
            "choose “Show evaluation”."
        )
        self.stack.setCurrentWidget(self.placeholder)

    def show_results(self, outputs: list[dict] | None) -> None:
        """Show evaluation results (one dict per model output, ``docs/training.md``)."""
        if not isinstance(outputs, list) or not outputs:
            self.clear()
            return
        valid = [o for o in outputs if isinstance(o, dict)]
        if not valid:
            self.clear("This evaluation holds no results that can be shown.")
            return
        self._outputs = valid
        self.output_combo.blockSignals(True)
        self.output_combo.clear()
        for i, out in enumerate(valid):
            name = str(out.get("output") or f"output {i + 1}")
            self.output_combo.addItem(f"{name} ({out.get('task', '?')})", name)
        self.output_combo.setCurrentIndex(0)
        self.output_combo.blockSignals(False)
        self._set_combo_visible(len(valid) > 1)
        self._show_current()

    def current_output(self) -> str | None:
        """The name of the output shown (None when nothing is shown)."""
        if not self._outputs:
            return None
        return self.output_combo.currentData()

    def set_current_output(self, name: str) -> bool:
        index = self.output_combo.findData(name)
        if index >= 0:
            self.output_combo.setCurrentIndex(index)
        return index >= 0

    def confusion_matrix(self) -> np.ndarray | None:
        """The counts shown (rows: true class, columns: predicted), or None."""
        return None if self._matrix is None else self._matrix.copy()

    def class_names(self) -> list[str]:
        return list(self._classes)

    def sample_count(self) -> int:
        """Sample predictions shown (classification) or points plotted (regression)."""
        return self._samples

    def summary_text(self) -> str:
        return self.summary_label.text()

    # ------------------------------------------------------------------ showing
    def _set_combo_visible(self, visible: bool) -> None:
        self.output_label.setVisible(visible)
        self.output_combo.setVisible(visible)

    def _show_current(self) -> None:
        index = self.output_combo.currentIndex()
        if not (0 <= index < len(self._outputs)):
            return
        out = self._outputs[index]
        self._matrix = None
        self._samples = 0
        try:
            if out.get("task") == "regression" or ("y_true" in out and "confusion" not in out):
                self._show_regression(out)
            else:
                self._show_classification(out)
        except (TypeError, ValueError, KeyError, IndexError) as e:
            self._matrix = None
            self._samples = 0
            self.summary_label.setText("")
            self.placeholder.setText(
                f"The evaluation of “{out.get('output', '?')}” cannot be shown: it is "
                f"incomplete or malformed ({type(e).__name__})."
            )
            self.stack.setCurrentWidget(self.placeholder)

    def _show_classification(self, out: dict) -> None:
        m = np.asarray(out["confusion"], dtype=float)
        if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
            raise ValueError("the confusion matrix is not square")
        n = m.shape[0]
        classes = [str(c) for c in (out.get("classes") or [])][:n]
        classes += [str(i) for i in range(len(classes), n)]
        self._classes = classes
        counts = np.nan_to_num(m).round().astype(int)
        support = counts.sum(1)
        predicted = counts.sum(0)
        diag = np.diag(counts).astype(float)
        precision = self._per_class(out.get("precision"), n, diag, predicted)
        recall = self._per_class(out.get("recall"), n, diag, support)
        total = int(counts.sum())
        accuracy = _f(out.get("accuracy"))
        if not math.isfinite(accuracy):
            accuracy = float(diag.sum() / total) if total else math.nan

        self._draw_matrix(counts, support, classes)
        self._fill_table(classes, precision, recall, support)
        self._fill_samples(out.get("samples") or [])

        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
        parts = [f"Accuracy {accuracy:.1%}" if math.isfinite(accuracy) else "Accuracy –"]
        parts.append(f"macro F1 {float(np.nanmean(f1)):.3f}")
        parts.append(f"{total:,} test samples · {n} classes")
        self.summary_label.setText(" · ".join(parts))
        self._matrix = counts
        self.stack.setCurrentWidget(self.class_page)
        total = sum(self.class_page.sizes()) or 900
        self.class_page.setSizes([int(total * 0.56), total - int(total * 0.56)])

    @staticmethod
    def _per_class(values: Any, n: int, diag: np.ndarray, totals: np.ndarray) -> np.ndarray:
        if isinstance(values, list) and len(values) == n:
            return np.array([_f(v) for v in values], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, diag / np.maximum(totals, 1), 0.0)

    def _draw_matrix(self, counts: np.ndarray, support: np.ndarray, classes: list[str]) -> None:
        n = len(classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(support[:, None] > 0, counts / np.maximum(support[:, None], 1), 0.0)
        self.cm_image.setImage(share, levels=(0.0, 1.0), autoLevels=False)
        self.cm_image.setRect(0, 0, n, n)
        item = self.cm_plot.getPlotItem()
        for t in self._cell_texts:
            item.removeItem(t)
        self._cell_texts = []
        if n <= MAX_CELL_TEXT:
            font = QFont()
            font.setPointSize(9 if n <= 8 else 8 if n <= 12 else 7)
            for r in range(n):
                for c in range(n):
                    dark = share[r, c] > 0.45
                    color = QColor("#ffffff") if dark else QColor("#1f2328")
                    if counts[r, c] == 0:
                        color.setAlpha(110)
                    text = pg.TextItem(f"{counts[r, c]:,}", color=color, anchor=(0.5, 0.5))
                    text.setFont(font)
                    text.setPos(c + 0.5, r + 0.5)
                    item.addItem(text)
                    self._cell_texts.append(text)
        item.setRange(xRange=(0, n), yRange=(0, n), padding=0.0)
        self._update_class_ticks()

    def _update_class_ticks(self) -> None:
        """Class names on the axes, shortened to fit a cell's width; class numbers on the
        predicted axis when names do not fit (the true axis and the tooltips name them)."""
        classes = self._classes
        n = len(classes)
        if not n:
            return
        item = self.cm_plot.getPlotItem()
        cell = item.vb.width() / n if item.vb.width() > 0 else 600 / n
        font = QFont()
        font.setPointSize(8)
        fm = QFontMetrics(font)
        step = max(1, math.ceil(n / 30))
        room = int(cell * step) - 8
        names = [fm.elidedText(c, Qt.TextElideMode.ElideRight, room) for c in classes]
        # Numbers when a name would keep fewer than 3 letters; the true axis names them.
        numbers = any(len(e.rstrip("…")) < min(3, len(c)) for e, c in zip(names, classes))
        bottom = []
        left = []
        for i, name in enumerate(classes):
            if i % step:
                continue
            bottom.append((i + 0.5, str(i) if numbers else names[i]))
            left.append((i + 0.5, f"{i}: {_elide(name, 14)}" if numbers else _elide(name, 14)))
        if (bottom, left) != self._ticks:
            self._ticks = (bottom, left)
            item.getAxis("bottom").setTicks([bottom, []])
            item.getAxis("left").setTicks([left, []])

    def _cm_hover(self, pos: QPointF) -> None:
        if self._matrix is None:
            return
        vb = self.cm_plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(pos):
            return
        p = vb.mapSceneToView(pos)
        n = len(self._classes)
        r, c = int(math.floor(p.y())), int(math.floor(p.x()))
        if not (0 <= r < n and 0 <= c < n):
            QToolTip.hideText()
            return
        row = self._matrix[r]
        share = row[c] / row.sum() if row.sum() else 0.0
        tip = (
            f"true {self._classes[r]}, predicted {self._classes[c]}: "
            f"{self._matrix[r, c]:,} samples ({share:.1%} of {self._classes[r]})"
        )
        view = self.cm_plot
        QToolTip.showText(view.mapToGlobal(view.mapFromScene(pos)), tip, view)

    def _fill_table(
        self, classes: list[str], precision: np.ndarray, recall: np.ndarray, support: np.ndarray
    ) -> None:
        table = self.class_table
        table.setSortingEnabled(False)
        table.setRowCount(len(classes))
        red = QBrush(QColor(ERROR_RED))
        for r, name in enumerate(classes):
            table.setItem(r, 0, QTableWidgetItem(name))
            for c, v in ((1, precision[r]), (2, recall[r])):
                cell = _NumberItem(f"{v:.3f}" if math.isfinite(v) else "–", float(v))
                if math.isfinite(v) and v < 0.5:
                    cell.setForeground(red)
                table.setItem(r, c, cell)
            table.setItem(r, 3, _NumberItem(f"{int(support[r]):,}", float(support[r])))
        table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        table.setSortingEnabled(True)
        # Room for the rows (up to half the height); the samples get the rest.
        need = (
            table.horizontalHeader().sizeHint().height()
            + table.verticalHeader().length()
            + 2 * table.frameWidth()
            + 2
        )
        total = sum(self._right.sizes()) or 500
        table_h = min(max(need, 80), total // 2)
        self._right.setSizes([table_h, total - table_h])

    def _fill_samples(self, samples: list) -> None:
        lst = self.sample_list
        lst.clear()
        samples = [s for s in samples if isinstance(s, dict)]
        samples.sort(key=lambda s: bool(s.get("correct", s.get("true") == s.get("pred"))))
        images = any(s.get("image") is not None for s in samples)
        if images:
            lst.setViewMode(QListView.ViewMode.IconMode)
            lst.setIconSize(QSize(THUMB, THUMB))
            lst.setGridSize(QSize(THUMB + 56, THUMB + 54))  # room for 3 caption lines
            lst.setResizeMode(QListView.ResizeMode.Adjust)
            lst.setMovement(QListView.Movement.Static)
            lst.setWrapping(True)
            lst.setSpacing(2)
        else:
            lst.setViewMode(QListView.ViewMode.ListMode)
            lst.setIconSize(QSize(0, 0))
            lst.setGridSize(QSize())
            lst.setWrapping(False)
            lst.setSpacing(1)
        for s in samples:
            correct = bool(s.get("correct", s.get("true") == s.get("pred")))
            conf = _f(s.get("confidence"))
            true = _elide(str(s.get("true", "?")), 16)
            pred = _elide(str(s.get("pred", "?")), 16)
            caption = f"true: {true} · pred: {pred}"
            if math.isfinite(conf):
                caption += f" ({conf:.2f})"
            text = s.get("text")
            item = QListWidgetItem()
            if images:
                pix = image_pixmap(s.get("image"), THUMB, mistake=not correct)
                if pix is not None:
                    item.setIcon(QIcon(pix))
                item.setText(caption)
                item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                item.setSizeHint(QSize(THUMB + 52, THUMB + 50))
            else:
                mark = "✓" if correct else "✗"
                snippet = _elide(" ".join(str(text).split()), 140) if text else ""
                item.setText(f"{mark} {caption}" + (f"\n“{snippet}”" if snippet else ""))
            tip = caption + (f"\n\n{text}" if text else "")
            item.setToolTip(tip)
            if not correct:
                item.setForeground(QBrush(QColor(ERROR_RED)))
                item.setBackground(QBrush(_MISTAKE_BG))
            lst.addItem(item)
        mistakes = sum(1 for s in samples if not s.get("correct", s.get("true") == s.get("pred")))
        self.samples_label.setText(
            f"Sample predictions: {len(samples)}, {mistakes} wrong (mistakes first)"
            if samples
            else "No sample predictions."
        )
        self._samples = len(samples)

    def _show_regression(self, out: dict) -> None:
        t = np.asarray(out["y_true"], dtype=float).reshape(-1)
        p = np.asarray(out["y_pred"], dtype=float).reshape(-1)
        m = min(len(t), len(p))
        t, p = t[:m], p[:m]
        keep = np.isfinite(t) & np.isfinite(p)
        t, p = t[keep], p[keep]
        err = p - t
        mae = _f(out.get("mae"))
        rmse = _f(out.get("rmse"))
        if not math.isfinite(mae) and len(err):
            mae = float(np.abs(err).mean())
        if not math.isfinite(rmse) and len(err):
            rmse = float(np.sqrt((err**2).mean()))
        self.scatter.setData(t, p)
        self.residuals.setData(t, err)
        if len(t):
            lo = float(min(t.min(), p.min()))
            hi = float(max(t.max(), p.max()))
            pad = (hi - lo) * 0.03 or 1.0
            self.identity.setData([lo - pad, hi + pad], [lo - pad, hi + pad])
            self.scatter_plot.getPlotItem().setRange(
                xRange=(lo - pad, hi + pad), yRange=(lo - pad, hi + pad), padding=0
            )
            self.residual_plot.getPlotItem().enableAutoRange()
        else:
            self.identity.setData([], [])
        parts = [f"MAE {mae:.4g}" if math.isfinite(mae) else "MAE –"]
        parts.append(f"RMSE {rmse:.4g}" if math.isfinite(rmse) else "RMSE –")
        var = float(((t - t.mean()) ** 2).sum()) if len(t) else 0.0
        if var > 0:
            parts.append(f"R² {1 - float((err**2).sum()) / var:.3f}")
        parts.append(f"{len(t):,} test samples")
        self.summary_label.setText(" · ".join(parts))
        self._samples = int(len(t))
        self.stack.setCurrentWidget(self.reg_page)
