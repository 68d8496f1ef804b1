"""Autosave and crash recovery: copies of unsaved work that survive a crash.

While a project has unsaved changes, the main window writes a recovery copy every 30 s and
shortly after each structural edit. A clean save or a normal close deletes it. A copy still
there when Studio starts means Studio ended without saving: the window offers to restore it.

Each copy is a normal project file (written atomically) plus a small ``.meta.json`` naming
the file it belongs to, in the user's data folder (``STUDIO_RECOVERY_DIR`` overrides it).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from studio.project import Project, load_project, save_project

# Sessions (main windows) open in this process; their copies are live work, not a crash's.
LIVE_SESSIONS: set[str] = set()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def recovery_dir() -> Path:
    override = os.environ.get("STUDIO_RECOVERY_DIR")
    if override:
        return Path(override)
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".studio") / "recovery"


@dataclass
class RecoveryEntry:
    copy: Path
    original: Path | None
    saved_at: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        name = self.original.name if self.original else "an untitled project"
        return f"{name}, unsaved changes from {when}"


class RecoveryStore:
    """Recovery copies for one session (``key``: one per open document)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or recovery_dir()

    def _key(self, original: Path | None, session: str) -> str:
        source = str(original.resolve()) if original else f"untitled-{session}"
        return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]

    def write(self, project: Project, session: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        key = self._key(project.path, session)
        copy = self.folder / f"{key}.studio.json"
        original = project.path
        # Save a detached copy so the document keeps its own path.
        snapshot = Project(
            name=project.name,
            graph=project.graph,
            settings=project.settings,
            weights=project.weights,
            description=project.description,
        )
        save_project(snapshot, copy)
        meta = {
            "original": str(original) if original else None,
            "saved_at": time.time(),
            "pid": os.getpid(),
            "session": session,
        }
        tmp = copy.with_suffix(".meta.tmp")
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, self.folder / f"{key}.meta.json")
        return copy

    def discard(self, original: Path | None, session: str) -> None:
        key = self._key(original, session)
        for suffix in (".studio.json", ".meta.json"):
            try:
                (self.folder / f"{key}{suffix}").unlink()
            except FileNotFoundError:
                pass

    def entries(self) -> list[RecoveryEntry]:
        if not self.folder.is_dir():
            return []
        found = []
        for meta_path in sorted(self.folder.glob("*.meta.json")):
            copy = meta_path.with_name(meta_path.name.replace(".meta.json", ".studio.json"))
            if not copy.exists():
                continue
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            pid, session = meta.get("pid"), meta.get("session")
            if pid == os.getpid() and session in LIVE_SESSIONS:
                continue  # another window of this process is working on it
            if pid is not None and pid != os.getpid() and _alive(int(pid)):
                continue  # another Studio that is still running
            original = Path(meta["original"]) if meta.get("original") else None
            found.append(RecoveryEntry(copy, original, float(meta.get("saved_at", 0))))
        return found

    def restore(self, entry: RecoveryEntry) -> Project:
        """The recovered project, pointing at its original file (still unsaved there)."""
        project = load_project(entry.copy)  # a ProjectError says what is wrong with it
        project.path = entry.original
        return project

    def remove(self, entry: RecoveryEntry) -> None:
        for path in (entry.copy, entry.copy.with_name(entry.copy.name.replace(".studio.json", ".meta.json"))):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
