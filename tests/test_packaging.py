"""Studio installed like an application (issue 8).

* The wheel (``python -m build``) installed into a fresh virtual environment runs:
  ``studio --version`` and ``studio --screenshot`` on the example it ships.
* ``make package`` builds the PyInstaller one-folder application, whose program takes the
  same screenshot. That build takes minutes: ``STUDIO_SKIP_PACKAGE=1`` skips it (``make test``
  does; ``make test-package``, run by ``.ci/run``, does not).

Those two are slow; they need no network (the fresh environment reuses this one's dependencies
through a ``.pth`` file instead of installing TensorFlow again).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "mnist_cnn.studio.json"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3")
    return env


def _run(cmd, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{cmd} exited {done.returncode}\nstdout:\n{done.stdout[-4000:]}\n"
        f"stderr:\n{done.stderr[-4000:]}"
    )
    return done


def assert_non_blank_png(path: Path) -> None:
    """A PNG that shows something: not one flat colour."""
    from PySide6.QtGui import QImage

    assert path.is_file() and path.stat().st_size > 0, f"{path} was not written"
    image = QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    assert image.width() >= 400 and image.height() >= 300, image.size()
    grays = []
    colors = set()
    for y in range(0, image.height(), max(1, image.height() // 60)):
        for x in range(0, image.width(), max(1, image.width() // 80)):
            rgb = image.pixel(x, y) & 0xFFFFFF
            colors.add(rgb)
            grays.append(((rgb >> 16) & 255) * 0.3 + ((rgb >> 8) & 255) * 0.59 + (rgb & 255) * 0.11)
    mean = sum(grays) / len(grays)
    variance = sum((g - mean) ** 2 for g in grays) / len(grays)
    assert len(colors) >= 8 and variance > 20, (len(colors), variance)


def _check_version(output: str) -> None:
    lines = output.splitlines()
    assert lines[0].startswith("Studio "), output
    for name in ("Python ", "TensorFlow ", "Keras ", "PySide6 "):
        assert any(line.startswith(name) for line in lines), (name, output)
    assert "Qt " in output and any(line.startswith("Device: ") for line in lines), output


def test_version_lists_the_versions_and_devices(capsys):
    from studio.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    _check_version(capsys.readouterr().out)


def test_resources_are_found():
    from studio.resources import example_path, resource_path

    assert example_path(EXAMPLE).is_file()
    assert resource_path("catalog.json").is_file()


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_takes_a_screenshot(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT], tmp_path, 600)
    (wheel,) = dist.glob("studio-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], tmp_path, 300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, 60
    ).stdout.strip()
    # Dependencies (TensorFlow, Qt, ...) come from this environment, after the fresh one's own
    # site-packages; .pth files of the folder a .pth names are not read, so this
    # environment's editable install of Studio stays out.
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_studio_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], tmp_path, 300)

    where = _run(
        [python, "-c", "import studio, studio.resources as r; print(studio.__file__); "
         f"print(r.example_path({EXAMPLE!r}))"],  # fmt: skip
        tmp_path,
        120,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(venv), f"studio imported from {where[0]}"
    installed_example = Path(where[1])
    assert installed_example.is_relative_to(Path(site) / "studio" / "_resources")
    assert installed_example.is_file()

    studio = venv / ("Scripts/studio.exe" if os.name == "nt" else "bin/studio")
    _check_version(_run([studio, "--version"], tmp_path, 300).stdout)

    project = tmp_path / "work" / EXAMPLE
    project.parent.mkdir()
    shutil.copy(installed_example, project)
    shot = tmp_path / "shot.png"
    _run([studio, "--screenshot", shot, project], tmp_path, 400)
    assert_non_blank_png(shot)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("STUDIO_SKIP_PACKAGE") == "1",
    reason="STUDIO_SKIP_PACKAGE=1: the PyInstaller build (minutes) is run by make test-package",
)
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_package_builds_an_application_that_takes_a_screenshot(tmp_path):
    dist, work = tmp_path / "dist", tmp_path / "build"
    started = time.perf_counter()
    _run(["make", "package", f"PACKAGE_DIST={dist}", f"PACKAGE_BUILD={work}"], ROOT, 900)
    seconds = time.perf_counter() - started
    program = dist / "studio" / ("studio.exe" if os.name == "nt" else "studio")
    assert program.is_file()
    size = sum(f.stat().st_size for f in (dist / "studio").rglob("*") if f.is_file())
    print(f"make package: {seconds:.0f} s, {size / 2**30:.2f} GiB in {dist / 'studio'}")
    shutil.rmtree(work, ignore_errors=True)  # the build's own files: about as large again

    _check_version(_run([program, "--version"], tmp_path, 300).stdout)
    shot = tmp_path / "shot.png"
    _run([program, "--screenshot", shot, ROOT / "resources" / "examples" / EXAMPLE], tmp_path, 400)
    assert_non_blank_png(shot)
