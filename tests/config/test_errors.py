"""How problems print: `FILE: key.path: message`, or `FILE:LINE: message` for YAML syntax."""

from __future__ import annotations

import pytest

from gunwatch.config import ConfigError, ConfigProblem
from gunwatch.config.errors import key_path


@pytest.mark.parametrize(
    ("location", "path"),
    [
        (("cameras", "lobby", "detect", "fps"), "cameras.lobby.detect.fps"),
        (("cameras", "lobby", "zones", "door", "polygon", 1, 0), "cameras.lobby.zones.door.polygon[1][0]"),
        (("cameras", "lobby", "masks", 0), "cameras.lobby.masks[0]"),
        ((), ""),
    ],
)
def test_key_path(location: tuple[str | int, ...], path: str) -> None:
    assert key_path(location) == path


def test_problem_text() -> None:
    assert str(ConfigProblem("site.yaml", "must be > 0", "cameras.lobby.detect.fps")) == (
        "site.yaml: cameras.lobby.detect.fps: must be > 0"
    )
    assert str(ConfigProblem("site.yaml", "invalid YAML: x", line=3)) == "site.yaml:3: invalid YAML: x"
    assert str(ConfigProblem("site.yaml", "cannot read the file")) == "site.yaml: cannot read the file"


def test_config_error_lists_every_problem_one_per_line() -> None:
    problems = [ConfigProblem("s.yaml", "a", "x"), ConfigProblem("s.yaml", "b", "y")]
    error = ConfigError(problems)
    assert str(error) == "s.yaml: x: a\ns.yaml: y: b"
    assert error.problems == problems
    assert isinstance(error, ValueError)
