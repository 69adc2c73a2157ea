"""`gunwatch alert test`: a TEST message through each channel, by the real channel code, to real receivers on
loopback (SMTP, HTTP); per channel delivered or failed with the error, exit 1 if any failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gunwatch.alerts.trial_messages import send_test_messages
from gunwatch.cli import app
from gunwatch.config import load_site_config
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - `http_receiver`
from support.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401 - `smtp_server`

HOOK_SECRET = "trial-hook-signing-key"


@pytest.fixture
def site_file(tmp_path: Path, smtp_server: SmtpServer, http_receiver: HttpReceiver, refused_port: int) -> Path:
    """Email to alice (accepted) and bob (refused: 550), a working webhook, and one nothing listens on; links
    set up, which a test message must never carry."""
    site = {
        "cameras": {"lobby": {"url": "rtsp://cam/lobby"}},
        "alerts": {
            "site_name": "Test School",
            "channels": {
                "email": {"url": smtp_server.url, "timeout_s": 5},
                "hook": {"url": http_receiver.url(), "secret": HOOK_SECRET, "timeout_s": 5},
                "dead_hook": {"url": f"http://127.0.0.1:{refused_port}/hook", "secret": HOOK_SECRET, "timeout_s": 5},
            },
            "recipients": {"alice": {"name": "Alice", "addresses": {"email": "alice@school.example"}},
                           "bob": {"addresses": {"email": "bob-reject@school.example"}},
                           "carol": {}},  # no address on any channel: not tried
            "links": {"base_url": "http://127.0.0.1:8780", "secret": "a-link-secret-of-32-characters!!"},
        },
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


def run(*args: str | Path):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_every_channel_is_tried_and_each_outcome_said(site_file: Path, smtp_server: SmtpServer,
                                                      http_receiver: HttpReceiver) -> None:
    result = run("alert", "test", "--config", site_file, "--json")

    assert result.exit_code == 1, result.output
    outcomes = {(r["channel"], r["recipient"]): r for r in json.loads(result.stdout)}
    assert list(outcomes) == [("email", "alice"), ("email", "bob"), ("hook", None), ("dead_hook", None)]
    assert outcomes[("email", "alice")]["delivered"] and outcomes[("hook", None)]["delivered"]
    assert "550" in outcomes[("email", "bob")]["error"]
    assert "ConnectError" in outcomes[("dead_hook", None)]["error"]
    lines = result.stderr.splitlines()
    assert lines[0].split() == ["channel", "to", "address", "result"]
    assert any(line.startswith("dead_hook") and "FAILED: webhook channel 'dead_hook'" in line for line in lines)
    assert lines[-1] == "2 of 4 test message(s) delivered; failed on email, dead_hook"

    # What arrived: clearly a test, without a link, through the real channels.
    [mail] = smtp_server.wait_for(1)
    assert mail.rcpt_tos == ("alice@school.example",)
    assert mail.message["Subject"] == "[Test School] TEST message from gunwatch: no action needed"
    assert mail.message["X-Gunwatch-Kind"] == "test"
    text = mail.message.get_body(("plain",)).get_content()
    assert "TEST of the alert channel email" in text and "do not act on it" in text and "/act/" not in text
    [request] = http_receiver.wait_for(1)
    assert request.headers["x-gunwatch-kind"] == "test" and request.headers["x-gunwatch-signature"]
    assert request.json["kind"] == "test" and request.json["links"] == {} and request.json["camera"] is None
    assert "TEST" in request.json["title"]


def test_only_the_channels_named(site_file: Path, smtp_server: SmtpServer, http_receiver: HttpReceiver) -> None:
    result = run("alert", "test", "--config", site_file, "--channel", "hook")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == "1 of 1 test message(s) delivered"
    assert len(http_receiver.wait_for(1)) == 1 and smtp_server.mails == []


def test_an_unknown_channel_is_named(site_file: Path) -> None:
    result = run("alert", "test", "--config", site_file, "--channel", "sms")
    assert result.exit_code == 2
    assert "no channel 'sms' in alerts.channels (channels: email, hook, dead_hook)" in result.stderr


def test_a_per_person_channel_nobody_has_an_address_on_is_a_failure(site_file: Path) -> None:
    site = load_site_config(site_file)
    for recipient in site.alerts.recipients.values():
        recipient.addresses.clear()
    [result] = send_test_messages(site.alerts, ["email"])
    assert not result.delivered and "no recipient has an address on this channel" in (result.error or "")


def test_a_missing_secret_is_said_before_anything_is_sent(site_file: Path, http_receiver: HttpReceiver,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRIAL_HOOK_SECRET", raising=False)
    site_file.write_text(site_file.read_text().replace(HOOK_SECRET, "${TRIAL_HOOK_SECRET}"))
    result = run("alert", "test", "--config", site_file)
    assert result.exit_code == 1
    assert "alerts.channels.hook.secret: environment variable TRIAL_HOOK_SECRET is not set" in result.stderr
    assert http_receiver.requests == []
