"""The welcome page: recent projects with pictures, New/Template/Open/Example/Import, and
when it shows (Close Project, File > Welcome Page, `studio` with recent projects)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from studio.ui.document import Document
from studio.ui.mainwindow import MainWindow
from studio.ui.recovery import RecoveryStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(Document(), settings=settings, recovery=RecoveryStore(tmp_path / "rec"))
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.training.controller.shutdown()
    w.maybe_save = lambda: True
    w.close()
    w.engine.shutdown()
    w.deleteLater()


def saved_projects(tmp_path, window, names=("iris_mlp", "multi_io")) -> list[Path]:
    """Projects saved in tmp_path and in the recent list (the last one first)."""
    paths = []
    for name in names:
        path = tmp_path / "work" / f"{name}.studio.json"
        path.parent.mkdir(exist_ok=True)
        shutil.copy(EXAMPLES / f"{name}.studio.json", path)
        window._add_recent(path)
        paths.append(path.resolve())
    return paths


def test_recent_projects_show_as_cards_with_pictures_and_a_click_opens_one(qtbot, window, tmp_path):
    iris, multi = saved_projects(tmp_path, window)
    window.close_project()
    page = window.welcome
    assert window.welcome_shown() and window.view.isHidden()
    assert window.palette_dock.isHidden() and window.inspector_dock.isHidden()  # the whole window
    assert [c.path for c in page.cards] == [str(multi), str(iris)]
    qtbot.waitUntil(lambda: all(c.has_picture for c in page.cards), timeout=20_000)  # lazily
    for card in page.cards:
        assert not card.picture.pixmap().isNull() and card.picture.pixmap().width() > 100
    assert not page.back_button.isVisible()  # nothing open to go back to

    qtbot.mouseClick(page.cards[1], Qt.LeftButton, pos=QPoint(40, 40))
    assert window.document.path == iris
    assert not window.welcome_shown() and window.view.isVisible()
    assert window.palette_dock.isVisible() and window.inspector_dock.isVisible()  # back
    assert window._recent()[0] == str(iris)


def test_pictures_are_kept_per_file_version(qtbot, window, tmp_path):
    from studio.ui import welcome

    (iris,) = saved_projects(tmp_path, window, ("iris_mlp",))
    first = welcome.project_thumbnail(iris)
    assert welcome.project_thumbnail(iris) is first  # cached
    shutil.copy(EXAMPLES / "functional_mlp.studio.json", iris)
    import os

    os.utime(iris, ns=(iris.stat().st_atime_ns, iris.stat().st_mtime_ns + 10**9))
    assert welcome.cached_thumbnail(iris) is None  # the file changed: drawn again
    assert welcome.project_thumbnail(iris) is not first


def test_open_example_opens_mnist_cnn(qtbot, window):
    window.show_welcome()
    page = window.welcome
    labels = {a.text(): a for a in page.example_menu.actions()}
    assert "MNIST CNN" in labels and len(labels) == len(list(EXAMPLES.glob("*.studio.json")))
    labels["MNIST CNN"].trigger()
    assert window.document.path.name == "mnist_cnn.studio.json"
    assert not window.welcome_shown()
    assert window._recent() == []  # the bundled file is not a project of the user's


def test_a_missing_project_says_so_and_can_be_removed(qtbot, window, tmp_path):
    iris, multi = saved_projects(tmp_path, window)
    iris.unlink()
    window.show_welcome()
    page = window.welcome
    missing = [c for c in page.cards if c.missing]
    assert [c.path for c in missing] == [str(iris)]
    assert missing[0].picture.text() == "File not found"
    qtbot.mouseClick(missing[0], Qt.LeftButton, pos=QPoint(40, 40))  # does not open it
    assert window.welcome_shown() and window.document.path is None
    qtbot.mouseClick(missing[0].remove_button, Qt.LeftButton)
    assert [c.path for c in page.cards] == [str(multi)]
    assert window._recent() == [str(multi)]


def test_start_buttons_reach_the_window_actions(qtbot, window, monkeypatch):
    called = []
    for name in ("new_from_template", "open_dialog", "import_dialog"):
        monkeypatch.setattr(window, name, lambda name=name: called.append(name))
    window.show_welcome()  # the page connects to the window's methods as they are now
    page = window.welcome
    for button in (page.template_button, page.open_button, page.import_button):
        qtbot.mouseClick(button, Qt.LeftButton)
    assert called == ["new_from_template", "open_dialog", "import_dialog"]
    qtbot.mouseClick(page.new_button, Qt.LeftButton)
    assert not window.welcome_shown() and window.document.path is None


def test_welcome_page_from_the_menu_and_back(qtbot, window):
    window.open_path(EXAMPLES / "iris_mlp.studio.json")
    assert window.act_welcome in window.file_menu.actions()
    window.act_welcome.trigger()
    page = window.welcome
    assert window.welcome_shown() and page.back_button.isVisible()
    qtbot.mouseClick(page.back_button, Qt.LeftButton)
    assert not window.welcome_shown()
    assert window.document.path.name == "iris_mlp.studio.json"


def test_studio_alone_shows_the_page_only_with_recent_projects(tmp_path):
    from studio.ui.welcome import show_welcome_at_start

    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    assert not show_welcome_at_start(settings)
    settings.setValue("recentFiles", [str(tmp_path / "a.studio.json")])
    assert show_welcome_at_start(settings)
