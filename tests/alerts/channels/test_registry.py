"""Every kind of channel the site file takes has an adapter that serves it, built from its kind's config."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.alerts.channels.registry import ADAPTERS, ChannelSetupError, open_channels
from gunwatch.config.channels import CHANNEL_MODELS, channel_config


def test_each_kind_of_channel_config_has_an_adapter() -> None:
    assert set(ADAPTERS) == set(CHANNEL_MODELS)


def test_each_channel_gets_the_adapter_of_its_kind(tmp_path: Path) -> None:
    configs = {"hook": channel_config(url="https://ops.example/hook", secret="k"),
               "log": channel_config(url=(tmp_path / "alerts.jsonl").as_uri())}
    channels = open_channels(configs)
    try:
        assert {name: type(channel) for name, channel in channels.items()} == {
            "hook": ADAPTERS["webhook"], "log": ADAPTERS["file"]}
        assert all(channel.config is configs[name] for name, channel in channels.items())
    finally:
        for channel in channels.values():
            channel.close()


def test_a_channel_that_cannot_be_built_is_named() -> None:
    with pytest.raises(ChannelSetupError) as caught:
        open_channels({"log": channel_config(url="file:///")})
    assert caught.value.channel == "log"
