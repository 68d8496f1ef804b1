"""Linux desktop integration (packaging/linux/, make install-desktop) and the app icon."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_ID = "io.github.studio.Studio"
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
MIME = LINUX / f"{APP_ID}-mime.xml"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return path


def test_desktop_entry_validates():
    tool = _tool("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error:" not in result.stdout + result.stderr


def test_metainfo_validates():
    tool = _tool("appstreamcli", "appstream")
    result = subprocess.run(
        [tool, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ids_agree():
    entry = DESKTOP.read_text(encoding="utf-8")
    assert f"Icon={APP_ID}\n" in entry
    assert "Exec=studio %f\n" in entry
    assert "MimeType=application/x-studio-project;\n" in entry
    component = ET.parse(METAINFO).getroot()
    assert component.findtext("id") == APP_ID
    assert component.findtext("launchable") == DESKTOP.name
    assert component.findtext("provides/mediatype") == "application/x-studio-project"
    project_license = component.findtext("project_license")
    assert f'license = "{project_license}"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def _globs() -> list[tuple[str, str, int]]:
    out = []
    for mime_type in ET.parse(MIME).getroot().iter(f"{MIME_NS}mime-type"):
        for glob in mime_type.iter(f"{MIME_NS}glob"):
            out.append((mime_type.get("type"), glob.get("pattern"), int(glob.get("weight", 50))))
    return out


def test_mime_glob_matches_projects_and_beats_json():
    globs = _globs()
    assert globs == [("application/x-studio-project", "*.studio.json", globs[0][2])]
    _type, pattern, weight = globs[0]
    assert weight > 50  # application/json's *.json has the default weight, 50
    examples = sorted((ROOT / "resources" / "examples").glob("*.studio.json"))
    assert examples and all(fnmatch.fnmatch(p.name, pattern) for p in examples)
    assert not fnmatch.fnmatch("model.json", pattern)
    assert not fnmatch.fnmatch("studio.json.bak", pattern)


def _make(target: str, home: Path) -> subprocess.CompletedProcess:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "share")}
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), target], env=env, capture_output=True, text=True
    )


def test_make_install_desktop_installs_every_file(tmp_path):
    result = _make("install-desktop", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    share = tmp_path / "share"
    expected = [
        share / "applications" / f"{APP_ID}.desktop",
        share / "metainfo" / f"{APP_ID}.metainfo.xml",
        share / "mime" / "packages" / f"{APP_ID}.xml",
        share / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg",
        *(share / "icons" / "hicolor" / f"{s}x{s}" / "apps" / f"{APP_ID}.png" for s in ICON_SIZES),
    ]
    assert [p for p in expected if not p.is_file()] == []
    assert (share / "applications" / f"{APP_ID}.desktop").read_bytes() == DESKTOP.read_bytes()
    if shutil.which("update-mime-database"):  # the MIME database knows the glob now
        globs2 = (share / "mime" / "globs2").read_text(encoding="utf-8")
        assert "application/x-studio-project:*.studio.json" in globs2
    if shutil.which("gio"):  # and a file manager (GIO) sees a project as one
        project = tmp_path / "net.studio.json"
        project.write_text("{}", encoding="utf-8")
        env = {**os.environ, "XDG_DATA_HOME": str(share)}
        info = subprocess.run(["gio", "info", "-a", "standard::content-type", str(project)],
                              env=env, capture_output=True, text=True)  # fmt: skip
        if info.returncode == 0:
            assert "application/x-studio-project" in info.stdout

    result = _make("uninstall-desktop", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p for p in expected if p.exists()] == []


def test_icons_are_up_to_date():
    """resources/icons/studio-<size>.png are what tools/make_icons.py renders from the SVG."""
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_icons.py"), "--check"],
                            capture_output=True, text=True,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
