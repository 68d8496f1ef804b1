"""Preferences (Edit > Preferences…, Ctrl+,), stored in the window's QSettings.

* theme: ``system`` (the platform's style and palette), ``light`` or ``dark`` (Fusion with a
  light or dark palette); applied live, and the canvas follows (its :class:`Theme` is made
  from the palette);
* autosave interval, in seconds (the window's recovery timer);
* default run folder: where runs of projects without a folder of their own (never saved, or
  a bundled example) go; empty: the user's application data;
* allow GPU: when off, the training and engine processes start with
  ``CUDA_VISIBLE_DEVICES=-1`` (the engine, already running, keeps its devices until the next
  start of Studio);
* canvas font size: the pixel size of the node text.

Settings are read when the window is made (:class:`PreferenceActions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStyleFactory,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from studio.ui.mainwindow import MainWindow

THEMES = ("system", "light", "dark")
DEFAULT_AUTOSAVE_S = 30
FONT_RANGE = (8, 14)  # node text beyond 14 px would not fit the canvas' line height


@dataclass
class Preferences:
    theme: str = "system"
    autosave_s: int = DEFAULT_AUTOSAVE_S
    runs_folder: str = ""
    allow_gpu: bool = True
    canvas_font: int = 11

    @classmethod
    def load(cls, settings: QSettings) -> Preferences:
        def get(key, default, kind):
            value = settings.value(f"preferences/{key}", default)
            try:
                if kind is bool:
                    return value if isinstance(value, bool) else str(value).lower() == "true"
                return kind(value)
            except (TypeError, ValueError):
                return default

        prefs = cls(
            theme=get("theme", "system", str),
            autosave_s=get("autosave_s", DEFAULT_AUTOSAVE_S, int),
            runs_folder=get("runs_folder", "", str),
            allow_gpu=get("allow_gpu", True, bool),
            canvas_font=get("canvas_font", 11, int),
        )
        if prefs.theme not in THEMES:
            prefs.theme = "system"
        prefs.autosave_s = max(5, prefs.autosave_s)
        prefs.canvas_font = min(max(prefs.canvas_font, FONT_RANGE[0]), FONT_RANGE[1])
        return prefs

    def save(self, settings: QSettings) -> None:
        for key, value in self.__dict__.items():
            settings.setValue(f"preferences/{key}", value)
        settings.sync()

    def process_env(self) -> dict[str, str]:
        """Environment for the training and engine processes."""
        return {} if self.allow_gpu else {"CUDA_VISIBLE_DEVICES": "-1"}


# --------------------------------------------------------------------------- theme

_system: tuple[str, QPalette] | None = None  # the style and palette Studio started with


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor("#2b2d31"), QColor("#1e1f22"), QColor("#e6e6e6")
    disabled = QColor("#7d8590")
    for role, color in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor("#26282c")),
        (QPalette.ColorRole.ToolTipBase, QColor("#3a3d42")),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.PlaceholderText, disabled),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor("#34373c")),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor("#ff6b6b")),
        (QPalette.ColorRole.Light, QColor("#45484e")),
        (QPalette.ColorRole.Midlight, QColor("#3a3d42")),
        (QPalette.ColorRole.Mid, QColor("#303236")),
        (QPalette.ColorRole.Dark, QColor("#18191b")),
        (QPalette.ColorRole.Shadow, QColor("#000000")),
        (QPalette.ColorRole.Highlight, QColor("#3d7bd9")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.Link, QColor("#6ea8fe")),
        (QPalette.ColorRole.LinkVisited, QColor("#b18cf2")),
    ):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text,
                 QPalette.ColorRole.ButtonText):  # fmt: skip
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_theme(theme: str) -> None:
    """Switch the application's look: system, light or dark (live)."""
    global _system
    app = QApplication.instance()
    if app is None:
        return
    if _system is None:
        if theme == "system":
            return  # nothing was changed yet: leave the platform's look alone
        _system = (app.style().name(), QPalette(app.palette()))
    if theme == "system":
        app.setStyle(QStyleFactory.create(_system[0]) or _system[0])
        app.setPalette(_system[1])
        return
    app.setStyle("Fusion")
    if theme == "dark":
        app.setPalette(dark_palette())
    else:
        app.setPalette(app.style().standardPalette())


