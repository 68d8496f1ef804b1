"""The training settings panel: optimizer and learning-rate schedule, the loss and metrics of
every model output, the fit options and the callbacks.

The panel edits ``settings["training"]`` (schema in ``docs/training.md``). It always starts
from :func:`studio.core.settings.training_settings`, so every output of the graph has a loss,
and every change is one ``document.set_setting("training", ...)`` call: undoable, and merged
with the next change of the same field. Parameters are stored only where they differ from the
catalog's defaults (required ones, such as a schedule's ``decay_steps``, always), so project
files stay small.

Fields commit like the inspector's (Enter, focus-out, arrows after a pause, combo boxes and
check boxes at once). A value that cannot be read keeps its text and says why in red under the
field; a value that can be read is stored, and :func:`~studio.core.settings.check_settings`'
verdict on it shows in red under the field (or, for a setting without a field, at the top).

The panel is rebuilt piece by piece: a form is remade only when what it shows changes (another
optimizer, loss or schedule, a metric added or removed, outputs added to the graph); otherwise
document changes (edits, undo, redo) update the values of the fields that are not being edited,
so typing never loses focus.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.catalog import ParamSpec
from studio.catalog.training import ClassSpec, TrainingCatalog, load_training_catalog
from studio.core.settings import (
    CALLBACK_ORDER,
    TRAINING_DEFAULTS,
    check_settings,
    distribution_settings,
    output_kind,
    training_settings,
)
from studio.core.validation import ERROR, Diagnostic
from studio.ui.document import Document
from studio.ui.panels import ERROR_COLOR, WARNING_COLOR
from studio.ui.panels.inspector import NamedEditor, ParamEditor, same_value
from studio.ui.training.forms import (
    Combo,
    Disclosure,
    ParamField,
    Section,
    SettingsPage,
    bold,
    discard,
    editing_spec,
    error_label,
    make_field,
    make_form,
    muted,
    set_text_color,
    show_on,
    with_error,
)

#: Optimizer parameters shown at once; the others are under "More options".
OPTIMIZER_COMMON = (
    "learning_rate",
    "momentum",
    "nesterov",
    "beta_1",
    "beta_2",
    "rho",
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "gradient_accumulation_steps",
)
#: The fit options: (key, label, ParamSpec).
FIT_FIELDS = (
    ("epochs", "Epochs", ParamSpec("epochs", "int", 10, min=1,
     doc="How many times training goes over the whole training split.")),
    ("batch_size", "Batch size", ParamSpec("batch_size", "int", 32, min=1,
     doc="Samples per gradient update.")),
    ("steps_per_execution", "Steps per execution", ParamSpec(
        "steps_per_execution", "int", 1, min=1,
        doc="Batches run in one compiled call (more is faster for small models; the "
        "progress and batch-level callbacks then update less often).")),
    ("jit_compile", "XLA compile", ParamSpec("jit_compile", "bool", False,
     doc="Compile the training step with XLA (jit_compile). Helps on GPUs and TPUs with many "
     "small operations; costs compile time at the start and rarely helps on a CPU.")),
    ("mixed_precision", "Mixed precision", ParamSpec("mixed_precision", "bool", False,
     doc="Compute in 16-bit, keep the weights in float32 ('mixed_float16' on a GPU, "
     "'mixed_bfloat16' on CPU/TPU). Helps on GPUs with tensor cores and on TPUs; the output "
     "layers stay float32 and Keras adds loss scaling (LossScaleOptimizer) under float16.")),
)  # fmt: skip
#: The distribution strategies: (setting value, label, one-line explanation).
STRATEGY_CHOICES = (
    ("default", "Default (one device)",
     "Train on one device: the first GPU, or the CPU."),
    ("mirrored", "Mirrored (this machine's GPUs)",
     "MirroredStrategy: one replica per GPU of this machine, each on a share of the batch; "
     "helps when one GPU is not enough."),
    ("multi_worker", "Multi-worker (several machines)",
     "MultiWorkerMirroredStrategy: one process per machine, each started with a TF_CONFIG; "
     "Training > Multi-Worker Setup writes the launch commands."),
)  # fmt: skip
DISTRIBUTION_FIELDS = (
    ("devices", "Devices", ParamSpec("devices", "str", None, nullable=True,
     doc="Mirrored only: the devices to train on, such as 'GPU:0, GPU:1'. Empty: all GPUs "
     "(all CPU replicas when there is no GPU).")),
    ("cpu_replicas", "CPU replicas", ParamSpec("cpu_replicas", "int", None, nullable=True,
     min=1, max=64, doc="Without a GPU, split the CPU into this many logical devices, to try "
     "mirrored training on a laptop. Empty: do not split.")),
)  # fmt: skip
WEIGHT_SPEC = ParamSpec(
    "weight", "float", 1.0, min=0,
    doc="How much this output's loss counts in the total loss (loss_weights).",
)  # fmt: skip
METRIC_NAME_SPEC = ParamSpec(
    "name", "str", None, nullable=True,
    doc="The metric's name in the logs and the history (empty: Keras' default name).",
)  # fmt: skip
KIND_TEXT = {
    "classification": "classification (softmax)",
    "binary": "binary (sigmoid)",
    "multilabel": "multi-label (sigmoid)",
    "regression": "regression",
}
SCHEDULE_NONE = "None (constant)"


# =========================================================================== helpers
def _discarded(widget: QWidget, top: QWidget) -> bool:
    w = widget
    while w is not None and w is not top:
        if w.property("discarded"):
            return True
        w = w.parentWidget()
    return False


def align_labels(widget: QWidget) -> None:
    """One label column for every form under ``widget`` (forms side by side in one part)."""
    labels = []
    for form in widget.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label = item.widget() if item is not None else None
            if isinstance(label, QLabel) and not _discarded(label, widget):
                labels.append(label)
    if labels:
        width = max(label.sizeHint().width() for label in labels)
        for label in labels:
            label.setMinimumWidth(width)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def humanize(name: str) -> str:
    """``learning_rate`` -> ``learning rate``."""
    return name.replace("_", " ")


def snake_case(name: str) -> str:
    """Keras' default metric name for a class: ``AUC`` -> ``auc``, ``F1Score`` -> ``f1_score``."""
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def store_param(params: dict, p: ParamSpec, value: Any, starter: dict | None = None) -> None:
    """Set ``params[p.name]`` to ``value``, or drop it when it is the default. Required and
    starter parameters are kept whatever their value; an emptied field means the default."""
    if value is None and (p.default is None or not p.nullable or p.required):
        params.pop(p.name, None)
    elif p.required or p.name in (starter or {}):
        params[p.name] = value
    elif same_value(value, p.default):
        params.pop(p.name, None)
    else:
        params[p.name] = value


