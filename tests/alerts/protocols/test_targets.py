"""Who a step reaches: groups expanded once, an address needed only where the channel reaches people one by
one (email, apprise URLs with `{to}`), and recipients that cannot be reached reported."""

from __future__ import annotations

from typing import Any

import pytest

from gunwatch.alerts.protocols.targets import Target, expand, targets
from gunwatch.config.alerts import AlertSettings
from gunwatch.config.channels import channel_config

CHANNELS: dict[str, dict[str, Any]] = {
    "email": {"url": "smtp://mail.school.example:25"},
    "sms": {"url": "twilio://SID:TOKEN@15550001111/{to}"},
    "chat": {"url": "json://chat.school.example/notify"},
    "hook": {"url": "https://hooks.school.example/gunwatch", "secret": "hook-signing-key"},
    "mqtt": {"url": "mqtt://broker.school.example:1883"},
    "log": {"url": "file:///var/log/gunwatch/alerts.jsonl"},
}


def settings(**changes: Any) -> AlertSettings:
    fields: dict[str, Any] = {
        "channels": CHANNELS,
        "recipients": {
            "alice": {"addresses": {"email": "alice@school.example", "sms": "+15550000001"}},
            "bob": {"addresses": {"email": "bob@school.example"}},
            "carol": {"addresses": {"sms": "+15550000003"}},
            "desk": {"name": "Front desk"},
        },
        "groups": {"office": ["alice", "bob"], "security": ["bob", "carol"], "everyone": ["desk", "alice"]},
    }
    return AlertSettings.model_validate(fields | changes)


@pytest.mark.parametrize(
    ("url", "needs"),
    [
        ("smtp://mail:25", True),
        ("smtps://user:pw@mail:465", True),
        ("twilio://SID:TOKEN@15550001111/{to}", True),
        ("tgram://BOT_TOKEN/{to}", True),
        ("json://chat.example/notify", False),  # apprise without {to}: one destination
        ("https://hooks.example/x", False),
        ("http://hooks.example/x", False),
        ("mqtt://broker:1883", False),
        ("file:///tmp/alerts.jsonl", False),
    ],
)
def test_only_email_and_apprise_to_templates_need_an_address(url: str, needs: bool) -> None:
    signing = {"secret": "k"} if url.startswith("http") else {}
    assert channel_config(url=url, **signing).needs_address is needs


def test_groups_expand_once_in_the_order_written() -> None:
    site = settings()
    assert expand(site, ["group:office", "group:security"]) == ["alice", "bob", "carol"]
    assert expand(site, ["carol", "group:office", "alice", "group:security"]) == ["carol", "alice", "bob"]
    assert expand(site, ["group:everyone", "group:office"]) == ["desk", "alice", "bob"]
    assert expand(site, ["bob", "bob"]) == ["bob"]


def test_email_reaches_each_recipient_at_their_address_once() -> None:
    found, missing = targets(settings(), ["group:office", "group:security", "alice"], ["email"])
    assert found == [
        Target("email", "alice", "alice@school.example"),
        Target("email", "bob", "bob@school.example"),
    ]
    assert missing == ["carol has no address on email"]


def test_apprise_to_template_needs_an_address_per_recipient() -> None:
    found, missing = targets(settings(), ["group:security", "group:office"], ["sms"])
    assert found == [Target("sms", "carol", "+15550000003"), Target("sms", "alice", "+15550000001")]
    assert missing == ["bob has no address on sms"]


@pytest.mark.parametrize("channel", ["hook", "mqtt", "log", "chat"])
def test_single_destination_channels_get_one_message_naming_everyone(channel: str) -> None:
    found, missing = targets(settings(), ["group:office", "group:security", "desk"], [channel])
    assert found == [Target(channel, "alice,bob,carol,desk", None)]
    assert missing == []  # nobody needs an address there


def test_several_channels_in_the_order_listed() -> None:
    found, missing = targets(settings(), ["group:everyone"], ["hook", "email", "sms"])
    assert found == [
        Target("hook", "desk,alice", None),
        Target("email", "alice", "alice@school.example"),
        Target("sms", "alice", "+15550000001"),
    ]
    assert missing == ["desk has no address on email", "desk has no address on sms"]
    # Messages name people by their `name` where the site file gives one.
    assert [target.label for target in found] == ["Front desk, alice", "alice", "alice"]


def test_nobody_reachable_is_reported_not_an_error() -> None:
    found, missing = targets(settings(), ["desk"], ["email", "sms"])
    assert found == []
    assert missing == ["desk has no address on email", "desk has no address on sms"]


def test_an_empty_address_counts_as_missing() -> None:
    site = settings(recipients={"eve": {"addresses": {"email": ""}}}, groups={})
    assert targets(site, ["eve"], ["email"]) == ([], ["eve has no address on email"])


def test_unknown_names_are_refused_when_the_site_file_loads() -> None:
    protocol = {"steps": [{"notify": {"to": ["group:nobody", "mallory"], "via": ["email", "pager"]}}]}
    with pytest.raises(ValueError) as caught:  # pydantic's ValidationError, carrying ReferenceProblems' text
        settings(protocols={"lockdown": protocol}, groups={"office": ["alice", "zed"]})
    text = str(caught.value)
    for problem in ("no recipient 'zed'", "no group 'nobody'", "no recipient 'mallory'", "no channel 'pager'"):
        assert problem in text
