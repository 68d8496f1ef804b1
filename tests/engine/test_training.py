"""The trainer: compile settings, callbacks, stop/pause, failures, the run folder."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from studio.core.graph import Edge, Graph, Node, Output
from studio.project import Project, load_project, project_to_dict
from studio.resources import resource_path

EXAMPLES = Path(resource_path("examples"))


def _iris(epochs: int = 3, **training) -> dict:
    project = load_project(EXAMPLES / "iris_mlp.studio.json")
    project.settings["training"]["epochs"] = epochs
    project.settings["training"].update(training)
    return project_to_dict(project)


def _train(project: dict, run_dir: Path, on_event=None, **kwargs):
    from studio.engine.training import Trainer

    events: list[dict] = []

    def emit(event: dict) -> None:
        events.append(event)
        if on_event:
            on_event(event, trainer)

    trainer = Trainer(project, EXAMPLES, run_dir, emit, **kwargs)
    result = trainer.run()
    return result, events, trainer


def test_compile_arguments_cover_schedules_weights_and_metrics():
    import keras

    from studio.engine.training import compile_arguments

    training = {
        "optimizer": {
            "class": "SGD",
            "params": {"momentum": 0.9, "clipnorm": 1.0},
            "schedule": {
                "class": "ExponentialDecay",
                "params": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
            },
        },
        "losses": {
            "a": {"class": "BinaryCrossentropy", "params": {}, "weight": 2.0},
            "b": {"class": "Huber", "params": {"delta": 0.5}, "weight": 0.5},
        },
        "metrics": {
            "a": [{"class": "Precision", "params": {}}, {"class": "AUC", "params": {}}],
            "b": [{"class": "MeanAbsoluteError", "params": {}}],
        },
        "steps_per_execution": 2,
        "jit_compile": False,
    }
    args = compile_arguments(training, ["a", "b"])
    opt = args["optimizer"]
    assert isinstance(opt, keras.optimizers.SGD) and opt.clipnorm == 1.0
    assert isinstance(opt._learning_rate, keras.optimizers.schedules.ExponentialDecay)
    assert args["loss_weights"] == [2.0, 0.5]
    assert isinstance(args["loss"][1], keras.losses.Huber)
    assert [type(m).__name__ for m in args["metrics"][0]] == ["Precision", "AUC"]
    assert args["steps_per_execution"] == 2


def test_a_wrong_optimizer_parameter_names_the_setting():
    from studio.engine.training import TrainingError, compile_arguments

    training = {
        "optimizer": {"class": "Adam", "params": {"no_such_thing": 1}, "schedule": None},
        "losses": {"a": {"class": "MeanSquaredError", "params": {}, "weight": 1.0}},
        "metrics": {"a": []},
        "steps_per_execution": 1,
        "jit_compile": False,
    }
    with pytest.raises(TrainingError) as info:
        compile_arguments(training, ["a"])
    assert info.value.where == "training.optimizer"
    assert "Adam" in info.value.message


@pytest.mark.slow
def test_a_run_writes_its_folder_and_reports_every_event(tmp_path):
    project = _iris(epochs=3)
    callbacks = project["settings"]["training"]["callbacks"]
    callbacks["TensorBoard"] = {"enabled": True, "params": {}}
    callbacks["ReduceLROnPlateau"] = {"enabled": True, "params": {"patience": 1}}
    result, events, _ = _train(project, tmp_path / "run")
    assert result["type"] == "finished", result
    kinds = [e["type"] for e in events]
    assert kinds.index("device") < kinds.index("start") < kinds.index("batch")
    assert kinds.count("epoch") == 3
    assert kinds[-2:] == ["evaluation", "finished"]
    start = next(e for e in events if e["type"] == "start")
    assert kinds.count("batch") == 3 * start["steps"]
    epoch = next(e for e in events if e["type"] == "epoch")
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epoch["logs"])
    assert epoch["lr"] == pytest.approx(0.01)

    run = tmp_path / "run"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_done"] == 3
    assert "val_accuracy" in info["best"] and info["test"]["accuracy"] >= 0
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert [e["epoch"] for e in history] == [0, 1, 2]
    assert (run / "history.csv").read_text().splitlines()[0].startswith("epoch,")
    for name in ("final.keras", "best.keras", "weights.h5", "project.studio.json"):
        assert (run / name).stat().st_size > 0, name
    assert any((run / "logs").rglob("*tfevents*"))
    evaluation = json.loads((run / "evaluation.json").read_text())["outputs"][0]
    assert evaluation["task"] == "classification"
    assert len(evaluation["confusion"]) == 3
    assert sum(map(sum, evaluation["confusion"])) == start["test_samples"]
    assert load_project(run / "project.studio.json").settings["training"]["epochs"] == 3


@pytest.mark.slow
def test_the_iris_example_learns(tmp_path):
    result, _, _ = _train(_iris(epochs=60), tmp_path / "run")
    assert result["type"] == "finished"
    assert result["best"]["val_accuracy"] >= 0.9


@pytest.mark.slow
def test_stop_ends_training_within_one_batch_and_keeps_the_history(tmp_path):
    seen = []

    def on_event(event, trainer):
        if event["type"] == "batch":
            seen.append(event)
            if len(seen) == 3:
                trainer.stop.set()

    result, events, trainer = _train(_iris(epochs=50), tmp_path / "run", on_event)
    assert result["type"] == "finished" and result["status"] == "stopped"
    assert len(seen) == 3  # not one batch more
    assert result["history"] and result["history"][-1]["partial"]
    assert (tmp_path / "run" / "final.keras").exists()
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "stopped"


@pytest.mark.slow
def test_pause_and_resume(tmp_path):
    def on_event(event, trainer):
        if event["type"] == "batch" and event["epoch"] == 0 and event["batch"] == 1:
            trainer.pause.set()
            threading.Timer(0.3, trainer.pause.clear).start()

    result, events, _ = _train(_iris(epochs=2), tmp_path / "run", on_event)
    kinds = [e["type"] for e in events]
    assert result["status"] == "finished"
    assert kinds.count("paused") == 1 and kinds.count("resumed") == 1
    assert kinds.index("paused") < kinds.index("resumed") < kinds.index("finished")


@pytest.mark.slow
def test_a_diverging_run_fails_in_plain_words_and_keeps_its_history(tmp_path):
    project = _iris(epochs=5)
    project["settings"]["training"]["optimizer"]["params"] = {"learning_rate": 1e30}
    project["settings"]["training"]["callbacks"]["TerminateOnNaN"]["enabled"] = False
    result, events, _ = _train(project, tmp_path / "run")
    assert result["type"] == "error"
    assert "NaN" in result["message"] or "infinite" in result["message"]
    assert "learning rate" in result["message"]
    assert any(e["type"] == "batch" for e in events)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "failed" and info["error"] == result["message"]


@pytest.mark.slow
def test_data_of_the_wrong_shape_names_the_input_and_both_shapes(tmp_path):
    project = load_project(EXAMPLES / "mnist_cnn.studio.json")
    project.settings["data"]["source"]["image_size"] = 8
    result, _, _ = _train(project_to_dict(project), tmp_path / "run")
    assert result["type"] == "error"
    assert "image" in result["message"]
    assert "(28, 28, 1)" in result["message"] and "(8, 8, 1)" in result["message"]


@pytest.mark.slow
def test_mixed_precision_is_set_in_the_training_thread_and_restored(tmp_path):
    import keras

    policies = []

    def on_event(event, trainer):
        if event["type"] == "start":
            policies.append(trainer.model.dtype_policy.name)

    before = keras.config.dtype_policy().name
    result, _, _ = _train(_iris(epochs=1, mixed_precision=True), tmp_path / "run", on_event)
    assert result["type"] == "finished"
    assert policies == ["mixed_bfloat16"]
    assert keras.config.dtype_policy().name == before


@pytest.mark.slow
def test_a_multi_output_model_trains_with_a_loss_per_output(tmp_path):
    g = Graph("two_heads")
    for node in [
        Node("measurements", "InputLayer", {"shape": [4]}),
        Node("hidden", "Dense", {"units": 8, "activation": "relu"}),
        Node("species", "Dense", {"units": 3, "activation": "softmax"}),
        Node("petal", "Dense", {"units": 1}),
    ]:
        g.add_node(node)
    g.add_edge(Edge("measurements", 0, "hidden", "inputs"))
    g.add_edge(Edge("hidden", 0, "species", "inputs"))
    g.add_edge(Edge("hidden", 0, "petal", "inputs"))
    g.set_outputs([Output("species"), Output("petal")])
    settings = {
        "data": {
            "source": {"kind": "bundled", "name": "iris"},
            "inputs": {"measurements": {"field": "features", "normalize": True}},
            "outputs": {
                "species": {"field": "label", "encoding": "sparse"},
                "petal": {"field": "label", "encoding": "raw"},
            },
        },
        "training": {"epochs": 2, "losses": {"petal": {"class": "Huber", "weight": 0.5}}},
    }
    project = project_to_dict(Project("two_heads", g, settings))
    result, events, _ = _train(project, tmp_path / "run")
    assert result["type"] == "finished", result
    logs = result["final"]
    assert {"species_loss", "petal_loss", "val_species_accuracy", "petal_mae"} <= set(logs)
    evaluation = next(e for e in events if e["type"] == "evaluation")["outputs"]
    assert [r["task"] for r in evaluation] == ["classification", "regression"]


@pytest.mark.slow
def test_evaluate_run_on_demand(tmp_path):
    from studio.engine.training import evaluate_run

    _train(_iris(epochs=1), tmp_path / "run")
    (tmp_path / "run" / "evaluation.json").unlink()
    events: list[dict] = []
    event = evaluate_run(tmp_path / "run", EXAMPLES, events.append)
    assert event["type"] == "evaluation"
    assert event["outputs"][0]["task"] == "classification"
    assert (tmp_path / "run" / "evaluation.json").exists()


@pytest.mark.slow
def test_backup_and_restore_resumes_an_interrupted_run_in_its_folder(tmp_path):
    project = _iris(epochs=3)
    project["settings"]["training"]["callbacks"]["BackupAndRestore"] = {
        "enabled": True,
        "params": {"delete_checkpoint": False},  # as if the run had been killed
    }
    _train(project, tmp_path / "run")
    assert (tmp_path / "run" / "backup" / "latest.weights.h5").exists()
    project["settings"]["training"]["epochs"] = 5
    result, events, _ = _train(project, tmp_path / "run")
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [3, 4]  # resumed
    assert [e["epoch"] for e in result["history"]] == [0, 1, 2, 3, 4]  # history kept
    history = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]
    assert len(history) == 5


@pytest.mark.slow
def test_named_outputs_are_matched_by_name_not_position(tmp_path):
    """Keras orders a dict of outputs by key; targets, losses and metrics follow the names."""
    g = Graph("named")
    for node in [
        Node("measurements", "InputLayer", {"shape": [4]}),
        Node("hidden", "Dense", {"units": 8, "activation": "relu"}),
        Node("species", "Dense", {"units": 3, "activation": "softmax"}),
        Node("petal", "Dense", {"units": 1}),
    ]:
        g.add_node(node)
    g.add_edge(Edge("measurements", 0, "hidden", "inputs"))
    g.add_edge(Edge("hidden", 0, "species", "inputs"))
    g.add_edge(Edge("hidden", 0, "petal", "inputs"))
    # Graph order z_species, a_petal; Keras' (sorted) order a_petal, z_species.
    g.set_outputs([Output("species", name="z_species"), Output("petal", name="a_petal")])
    settings = {
        "data": {
            "source": {"kind": "bundled", "name": "iris"},
            "inputs": {"measurements": {"field": "features", "normalize": True}},
            "outputs": {
                "z_species": {"field": "label", "encoding": "sparse"},
                "a_petal": {"field": "label", "encoding": "raw"},
            },
        },
        "training": {"epochs": 2},
    }
    project = project_to_dict(Project("named", g, settings))
    result, events, _ = _train(project, tmp_path / "run")
    assert result["type"] == "finished", result
    assert {"z_species_accuracy", "a_petal_mae", "val_z_species_loss"} <= set(result["final"])
    evaluation = next(e for e in events if e["type"] == "evaluation")["outputs"]
    assert [(r["output"], r["task"]) for r in evaluation] == [
        ("z_species", "classification"), ("a_petal", "regression")]  # fmt: skip


@pytest.mark.slow
def test_stop_while_loading_data_ends_before_training(tmp_path):
    def on_event(event, trainer):
        if event["type"] == "status" and "data" in event["text"].lower():
            trainer.stop.set()

    result, events, _ = _train(_iris(epochs=5), tmp_path / "run", on_event)
    assert result["type"] == "finished" and result["status"] == "stopped"
    assert not any(e["type"] == "batch" for e in events)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "stopped" and info["epochs_done"] == 0