def as_metric(entry: Any) -> dict[str, Any]:
    """A metric entry as ``{"class", "params"}`` (a bare class name is allowed in a file)."""
    if isinstance(entry, dict):
        return {"class": entry.get("class", ""), "params": dict(entry.get("params") or {})}
    return {"class": str(entry), "params": {}}


def class_combo(names: Sequence[str], specs: dict[str, ClassSpec], extra: Sequence[str] = ()):
    combo = Combo()
    combo.setMaxVisibleItems(24)
    for name in extra:
        combo.addItem(name, name)
    for name in names:
        combo.addItem(name, name)
        spec = specs.get(name)
        if spec is not None and spec.description:
            combo.setItemData(combo.count() - 1, spec.description, Qt.ItemDataRole.ToolTipRole)
    return combo


def select_data(combo: QComboBox, value: Any, unknown: str = "{} (unknown)") -> None:
    """Select the item whose data is ``value``; a value the combo does not list is added."""
    for i in range(combo.count()):
        if same_value(combo.itemData(i), value):
            if combo.currentIndex() != i:
                combo.setCurrentIndex(i)
            return
    combo.addItem(unknown.format(value), value)
    combo.setCurrentIndex(combo.count() - 1)


class _NoCatalog:
    """make_editor's catalog for training parameters: no named choices."""

    choices: dict[str, list] = {}


NO_CATALOG = _NoCatalog()


