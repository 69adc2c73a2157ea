"""The apprise channel against a real HTTP server on loopback, through apprise's json:// service."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import unquote

import pytest

from gunwatch.alerts.channels.apprise_channel import AppriseChannel, with_timeouts
from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import channel_config
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - provides `http_receiver`


def message(**changes: object) -> AlertMessage:
    fields: dict[str, object] = {
        "key": "evt-7:alert:ops",
        "kind": "alert",
        "title": "Gun detected: parking",
        "body": "A person with a gun in the parking lot.",
        "links": {"ack": "https://gunwatch.local/ack/x1", "false_alarm": "https://gunwatch.local/fa/x1"},
    }
    return AlertMessage(**{**fields, **changes})  # type: ignore[arg-type]


def channel(url: str, **settings: object) -> AppriseChannel:
    return AppriseChannel("ops-chat", channel_config(url=url, **settings))  # type: ignore[arg-type]


def json_url(receiver: HttpReceiver, path: str = "/notify") -> str:
    return f"json://127.0.0.1:{receiver.port}{path}"


def test_title_body_and_links_arrive(http_receiver: HttpReceiver) -> None:
    channel(json_url(http_receiver)).send(message(), address=None)
    [request] = http_receiver.wait_for(1)
    assert (request.method, request.path) == ("POST", "/notify")
    assert request.json["title"] == "Gun detected: parking"
    assert request.json["message"] == (
        "A person with a gun in the parking lot.\n\n"
        "ack: https://gunwatch.local/ack/x1\nfalse_alarm: https://gunwatch.local/fa/x1\n\n"
        f"ref: {message().key}"  # the idempotency key: apprise's services have no header for it
    )
    assert request.json["type"] == "failure"  # an alert shows as apprise's most urgent type
    assert request.json["attachments"] == []


def test_body_without_links_is_the_body(http_receiver: HttpReceiver) -> None:
    channel(json_url(http_receiver)).send(message(kind="all_clear", links={}), None)
    [request] = http_receiver.wait_for(1)
    assert request.json["message"] == f"A person with a gun in the parking lot.\n\nref: {message().key}"
    assert request.json["type"] == "success"


def test_snapshot_attached(http_receiver: HttpReceiver, tmp_path: Path) -> None:
    jpeg = tmp_path / "snap.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9")
    channel(json_url(http_receiver)).send(message(snapshot=str(jpeg)), None)
    [attachment] = http_receiver.wait_for(1)[0].json["attachments"]
    assert attachment["filename"] == "snap.jpg" and attachment["mimetype"] == "image/jpeg"
    assert base64.b64decode(attachment["base64"]) == jpeg.read_bytes()


def test_snapshot_not_attached_when_off_or_missing(http_receiver: HttpReceiver, tmp_path: Path) -> None:
    jpeg = tmp_path / "snap.jpg"
    jpeg.write_bytes(b"jpeg")
    channel(json_url(http_receiver), attach_snapshot=False).send(message(snapshot=str(jpeg)), None)
    channel(json_url(http_receiver)).send(message(snapshot=str(tmp_path / "missing.jpg")), None)
    assert [request.json["attachments"] for request in http_receiver.wait_for(2)] == [[], []]


def test_address_fills_the_to_slot(http_receiver: HttpReceiver) -> None:
    chat = channel(json_url(http_receiver, "/chats/{to}"))
    chat.send(message(), "ops team+1@example.org")
    chat.send(message(), "42")
    paths = [unquote(request.path) for request in http_receiver.wait_for(2)]
    assert paths == ["/chats/ops team+1@example.org", "/chats/42"]


def test_to_slot_without_an_address_is_not_retryable(http_receiver: HttpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel(json_url(http_receiver, "/chats/{to}")).send(message(), None)
    assert not caught.value.retryable and "no address" in caught.value.reason


def test_receiver_failing_or_down_is_retryable(http_receiver: HttpReceiver) -> None:
    chat = channel(json_url(http_receiver), timeout_s=2)
    http_receiver.set_mode("fail")
    with pytest.raises(DeliveryError) as failed:
        chat.send(message(), None)
    assert failed.value.retryable and "error=500" in failed.value.reason and "'ops-chat'" in failed.value.reason
    http_receiver.stop()
    with pytest.raises(DeliveryError) as down:
        chat.send(message(), None)
    assert down.value.retryable and "Connection error" in down.value.reason
    http_receiver.start()
    http_receiver.set_mode("ok")
    chat.send(message(), None)  # back up: the retry goes through


def test_hanging_receiver_fails_with_the_configured_timeout(http_receiver: HttpReceiver,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")  # the plugin logs the requests exception at DEBUG
    http_receiver.set_mode("hang")  # holds every request unanswered until the fixture stops it
    with pytest.raises(DeliveryError) as caught:
        channel(json_url(http_receiver), timeout_s=0.5).send(message(), None)
    # No time limit: the receiver got the request and never answered it, so the send ended because the
    # client gave up, at the read timeout the channel configured (not apprise's default 4 s, nor the outer cap).
    assert len(http_receiver.requests) == 1
    assert caught.value.retryable and "Connection error" in caught.value.reason
    assert any("Read timed out. (read timeout=0.5)" in record.getMessage() for record in caplog.records)


def test_reason_hides_the_password(http_receiver: HttpReceiver) -> None:
    http_receiver.set_mode("fail")
    with pytest.raises(DeliveryError) as caught:
        channel(f"json://bot:hunter2@127.0.0.1:{http_receiver.port}/x").send(message(), None)
    assert "hunter2" not in caught.value.reason


@pytest.mark.parametrize("url", ["nosuchservice://abc", "tgram://", "slack://not-enough-tokens"])
def test_unusable_url_fails_at_construction(url: str) -> None:
    with pytest.raises(ValueError, match="'ops-chat'"):
        channel(url)


def test_to_slot_with_unknown_service_fails_at_construction() -> None:
    with pytest.raises(ValueError, match="nosuchservice"):
        channel("nosuchservice://host/{to}")


def test_timeouts_added_to_the_url_unless_set() -> None:
    assert with_timeouts("json://h/p", 2.5) == "json://h/p?cto=2.5&rto=2.5"
    assert with_timeouts("json://h/p?method=PUT&rto=9", 2) == "json://h/p?method=PUT&rto=9&cto=2"
