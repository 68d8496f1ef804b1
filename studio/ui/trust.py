"""Trust: a project's code runs only after the user has seen it and said yes.

A project file can hold Python code (custom layers, losses, metrics). Opening such a file
runs none of it: the graph's ``trusted_code`` flag is False, the engine leaves custom nodes
"not evaluated" and training refuses. :func:`ask_trust` shows every definition, read-only
and highlighted, in a :class:`TrustDialog` and asks "Run this project's code?" ("Open
Without Running" is the default). Trusting sets the flag through
:meth:`Document.set_trusted_code` and remembers the code's fingerprint
(:func:`studio.core.code.code_fingerprint`) for that file in ``QSettings``, so the same code
in the same file is not asked about again; code that changed on disk is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels.code_editor import KIND_LABELS, CodeEdit

TRUST_GROUP = "trust"
MAX_FINGERPRINTS = 20


def _key(path: str | Path) -> str:
    # QSettings reads "/" in a key as a group: key by a digest of the absolute path.
    absolute = str(Path(path).resolve())
    return f"{TRUST_GROUP}/{hashlib.sha256(absolute.encode('utf-8')).hexdigest()[:40]}"


def trusted_fingerprints(settings: QSettings, path: str | Path) -> list[str]:
    value = settings.value(_key(path), [])
    if isinstance(value, str):
        value = [value]
    return [v for v in (value or []) if v]


def is_trusted(settings: QSettings, path: str | Path | None, fingerprint: str) -> bool:
    """Whether the user trusted this code (by fingerprint) in this file before."""
    return path is not None and fingerprint in trusted_fingerprints(settings, path)


def remember_trust(settings: QSettings, path: str | Path | None, fingerprint: str) -> None:
    """Record that the user trusts this code in this file."""
    if path is None:
        return
    known = [f for f in trusted_fingerprints(settings, path) if f != fingerprint]
    settings.setValue(_key(path), [fingerprint, *known][:MAX_FINGERPRINTS])


class TrustDialog(QDialog):
    """Every definition of the project, read-only, and the question: run it or not."""

    def __init__(
        self, graph, path: str | Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trust_dialog")
        self.setWindowTitle("Run this project's code?")
        self.setModal(True)
        self.resize(760, 560)
        code = dict(getattr(graph, "code", None) or {})
        where = Path(path).name if path else "This project"

        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_MessageBoxIconSize)
        icon.setPixmap(
            self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size)
        )
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        headline = QLabel("Run this project's code?")
        font = QFont(headline.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        headline.setFont(font)
        kinds = ", ".join(
            f"{sum(c.kind == k for c in code.values())} {label.lower()}{'s' * (sum(c.kind == k for c in code.values()) != 1)}"
            for k, label in KIND_LABELS.items()
            if any(c.kind == k for c in code.values())
        )
        self.explanation = QLabel(
            f"<b>{_html(where)}</b> contains Python code ({kinds}). Studio runs it to work out "
            "shapes and to train. Code can do anything your user account can (read and "
            "delete files, use the network), so run it only if you trust where the project "
            "came from.<br><br>Without running, the project opens and its structure is "
            "checked; its custom layers are shown as not evaluated until you trust it."
        )
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        text = QVBoxLayout()
        text.addWidget(headline)
        text.addWidget(self.explanation)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addLayout(text, 1)

        self.tabs = QTabWidget()
        self.editors: dict[str, CodeEdit] = {}
        for name, definition in code.items():
            editor = CodeEdit()
            editor.setPlainText(definition.source)
            editor.setReadOnly(True)
            editor.setObjectName(f"trust_code_{name}")
            self.editors[name] = editor
            self.tabs.addTab(editor, f"{KIND_LABELS.get(definition.kind, definition.kind)} {name}")

        self.buttons = QDialogButtonBox()
        self.trust_button = QPushButton("Trust and Run")
        self.trust_button.setToolTip(
            "Run this project's code now and whenever this file opens unchanged"
        )
        self.skip_button = QPushButton("Open Without Running")
        self.skip_button.setToolTip("Open the project; its code stays not evaluated")
        self.buttons.addButton(self.trust_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.skip_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.trust_button.setAutoDefault(False)
        self.skip_button.setDefault(True)
        self.trust_button.clicked.connect(self.accept)
        self.skip_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.skip_button.setFocus(Qt.FocusReason.OtherFocusReason)


def ask_trust(parent: QWidget | None, document, settings: QSettings) -> bool:
    """Ask whether the document's code may run (unless there is none, or the user trusted
    this code in this file before); True when it may. Trusting is remembered."""
    from studio.core.code import code_fingerprint

    graph = document.graph
    if not getattr(graph, "code", None) or document.trusted_code:
        return True
    fingerprint = code_fingerprint(graph)
    if is_trusted(settings, document.path, fingerprint):
        document.set_trusted_code(True)
        return True
    dialog = TrustDialog(graph, document.path, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
    finally:
        dialog.deleteLater()
    document.set_trusted_code(True)
    remember_trust(settings, document.path, fingerprint)
    return True


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["TrustDialog", "ask_trust", "is_trusted", "remember_trust", "trusted_fingerprints"]
