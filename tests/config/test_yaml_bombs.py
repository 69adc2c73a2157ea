"""A site file whose aliases double at each layer (the "billion laughs") is refused before anything walks it."""

from __future__ import annotations

import pytest

from gunwatch.config import ConfigError, parse_site_config
from gunwatch.config.load import MAX_EXPANDED_NODES

FILE = "site.yaml"


def laughs(layers: int) -> str:
    """`layers` anchors, each a list of ten aliases of the one before: 10**layers values in a few lines."""
    lines = ['l0: &l0 "lol"']
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, layers + 1)]
    return "cameras: {lobby: {url: a.mp4}}\nlaughs:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


def test_nine_layers_of_aliases_are_refused_with_the_line_that_crosses_the_bound() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_site_config(laughs(9), FILE, environ={})
    [problem] = caught.value.problems
    # 10**5 values fit; the sixth layer (line 3 + 6) stands for 10**6 and is the first too large.
    assert (problem.file, problem.line) == (FILE, 9)
    assert f"expand to more than {MAX_EXPANDED_NODES:,} values" in problem.message


def test_aliases_used_a_sensible_number_of_times_still_load() -> None:
    text = "cameras:\n  cam0: {url: cam0.mp4, detect: &defaults {second_look: false}}\n" + "".join(
        f"  cam{n}: {{url: cam{n}.mp4, detect: *defaults}}\n" for n in range(1, 50)
    )
    site = parse_site_config(text, FILE, environ={})
    assert len(site.cameras) == 50
    assert all(camera.detect.second_look is False for camera in site.cameras.values())
