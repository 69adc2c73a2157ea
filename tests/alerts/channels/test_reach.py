"""`config check --reach` for channels: each receiver connected to, nothing sent; against real servers on
loopback (SMTP with STARTTLS and a login, an HTTP receiver, the MQTT broker) and closed ports. The receivers
are the fixtures of tests/alerts/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gunwatch.alerts.channels.reach import NOT_CHECKED, reach_channel, reach_channels
from gunwatch.config.channels import channel_config
from support.http_receiver import HttpReceiver
from support.mosquitto import MosquittoBroker
from support.smtp_server import SmtpServer, self_signed_tls


def config(url: str, **settings: object):
    return channel_config(url=url, timeout_s=5, **settings)


def test_smtp_connects_and_greets_without_sending(smtp_server: SmtpServer) -> None:
    result = reach_channel("mail", config(smtp_server.url))
    assert (result.what, result.name, result.ok, result.detail) == ("channel", "mail", True, "connected, EHLO ok")
    assert smtp_server.mails == []


def test_smtp_with_starttls_and_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.cert))  # the client trusts the test's certificate
    with SmtpServer(users={"gunwatch": "s3cret"}, tls=tls) as server:
        good = reach_channel("mail", config(f"smtp://gunwatch:s3cret@127.0.0.1:{server.port}"))
        bad = reach_channel("mail", config(f"smtp://gunwatch:wrong@127.0.0.1:{server.port}"))
        assert server.mails == []
    assert good.ok is True and good.detail == "connected, EHLO, STARTTLS, login ok"
    assert bad.ok is False and "login failed: 535" in bad.detail
    assert "s3cret" not in good.target and "wrong" not in f"{bad.target} {bad.detail}"


def test_unreachable_receivers_say_why(refused_port: int) -> None:
    port = refused_port
    results = reach_channels({"mail": config(f"smtp://127.0.0.1:{port}"),
                              "hook": config(f"http://127.0.0.1:{port}/secret-path", signed=False),
                              "broker": config(f"mqtt://127.0.0.1:{port}")})
    assert [(r.name, r.ok) for r in results] == [("mail", False), ("hook", False), ("broker", False)]
    mail, hook, broker = results
    assert "ConnectionRefusedError" in mail.detail
    assert "refused" in hook.detail.lower() and "secret-path" not in f"{hook.target} {hook.detail}"
    assert "cannot connect" in broker.detail


def test_a_webhook_is_connected_to_and_sent_nothing(http_receiver: HttpReceiver) -> None:
    result = reach_channel("hook", config(http_receiver.url("/hooks/s3cret-token"), signed=False))
    assert result.ok is True and result.detail == f"TCP connection to 127.0.0.1:{http_receiver.port} ok"
    assert result.target == f"http://127.0.0.1:{http_receiver.port}/…"
    assert http_receiver.requests == []


def test_mqtt_connects(mosquitto_broker: MosquittoBroker) -> None:
    result = reach_channel("broker", config(mosquitto_broker.url))
    assert result.ok is True and result.detail.startswith("connected to 127.0.0.1:")


def test_apprise_is_not_checked_and_a_file_is_checked_without_writing(tmp_path: Path) -> None:
    apprise, sink = reach_channels({"sms": config("json://127.0.0.1:9/notify"),
                                    "log": config((tmp_path / "alerts" / "alerts.jsonl").as_uri())})
    assert (apprise.ok, apprise.detail) == (None, NOT_CHECKED)
    assert sink.ok is True and not (tmp_path / "alerts").exists()


def test_a_file_in_a_read_only_folder_is_unreachable(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    if os.access(folder, os.W_OK):
        pytest.skip("running as root: every folder is writable")
    result = reach_channel("log", config((folder / "alerts.jsonl").as_uri()))
    assert result.ok is False and "is not writable" in result.detail
