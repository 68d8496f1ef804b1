"""The Qt editor: views that observe the document model and push commands to it."""


def qt_versions() -> str:
    """``"PySide6 6.11.0, Qt 6.11.0"`` (``studio --version``; imports Qt)."""
    import PySide6
    from PySide6.QtCore import qVersion

    return f"PySide6 {PySide6.__version__}, Qt {qVersion()}"
