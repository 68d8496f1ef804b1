"""Help (layer documentation, shortcuts, About) and Preferences inside the main window."""

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from studio.ui.canvas.style import Fonts
from studio.ui.help import docstring_to_markdown, layer_docs
from studio.ui.preferences import Preferences, apply_theme
from studio.ui.training.controller import set_default_runs_base


@pytest.fixture
def make_window(make_window, document):
    """The conftest window (on ``document`` by default); the look, the canvas font and the
    run folder are application-wide, so they are put back for the next test."""

    def make(doc=None):
        return make_window(doc or document)

    yield make
    apply_theme("system")  # the look is application-wide: give the next test the platform's
    Fonts.set_size(Fonts.DEFAULT_SIZE)
    set_default_runs_base(None)


def test_docstring_markdown_lists_args_and_fences_examples():
    md = docstring_to_markdown(layer_docs()["Conv2D"])
    assert "#### Args" in md and "- **filters**: int, the dimension" in md
    assert "```python\n>>> x = np.random.rand(4, 10, 10, 128)" in md
    assert "\n    " not in md.split("```")[0]  # no accidental indented code blocks


def test_f1_on_a_selected_node_shows_keras_documentation(make_window):
    w = make_window()
    w.scene.select_nodes(["dense"])
    w.view.setFocus()
    w.help.act_layer_doc.trigger()
    viewer = w.help.viewer
    assert viewer is not None and viewer.isVisible()
    text = viewer.text()
    assert "Just your regular densely-connected NN layer" in text
    assert "units" in text and "Positive integer, dimensionality of the output space" in text
    assert "Parameters in Studio" in text
    assert w.help.act_layer_doc.shortcut().matches(Qt.Key_F1)


def test_f1_on_a_palette_entry(make_window, qtbot):
    w = make_window()
    w.scene.select_nodes(["dense"])  # the palette's focus wins over the canvas' selection
    tree = w.layer_palette.tree
    tree.setCurrentItem(w.layer_palette.item_for("LSTM"))
    tree.setFocus()
    qtbot.waitUntil(tree.hasFocus)
    w.help.act_layer_doc.trigger()
    assert w.help.viewer.topic == "LSTM"
    assert "Long Short-Term Memory layer" in w.help.viewer.text()


def test_backbone_shows_its_catalog_description(make_window):
    w = make_window()
    w.help.show_layer("Backbone")
    spec = w.document.catalog["Backbone"]
    assert spec.description.split(".")[0] in w.help.viewer.text()


def test_shortcuts_sheet_lists_the_window_actions(make_window):
    w = make_window()
    w.help.act_shortcuts.trigger()
    text = w.help.viewer.text()
    assert "Ctrl+Z" in text and "Undo" in text
    assert "F1" in text and "Ctrl+," in text


def test_user_guide_opens_something(make_window):
    w = make_window()
    w.help.act_guide.trigger()
    assert w.help.viewer.isVisible() and w.help.viewer.text().strip()


def test_about_before_the_engine_loaded(make_window):
    w = make_window()
    dialog = w.help.show_about()
    assert "loading" in dialog.text()
    assert "PySide6" in dialog.text() and "Python" in dialog.text()


@pytest.mark.slow
def test_about_shows_versions_and_devices_from_the_engine(make_window, qtbot):
    w = make_window()
    dialog = w.help.show_about()
    with qtbot.waitSignal(w.engine.loaded, timeout=180_000):
        w.engine.start()
    text = dialog.text()
    assert "loading" not in text
    assert w.engine.info["tensorflow"] in text and w.engine.info["keras"] in text
    assert "CPU:0" in text


def test_dark_theme_applies_live_and_persists(make_window, tmp_path):
    w = make_window()
    dialog = w.preferences.open_dialog()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()
    assert QApplication.palette().color(QApplication.palette().ColorRole.Window).lightness() < 80
    assert w.scene.theme.dark
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    assert Preferences.load(settings).theme == "dark"
    again = w.preferences.open_dialog()
    assert again.theme.currentData() == "dark"
    again.reject()


def test_autosave_interval_and_font_size_apply_live(make_window):
    w = make_window()
    item = w.scene.node_item("dense")
    before = item.type_text
    prefs = Preferences.load(w.settings)
    prefs.autosave_s = 120
    prefs.canvas_font = 14
    w.preferences.set_preferences(prefs)
    assert w._autosave.interval() == 120_000
    assert Fonts.get().body.pixelSize() == 14 and Fonts.get().header.pixelSize() == 15
    assert before == "Dense" and item.type_text == "Dense"


def test_settings_are_read_at_start(make_window, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    Preferences(autosave_s=45, canvas_font=9, runs_folder=str(tmp_path / "runs")).save(settings)
    w = make_window()
    assert w._autosave.interval() == 45_000
    assert Fonts.get().body.pixelSize() == 9
    from studio.ui.training.controller import runs_folder

    project = w.document.project  # never saved
    assert runs_folder(project).parent == tmp_path / "runs" / "unsaved"
    prefs = Preferences.load(w.settings)
    prefs.runs_folder = ""
    w.preferences.set_preferences(prefs)
    assert not str(runs_folder(project)).startswith(str(tmp_path / "runs"))


def test_gpu_off_reaches_the_trainer_and_engine_environment(make_window, monkeypatch):
    w = make_window()
    prefs = Preferences.load(w.settings)
    prefs.allow_gpu = False
    w.preferences.set_preferences(prefs)
    assert w.engine.env == {"CUDA_VISIBLE_DEVICES": "-1"}
    controller = w.training.controller
    started = []
    monkeypatch.setattr(controller, "_Supervisor", None, raising=False)
    from studio.ui.training import controller as module

    class FakeSupervisor:
        def __init__(self, job, *args):
            started.append(job)
            self.finished = type("S", (), {"connect": lambda *_: None})()

        def start(self):
            pass

    monkeypatch.setattr(module, "_Supervisor", FakeSupervisor)
    monkeypatch.setattr(controller._timer, "start", lambda: None)
    controller.evaluate(w.document.project.path or "/nonexistent/run", None)
    assert started[0]["env"] == {"CUDA_VISIBLE_DEVICES": "-1"}
    controller._thread = None
    prefs.allow_gpu = True
    w.preferences.set_preferences(prefs)
    assert controller.env == {} and w.engine.env == {}
