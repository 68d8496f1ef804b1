"""Start the GUI: ``studio [PROJECT]`` and ``studio --screenshot OUT.png [PROJECT]``.

``studio`` without a project shows the welcome page (studio/ui/welcome.py) when the user has
recent projects, and opens the bundled example otherwise."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.project import PROJECT_SUFFIX, ProjectError
from studio.resources import example_path, resource_path

APP_ID = "io.github.studio.Studio"  # the desktop entry, icon and AppStream id
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)

SCREENSHOT_TIMEOUT_S = 180


def _application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    # Wayland compositors match the window to packaging/linux/<APP_ID>.desktop by this name.
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


def app_icon():
    """Studio's icon (resources/icons/, drawn by tools/make_icons.py): every PNG size, so
    that each place that shows it (title bar, task switcher, dock) gets a sharp one."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon

    icon = QIcon()
    folder = resource_path("icons")
    for size in ICON_SIZES:
        png = folder / f"studio-{size}.png"
        if png.is_file():
            icon.addFile(str(png), QSize(size, size))
    return icon


def run_gui(project: str | None = None, screenshot: str | None = None) -> int:
    """Open the main window on ``project`` (default: the bundled example)."""
    started = time.perf_counter()
    app = _application()
    from studio.ui.document import Document
    from studio.ui.mainwindow import MainWindow

    # `studio` alone: the welcome page when the user has recent projects, else the example.
    welcome = False
    if project is None and not screenshot:
        from PySide6.QtCore import QSettings

        from studio.ui.welcome import show_welcome_at_start

        welcome = show_welcome_at_start(QSettings("Studio", "Studio"))
    path = Path(project) if project else example_path("mnist_cnn.studio.json")
    document = None
    error = None
    if welcome:
        document = Document()
    elif path.name.endswith(PROJECT_SUFFIX) or path.suffix.lower() not in {".keras", ".h5", ".hdf5", ".json"}:
        try:
            document = Document.open(path)
        except ProjectError as exc:
            error = str(exc)
    settings = None
    if screenshot:
        # A screenshot is taken in a fixed, default window: not the user's saved layout.
        import tempfile

        from PySide6.QtCore import QSettings

        ini = Path(tempfile.mkdtemp(prefix="studio-shot-")) / "settings.ini"
        settings = QSettings(str(ini), QSettings.IniFormat)
    window = MainWindow(document, settings=settings)
    if screenshot:
        window.resize(1920, 1080)
    if welcome:
        window.show_welcome()
    window.show()
    window.launch_seconds = time.perf_counter() - started
    if error:
        if screenshot:
            print(f"studio: {error}", file=sys.stderr)
            return 2
        QMessageBox.critical(window, "Cannot open project", error)
    elif document is None:
        window.import_model(path)
    # TensorFlow loads in the engine thread once the window is on screen.
    QTimer.singleShot(0, window.engine.start)
    if not screenshot:
        QTimer.singleShot(0, window.ask_trust)  # a project with code: show it, ask to run it
        QTimer.singleShot(200, window.offer_recovery)
        code = app.exec()
        window.engine.shutdown()
        return code
    return _screenshot(app, window, Path(screenshot))


READABLE_ZOOM = 0.75  # below about 0.55 the canvas leaves out shape labels


def _frame_for_reading(view) -> None:
    """Fit the graph; when that would make it too small to read, show its start (the
    inputs, on the left) at a readable zoom instead, as a user would scroll to it."""
    view.fit_all()
    if view.zoom() >= READABLE_ZOOM:
        return
    rect = view.scene().items_rect()
    view.set_zoom(READABLE_ZOOM)
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    margin = 40 / READABLE_ZOOM
    view.centerOn(rect.left() - margin + visible.width() / 2, rect.center().y())


def _screenshot(app: QApplication, window, out: Path) -> int:
    """Wait until the shapes of the open graph are on screen, then save the window."""
    deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
    while time.monotonic() < deadline:
        app.processEvents()
        engine = window.engine
        if engine.is_loaded and window.shown_generation == engine.generation and not window._jobs:
            break
        time.sleep(0.01)
    else:
        print("studio: timed out waiting for shapes; the screenshot shows what was there.", file=sys.stderr)
    # Show the inspector at work: select the first layer after the inputs.
    layers = [n.name for n in window.document.graph.nodes if not n.is_input]
    if layers:
        window.scene.select_nodes(layers[:1])
    _frame_for_reading(window.view)
    for _ in range(5):
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(out))
    window.document.stack.set_clean()  # a screenshot never asks to save
    window.close()
    window.engine.shutdown()
    if not ok:
        print(f"studio: could not write {out}", file=sys.stderr)
        return 2
    print(f"Saved a screenshot of {window.document.title} to {out}.")
    return 0