# --------------------------------------------------------------------------- dialog


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferences_dialog")
        self.setWindowTitle("Preferences")
        self.theme = QComboBox()
        for value in THEMES:
            self.theme.addItem(value.capitalize(), value)
        self.theme.setCurrentIndex(THEMES.index(prefs.theme))
        self.autosave = QSpinBox()
        self.autosave.setRange(5, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setValue(prefs.autosave_s)
        self.autosave.setToolTip("How often unsaved changes are kept for crash recovery.")
        self.runs_folder = QLineEdit(prefs.runs_folder)
        self.runs_folder.setPlaceholderText("Studio's application data folder")
        self.runs_folder.setToolTip(
            "Where the runs of projects never saved go (a saved project keeps its runs in a "
            "<name>.runs folder beside its file)."
        )
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.runs_folder, 1)
        row.addWidget(browse)
        self.allow_gpu = QCheckBox("TensorFlow may use the GPU")
        self.allow_gpu.setChecked(prefs.allow_gpu)
        self.allow_gpu.setToolTip(
            "When off, training runs on the CPU (the shape engine after a restart of Studio)."
        )
        self.canvas_font = QSpinBox()
        self.canvas_font.setRange(*FONT_RANGE)
        self.canvas_font.setSuffix(" px")
        self.canvas_font.setValue(prefs.canvas_font)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("&Theme:", self.theme)
        form.addRow("&Autosave every:", self.autosave)
        form.addRow("Default run folder:", row)
        form.addRow("", self.allow_gpu)
        form.addRow("Canvas &font size:", self.canvas_font)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Default run folder", self.runs_folder.text())
        if folder:
            self.runs_folder.setText(folder)

    def preferences(self) -> Preferences:
        return Preferences(
            theme=self.theme.currentData(),
            autosave_s=self.autosave.value(),
            runs_folder=self.runs_folder.text().strip(),
            allow_gpu=self.allow_gpu.isChecked(),
            canvas_font=self.canvas_font.value(),
        )


class PreferenceActions:
    """Edit > Preferences…, and applying the stored preferences to the window."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.dialog: PreferencesDialog | None = None
        self.act_preferences = QAction("Pr&eferences…", window)
        self.act_preferences.setShortcuts([QKeySequence("Ctrl+,")])
        self.act_preferences.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.act_preferences.triggered.connect(lambda _=False: self.open_dialog())
        window.addAction(self.act_preferences)
        window.edit_menu.addSeparator()
        window.edit_menu.addAction(self.act_preferences)
        self.prefs = Preferences.load(window.settings)
        self.apply(self.prefs)

    def open_dialog(self) -> PreferencesDialog:
        """Show the dialog (non-blocking); OK stores and applies."""
        self.dialog = PreferencesDialog(Preferences.load(self.window.settings), self.window)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.accepted.connect(lambda d=self.dialog: self.set_preferences(d.preferences()))
        self.dialog.show()
        return self.dialog

    def set_preferences(self, prefs: Preferences) -> None:
        prefs.save(self.window.settings)
        self.apply(prefs)

    def apply(self, prefs: Preferences) -> None:
        from studio.ui.canvas.style import Fonts
        from studio.ui.training.controller import set_default_runs_base

        w = self.window
        self.prefs = prefs
        apply_theme(prefs.theme)
        w._autosave.setInterval(prefs.autosave_s * 1000)
        set_default_runs_base(prefs.runs_folder or None)
        env = prefs.process_env()
        w.engine.env = dict(env)  # takes effect when the engine (next) starts
        controller = getattr(getattr(w, "training", None), "controller", None)
        if controller is not None:
            controller.env = dict(env)
        if Fonts.set_size(prefs.canvas_font) and w.scene is not None:
            w.scene.refresh_fonts()