class ParamForm(QWidget):
    """The parameters of one class (an optimizer, a loss, ...): ``main`` ones in a form, the
    others under a "More options (n set)" disclosure."""

    def __init__(
        self,
        prefix: str,
        spec: ClassSpec,
        params: dict[str, Any],
        commit: Callable[[ParamSpec, Any], None],
        main: Callable[[ParamSpec], bool] = lambda p: True,
        more_title: str = "More options",
        open_more: bool = False,
        extra: Sequence[ParamSpec] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.prefix = prefix
        self.spec = spec
        self.fields: dict[str, ParamField] = {}
        self._more_title = more_title
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.specs = list(extra) + list(spec.params)
        values = self.display_values(params)
        main_specs = [p for p in self.specs if main(p)]
        more_specs = [p for p in self.specs if not main(p)]
        self.more_names = [p.name for p in more_specs]
        self.signature = self.signature_for(params)

        def on_commit(field: ParamField, value: Any) -> None:
            commit(field.p, value)

        if main_specs:
            form = make_form()
            layout.addLayout(form)
            for p in main_specs:
                self._add(form, self, p, values[p.name], on_commit)
        self.more_button: Disclosure | None = None
        if more_specs:
            box = QWidget(self)
            form = make_form()
            box.setLayout(form)
            for p in more_specs:
                self._add(form, box, p, values[p.name], on_commit)
            self.more_button = Disclosure(more_title, box, open_more, self)
            layout.addWidget(self.more_button)
            layout.addWidget(box)
        self._update_more(params)

    def _add(self, form, parent, p: ParamSpec, value: Any, on_commit) -> None:
        key = f"{self.prefix}.params.{p.name}"
        self.fields[p.name] = make_field(key, p, value, parent, form, commit=on_commit,
                                         catalog=NO_CATALOG)  # fmt: skip

    def display_values(self, params: dict[str, Any]) -> dict[str, Any]:
        """What each field shows: the stored value, else the starter value, else the default."""
        return {
            p.name: params.get(p.name, self.spec.starter.get(p.name, p.default)) for p in self.specs
        }

    def signature_for(self, params: dict[str, Any]) -> tuple:
        """The kinds of editor these values need: the form is remade when they change (an
        ``any`` parameter that held a number and now holds a list)."""
        values = self.display_values(params)
        return tuple(editing_spec(p, values[p.name]).kind for p in self.specs)

    def set_params(self, params: dict[str, Any]) -> None:
        values = self.display_values(params)
        for name, field in self.fields.items():
            field.set_value(values[name])
        self._update_more(params)

    def _update_more(self, params: dict[str, Any]) -> None:
        if self.more_button is None:
            return
        n = sum(1 for name in self.more_names if name in params)
        self.more_button.set_label(self._more_title + (f" ({n} set)" if n else ""))

    def sinks(self) -> dict[str, Callable[[str | None], None]]:
        return {f.key: f.show_diagnostic for f in self.fields.values()}


def _class_row(form: QFormLayout, label: str, combo: QComboBox, parent: QWidget):
    """A class combo in a form with an error line under it; returns the error label."""
    box, err = with_error(combo, parent)
    lab = QLabel(label, parent)
    lab.setToolTip(combo.toolTip())
    form.addRow(lab, box)
    return err


# =========================================================================== sections
class _OptimizerPart(QWidget):
    """The optimizer combo and its parameters, the schedule combo and its parameters."""

    def __init__(self, panel: TrainingSettingsWidget) -> None:
        super().__init__()
        self.panel = panel
        catalog = panel.catalog
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        top = make_form()
        layout.addLayout(top)
        self.combo = class_combo(catalog.names("optimizers"), catalog.optimizers)
        self.combo.setToolTip("The optimizer (keras.optimizers) that updates the weights.")
        self.class_error = _class_row(top, "Optimizer", self.combo, self)
        self.combo.activated.connect(lambda _i: panel.set_optimizer(self.combo.currentData()))
        self.params_host = QVBoxLayout()
        self.params_host.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.params_host)
        self.form: ParamForm | None = None
        self.lr_note = muted(QLabel("The schedule below sets the learning rate.", self))
        self.lr_note.setWordWrap(True)
        self.lr_note.hide()
        layout.addWidget(self.lr_note)

        sched = make_form()
        layout.addLayout(sched)
        self.schedule_combo = class_combo(
            catalog.names("schedules"), catalog.schedules, extra=[SCHEDULE_NONE]
        )
        self.schedule_combo.setItemData(0, None)
        self.schedule_combo.setToolTip(
            "A learning-rate schedule (keras.optimizers.schedules) used as the optimizer's "
            "learning rate; None keeps the learning rate constant."
        )
        self.schedule_error = _class_row(sched, "LR schedule", self.schedule_combo, self)
        self.schedule_combo.activated.connect(
            lambda _i: panel.set_schedule(self.schedule_combo.currentData())
        )
        self.schedule_host = QVBoxLayout()
        self.schedule_host.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.schedule_host)
        self.schedule_form: ParamForm | None = None
        self._class: str | None = None
        self._schedule_key: str | None = None

    def update_from(self, t: dict[str, Any]) -> None:
        catalog = self.panel.catalog
        opt = t["optimizer"]
        select_data(self.combo, opt["class"])
        spec = catalog.get("optimizers", opt["class"])
        params = opt.get("params") or {}
        if (
            self.form is None
            or self._class != opt["class"]
            or self.form.signature != self.form.signature_for(params)
        ):
            self._replace_form(spec, params)
        else:
            self.form.set_params(params)
        self._class = opt["class"]

        schedule = opt.get("schedule") or None
        sclass = schedule.get("class") if isinstance(schedule, dict) else None
        select_data(self.schedule_combo, sclass)
        sspec = catalog.get("schedules", sclass) if sclass else None
        sparams = (schedule.get("params") or {}) if isinstance(schedule, dict) else {}
        if (
            self.schedule_form is None
            or self._schedule_key != sclass
            or self.schedule_form.signature != self.schedule_form.signature_for(sparams)
        ):
            self._replace_schedule(sspec, sparams)
        else:
            self.schedule_form.set_params(sparams)
        self._schedule_key = sclass if sspec is not None else None

        align_labels(self)
        lr = self.form.fields.get("learning_rate") if self.form else None
        if lr is not None:
            lr.editor.setEnabled(sspec is None)
            lr.label.setEnabled(sspec is None)
        self.lr_note.setVisible(sspec is not None and lr is not None)

    def _replace_form(self, spec: ClassSpec | None, params: dict) -> None:
        if self.form is not None:
            discard(self.form)
            self.form = None
        if spec is None:
            return
        panel = self.panel
        self.form = ParamForm(
            "training.optimizer",
            spec,
            params,
            panel.set_optimizer_param,
            main=lambda p: p.name in OPTIMIZER_COMMON,
            open_more=panel.is_open("optimizer.more"),
            parent=self,
        )
        if self.form.more_button is not None:
            self.form.more_button.toggled.connect(lambda on: panel.remember("optimizer.more", on))
        self.params_host.addWidget(self.form)
        self.form.show()  # now, not on the next turn of the event loop

    def _replace_schedule(self, spec: ClassSpec | None, params: dict) -> None:
        if self.schedule_form is not None:
            discard(self.schedule_form)
            self.schedule_form = None
        if spec is None:
            return
        self.schedule_form = ParamForm(
            "training.optimizer.schedule", spec, params, self.panel.set_schedule_param, parent=self
        )
        self.schedule_host.addWidget(self.schedule_form)
        self.schedule_form.show()  # now, not on the next turn of the event loop

    def sinks(self) -> dict[str, Callable[[str | None], None]]:
        out = {
            "training.optimizer": show_on(self.class_error),
            "training.optimizer.schedule": show_on(self.schedule_error),
        }
        if self.form is not None:
            out.update(self.form.sinks())
        if self.schedule_form is not None:
            out.update(self.schedule_form.sinks())
        return out


