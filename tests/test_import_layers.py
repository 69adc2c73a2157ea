"""No module imports from a package above it in the data flow (DESIGN.md: "never back up").

Every `gunwatch.X` import in the source, top-level or inside a function, is read with `ast`, so an import
that only runs on one path counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gunwatch"

# Lowest first. Root modules (`gunwatch`, `boxes`, `checksums`) are the floor; the training side
# (models, evaluation, training) sits beside the live side but below everything that uses a model.
LAYERS: list[set[str]] = [
    {"__init__", "boxes", "checksums"},
    {"config"},
    {"ops"},  # the service unit and the log setup: reads the site file, used by web and pipeline
    {"data"},
    {"metrics"},
    {"inference"},
    {"models"},
    {"evaluation"},
    {"training"},
    {"video"},  # sources and frames only
    {"events"},
    {"users"},  # users, sessions, tokens: tables in the event store
    {"tracking"},
    {"alerts"},
    {"service"},  # the one service layer under the CLI, links, console and API
    {"web"},
    {"pipeline"},  # the live orchestration
    {"cluster"},  # the same pipeline on a Ray cluster's nodes
    {"detect"},
    {"bench"},
    {"cli"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _top_name(module: str) -> str:
    """`gunwatch.video.sources.file` -> `video`; `gunwatch` alone -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _owner(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, name) for name in names if name == "gunwatch" or name.startswith("gunwatch.")]
    return found


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    unplaced = sorted({_owner(path) for path in _sources()} - set(LEVEL))
    assert unplaced == [], f"add these to LAYERS: {unplaced}"


@pytest.mark.parametrize("path", _sources(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_import_goes_up(path: Path) -> None:
    owner = _owner(path)
    upward = [
        f"{path.relative_to(PACKAGE)}:{line} imports {module} ({_top_name(module)} is above {owner})"
        for line, module in _imports(path)
        if LEVEL[_top_name(module)] > LEVEL[owner]
    ]
    assert upward == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    # The rule itself: video importing pipeline must be caught (a check that cannot fail proves nothing).
    source = tmp_path / "sample.py"
    source.write_text("def f():\n    from gunwatch.pipeline.watch import WatchService\n")
    ((line, module),) = _imports(source)
    assert (line, module) == (2, "gunwatch.pipeline.watch")
    assert LEVEL[_top_name(module)] > LEVEL["video"]
