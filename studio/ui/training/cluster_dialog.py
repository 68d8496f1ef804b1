"""Training > Multi-Worker Setup…: one launch command per worker, each with its TF_CONFIG.

MultiWorkerMirroredStrategy reads the cluster (every worker's ``host:port``) and the
worker's own index from the ``TF_CONFIG`` environment variable. The dialog takes the worker
addresses (one per line; a line without a port gets the port field's), validates them inline,
and shows for each worker the command that starts it: the exported script
(``python train.py``) or ``studio train PROJECT --strategy multi-worker``. Copy puts a
command on the clipboard; Save Scripts… writes ``launch_worker0.sh``, ``launch_worker1.sh``,
... atomically. OK stores the addresses in ``settings["training"]["distribution"]["workers"]``
through the document's undoable ``set_setting``.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.project.runs import write_text_atomic

SCRIPT, CLI = "script", "cli"


def parse_workers(text: str, port: int) -> tuple[list[str], list[str]]:
    """The ``host:port`` addresses in ``text`` (one per line, blank lines skipped; a bare host
    gets ``port``) and the problems, one per bad line."""
    workers, errors = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        host, sep, given = line.rpartition(":")
        if not sep:
            host, given = line, str(port)
        if not host or any(c.isspace() for c in host) or "/" in host:
            errors.append(f"Line {number}: '{line}' is not host:port.")
        elif not given.isdigit() or not 0 < int(given) < 65536:
            errors.append(f"Line {number}: the port in '{line}' must be 1 to 65535.")
        elif f"{host}:{given}" in workers:
            errors.append(f"Line {number}: {host}:{given} is listed twice.")
        else:
            workers.append(f"{host}:{given}")
    if not workers and not errors:
        errors.append("List at least one worker (host:port), one per line.")
    return workers, errors


def tf_config(workers: list[str], index: int) -> str:
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def launch_commands(workers: list[str], command: str) -> list[str]:
    """One shell command per worker: its TF_CONFIG, then ``command``."""
    return [f"TF_CONFIG={shlex.quote(tf_config(workers, i))} {command}" for i in range(len(workers))]


class ClusterDialog(QDialog):
    """Worker addresses in, one launch command per worker out."""

    def __init__(self, document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.setWindowTitle("Multi-Worker Setup")
        self.resize(760, 520)
        project = document.project
        training = project.settings.get("training") or {}
        dist = training.get("distribution") if isinstance(training, dict) else None
        saved = dist.get("workers") if isinstance(dist, dict) else None

        self.addresses = QPlainTextEdit("\n".join(saved) if isinstance(saved, list) else "")
        self.addresses.setPlaceholderText("10.0.0.1:12345\n10.0.0.2:12345")
        self.addresses.setObjectName("cluster_addresses")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(12345)
        self.port.setToolTip("The port of an address given without one")
        self.launcher = QComboBox()
        path = getattr(project, "path", None)
        project_arg = shlex.quote(str(path)) if path else "PROJECT.studio.json"
        self.launcher.addItem("Exported script: python train.py", "python train.py")
        self.launcher.addItem(
            "Studio: studio train PROJECT --strategy multi-worker",
            f"studio train {project_arg} --strategy multi-worker",
        )
        self.error = QLabel()
        self.error.setObjectName("cluster_error")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()

        form = QFormLayout()
        form.addRow("Workers (host:port, chief first):", self.addresses)
        form.addRow("Default port:", self.port)
        form.addRow("Launch:", self.launcher)
        self.commands_box = QVBoxLayout()
        self.rows: list[tuple[QLineEdit, QPushButton]] = []
        self.save_button = QPushButton("Save Scripts…")
        self.save_button.clicked.connect(self.save_scripts_dialog)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.Ok)
        bottom = QHBoxLayout()
        bottom.addWidget(self.save_button)
        bottom.addStretch(1)
        bottom.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(QLabel("Run one command on each machine (each gets its own TF_CONFIG):"))
        layout.addLayout(self.commands_box)
        layout.addStretch(1)
        layout.addLayout(bottom)

        self.addresses.textChanged.connect(self.refresh)
        self.port.valueChanged.connect(self.refresh)
        self.launcher.currentIndexChanged.connect(self.refresh)
        self.workers: list[str] = []
        self.refresh()

    # ------------------------------------------------------------------ state
    def commands(self) -> list[str]:
        return launch_commands(self.workers, self.launcher.currentData())

    def refresh(self) -> None:
        workers, errors = parse_workers(self.addresses.toPlainText(), self.port.value())
        self.workers = [] if errors else workers
        self.error.setText("\n".join(errors))
        self.error.setVisible(bool(errors) and bool(self.addresses.toPlainText().strip()))
        for field, _button in self.rows:
            row = field.parentWidget()
            row.hide()  # gone now, not at the next turn of the event loop
            self.commands_box.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for i, command in enumerate(self.commands()):
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(QLabel(f"Worker {i}{' (chief)' if i == 0 else ''}:"))
            field = QLineEdit(command)
            field.setReadOnly(True)
            field.setCursorPosition(0)  # show the start: TF_CONFIG=...
            field.setToolTip(command)
            copy_button = QPushButton("Copy")
            copy_button.clicked.connect(lambda _=False, c=command: self.copy(c))
            line.addWidget(field, 1)
            line.addWidget(copy_button)
            self.commands_box.addWidget(row)
            self.rows.append((field, copy_button))
        self.save_button.setEnabled(bool(self.workers))
        self.ok_button.setEnabled(not errors)

    def copy(self, command: str) -> None:
        QGuiApplication.clipboard().setText(command)

    # ------------------------------------------------------------------ files
    def save_scripts(self, folder: str | os.PathLike) -> list[Path]:
        """Write ``launch_worker<i>.sh`` into ``folder`` (atomically); the paths written."""
        paths = []
        for i, command in enumerate(self.commands()):
            path = Path(folder) / f"launch_worker{i}.sh"
            text = (f"#!/bin/sh\n# Worker {i} of {len(self.workers)}: run this on "
                    f"{self.workers[i].rpartition(':')[0]}.\nexec {command}\n")  # fmt: skip
            write_text_atomic(path, text)
            path.chmod(path.stat().st_mode | 0o111)
            paths.append(path)
        return paths

    def save_scripts_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save Launch Scripts")
        if folder:
            self.save_scripts(folder)

    def accept(self) -> None:
        """Store the addresses in the training settings (one undoable step)."""
        if self.workers != self._saved_workers():
            training = copy.deepcopy(self.document.project.settings.get("training") or {})
            dist = training.get("distribution")
            dist = copy.deepcopy(dist) if isinstance(dist, dict) else {"strategy": dist or "default"}
            dist["workers"] = list(self.workers)
            training["distribution"] = dist
            self.document.set_setting("training", training, text="Set worker addresses")
        super().accept()

    def _saved_workers(self) -> list[str]:
        training = self.document.project.settings.get("training") or {}
        dist = training.get("distribution") if isinstance(training, dict) else None
        saved = dist.get("workers") if isinstance(dist, dict) else None
        return saved if isinstance(saved, list) else []