class _MetricRow(QWidget):
    """One metric of an output: its class, its name, remove, and its parameters."""

    def __init__(self, panel, output: str, index: int, metric: dict) -> None:
        super().__init__()
        self.panel = panel
        self.output = output
        self.index = index
        self.cls = metric["class"]
        self.key = f"training.metrics.{output}.{index}"
        spec = panel.catalog.get("metrics", self.cls)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.body = QWidget(self)
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(16, 0, 0, 4)
        open_ = panel.is_open(f"metrics.{output}.{index}")
        self.toggle = Disclosure(self.cls, self.body, open_, self)
        self.toggle.setToolTip(
            (spec.description if spec else "Your own metric, from the Custom Code panel."
             if self.cls.startswith("custom.") else "Not a keras.metrics class Studio knows.")
            + "\nClick to show its parameters."
        )
        self.toggle.toggled.connect(lambda on: panel.remember(f"metrics.{output}.{index}", on))
        self.name_label = muted(QLabel(self))
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.remove_button = QToolButton(self)
        self.remove_button.setText("✕")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(f"Remove {self.cls}")
        self.remove_button.clicked.connect(lambda: panel.remove_metric(output, index))
        row.addWidget(self.toggle)
        row.addWidget(self.name_label, 1)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self.error = error_label(self)
        layout.addWidget(self.error)
        layout.addWidget(self.body)
        self.form: ParamForm | None = None
        if spec is not None:
            self.form = ParamForm(
                self.key,
                spec,
                metric["params"],
                lambda p, v: panel.set_metric_param(output, index, p, v),
                extra=[METRIC_NAME_SPEC],
                parent=self.body,
            )
            body_layout.addWidget(self.form)
        self.set_metric(metric)

    def set_metric(self, metric: dict) -> None:
        name = metric["params"].get("name")
        self.name_label.setText(f"as “{name}”" if name else "")
        if self.form is not None:
            self.form.set_params(metric["params"])

    def sinks(self) -> dict[str, Callable[[str | None], None]]:
        out = {self.key: show_on(self.error)}
        if self.form is not None:
            out.update(self.form.sinks())
        return out


class _OutputBox(QFrame):
    """One model output: its loss (class, parameters, weight) and its metrics."""

    def __init__(self, panel: TrainingSettingsWidget, output: str, kind: str) -> None:
        super().__init__()
        self.panel = panel
        self.output = output
        catalog = panel.catalog
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(3)
        title = QHBoxLayout()
        title.setContentsMargins(0, 0, 0, 0)
        self.title = bold(QLabel(output, self))
        self.kind_label = muted(QLabel(KIND_TEXT.get(kind, kind), self))
        title.addWidget(self.title)
        title.addStretch(1)
        title.addWidget(self.kind_label)
        layout.addLayout(title)

        form = make_form()
        layout.addLayout(form)
        self.loss_combo = class_combo(catalog.names("losses"), catalog.losses)
        self.loss_combo.setToolTip(f"The loss (keras.losses) of output '{output}'.")
        self.loss_error = _class_row(form, "Loss", self.loss_combo, self)
        self.loss_combo.activated.connect(
            lambda _i: panel.set_loss(output, self.loss_combo.currentData())
        )
        self.weight = make_field(
            f"training.losses.{output}.weight", WEIGHT_SPEC, 1.0, self, form, label="Weight",
            commit=lambda _f, v: panel.set_loss_weight(output, v),
        )  # fmt: skip
        self.loss_host = QVBoxLayout()
        self.loss_host.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.loss_host)
        self.loss_form: ParamForm | None = None
        self._loss_class: str | None = None

        metrics_title = QLabel("Metrics", self)
        layout.addWidget(metrics_title)
        self.metrics_host = QVBoxLayout()
        self.metrics_host.setContentsMargins(8, 0, 0, 0)
        self.metrics_host.setSpacing(1)
        layout.addLayout(self.metrics_host)
        self.no_metrics = muted(QLabel("No metrics: only the loss is reported.", self))
        self.metrics_host.addWidget(self.no_metrics)
        self.rows: list[_MetricRow] = []
        self._metric_classes: tuple | None = None

        add = QHBoxLayout()
        add.setContentsMargins(8, 0, 0, 0)
        add.setSpacing(4)
        self.metric_combo = class_combo(catalog.names("metrics"), catalog.metrics)
        self.metric_combo.setToolTip("A metric (keras.metrics) to add to this output.")
        self.add_metric_button = QToolButton(self)
        self.add_metric_button.setText("Add metric")
        self.add_metric_button.setToolTip("Add the chosen metric to this output.")
        self.add_metric_button.clicked.connect(
            lambda: panel.add_metric(output, self.metric_combo.currentData())
        )
        add.addWidget(self.metric_combo, 1)
        add.addWidget(self.add_metric_button)
        layout.addLayout(add)

    def update_from(self, t: dict[str, Any]) -> None:
        catalog = self.panel.catalog
        loss = t["losses"][self.output]
        self._sync_custom()
        select_data(self.loss_combo, loss["class"])
        spec = catalog.get("losses", loss["class"])
        params = loss.get("params") or {}
        if (
            self.loss_form is None
            or self._loss_class != loss["class"]
            or self.loss_form.signature != self.loss_form.signature_for(params)
        ):
            self._replace_loss_form(spec, params)
        else:
            self.loss_form.set_params(params)
        self._loss_class = loss["class"] if spec is not None else None
        self.weight.set_value(loss.get("weight", 1.0))

        metrics = [as_metric(m) for m in t["metrics"].get(self.output, [])]
        classes = tuple(
            (m["class"], tuple(sorted((k, type(v).__name__) for k, v in m["params"].items())))
            for m in metrics
        )
        if classes != self._metric_classes:
            self._replace_metrics(metrics)
            self._metric_classes = classes
        else:
            for row, metric in zip(self.rows, metrics):
                row.set_metric(metric)
        self.no_metrics.setVisible(not metrics)

    def _sync_custom(self) -> None:
        """The project's own losses and metrics (``custom.<name>``) head the lists."""
        from studio.core.code import custom_names

        graph = self.panel.document.graph
        for combo, kind in ((self.loss_combo, "loss"), (self.metric_combo, "metric")):
            wanted = [f"custom.{n}" for n in custom_names(graph, kind)]
            block = getattr(combo, "custom_block", 0)  # custom items + their separator
            if [combo.itemData(i) for i in range(block)][: len(wanted)] == wanted and block == (
                len(wanted) + 1 if wanted else 0
            ):
                continue
            for i in reversed(range(combo.count())):
                if i < block or str(combo.itemData(i)).startswith("custom."):
                    combo.removeItem(i)
            for i, name in enumerate(wanted):
                combo.insertItem(i, name, name)
                combo.setItemData(
                    i, f"Your own {kind}, from the Custom Code panel", Qt.ItemDataRole.ToolTipRole
                )
            if wanted:
                combo.insertSeparator(len(wanted))
            combo.custom_block = len(wanted) + 1 if wanted else 0

    def _replace_loss_form(self, spec: ClassSpec | None, params: dict) -> None:
        if self.loss_form is not None:
            discard(self.loss_form)
            self.loss_form = None
        if spec is None or not spec.params:
            return
        key = f"loss.{self.output}"
        self.loss_form = ParamForm(
            f"training.losses.{self.output}",
            spec,
            params,
            lambda p, v: self.panel.set_loss_param(self.output, p, v),
            main=lambda p: False,
            more_title="Loss options",
            open_more=self.panel.is_open(key),
            parent=self,
        )
        self.loss_form.more_button.toggled.connect(lambda on: self.panel.remember(key, on))
        self.loss_host.addWidget(self.loss_form)
        self.loss_form.show()  # now, not on the next turn of the event loop

    def _replace_metrics(self, metrics: list[dict]) -> None:
        for row in self.rows:
            discard(row)
        self.rows = []
        for i, metric in enumerate(metrics):
            row = _MetricRow(self.panel, self.output, i, metric)
            row.setParent(self)
            self.metrics_host.addWidget(row)
            row.show()  # now, not on the next turn of the event loop
            self.rows.append(row)

    def sinks(self) -> dict[str, Callable[[str | None], None]]:
        out = {
            f"training.losses.{self.output}": show_on(self.loss_error),
            self.weight.key: self.weight.show_diagnostic,
        }
        if self.loss_form is not None:
            out.update(self.loss_form.sinks())
        for row in self.rows:
            out.update(row.sinks())
        return out


class _CallbackRow(QWidget):
    """A callback: an "on" check box, and its parameters under a disclosure."""

    def __init__(self, panel: TrainingSettingsWidget, name: str, entry: dict) -> None:
        super().__init__()
        self.panel = panel
        self.name = name
        self.key = f"training.callbacks.{name}"
        spec = panel.catalog.get("callbacks", name)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.check = QCheckBox(name, self)
        tip = spec.description if spec else ""
        self.check.setToolTip(tip)
        self.check.clicked.connect(lambda on: panel.set_callback_enabled(name, on))
        row.addWidget(self.check)
        row.addStretch(1)
        self.body = QWidget(self)
        body_layout = QVBoxLayout(self.body)
        body_layout.setContentsMargins(22, 0, 0, 4)
        self.options: Disclosure | None = None
        self.form: ParamForm | None = None
        if spec is not None and spec.params:
            self.options = Disclosure("options", self.body, panel.is_open(f"cb.{name}"), self)
            self.options.setToolTip(f"Show the parameters of {name}")
            self.options.toggled.connect(lambda on: panel.remember(f"cb.{name}", on))
            row.addWidget(self.options)
            self.form = ParamForm(
                self.key,
                spec,
                entry["params"],
                lambda p, v: panel.set_callback_param(name, p, v),
                parent=self.body,
            )
            body_layout.addWidget(self.form)
        else:
            self.body.hide()
        layout.addLayout(row)
        self.error = error_label(self)
        layout.addWidget(self.error)
        layout.addWidget(self.body)

    def update_from(self, entry: dict, monitors: list[str]) -> None:
        self.check.setChecked(bool(entry["enabled"]))
        self.body.setEnabled(bool(entry["enabled"]))
        if self.form is not None:
            monitor = self.form.fields.get("monitor")
            if monitor is not None and isinstance(monitor.editor, NamedEditor):
                _set_suggestions(monitor.editor, monitors)
            self.form.set_params(entry["params"])
            n = len(entry["params"])
            self.options.set_label("options" + (f" ({n} set)" if n else ""))

    def sinks(self) -> dict[str, Callable[[str | None], None]]:
        out = {self.key: show_on(self.error)}
        if self.form is not None:
            out.update(self.form.sinks())
        return out


