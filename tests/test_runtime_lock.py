"""requirements/runtime.lock pins every runtime dependency of pyproject.toml, each with its hashes.

`make` installs the runtime from it with `pip install --require-hashes`, so a dependency added to
pyproject.toml without `make lock` would fail there; this test says so first, and names it.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "runtime.lock"
# `name==version [; marker] \` and its `--hash=sha256:...` lines, up to the next entry.
_ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)(?:\s*;\s*([^\\]+?))?\s*\\?$")
_HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}(\s*\\)?$")


def locked() -> dict[str, tuple[Version, int, str | None]]:
    """Canonical name -> (pinned version, number of hashes, marker)."""
    entries: dict[str, tuple[Version, int, str | None]] = {}
    name = None
    for line in LOCK.read_text().splitlines():
        if (match := _ENTRY.match(line)) is not None:
            name = canonicalize_name(match.group(1))
            assert name not in entries, f"{name} pinned twice in {LOCK.name}"
            entries[name] = (Version(match.group(2)), 0, match.group(3))
        elif _HASH.match(line) and name is not None:
            version, hashes, marker = entries[name]
            entries[name] = (version, hashes + 1, marker)
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"{LOCK.name}: a line that is neither a pin nor a hash: {line!r}")
    return entries


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"]]


def test_every_pin_has_hashes() -> None:
    entries = locked()
    assert len(entries) > 20
    assert [name for name, (_, hashes, _) in entries.items() if hashes == 0] == []


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    entries = locked()
    problems = []
    for requirement in runtime_requirements():
        name = canonicalize_name(requirement.name)
        if name not in entries:
            problems.append(f"{requirement}: not in {LOCK.name} (run `make lock`)")
        elif not requirement.specifier.contains(entries[name][0], prereleases=True):
            problems.append(f"{requirement}: {LOCK.name} pins {entries[name][0]} (run `make lock`)")
    assert problems == []


def test_the_extras_a_runtime_dependency_asks_for_are_pinned_too() -> None:
    # psycopg[binary] needs psycopg-binary: found through the installed package's own metadata.
    entries = locked()
    by_extras = [(r.name, extra, Requirement(text)) for r in runtime_requirements() for extra in r.extras
                 for text in metadata.requires(r.name) or []]
    here = default_environment()
    wanted = [(name, extra, needed) for name, extra, needed in by_extras if needed.marker is not None
              and needed.marker.evaluate({**here, "extra": extra})
              and not needed.marker.evaluate({**here, "extra": ""})]
    assert ("psycopg", "binary") in {(name, extra) for name, extra, _ in wanted}  # the check is not empty
    missing = [f"{name}[{extra}] needs {needed.name}" for name, extra, needed in wanted
               if canonicalize_name(needed.name) not in entries]
    assert missing == []


def test_the_floors_keep_out_the_known_vulnerable_releases() -> None:
    floors = {canonicalize_name(r.name): r.specifier for r in runtime_requirements()}
    assert not floors["pillow"].contains("10.2.0") and floors["pillow"].contains("10.3.0")  # libwebp, ImageCms
    assert not floors["h11"].contains("0.14.0") and floors["h11"].contains("0.16.0")  # chunked-body smuggling
