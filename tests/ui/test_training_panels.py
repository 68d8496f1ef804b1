"""The training settings and data panels driven like a user (pytest-qt, real widgets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QObject, QPoint, Qt, Signal  # noqa: E402
from PySide6.QtWidgets import QComboBox  # noqa: E402

from studio.core.commands import AddNode, Connect, SetOutputs  # noqa: E402
from studio.core.graph import Edge, Node, Output  # noqa: E402
from studio.project import dumps_project, loads_project  # noqa: E402
from studio.ui.engine_client import EngineClient  # noqa: E402
from studio.ui.training.data_panel import DataWidget  # noqa: E402
from studio.ui.training.settings_panel import TrainingSettingsWidget  # noqa: E402


# ----------------------------------------------------------------------------- helpers
def _show(qtbot, widget, width=380, height=900):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    with qtbot.waitActive(widget):
        widget.show()
        widget.activateWindow()
    return widget


def _type(qtbot, widget, text: str) -> None:
    """Replace a field's text the way a user does: focus, select all, type, Enter."""
    line = widget.lineEdit() if hasattr(widget, "lineEdit") and widget.lineEdit() else widget
    line.setFocus()
    qtbot.keyClick(line, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    if text:
        qtbot.keyClicks(line, text)
    else:
        qtbot.keyClick(line, Qt.Key.Key_Delete)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def _choose(qtbot, combo: QComboBox, text: str) -> None:
    """Pick an item with the keyboard: focus the combo, then arrow keys to the item."""
    index = combo.findText(text, Qt.MatchFlag.MatchExactly)
    assert index >= 0, f"{text!r} is not in the combo box"
    combo.setFocus()
    key = Qt.Key.Key_Down if index > combo.currentIndex() else Qt.Key.Key_Up
    for _ in range(abs(index - combo.currentIndex())):
        qtbot.keyClick(combo, key)
    assert combo.currentText() == text


def _screenshot(widget, name: str, tmp_path: Path) -> Path:
    """Save a picture of ``widget`` (into $STUDIO_SCREENSHOTS when set, to look at)."""
    folder = Path(os.environ.get("STUDIO_SCREENSHOTS") or tmp_path)
    path = folder / name
    assert widget.grab().save(str(path))
    return path


def _click(qtbot, check) -> None:
    """Click a check box on its box (its middle may be empty space right of the text)."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))


def _training(document) -> dict:
    return document.project.settings["training"]


@pytest.fixture
def panel(qtbot, document) -> TrainingSettingsWidget:
    return _show(qtbot, TrainingSettingsWidget(document))


# ----------------------------------------------------------------------------- training
def test_starts_from_the_defaults_for_the_graph(panel, document):
    assert "training" not in document.project.settings  # showing stores nothing
    assert panel.optimizer.combo.currentText() == "Adam"
    box = panel.output_box("dense")
    assert box.loss_combo.currentText() == "SparseCategoricalCrossentropy"
    assert [row.cls for row in box.rows] == ["SparseCategoricalAccuracy"]
    assert panel.field("training.epochs").value() == 10
    assert panel.callbacks["ModelCheckpoint"].check.isChecked()
    assert not panel.callbacks["EarlyStopping"].check.isChecked()
    assert panel.problems_label.isHidden()


def test_sgd_and_learning_rate_round_trip_and_undo(qtbot, panel, document):
    _choose(qtbot, panel.optimizer.combo, "SGD")
    assert _training(document)["optimizer"] == {"class": "SGD", "params": {}, "schedule": None}
    lr = panel.field("training.optimizer.params.learning_rate")
    assert lr.value() == 0.01  # SGD's default
    assert panel.field("training.optimizer.params.momentum") is not None
    _type(qtbot, lr.spin, "0.05")
    assert _training(document)["optimizer"]["params"] == {"learning_rate": 0.05}

    # The project file keeps it, byte for byte.
    text = dumps_project(document.project)
    again = loads_project(text)
    assert again.settings["training"] == _training(document)
    assert dumps_project(again) == text

    document.undo()
    assert _training(document)["optimizer"]["params"] == {}
    assert panel.field("training.optimizer.params.learning_rate").value() == 0.01
    document.undo()
    assert panel.settings()["optimizer"] == {"class": "Adam", "params": {}, "schedule": None}
    assert panel.optimizer.combo.currentText() == "Adam"
    assert panel.field("training.optimizer.params.learning_rate").value() == 0.001
    assert panel.field("training.optimizer.params.momentum") is None
    document.redo()
    document.redo()
    assert panel.optimizer.combo.currentText() == "SGD"
    assert panel.field("training.optimizer.params.learning_rate").value() == 0.05


def test_typing_in_one_field_is_one_undo_step_and_defaults_are_not_stored(qtbot, panel, document):
    beta = panel.field("training.optimizer.params.beta_1")
    _type(qtbot, beta.spin, "0.8")
    _type(qtbot, beta.spin, "0.85")
    assert _training(document)["optimizer"]["params"] == {"beta_1": 0.85}
    _type(qtbot, beta.spin, "0.9")  # Adam's default: not stored
    assert _training(document)["optimizer"]["params"] == {}
    document.undo()  # the three edits of one field merged into one step
    assert not document.stack.can_undo()
    assert beta.value() == 0.9


def test_undoing_the_first_change_removes_the_setting(qtbot, panel, document):
    _type(qtbot, panel.field("training.epochs").spin, "3")
    document.undo()
    assert "training" not in document.project.settings


def test_more_options_show_every_parameter(qtbot, panel, document):
    form = panel.optimizer.form
    assert form.more_button is not None and not form.more_button.isChecked()
    ema = panel.field("training.optimizer.params.use_ema")
    assert not ema.isVisible()
    qtbot.mouseClick(form.more_button, Qt.MouseButton.LeftButton)
    assert ema.isVisible()
    _click(qtbot, ema.box)
    assert _training(document)["optimizer"]["params"] == {"use_ema": True}
    assert form.more_button.text() == "More options (1 set)"
    clip = panel.field("training.optimizer.params.clipnorm")
    _type(qtbot, clip.spin, "1")
    assert _training(document)["optimizer"]["params"] == {"use_ema": True, "clipnorm": 1.0}


def test_schedule_starts_from_the_catalog_and_the_learning_rate(qtbot, panel, document):
    _type(qtbot, panel.field("training.optimizer.params.learning_rate").spin, "0.01")
    _choose(qtbot, panel.optimizer.schedule_combo, "ExponentialDecay")
    schedule = _training(document)["optimizer"]["schedule"]
    assert schedule == {
        "class": "ExponentialDecay",
        "params": {"decay_rate": 0.9, "decay_steps": 1000, "initial_learning_rate": 0.01},
    }
    lr = panel.field("training.optimizer.params.learning_rate")
    assert not lr.isEnabled()  # the schedule is the learning rate
    steps = panel.field("training.optimizer.schedule.params.decay_steps")
    _type(qtbot, steps.spin, "500")
    assert _training(document)["optimizer"]["schedule"]["params"]["decay_steps"] == 500
    _choose(qtbot, panel.optimizer.schedule_combo, "None (constant)")
    assert _training(document)["optimizer"]["schedule"] is None
    assert panel.field("training.optimizer.schedule.params.decay_steps") is None
    assert panel.field("training.optimizer.params.learning_rate").isEnabled()


def test_add_and_remove_metrics(qtbot, panel, document):
    box = panel.output_box("dense")
    _choose(qtbot, box.metric_combo, "AUC")
    qtbot.mouseClick(box.add_metric_button, Qt.MouseButton.LeftButton)
    box = panel.output_box("dense")
    _choose(qtbot, box.metric_combo, "Precision")
    qtbot.mouseClick(box.add_metric_button, Qt.MouseButton.LeftButton)
    metrics = _training(document)["metrics"]["dense"]
    assert [m["class"] for m in metrics] == ["SparseCategoricalAccuracy", "AUC", "Precision"]
    assert metrics[1] == {"class": "AUC", "params": {}}
    assert [row.cls for row in box.rows] == ["SparseCategoricalAccuracy", "AUC", "Precision"]

    # A metric's parameters: AUC over the precision-recall curve.
    auc = box.rows[1]
    qtbot.mouseClick(auc.toggle, Qt.MouseButton.LeftButton)
    curve = panel.field("training.metrics.dense.1.params.curve")
    assert curve.isVisible()
    _choose(qtbot, curve.combo, "PR")
    assert _training(document)["metrics"]["dense"][1] == {"class": "AUC", "params": {"curve": "PR"}}

    qtbot.mouseClick(box.rows[0].remove_button, Qt.MouseButton.LeftButton)
    qtbot.wait(1)
    classes = [m["class"] for m in _training(document)["metrics"]["dense"]]
    assert classes == ["AUC", "Precision"]
    assert [row.cls for row in panel.output_box("dense").rows] == ["AUC", "Precision"]
    document.undo()
    assert [row.cls for row in panel.output_box("dense").rows] == [
        "SparseCategoricalAccuracy", "AUC", "Precision"
    ]  # fmt: skip


def test_loss_class_parameters_and_weight(qtbot, panel, document):
    box = panel.output_box("dense")
    _choose(qtbot, box.loss_combo, "CategoricalCrossentropy")
    qtbot.mouseClick(box.loss_form.more_button, Qt.MouseButton.LeftButton)
    smoothing = panel.field("training.losses.dense.params.label_smoothing")
    _type(qtbot, smoothing.spin, "0.1")
    _type(qtbot, panel.field("training.losses.dense.weight").spin, "0.5")
    assert _training(document)["losses"]["dense"] == {
        "class": "CategoricalCrossentropy",
        "params": {"label_smoothing": 0.1},
        "weight": 0.5,
    }


def test_fit_options(qtbot, panel, document):
    _type(qtbot, panel.field("training.epochs").spin, "25")
    _type(qtbot, panel.field("training.batch_size").spin, "128")
    _click(qtbot, panel.field("training.jit_compile").box)
    _click(qtbot, panel.field("training.mixed_precision").box)
    t = _training(document)
    assert (t["epochs"], t["batch_size"], t["jit_compile"], t["mixed_precision"]) == (
        25, 128, True, True
    )  # fmt: skip


def test_early_stopping_with_patience(qtbot, panel, document):
    row = panel.callbacks["EarlyStopping"]
    assert not row.body.isEnabled()  # its options are greyed while it is off
    _click(qtbot, row.check)
    assert _training(document)["callbacks"]["EarlyStopping"]["enabled"] is True
    qtbot.mouseClick(row.options, Qt.MouseButton.LeftButton)
    patience = panel.field("training.callbacks.EarlyStopping.params.patience")
    assert patience.isVisible() and patience.isEnabled()
    assert patience.value() == 3
    _type(qtbot, patience.spin, "5")
    qtbot.mouseClick(panel.field("training.callbacks.EarlyStopping.params.restore_best_weights")
                     .box, Qt.MouseButton.LeftButton)  # fmt: skip
    assert _training(document)["callbacks"]["EarlyStopping"] == {
        "enabled": True,
        "params": {"monitor": "val_loss", "patience": 5, "restore_best_weights": True},
    }
    monitor = panel.field("training.callbacks.EarlyStopping.params.monitor")
    items = [monitor.combo.itemText(i) for i in range(monitor.combo.count())]
    assert "val_accuracy" in items  # the logged quantities are offered
    _type(qtbot, monitor.combo, "val_accuracy")
    assert _training(document)["callbacks"]["EarlyStopping"]["params"]["monitor"] == "val_accuracy"


def test_an_invalid_value_shows_the_diagnostic_under_its_field(qtbot, panel, document):
    lr = panel.field("training.optimizer.params.learning_rate")
    _type(qtbot, lr.spin, "-0.5")
    assert _training(document)["optimizer"]["params"] == {"learning_rate": -0.5}
    message = panel.error_text("training.optimizer.params.learning_rate")
    assert "learning_rate" in message and "at least 0" in message
    _type(qtbot, panel.field("training.epochs").spin, "0")
    assert "at least 1" in panel.error_text("training.epochs")
    _type(qtbot, lr.spin, "0.002")
    assert panel.error_text("training.optimizer.params.learning_rate") == ""
    document.undo()  # back to 0 epochs... and undo shows the diagnostic again
    document.undo()
    assert "at least 0" in panel.error_text("training.optimizer.params.learning_rate")


def test_settings_from_a_file_that_the_catalog_does_not_know(qtbot, make_document):
    document = make_document()
    document.project.settings["training"] = {
        "optimizer": {"class": "Sgd2000", "params": {"speed": 11}},
        "metrics": {"dense": [{"class": "AUC"}, {"class": "Nope"}]},
        "epochs": "ten",
    }
    panel = _show(qtbot, TrainingSettingsWidget(document))
    assert panel.optimizer.combo.currentText() == "Sgd2000 (unknown)"
    assert "Unknown optimizer 'Sgd2000'" in panel.error_text("training.optimizer.class")
    assert "unknown metric 'Nope'" in panel.error_text("training.metrics.dense.1.class")
    assert "whole number" in panel.error_text("training.epochs")
    _choose(qtbot, panel.optimizer.combo, "Adam")
    assert _training(document)["optimizer"] == {"class": "Adam", "params": {}, "schedule": None}
    assert panel.error_text("training.optimizer.class") == ""


def test_settings_with_the_wrong_structure_show_the_defaults_and_say_so(qtbot, make_document):
    document = make_document()
    document.project.settings["training"] = {"optimizer": "Adam", "losses": [1, 2]}
    document.project.settings["data"] = {"inputs": ["image"]}
    panel = _show(qtbot, TrainingSettingsWidget(document))
    data = _show(qtbot, DataWidget(document))
    assert "'losses' must be a JSON object" in panel.problems_label.text()
    assert "'inputs' must be a JSON object" in data.problems_label.text()
    assert panel.optimizer.combo.currentText() == "Adam"
    _type(qtbot, panel.field("training.epochs").spin, "4")  # an edit replaces them
    assert _training(document)["epochs"] == 4 and _training(document)["losses"]["dense"]
    assert panel.problems_label.isHidden()


def test_a_new_output_gets_a_default_loss(qtbot, panel, document):
    document.push(AddNode(Node("score", "Dense", {"units": 1, "activation": "sigmoid"})))
    document.push(Connect(Edge("flat", 0, "score", "inputs")))
    document.push(SetOutputs([Output("dense"), Output("score")]))
    qtbot.waitUntil(lambda: "score" in panel.outputs)
    box = panel.output_box("score")
    assert box.loss_combo.currentText() == "BinaryCrossentropy"
    assert [row.cls for row in box.rows] == ["BinaryAccuracy"]
    assert "binary" in box.kind_label.text()
    _type(qtbot, panel.field("training.losses.score.weight").spin, "0.3")
    t = _training(document)
    assert t["losses"]["score"]["weight"] == 0.3
    assert t["losses"]["dense"]["class"] == "SparseCategoricalCrossentropy"
    monitor = panel.field("training.callbacks.ModelCheckpoint.params.monitor")
    items = [monitor.combo.itemText(i) for i in range(monitor.combo.count())]
    assert "val_score_loss" in items and "val_dense_accuracy" in items
    document.undo()  # the weight
    document.undo()  # the outputs
    qtbot.waitUntil(lambda: "score" not in panel.outputs)


def test_screenshot_of_the_settings_panel(qtbot, panel, tmp_path):
    _click(qtbot, panel.callbacks["EarlyStopping"].check)
    qtbot.mouseClick(panel.callbacks["EarlyStopping"].options, Qt.MouseButton.LeftButton)
    _choose(qtbot, panel.optimizer.schedule_combo, "CosineDecay")
    _type(qtbot, panel.field("training.optimizer.params.beta_1").spin, "1.5")
    panel.resize(380, 1500)
    qtbot.wait(50)
    assert "at most 1" in panel.error_text("training.optimizer.params.beta_1")
    _screenshot(panel.page, "settings_panel.png", tmp_path)


# ----------------------------------------------------------------------------- data
def _data(document) -> dict:
    return document.project.settings["data"]


@pytest.fixture
def data_panel(qtbot, document) -> DataWidget:
    return _show(qtbot, DataWidget(document), height=1200)


class _LoadingEngine(QObject):
    """An engine that is still loading TensorFlow: it records jobs and answers none."""

    jobDone = Signal(int, object, str)
    loaded = Signal(str, float)
    loadFailed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.is_loaded = False
        self.jobs: list[tuple] = []

    def run(self, kind: str, *args) -> int:
        self.jobs.append((kind, *args))
        return len(self.jobs)


def test_the_data_panel_starts_with_no_source_and_says_so(data_panel, document):
    assert data_panel.kind_combo.currentText() == "Choose a source…"
    assert "No training data is chosen" in data_panel.error_text("data.source")
    assert list(data_panel.input_rows) == ["image"]
    assert list(data_panel.output_rows) == ["dense"]
    assert "data" not in document.project.settings


def test_bundled_digits_28_and_the_mapping(qtbot, data_panel, document):
    _choose(qtbot, data_panel.kind_combo, "Bundled dataset")
    data = _data(document)
    assert data["source"] == {"kind": "bundled", "name": "digits", "image_size": 8}
    # The documented fields fill the mapping in the same step, with the digits' scale.
    assert data["inputs"] == {"image": {"field": "image", "scale": 1 / 16}}
    assert data["outputs"] == {"dense": {"field": "label", "encoding": "sparse"}}
    assert data_panel.input_rows["image"].scale.currentText() == "1/16"
    assert data_panel.error_text("data.source") == ""

    _choose(qtbot, data_panel.digits_size, "28 × 28 (upscaled, like MNIST)")
    assert _data(document)["source"]["image_size"] == 28
    row = data_panel.input_rows["image"]
    _type(qtbot, row.scale, "1/255")
    _click(qtbot, row.normalize)
    out = data_panel.output_rows["dense"]
    _choose(qtbot, out.encoding, "onehot")
    data = _data(document)
    assert data["inputs"]["image"] == {"field": "image", "scale": 1 / 255, "normalize": True}
    assert data["outputs"]["dense"] == {"field": "label", "encoding": "onehot"}
    assert row.scale.currentText() == "1/255"

    # Unmap the input: the check says it is not fed.
    _type(qtbot, row.field, "")
    assert "field" not in _data(document)["inputs"]["image"]
    assert "not fed by any field" in data_panel.error_text("data.inputs.image")
    _type(qtbot, row.field, "image")
    assert data_panel.error_text("data.inputs.image") == ""

    # The project file keeps it; undo goes back step by step.
    assert loads_project(dumps_project(document.project)).settings["data"] == _data(document)
    for _ in range(5):
        document.undo()
    assert _data(document)["source"]["image_size"] == 8
    assert data_panel.digits_size.currentData() == 8
    assert data_panel.input_rows["image"].scale.currentText() == "1/16"


def test_a_scale_that_cannot_be_read_says_why(qtbot, data_panel, document):
    _choose(qtbot, data_panel.kind_combo, "Bundled dataset")
    row = data_panel.input_rows["image"]
    _type(qtbot, row.scale, "a lot")
    assert "fraction" in row.error.text() and row.error.isVisible()
    assert _data(document)["inputs"]["image"]["scale"] == 1 / 16
    _type(qtbot, row.scale, "0.5")
    assert _data(document)["inputs"]["image"]["scale"] == 0.5
    assert not row.error.isVisible()


def test_splits_and_pipeline_options(qtbot, data_panel, document):
    _type(qtbot, data_panel.validation_spin, "30")
    _type(qtbot, data_panel.test_spin, "15")
    _click(qtbot, data_panel.shuffle)
    _click(qtbot, data_panel.cache)
    _type(qtbot, data_panel.seed.editor.spin, "7")
    data = _data(document)
    assert data["validation"] == {"split": 0.3} and data["test"] == {"split": 0.15}
    assert (data["shuffle"], data["cache"], data["prefetch"], data["seed"]) == (
        False, False, True, 7
    )  # fmt: skip
    _type(qtbot, data_panel.validation_spin, "90")
    assert "almost nothing" in data_panel.error_text("data.validation.split")


def test_keras_datasets_use_their_own_test_set(qtbot, data_panel, document):
    _choose(qtbot, data_panel.kind_combo, "keras.datasets")
    data = _data(document)
    assert data["source"] == {"kind": "keras", "name": "mnist"}
    assert data["test"] == {"builtin": True}
    assert data["inputs"]["image"] == {"field": "image", "scale": 1 / 255}
    assert data_panel.test_mode.currentText() == "Built-in test set"
    assert not data_panel.test_spin.isVisible()
    _choose(qtbot, data_panel.keras_combo, "imdb: 50,000 movie reviews")
    assert data_panel.num_words.isVisible()
    data = _data(document)
    assert data["source"]["name"] == "imdb"
    assert data["inputs"]["image"] == {"field": "sequence", "pad": True}
    _type(qtbot, data_panel.num_words, "5000")
    assert _data(document)["source"]["num_words"] == 5000
    _choose(qtbot, data_panel.test_mode, "Fraction of the training data")
    assert _data(document)["test"] == {"split": 0.1}
    assert data_panel.test_spin.isVisible() and data_panel.test_spin.value() == 10
    # Back to a bundled dataset and to keras again: each kind remembers its source.
    _choose(qtbot, data_panel.kind_combo, "Bundled dataset")
    assert _data(document)["test"] == {"split": 0.1}
    assert data_panel.test_mode.findText("Built-in test set") < 0  # only for keras.datasets
    _choose(qtbot, data_panel.kind_combo, "keras.datasets")
    assert _data(document)["source"] == {"kind": "keras", "name": "imdb", "num_words": 5000}


def test_csv_paths_are_relative_and_its_header_offers_the_columns(
    qtbot, data_panel, document, tmp_path
):
    (tmp_path / "data").mkdir()
    table = tmp_path / "data" / "table.csv"
    table.write_text("age,height,colour,species\n1,2,red,a\n3,4,blue,b\n", encoding="utf-8")
    document.project.path = tmp_path / "model.studio.json"
    _choose(qtbot, data_panel.kind_combo, "CSV file")
    assert "needs a path" in data_panel.error_text("data.source.path")
    assert data_panel.browse_button.isVisible()
    data_panel.set_path(str(table))  # what Browse… does with the chosen file
    source = _data(document)["source"]
    assert source == {"kind": "csv", "path": "data/table.csv"}
    assert data_panel.path_edit.text() == "data/table.csv"
    assert data_panel.error_text("data.source.path") == ""

    combo = data_panel.target_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "age", "height", "colour", "species"
    ]  # fmt: skip
    _choose(qtbot, combo, "species")
    assert _data(document)["source"]["target"] == "species"
    features = data_panel.features_list
    assert features.isVisible() and features.count() == 4
    assert not features.item(3).flags() & Qt.ItemFlag.ItemIsEnabled  # the target
    rect = features.visualItemRect(features.item(2))
    check = rect.topLeft() + QPoint(10, rect.height() // 2)
    qtbot.mouseClick(features.viewport(), Qt.MouseButton.LeftButton, pos=check)
    if features.item(2).checkState() == Qt.CheckState.Checked:  # a style without a check box
        features.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert _data(document)["source"]["features"] == ["age", "height"]

    # A file outside the project's folder keeps its absolute path.
    outside = tmp_path.parent / f"{tmp_path.name}-other.csv"
    outside.write_text("x,y\n1,2\n", encoding="utf-8")
    try:
        data_panel.set_path(str(outside))
        assert _data(document)["source"]["path"] == str(outside)
    finally:
        outside.unlink()


def test_the_preview_says_why_it_cannot_run(qtbot, data_panel, document):
    qtbot.mouseClick(data_panel.preview_button, Qt.MouseButton.LeftButton)
    assert "Choose a data source" in data_panel.status_label.text()
    _choose(qtbot, data_panel.kind_combo, "Bundled dataset")
    qtbot.mouseClick(data_panel.preview_button, Qt.MouseButton.LeftButton)
    assert "No engine" in data_panel.status_label.text()

    engine = _LoadingEngine()
    data_panel.set_engine(engine)
    qtbot.mouseClick(data_panel.preview_button, Qt.MouseButton.LeftButton)
    assert "still loading" in data_panel.status_label.text() and engine.jobs == []
    engine.is_loaded = True
    engine.loaded.emit("TensorFlow x", 1.0)  # the preview it was waiting for runs now
    assert len(engine.jobs) == 1
    kind, data, graph, base = engine.jobs[0]
    assert kind == "data-preview" and data["source"]["name"] == "digits"
    assert graph is not document.graph and list(graph.nodes) == list(document.graph.nodes)
    assert base is None
    engine.jobDone.emit(99, {"error": "someone else's job"}, "")  # ignored
    assert data_panel.preview_result is None
    with qtbot.waitSignal(data_panel.previewReady, timeout=1000):
        engine.jobDone.emit(1, None, "Traceback (most recent call last):\n  ...\nOSError: gone")
    assert data_panel.preview_result == {"error": "OSError: gone"}
    assert data_panel.preview_error.text() == "OSError: gone"

    # A change of the source previews again by itself, 400 ms after the last change.
    _choose(qtbot, data_panel.digits_size, "28 × 28 (upscaled, like MNIST)")
    qtbot.waitUntil(lambda: len(engine.jobs) == 2, timeout=2000)
    assert engine.jobs[1][1]["source"]["image_size"] == 28


def test_validation_from_a_separate_source(qtbot, data_panel, document):
    _choose(qtbot, data_panel.kind_combo, "Bundled dataset")
    editor = data_panel.validation_source
    assert _data(document)["validation"] == {"split": 0.2}
    assert not editor.isVisible() and data_panel.validation_spin.isVisible()

    _choose(qtbot, data_panel.validation_mode, "Separate source")
    # It starts like the training source, in an editor of its own under the choice.
    digits = {"kind": "bundled", "name": "digits", "image_size": 8}
    assert _data(document)["validation"] == {"source": digits}
    assert editor.isVisible() and not data_panel.validation_spin.isVisible()
    assert editor.kind_combo.currentText() == "Bundled dataset"
    _choose(qtbot, editor.bundled_combo, "iris: 150 flowers, 4 features")
    data = _data(document)
    assert data["validation"] == {"source": {"kind": "bundled", "name": "iris"}}
    assert data["source"] == digits  # the training source and its mapping stay
    assert data["inputs"]["image"] == {"field": "image", "scale": 1 / 16}
    assert data_panel.bundled_combo.currentData() == "digits"
    assert not editor.digits_size.isVisible()
    assert data_panel.test_source.isHidden()
    assert loads_project(dumps_project(document.project)).settings["data"] == data

    # One undo step per change, and the panel follows.
    document.undo()
    assert _data(document)["validation"] == {"source": digits}
    assert editor.bundled_combo.currentData() == "digits" and editor.digits_size.isVisible()
    document.undo()
    assert _data(document)["validation"] == {"split": 0.2}
    assert editor.isHidden() and data_panel.validation_spin.isVisible()
    assert data_panel.validation_mode.currentText() == "Fraction of the training data"
    assert data_panel.validation_spin.value() == 20
    document.redo()
    document.redo()
    assert _data(document)["validation"] == {"source": {"kind": "bundled", "name": "iris"}}
    assert editor.isVisible() and editor.bundled_combo.currentData() == "iris"

    # Its own kinds; a problem with it shows under it.
    _choose(qtbot, editor.kind_combo, "CSV file")
    assert _data(document)["validation"] == {"source": {"kind": "csv", "path": ""}}
    assert "needs a path" in data_panel.error_text("data.validation.source.path")
    assert editor.path_error.isVisible() and "needs a path" in editor.path_error.text()
    assert not data_panel.path_error.isVisible() and not data_panel.validation_error.isVisible()
    _choose(qtbot, editor.kind_combo, "Bundled dataset")  # it remembers its iris
    assert _data(document)["validation"] == {"source": {"kind": "bundled", "name": "iris"}}
    assert data_panel.error_text("data.validation.source.path") == ""
    assert not editor.path_error.isVisible()

    # Back to a fraction: the last one; and to the separate source again: the last one.
    _choose(qtbot, data_panel.validation_mode, "Fraction of the training data")
    assert _data(document)["validation"] == {"split": 0.2}
    assert editor.isHidden()
    _type(qtbot, data_panel.validation_spin, "30")
    _choose(qtbot, data_panel.validation_mode, "Separate source")
    assert _data(document)["validation"] == {"source": {"kind": "bundled", "name": "iris"}}
    _choose(qtbot, data_panel.validation_mode, "Fraction of the training data")
    assert _data(document)["validation"] == {"split": 0.3}


def test_a_separate_test_csv_is_stored_relative_to_the_project(
    qtbot, data_panel, document, tmp_path
):
    (tmp_path / "data").mkdir()
    train = tmp_path / "data" / "train.csv"
    train.write_text("a,b,species\n1,2,x\n3,4,y\n", encoding="utf-8")
    held_out = tmp_path / "data" / "test.csv"
    held_out.write_text("a;b;species\n5;6;x\n", encoding="utf-8")
    document.project.path = tmp_path / "model.studio.json"
    _choose(qtbot, data_panel.kind_combo, "CSV file")
    data_panel.set_path(str(train))
    _choose(qtbot, data_panel.target_combo, "species")
    _type(qtbot, data_panel.test_spin, "15")

    _choose(qtbot, data_panel.test_mode, "Separate source")
    editor = data_panel.test_source
    # Like the training CSV (its target column), without its file.
    assert _data(document)["test"] == {"source": {"kind": "csv", "path": "", "target": "species"}}
    assert editor.isVisible() and editor.path_edit.isVisible() and editor.browse_button.isVisible()
    assert "needs a path" in editor.path_error.text() and editor.path_error.isVisible()
    assert data_panel.error_text("data.source.path") == ""

    _type(qtbot, editor.path_edit, str(held_out))  # an absolute path, typed
    source = _data(document)["test"]["source"]
    assert source == {"kind": "csv", "path": "data/test.csv", "target": "species"}
    assert editor.path_edit.text() == "data/test.csv"
    assert not editor.path_error.isVisible()
    combo = editor.target_combo  # its own file's columns (another delimiter)
    assert [combo.itemText(i) for i in range(combo.count())] == ["a", "b", "species"]
    assert _data(document)["source"]["path"] == "data/train.csv"
    assert data_panel.path_edit.text() == "data/train.csv"
    text = dumps_project(document.project)
    assert loads_project(text).settings["data"]["test"] == {"source": source}

    _choose(qtbot, data_panel.test_mode, "Fraction of the training data")
    assert _data(document)["test"] == {"split": 0.15}  # the last fraction
    document.undo()
    assert _data(document)["test"] == {"source": source}
    assert editor.isVisible() and editor.path_edit.text() == "data/test.csv"


class _DownloadingEngine(QObject):
    """A loaded engine that reports progress: the test emits its signals."""

    jobDone = Signal(int, object, str)
    jobProgress = Signal(int, float, str)
    loaded = Signal(str, float)

    def __init__(self) -> None:
        super().__init__()
        self.is_loaded = True
        self.jobs: list[tuple] = []

    def run(self, kind: str, *args) -> int:
        self.jobs.append((kind, *args))
        return 40 + len(self.jobs)


def test_the_preview_shows_its_download_progress(qtbot, data_panel, document):
    engine = _DownloadingEngine()
    data_panel.set_engine(engine)
    _choose(qtbot, data_panel.kind_combo, "keras.datasets")
    bar = data_panel.progress_bar
    assert bar.isHidden()
    qtbot.mouseClick(data_panel.preview_button, Qt.MouseButton.LeftButton)
    assert [job[0] for job in engine.jobs] == ["data-preview"]
    job = 41

    engine.jobProgress.emit(job, 0.25, "Downloading mnist.npz")
    assert bar.isVisible()
    assert bar.text() == "Downloading mnist.npz · 25%"
    assert bar.value() == bar.maximum() // 4
    engine.jobProgress.emit(7, 0.9, "Downloading imdb.npz")  # another job's: not the panel's
    assert bar.text() == "Downloading mnist.npz · 25%"
    engine.jobProgress.emit(job, 0.5, "Downloading mnist.npz")
    assert bar.text() == "Downloading mnist.npz · 50%"

    engine.jobDone.emit(7, {}, "")  # another job ends: the bar stays
    assert bar.isVisible()
    with qtbot.waitSignal(data_panel.previewReady, timeout=1000):
        engine.jobDone.emit(job, {"error": "", "description": "mnist"}, "")
    assert bar.isHidden()
    engine.jobProgress.emit(job, 0.75, "Downloading mnist.npz")  # late: ignored
    assert bar.isHidden()

    # A failed preview hides it too.
    qtbot.mouseClick(data_panel.preview_button, Qt.MouseButton.LeftButton)
    engine.jobProgress.emit(42, 0.1, "Loading")
    assert bar.isVisible()
    engine.jobDone.emit(42, None, "OSError: no network")
    assert bar.isHidden() and data_panel.preview_error.text() == "OSError: no network"


def test_screenshot_of_a_separate_validation_source(qtbot, data_panel, document, tmp_path):
    engine = _DownloadingEngine()
    data_panel.set_engine(engine)
    _choose(qtbot, data_panel.kind_combo, "keras.datasets")
    _choose(qtbot, data_panel.validation_mode, "Separate source")
    editor = data_panel.validation_source
    _choose(qtbot, editor.kind_combo, "CSV file")
    qtbot.mouseClick(data_panel.preview_button, Qt.MouseButton.LeftButton)
    engine.jobProgress.emit(41, 0.4, "Downloading mnist.npz")
    data_panel.resize(400, 1200)
    qtbot.wait(50)
    assert editor.path_error.isVisible() and data_panel.progress_bar.isVisible()
    _screenshot(data_panel, "data_sep.png", tmp_path)


def test_settings_from_a_file_that_the_data_panel_does_not_know(qtbot, make_document):
    document = make_document()
    document.project.settings["data"] = {"source": {"kind": "ftp"}, "validation": {"split": 2}}
    panel = _show(qtbot, DataWidget(document))
    assert panel.kind_combo.currentText() == "ftp (unknown)"
    assert "Unknown data source kind" in panel.error_text("data.source.kind")
    assert "fraction" in panel.error_text("data.validation.split")


@pytest.mark.slow
def test_preview_digits_with_the_real_engine(qtbot, make_document, tmp_path):
    engine = EngineClient()
    try:
        with qtbot.waitSignal(engine.loaded, timeout=60_000):
            engine.start()
        document = make_document()
        panel = _show(qtbot, DataWidget(document, engine), height=1600)
        _choose(qtbot, panel.kind_combo, "Bundled dataset")
        _choose(qtbot, panel.digits_size, "28 × 28 (upscaled, like MNIST)")
        with qtbot.waitSignal(panel.previewReady, timeout=60_000) as ready:
            qtbot.mouseClick(panel.preview_button, Qt.MouseButton.LeftButton)
        result = ready.args[0]
        assert result is panel.preview_result
        assert result["error"] == ""
        assert result["samples"] == 1797
        assert sum(result["splits"].values()) == 1797
        assert len(result["images"]) == 16 and len(panel.image_labels) == 16
        assert panel.images_box.isVisible()
        assert set(result["balance"]["label"]) == {str(i) for i in range(10)}
        assert list(panel.balance_plots) == ["label"]
        assert [c["ok"] for c in result["checks"]] == [True, True]
        assert all(label.text().startswith("✓") for label in panel.check_labels)
        assert "1,797" in panel.summary_label.text()
        assert panel.rows_table.rowCount() > 0
        fields = panel.input_rows["image"].field
        assert [fields.itemText(i) for i in range(fields.count())] == ["image", "label"]
        qtbot.wait(50)
        _screenshot(panel.page, "data_panel.png", tmp_path)

        # 8x8 digits do not fit a 28x28 input: the check says so, in red.
        with qtbot.waitSignal(panel.previewReady, timeout=60_000) as ready:
            _choose(qtbot, panel.digits_size, "8 × 8 (original)")
        check = ready.args[0]["checks"][0]
        assert not check["ok"]
        assert check["expected"] == "(None, 28, 28, 1)"
        assert "(28, 28, 1)" in check["message"] and "(8, 8, 1)" in check["message"]
        assert panel.check_labels[0].text().startswith("✗")
        assert not panel.preview_error.isVisible()  # the failed check says it
        qtbot.wait(50)
        _screenshot(panel.page, "data_panel_mismatch.png", tmp_path)
    finally:
        engine.shutdown()


def test_screenshot_of_the_data_panel(qtbot, data_panel, document, tmp_path):
    _choose(qtbot, data_panel.kind_combo, "keras.datasets")
    _choose(qtbot, data_panel.keras_combo, "imdb: 50,000 movie reviews")
    row = data_panel.input_rows["image"]
    assert row.more.isChecked() and row.pad_check.isChecked()  # shown: padding is on
    _type(qtbot, row.maxlen, "200")
    assert _data(document)["inputs"]["image"] == {"field": "sequence", "pad": {"maxlen": 200}}
    qtbot.wait(50)
    _screenshot(data_panel.page, "data_panel_text.png", tmp_path)


def test_distribution_strategy_devices_and_cpu_replicas(qtbot, panel, document):
    combo = panel.strategy_combo
    assert combo.currentData() == "default"
    _choose(qtbot, combo, "Mirrored (this machine's GPUs)")
    assert _training(document)["distribution"]["strategy"] == "mirrored"
    _type(qtbot, panel.field("training.distribution.devices").edit, "gpu:0, GPU:1")
    _type(qtbot, panel.field("training.distribution.cpu_replicas").spin, "2")
    assert _training(document)["distribution"] == {
        "strategy": "mirrored", "devices": ["GPU:0", "GPU:1"], "cpu_replicas": 2, "workers": [],
    }  # fmt: skip
    _type(qtbot, panel.field("training.distribution.devices").edit, "TPU:x")
    assert "not a device name" in panel.error_text("training.distribution.devices.0")
    _type(qtbot, panel.field("training.distribution.devices").edit, "")
    assert _training(document)["distribution"]["devices"] is None
    for _ in range(4):  # devices (the last two edits merged), replicas, devices, strategy
        document.undo()
    assert "training" not in document.project.settings  # back to the start
    assert combo.currentData() == "default"
    assert "several machines" in combo.itemText(2)
    assert "TF_CONFIG" in combo.itemData(2, Qt.ItemDataRole.ToolTipRole)