def _set_suggestions(editor: NamedEditor, names: list[str]) -> None:
    combo = editor.combo
    current = [combo.itemText(i) for i in range(combo.count())]
    if current == names or editor.is_editing():
        return
    text = combo.currentText()
    editor._setting = True
    try:
        combo.clear()
        combo.addItems(names)
        combo.setEditText(text)
    finally:
        editor._setting = False


# =========================================================================== the panel
class TrainingSettingsWidget(SettingsPage):
    """Edits ``settings["training"]`` of ``document``.

    Signals:
        settingsEdited(str): after the panel changed the settings (the undo text).
    """

    section = "training"
    complete_settings = staticmethod(training_settings)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(document, parent)
        self.catalog: TrainingCatalog = load_training_catalog()
        page = self.page_layout

        self.optimizer_section = Section("Optimizer", self.page)
        self.optimizer = _OptimizerPart(self)
        self.optimizer_section.body_layout.addWidget(self.optimizer)
        page.addWidget(self.optimizer_section)

        self.outputs_section = Section("Loss and metrics", self.page)
        self.outputs_hint = muted(QLabel("The model has no outputs yet.", self.page))
        self.outputs_hint.setWordWrap(True)
        self.outputs_section.body_layout.addWidget(self.outputs_hint)
        self.outputs_layout = QVBoxLayout()
        self.outputs_layout.setContentsMargins(0, 0, 0, 0)
        self.outputs_layout.setSpacing(6)
        self.outputs_section.body_layout.addLayout(self.outputs_layout)
        self.outputs: dict[str, _OutputBox] = {}
        self._output_key: tuple | None = None
        page.addWidget(self.outputs_section)

        self.fit_section = Section("Fit", self.page)
        form = make_form()
        self.fit_section.body_layout.addLayout(form)
        self.fit_fields: dict[str, ParamField] = {}
        for key, label, p in FIT_FIELDS:
            self.fit_fields[key] = make_field(
                f"training.{key}", p, TRAINING_DEFAULTS[key], self.fit_section.body, form,
                label=label, commit=lambda _f, v, k=key: self.set_fit(k, v),
            )  # fmt: skip
        page.addWidget(self.fit_section)

        self.distribution_section = Section("Distribution", self.page)
        form = make_form()
        self.distribution_section.body_layout.addLayout(form)
        self.strategy_combo = Combo()
        for value, label, tip in STRATEGY_CHOICES:
            self.strategy_combo.addItem(label, value)
            self.strategy_combo.setItemData(self.strategy_combo.count() - 1, tip,
                                            Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        self.strategy_combo.setToolTip(
            "How training uses several devices (tf.distribute). The batch size is the global "
            "batch, split across the replicas."
        )
        self._showing_strategy = False
        self.strategy_combo.currentIndexChanged.connect(self._on_strategy_index)
        self.strategy_error = _class_row(form, "Strategy", self.strategy_combo,
                                         self.distribution_section.body)  # fmt: skip
        self.distribution_fields: dict[str, ParamField] = {}
        for key, label, p in DISTRIBUTION_FIELDS:
            self.distribution_fields[key] = make_field(
                f"training.distribution.{key}", p, None, self.distribution_section.body, form,
                label=label, commit=lambda _f, v, k=key: self.set_distribution(k, v),
            )  # fmt: skip
        # Empty means "all of them": say so rather than "None".
        devices = self.distribution_fields["devices"].editor.main_widget()
        if hasattr(devices, "setPlaceholderText"):
            devices.setPlaceholderText("all GPUs (or all CPU replicas)")
        page.addWidget(self.distribution_section)

        self.callbacks_section = Section("Callbacks", self.page)
        self.callbacks: dict[str, _CallbackRow] = {}
        t = self.settings()
        for name in CALLBACK_ORDER:
            row = _CallbackRow(self, name, t["callbacks"][name])
            row.setParent(self.callbacks_section.body)
            self.callbacks_section.body_layout.addWidget(row)
            self.callbacks[name] = row
        note = muted(QLabel("Callbacks write into the run's folder.", self.page))
        self.callbacks_section.body_layout.addWidget(note)
        page.addWidget(self.callbacks_section)
        self._finish()
        self.refresh()

    # ------------------------------------------------------------------ reading
    def field(self, key: str) -> ParamEditor | None:
        """The editor of a setting by its dotted path (``training.optimizer.params.beta_1``,
        ``training.epochs``, ``training.losses.dense.weight``), or None."""
        for f in self._fields():
            if f.key == key:
                return f.editor
        return None

    def error_text(self, key: str) -> str:
        """The red text shown for the setting ``key``: its field's, or that of the line it
        falls under (a class, a metric, the top of the panel)."""
        for f in self._fields():
            if f.key == key:
                return f.error_text()
        return self._shown_text(key)

    def output_box(self, output: str) -> _OutputBox:
        return self.outputs[output]

    def _fields(self) -> list[ParamField]:
        out = list(self.fit_fields.values()) + list(self.distribution_fields.values())
        forms = [self.optimizer.form, self.optimizer.schedule_form]
        for box in self.outputs.values():
            out.append(box.weight)
            forms.append(box.loss_form)
            forms += [row.form for row in box.rows]
        forms += [row.form for row in self.callbacks.values()]
        for form in forms:
            if form is not None:
                out += list(form.fields.values())
        return out

    # ------------------------------------------------------------------ refreshing
    def _on_settings_changed(self, key: str) -> None:
        if key == "training":
            self.refresh()

    def refresh(self) -> None:
        """Show the document's settings (keeps the field being edited as it is)."""
        self._graph_timer.stop()
        t = self.settings()
        self.optimizer.update_from(t)
        self._update_outputs(t)
        for key, field in self.fit_fields.items():
            field.set_value(t[key])
        dist = t["distribution"]
        self._showing_strategy = True
        try:
            select_data(self.strategy_combo, dist["strategy"])
        finally:
            self._showing_strategy = False
        devices = dist["devices"]
        self.distribution_fields["devices"].set_value(
            ", ".join(map(str, devices)) if isinstance(devices, list) else devices
        )
        self.distribution_fields["cpu_replicas"].set_value(dist["cpu_replicas"])
        monitors = self._monitor_names(t)
        for name, row in self.callbacks.items():
            row.update_from(t["callbacks"][name], monitors)
        self._show_diagnostics()

    def _update_outputs(self, t: dict[str, Any]) -> None:
        graph = self.document.graph
        key = tuple((name, output_kind(graph, name)) for name in t["losses"])
        if key != self._output_key:
            for box in self.outputs.values():
                discard(box)
            self.outputs = {}
            for name, kind in key:
                box = _OutputBox(self, name, kind)
                box.setParent(self.outputs_section.body)
                self.outputs_layout.addWidget(box)
                box.show()  # now, not on the next turn of the event loop
                self.outputs[name] = box
            self._output_key = key
        for box in self.outputs.values():
            box.update_from(t)
        self.outputs_hint.setVisible(not self.outputs)

    def _monitor_names(self, t: dict[str, Any]) -> list[str]:
        names = ["val_loss", "loss"]
        outputs = list(t["losses"])
        several = len(outputs) > 1
        for output in outputs:
            if several:
                names.append(f"{output}_loss")
            for m in t["metrics"].get(output, []):
                m = as_metric(m)
                name = m["params"].get("name") or snake_case(m["class"])
                names.append(f"{output}_{name}" if several else name)
        logged = names[1:]
        return ["val_loss"] + [f"val_{n}" for n in logged if n != "loss"] + logged

    def _show_diagnostics(self) -> None:
        try:
            # Only this panel's part: a broken data section is the data panel's to report.
            mine = {"training": self._project_settings().get("training") or {}}
            diagnostics = check_settings(mine, self.document.graph, self.catalog)
        except Exception as exc:  # a settings file no check foresaw: say so, never crash
            diagnostics = [Diagnostic(ERROR, f"The training settings cannot be checked: {exc}",
                                      param="training")]  # fmt: skip
        self.diagnostics = [d for d in diagnostics if (d.param or "").startswith("training")]
        sinks: dict[str, Callable[[str | None], None]] = {}
        sinks.update(self.optimizer.sinks())
        for box in self.outputs.values():
            sinks.update(box.sinks())
        for field in self.fit_fields.values():
            sinks[field.key] = field.show_diagnostic
        for field in self.distribution_fields.values():
            sinks[field.key] = field.show_diagnostic
        sinks["training.distribution.strategy"] = self._show_strategy_error
        for row in self.callbacks.values():
            sinks.update(row.sinks())
        self._route_diagnostics(sinks)
        warn = not self._read_error and all(d.severity != ERROR for d in self.diagnostics)
        set_text_color(self.problems_label, WARNING_COLOR if warn else ERROR_COLOR)

    # ------------------------------------------------------------------ edits
    def set_optimizer(self, name: str) -> None:
        spec = self.catalog.get("optimizers", name)
        if spec is None:
            return

        def mutate(t: dict) -> None:
            old = t["optimizer"].get("params") or {}
            params = {}
            for key, value in old.items():
                p = spec.param(key)
                if p is not None and not same_value(value, p.default):
                    params[key] = value
            t["optimizer"]["class"] = name
            t["optimizer"]["params"] = params

        self.change(f"Use optimizer {name}", "optimizer.class", mutate)

    def set_optimizer_param(self, p: ParamSpec, value: Any) -> None:
        spec = self.catalog.get("optimizers", self.settings()["optimizer"]["class"])

        def mutate(t: dict) -> None:
            store_param(t["optimizer"]["params"], p, value, spec.starter if spec else None)

        self.change(f"Set {humanize(p.name)}", f"optimizer.params.{p.name}", mutate)

    def set_schedule(self, name: str | None) -> None:
        def mutate(t: dict) -> None:
            opt = t["optimizer"]
            if not name:
                opt["schedule"] = None
                return
            spec = self.catalog.get("schedules", name)
            if spec is None:
                return
            old = opt.get("schedule") or {}
            params = dict(spec.starter)
            if spec.param("initial_learning_rate") is not None:
                ospec = self.catalog.get("optimizers", opt["class"])
                lr = opt["params"].get("learning_rate")
                if lr is None and ospec is not None and ospec.param("learning_rate"):
                    lr = ospec.param("learning_rate").default
                if isinstance(lr, (int, float)) and not isinstance(lr, bool):
                    params["initial_learning_rate"] = lr
            for key, value in (old.get("params") or {}).items():
                if spec.param(key) is not None:
                    params[key] = value
            opt["schedule"] = {"class": name, "params": params}

        self.change(f"Use schedule {name or 'none'}", "optimizer.schedule.class", mutate)

    def set_schedule_param(self, p: ParamSpec, value: Any) -> None:
        def mutate(t: dict) -> None:
            schedule = t["optimizer"].get("schedule")
            if not isinstance(schedule, dict):
                return
            spec = self.catalog.get("schedules", schedule.get("class", ""))
            params = schedule.setdefault("params", {})
            store_param(params, p, value, spec.starter if spec else None)

        self.change(f"Set schedule {humanize(p.name)}", f"optimizer.schedule.params.{p.name}",
                    mutate)  # fmt: skip

    def set_loss(self, output: str, name: str) -> None:
        spec = self.catalog.get("losses", name)
        if spec is None and not str(name).startswith("custom."):  # custom: the project's code
            return

        def mutate(t: dict) -> None:
            loss = t["losses"][output]
            params = {}
            for key, value in (loss.get("params") or {}).items() if spec else ():
                p = spec.param(key)
                if p is not None and not same_value(value, p.default):
                    params[key] = value
            loss["class"] = name
            loss["params"] = params

        self.change(f"Use loss {name} for '{output}'", f"losses.{output}.class", mutate)

    def set_loss_param(self, output: str, p: ParamSpec, value: Any) -> None:
        def mutate(t: dict) -> None:
            store_param(t["losses"][output]["params"], p, value)

        self.change(f"Set loss {humanize(p.name)} of '{output}'",
                    f"losses.{output}.params.{p.name}", mutate)  # fmt: skip

    def set_loss_weight(self, output: str, value: Any) -> None:
        def mutate(t: dict) -> None:
            t["losses"][output]["weight"] = 1.0 if value is None else value

        self.change(f"Set loss weight of '{output}'", f"losses.{output}.weight", mutate)

    def add_metric(self, output: str, name: str | None) -> None:
        spec = self.catalog.get("metrics", name or "")
        if spec is None and not str(name).startswith("custom."):  # custom: the project's code
            return

        def mutate(t: dict) -> None:
            metrics = [as_metric(m) for m in t["metrics"].get(output, [])]
            metrics.append({"class": name, "params": dict(spec.starter) if spec else {}})
            t["metrics"][output] = metrics

        self.change(f"Add metric {name} to '{output}'", f"metrics.{output}.add", mutate)

    def remove_metric(self, output: str, index: int) -> None:
        def mutate(t: dict) -> None:
            metrics = [as_metric(m) for m in t["metrics"].get(output, [])]
            if 0 <= index < len(metrics):
                del metrics[index]
            t["metrics"][output] = metrics

        self.change(f"Remove a metric of '{output}'", f"metrics.{output}.remove", mutate)
        QTimer.singleShot(0, self._keep_focus)

    def set_metric_param(self, output: str, index: int, p: ParamSpec, value: Any) -> None:
        def mutate(t: dict) -> None:
            metrics = [as_metric(m) for m in t["metrics"].get(output, [])]
            if not 0 <= index < len(metrics):
                return
            spec = self.catalog.get("metrics", metrics[index]["class"])
            store_param(metrics[index]["params"], p, value, spec.starter if spec else None)
            t["metrics"][output] = metrics

        self.change(f"Set metric {humanize(p.name)}",
                    f"metrics.{output}.{index}.params.{p.name}", mutate)  # fmt: skip

    def set_fit(self, key: str, value: Any) -> None:
        def mutate(t: dict) -> None:
            t[key] = TRAINING_DEFAULTS[key] if value is None else value

        label = dict((k, lab) for k, lab, _p in FIT_FIELDS)[key]
        self.change(f"Set {label.lower()}", key, mutate)

    def _show_strategy_error(self, text: str | None) -> None:
        self.strategy_error.setText(text or "")
        self.strategy_error.setVisible(bool(text))

    def _on_strategy_index(self, _index: int) -> None:
        if not self._showing_strategy:  # the user's choice, not refresh() showing one
            self.set_strategy(self.strategy_combo.currentData())

    def set_strategy(self, value: Any) -> None:
        def mutate(t: dict) -> None:
            t["distribution"]["strategy"] = value

        self.change("Set distribution strategy", "distribution.strategy", mutate)

    def set_distribution(self, key: str, value: Any) -> None:
        """``devices`` from its text ("GPU:0, GPU:1"; empty: all), ``cpu_replicas``."""

        def mutate(t: dict) -> None:
            if key == "devices":
                text = "" if value is None else str(value)
                t["distribution"]["devices"] = distribution_settings({"devices": text})["devices"]
            else:
                t["distribution"][key] = value

        label = dict((k, lab) for k, lab, _p in DISTRIBUTION_FIELDS)[key]
        self.change(f"Set {label.lower()}", f"distribution.{key}", mutate)

    def set_callback_enabled(self, name: str, on: bool) -> None:
        def mutate(t: dict) -> None:
            t["callbacks"][name]["enabled"] = bool(on)

        self.change(f"{'Enable' if on else 'Disable'} {name}", f"callbacks.{name}.enabled",
                    mutate)  # fmt: skip

    def set_callback_param(self, name: str, p: ParamSpec, value: Any) -> None:
        def mutate(t: dict) -> None:
            store_param(t["callbacks"][name]["params"], p, value)

        self.change(f"Set {name} {humanize(p.name)}", f"callbacks.{name}.params.{p.name}",
                    mutate)  # fmt: skip

    def _keep_focus(self) -> None:
        if QApplication.focusWidget() is None:
            self.scroll.setFocus()


__all__ = ["TrainingSettingsWidget"]
