"""Help inside the application: layer documentation, shortcuts, the user guide, About.

The layer documentation is Keras' own docstring of each catalog entry, generated with the
catalog into ``resources/layer_docs.json`` (``make catalog``), so the window shows it without
importing TensorFlow. :func:`docstring_to_markdown` turns the Google-style docstring into
Markdown for :meth:`QTextBrowser.setMarkdown`: ``Args:`` items become a list of bold names,
doctest examples fenced code blocks.

:class:`HelpActions` adds the Help menu's actions to the main window: Layer Documentation
(F1, on the selected node or palette entry), Keyboard Shortcuts (a sheet made from the
window's own actions, so it stays true), User Guide and About Studio (versions and devices,
which the engine process reports: the window never imports TensorFlow).
"""

from __future__ import annotations

import json
import platform
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.catalog import LayerSpec
from studio.resources import resource_path

if TYPE_CHECKING:
    from studio.ui.mainwindow import MainWindow

DOCS_FILE = "layer_docs.json"
ROOT = Path(__file__).resolve().parents[2]
USER_GUIDE = ROOT / "docs" / "user-guide.md"
KERAS_SEARCH = "https://keras.io/search.html?query={}"

# Sections whose items are "name: text" (a definition list).
_DEFINITION_SECTIONS = {"args", "arguments", "call arguments", "call args", "returns", "raises"}
_SECTIONS = _DEFINITION_SECTIONS | {
    "example", "examples", "input shape", "output shape", "output", "reference",
    "references", "note", "formula", "usage in a keras model",
}  # fmt: skip


@lru_cache(maxsize=1)
def layer_docs() -> dict[str, str]:
    """Every catalog entry's Keras docstring, by type ({} if the file is missing)."""
    try:
        with open(resource_path(DOCS_FILE), encoding="utf-8") as f:
            return json.load(f).get("docs", {})
    except (OSError, ValueError):
        return {}


