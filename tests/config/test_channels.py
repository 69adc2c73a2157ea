"""Alert channels: one model per kind, chosen by the URL's scheme; a key of another kind is an error naming
the file, the channel and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.config import ConfigError, load_site_config, parse_site_config
from gunwatch.config.channels import (
    AppriseChannelConfig,
    FileChannelConfig,
    MqttChannelConfig,
    SmtpChannelConfig,
    WebhookChannelConfig,
)

CAMERAS = "cameras: {lobby: {url: clips/a.mp4}}\n"


def site_with_channel(entry: str) -> str:
    return f"{CAMERAS}alerts:\n  channels:\n    ops: {entry}\n"


def problems(entry: str) -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_site_config(site_with_channel(entry), "site.yaml", environ={})
    return [(problem.key, problem.message) for problem in caught.value.problems]


@pytest.mark.parametrize(("entry", "model"), [
    ("{url: 'https://ops.example/hook', secret: k, attach_snapshot: false}", WebhookChannelConfig),
    ("{url: 'http://127.0.0.1:8080/hook', signed: false}", WebhookChannelConfig),
    ("{url: 'mqtts://broker:8883', topic_prefix: school, discovery: true}", MqttChannelConfig),
    ("{url: 'smtp://mail:587', sender: alerts@school.org}", SmtpChannelConfig),
    ("{url: 'file://runs/alerts.jsonl', max_per_minute: 100, retry: {max_s: 5}}", FileChannelConfig),
    ("{url: 'tgram://BOT/{to}', attach_snapshot: false, timeout_s: 5}", AppriseChannelConfig),
])
def test_the_scheme_picks_the_kind_and_its_keys(entry: str, model: type) -> None:
    channel = parse_site_config(site_with_channel(entry), environ={}).alerts.channels["ops"]
    assert type(channel) is model and channel.kind == model.kind


@pytest.mark.parametrize(("entry", "key", "owners", "kind"), [
    # Each was accepted before and did nothing: the setting belongs to another kind of channel.
    ("{url: 'https://ops.example/hook', secret: k, topic_prefix: school}", "topic_prefix", "mqtt", "a webhook"),
    ("{url: 'mqtt://broker:1883', secret: k}", "secret", "webhook", "an mqtt"),
    ("{url: 'mqtt://broker:1883', attach_snapshot: true}", "attach_snapshot", "webhook, smtp and apprise",
     "an mqtt"),
    ("{url: 'smtp://mail:587', discovery: true}", "discovery", "mqtt", "an smtp"),
    ("{url: 'file://runs/alerts.jsonl', sender: me@school.org}", "sender", "smtp", "a file"),
    ("{url: 'slack://T/B/C', signed: false}", "signed", "webhook", "an apprise"),
])
def test_a_key_of_another_kind_of_channel_is_an_error(entry: str, key: str, owners: str, kind: str) -> None:
    [(where, message)] = problems(entry)
    assert where == f"alerts.channels.ops.{key}"
    assert message.startswith(f"applies to {owners} channels only; this is {kind} channel")


def test_a_typo_is_answered_with_the_kinds_own_keys() -> None:
    assert problems("{url: 'mqtt://broker:1883', topic_prefx: school}") == [
        ("alerts.channels.ops.topic_prefx", "unknown key (did you mean 'topic_prefix'?)")]


@pytest.mark.parametrize(("entry", "key", "message"), [
    ("{secret: k}", "alerts.channels.ops.url", "required"),
    ("{url: 'ops.example/hook', secret: k}", "alerts.channels.ops.url", "must be a URL such as"),
    ("{url: 5}", "alerts.channels.ops.url", "must be a URL such as"),
    ("'https://ops.example/hook'", "alerts.channels.ops", "must be a mapping"),
    ("{url: 'https://ops.example/hook'}", "alerts.channels.ops.secret", "a webhook signs its requests"),
    ("{url: 'https://ops.example/hook', signed: false, retry: {max_s: 0}}", "alerts.channels.ops.retry.max_s",
     "must be > 0"),
])
def test_other_mistakes_keep_their_key(entry: str, key: str, message: str) -> None:
    [(where, text)] = problems(entry)
    assert where == key and text.startswith(message), text


def test_the_problem_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(site_with_channel("{url: 'mqtt://broker:1883', secret: k}"))
    with pytest.raises(ConfigError) as caught:
        load_site_config(path, environ={})
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{path}: alerts.channels.ops.secret: applies to webhook channels only")
