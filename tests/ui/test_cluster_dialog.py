"""Training > Multi-Worker Setup…: worker addresses in, one launch command per worker out."""

from __future__ import annotations

import json
import shlex

from PySide6.QtGui import QGuiApplication

from studio.ui.training.cluster_dialog import ClusterDialog, launch_commands, parse_workers


def test_parse_workers_fills_in_the_port_and_names_bad_lines():
    assert parse_workers("a:1\n\nb\n", 2222) == (["a:1", "b:2222"], [])
    workers, errors = parse_workers("a:1\nb:99999\nc d:5\na:1", 2222)
    assert workers == ["a:1"]
    assert [e.split(":")[0] for e in errors] == ["Line 2", "Line 3", "Line 4"]
    assert parse_workers("", 1)[1]


def test_commands_export_each_workers_tf_config():
    commands = launch_commands(["h1:5000", "h2:5000"], "python train.py")
    for i, command in enumerate(commands):
        words = shlex.split(command)
        assert words[0].startswith("TF_CONFIG=") and words[1:] == ["python", "train.py"]
        config = json.loads(words[0][len("TF_CONFIG=") :])
        assert config == {"cluster": {"worker": ["h1:5000", "h2:5000"]},
                          "task": {"type": "worker", "index": i}}  # fmt: skip


def test_dialog_shows_copies_saves_and_stores_the_workers(qtbot, document, tmp_path):
    dialog = ClusterDialog(document)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.rows == [] and not dialog.save_button.isEnabled()

    dialog.addresses.setPlainText("10.0.0.1:12345\n10.0.0.2")
    fields = [field.text() for field, _ in dialog.rows]
    assert len(fields) == 2
    assert fields[0].startswith("TF_CONFIG='") and fields[0].endswith(" python train.py")
    assert '"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]' in fields[1]
    assert '"index": 1' in fields[1]
    assert not dialog.error.isVisible()

    dialog.rows[1][1].click()  # Copy
    assert QGuiApplication.clipboard().text() == fields[1]

    dialog.launcher.setCurrentIndex(1)
    assert dialog.rows[0][0].text().endswith("--strategy multi-worker")
    assert "studio train " in dialog.rows[0][0].text()

    paths = dialog.save_scripts(tmp_path)
    assert [p.name for p in paths] == ["launch_worker0.sh", "launch_worker1.sh"]
    assert dialog.rows[1][0].text() in paths[1].read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no leftovers

    dialog.accept()
    workers = document.project.settings["training"]["distribution"]["workers"]
    assert workers == ["10.0.0.1:12345", "10.0.0.2:12345"]
    document.undo()
    assert "workers" not in (document.project.settings.get("training") or {}).get(
        "distribution", {}
    )


def test_a_bad_address_shows_an_inline_error(qtbot, document):
    dialog = ClusterDialog(document)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.addresses.setPlainText("10.0.0.1:12345\nbad host:80")
    assert dialog.error.isVisible() and "Line 2" in dialog.error.text()
    assert dialog.rows == [] and not dialog.ok_button.isEnabled()
    dialog.addresses.setPlainText("10.0.0.1:12345")
    assert not dialog.error.isVisible() and len(dialog.rows) == 1


def test_the_training_menu_opens_it(qtbot, qapp, tmp_path, document):
    from PySide6.QtCore import QSettings

    from studio.ui.mainwindow import MainWindow
    from studio.ui.recovery import RecoveryStore

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(document, settings=settings, recovery=RecoveryStore(tmp_path / "rec"))
    qtbot.addWidget(window)
    workbench = window.training
    assert workbench.act_cluster.text() == "&Multi-Worker Setup…"
    dialog = workbench.show_cluster_dialog()
    assert isinstance(dialog, ClusterDialog)
    dialog.reject()
