"""Site files written inline: `parse(yaml_text, VAR=value)` validates them with only the given environment."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from gunwatch.config import SiteConfig, parse_site_config

SITE_FILE = "site.yaml"  # the name problems are reported under


@pytest.fixture
def parse() -> Callable[..., SiteConfig]:
    def parse_text(text: str, **environ: str) -> SiteConfig:
        return parse_site_config(textwrap.dedent(text), SITE_FILE, environ)

    return parse_text


@pytest.fixture
def problems(parse: Callable[..., SiteConfig]) -> Callable[..., list[str]]:
    """Every problem reported for a file, as printed (`site.yaml: key.path: message`)."""
    from gunwatch.config import ConfigError

    def problems_of(text: str, **environ: str) -> list[str]:
        with pytest.raises(ConfigError) as caught:
            parse(text, **environ)
        return [str(problem) for problem in caught.value.problems]

    return problems_of
