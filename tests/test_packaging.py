"""A wheel built from this tree carries every file of the package, the data files beside the modules included:
the console's script and style, the vendored Swagger UI with its license, the Alembic template. Without
[tool.setuptools.package-data] in pyproject.toml an installed (not editable) gunwatch would serve a console
without them.

Built offline by pip with the environment's own setuptools (--no-build-isolation --no-index), from a copy of the
tree so the working tree gets no build/ or egg-info."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "gunwatch"


def package_files() -> set[str]:
    """Every file of the package as a wheel names it (gunwatch/...), bytecode aside."""
    return {path.relative_to(PACKAGE.parent).as_posix() for path in PACKAGE.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def build_wheel(folder: Path) -> Path:
    tree = folder / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = folder / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "--quiet", "--wheel-dir", str(out), str(tree)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    (wheel,) = out.glob("gunwatch-*.whl")
    return wheel


def test_the_wheel_carries_every_file_of_the_package(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        expected = package_files()
        data = {name for name in expected if not name.endswith(".py")}
        # The ones this test is about, so a moved folder cannot leave it checking nothing.
        assert {"gunwatch/web/static/console.js", "gunwatch/web/static/console.css",
                "gunwatch/web/static/vendor/swagger-ui/swagger-ui-bundle.js",
                "gunwatch/web/static/vendor/swagger-ui/LICENSE",
                "gunwatch/events/store/migrations/script.py.mako"} <= data
        assert sorted(expected - names) == []
        for name in data:
            assert archive.read(name) == (PACKAGE.parent / name).read_bytes(), name