def docstring_to_markdown(doc: str) -> str:
    """A Google-style (Keras) docstring, margin already removed, as Markdown."""
    out: list[str] = []
    lines = doc.expandtabs().splitlines()
    section = ""
    base: int | None = None  # indentation of the items of a definition section
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        # A fenced block: copied as it is, without its indentation.
        if stripped.startswith("```"):
            out.append("")
            out.append(stripped)
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body = lines[i]
                out.append(body[indent:] if body[:indent].strip() == "" else body.lstrip())
                i += 1
            out.append("```")
            out.append("")
            i += 1
            continue
        # Doctest lines, and the output that follows them up to a blank line.
        if stripped.startswith(">>>"):
            out.append("")
            out.append("```python")
            while i < len(lines) and lines[i].strip():
                body = lines[i]
                out.append(body[indent:] if body[:indent].strip() == "" else body.lstrip())
                i += 1
            out.append("```")
            out.append("")
            continue
        if indent == 0 and re.fullmatch(r"[A-Z][\w ]*:", stripped):
            title = stripped[:-1]
            if title.lower() in _SECTIONS:
                section = title.lower()
                base = None
                out += ["", f"#### {title}", ""]
            else:  # "For example:" and the like: a paragraph of its own
                section = ""
                out += ["", stripped, ""]
            i += 1
            continue
        if not stripped:
            out.append("")
            i += 1
            continue
        if section in _DEFINITION_SECTIONS and indent > 0:
            m = re.match(r"\*{0,2}([\w.]+)\s*(\([^)]*\))?:(\s|$)(.*)", stripped)
            if m and (base is None or indent == base):
                base = indent
                kind = f" {m.group(2)}" if m.group(2) else ""
                out.append(f"- **{m.group(1)}**{kind}: {m.group(4)}")
                i += 1
                continue
            if base is not None and indent > base and out:
                out[-1] += " " + stripped  # continuation of the item
                i += 1
                continue
        if indent == 0 and section in _DEFINITION_SECTIONS:
            section = ""
        # Any other line loses its indentation (4 spaces would make a code block).
        out.append(stripped)
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _cell(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text.replace("|", "\\|")


def layer_markdown(spec: LayerSpec, doc: str | None = None) -> str:
    """The documentation page of one node type: title, the docstring, its parameters."""
    if doc is None:
        doc = layer_docs().get(spec.type, "")
    where = f"`{spec.module}.{spec.class_name}`" if spec.module else ""
    parts = [f"# {spec.type}", "", f"*{spec.category}*  {where}", ""]
    if doc.strip():
        parts.append(docstring_to_markdown(doc))
    elif spec.description:
        parts.append(spec.description)
    if spec.params:
        parts += ["", "#### Parameters in Studio", "",
                  "| Parameter | Kind | Default | Required |", "|---|---|---|---|"]  # fmt: skip
        for p in spec.params:
            default = "" if p.required else _cell(spec.defaults.get(p.name, p.default))
            parts.append(f"| {p.name} | {p.kind} | {default} | {'yes' if p.required else ''} |")
    if not spec.type.startswith("custom.") and spec.type not in ("Backbone", "PreprocessInput"):
        url = KERAS_SEARCH.format(spec.class_name)
        parts += ["", f"[{spec.class_name} on keras.io]({url})"]
    return "\n".join(parts) + "\n"


class HelpViewer(QDialog):
    """A non-modal window showing one Markdown page (a layer, the guide, the shortcuts)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("help_viewer")
        self.setWindowTitle("Studio Help")
        self.resize(760, 680)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.document().setDocumentMargin(14)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self.topic = ""

    def show_markdown(self, title: str, text: str, base: Path | None = None) -> None:
        self.topic = title
        self.setWindowTitle(f"{title} — Studio Help")
        if base is not None:
            self.browser.setSearchPaths([str(base)])
        self.browser.setMarkdown(text)
        self.browser.verticalScrollBar().setValue(0)
        self.show()
        self.raise_()
        self.activateWindow()

    def text(self) -> str:
        return self.browser.toPlainText()


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(action text, its shortcuts) for every action with a shortcut, sorted by text."""
    rows = {}
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        keys = [k for k in keys if k]
        if not keys:
            continue
        text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        text = re.sub(r"\s+Set .*$", "", text) if text.startswith(("Undo", "Redo")) else text
        rows[text] = ", ".join(dict.fromkeys(keys))
    return sorted(rows.items(), key=lambda r: r[0].lower())


def shortcuts_markdown(actions: list[QAction]) -> str:
    lines = ["# Keyboard shortcuts", "", "| Action | Shortcut |", "|---|---|"]
    for text, keys in shortcut_rows(actions):
        lines.append(f"| {text.rstrip('.…')} | {keys} |")
    lines += ["", "Canvas shortcuts act on the canvas when it has the keyboard focus."]
    return "\n".join(lines) + "\n"


class AboutDialog(QDialog):
    """Studio's, Python's, Qt's and (once the engine said) TensorFlow's versions, devices."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setObjectName("about_dialog")
        self.setWindowTitle("About Studio")
        self.window_ = window
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMinimumWidth(420)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        window.engine.loaded.connect(self.refresh)
        self.refresh()

    def refresh(self, *_args) -> None:
        self.label.setText(about_html(self.window_.engine))

    def text(self) -> str:
        return re.sub(r"<[^>]+>", " ", self.label.text())


def about_html(engine) -> str:
    import PySide6
    from PySide6.QtCore import qVersion

    from studio import __version__

    info = getattr(engine, "info", None) or {}
    rows = [("Studio", __version__), ("Python", platform.python_version())]
    if info:
        rows += [("TensorFlow", info.get("tensorflow", "?")), ("Keras", info.get("keras", "?"))]
    elif engine.is_loaded:  # an engine that reports only its version line
        rows.append(("TensorFlow", engine.versions))
    else:
        rows.append(("TensorFlow", "loading…"))
    rows += [("PySide6", PySide6.__version__), ("Qt", qVersion())]
    if info:
        devices = info.get("devices") or []
        rows.append(("Devices", "<br>".join(devices) or "none"))
    body = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
    return (
        f"<h3>Studio {__version__}</h3>"
        "<p>Build, train and export Keras neural networks as graphs.</p>"
        f"<table>{body}</table>"
    )


class HelpActions:
    """The Help menu's actions and their windows, installed into the main window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.viewer: HelpViewer | None = None
        self.about_dialog: AboutDialog | None = None
        w = window
        self.act_layer_doc = QAction("&Layer Documentation", w)
        self.act_layer_doc.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.act_layer_doc.setStatusTip("Keras' documentation of the selected layer")
        self.act_layer_doc.triggered.connect(lambda _=False: self.show_selected_layer())
        self.act_shortcuts = QAction("&Keyboard Shortcuts", w)
        self.act_shortcuts.setShortcut(QKeySequence("Ctrl+/"))
        self.act_shortcuts.triggered.connect(lambda _=False: self.show_shortcuts())
        self.act_guide = QAction("&User Guide", w)
        self.act_guide.triggered.connect(lambda _=False: self.show_user_guide())
        for action in (self.act_layer_doc, self.act_shortcuts):
            w.addAction(action)  # window-wide shortcuts, also when the menu bar is hidden
        menu = w.help_menu
        first = menu.actions()[0] if menu.actions() else None
        for action in (self.act_layer_doc, self.act_shortcuts, self.act_guide):
            menu.insertAction(first, action)
        if first is not None:
            menu.insertSeparator(first)

    # ------------------------------------------------------------------ pages
    def _viewer(self) -> HelpViewer:
        if self.viewer is None:
            self.viewer = HelpViewer(self.window)
        return self.viewer

    def selected_type(self) -> str | None:
        """The type F1 is about: the palette's entry when the palette has the focus, else
        the selected node on the canvas, else the palette's current entry."""
        w = self.window
        palette_type = w.layer_palette.selected_type()
        focus = w.focusWidget()
        if palette_type and focus is not None and w.layer_palette.isAncestorOf(focus):
            return palette_type
        scene = w.scene
        if scene is not None:
            names = scene.selected_names()
            if names:
                return scene.current_graph().node(names[0]).type
        return palette_type

    def show_selected_layer(self) -> None:
        type_ = self.selected_type()
        if type_ is None:
            self.window.statusBar().showMessage(
                "Select a node or a palette entry to see its documentation.", 6000
            )
            return
        self.show_layer(type_)

    def show_layer(self, type_: str) -> None:
        catalog = self.window.document.catalog
        spec = catalog.get(type_)
        if spec is None:
            text = f"# {type_}\n\nThis type is not in the catalog.\n"
        elif type_.startswith("custom.") or type_ in ("Backbone", "PreprocessInput"):
            text = layer_markdown(spec, doc=spec.description)
        else:
            text = layer_markdown(spec)
        self._viewer().show_markdown(type_, text)

    def show_shortcuts(self) -> None:
        w = self.window
        actions = list(w.findChildren(QAction))
        self._viewer().show_markdown("Keyboard Shortcuts", shortcuts_markdown(actions))

    def show_user_guide(self) -> None:
        if USER_GUIDE.exists():
            text = USER_GUIDE.read_text(encoding="utf-8")
            self._viewer().show_markdown("User Guide", text, base=USER_GUIDE.parent)
            return
        readme = ROOT / "README.md"
        if readme.exists():  # the guide is not written yet: the README is the next best
            self._viewer().show_markdown("User Guide", readme.read_text(encoding="utf-8"),
                                         base=ROOT)  # fmt: skip
            return
        QDesktopServices.openUrl(QUrl("https://keras.io/"))

    def show_about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.window)
        self.about_dialog.refresh()
        self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog
