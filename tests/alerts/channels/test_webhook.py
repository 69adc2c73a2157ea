"""The webhook channel against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import hmac
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.webhook import WebhookChannel, call_endpoint, sign, verify_signature
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import channel_config
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - provides `http_receiver`

SECRET = "s3cret-key"


def message(**changes: object) -> AlertMessage:
    fields: dict[str, object] = {
        "key": "evt-42:alert:ops@example.org",
        "kind": "alert",
        "title": "Gun detected: lobby",
        "body": "A person with a gun at the lobby entrance.",
        "camera": "lobby",
        "event_id": "evt-42",
        "score": 0.91,
        "created_at": 1_700_000_000.0,
        "links": {"ack": "https://gunwatch.local/ack/abc"},
    }
    return AlertMessage(**{**fields, **changes})  # type: ignore[arg-type]


def channel(url: str, **settings: object) -> WebhookChannel:
    """A webhook channel signing with SECRET, unless `signed=False` says it sends unsigned requests."""
    signing = {} if settings.get("signed") is False else {"secret": SECRET}
    return WebhookChannel("ops-hook", channel_config(url=url, **(signing | settings)))  # type: ignore[arg-type]


def test_message_fields_and_headers_arrive(http_receiver: HttpReceiver) -> None:
    channel(http_receiver.url("/hook"), signed=False).send(message(), address="ignored@example.org")
    [request] = http_receiver.wait_for(1)
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-gunwatch-key"] == "evt-42:alert:ops@example.org"
    assert request.headers["x-gunwatch-kind"] == "alert"
    assert abs(int(request.headers["x-gunwatch-timestamp"]) - time.time()) < 60
    assert "x-gunwatch-signature" not in request.headers  # signed: false
    assert request.json == message().to_json()  # the address is not added: the message's recipient says it
    assert AlertMessage.from_json(request.json) == message()


def test_signature_verifies_only_with_the_right_secret_body_and_time(http_receiver: HttpReceiver) -> None:
    channel(http_receiver.url()).send(message(), None)
    [request] = http_receiver.wait_for(1)
    assert request.headers["x-gunwatch-signature"].startswith("sha256=")
    assert verify_signature(SECRET, "POST", "/hook", request.headers, request.body)
    assert not verify_signature("wrong-secret", "POST", "/hook", request.headers, request.body)
    assert not verify_signature(SECRET, "POST", "/hook", request.headers, request.body.replace(b"lobby", b"garage"))
    unsigned = {k: v for k, v in request.headers.items() if "signature" not in k}
    assert not verify_signature(SECRET, "POST", "/hook", unsigned, request.body)
    assert not verify_signature(SECRET, "POST", "/hook", {**request.headers, "x-gunwatch-signature": "sha256=é"},
                                request.body)  # not ASCII: refused, no exception


def test_the_signature_covers_method_and_target(http_receiver: HttpReceiver) -> None:
    # A request captured on its way to one endpoint must not work on another endpoint of the same receiver:
    # the webhook's POST /hook replayed as PUT /doors/unlock (or with another query) no longer verifies.
    call_endpoint(http_receiver.url("/doors/lock?zone=hall%20A"), "PUT", {"locked": True}, timeout_s=2.0,
                  secret=SECRET)
    [request] = http_receiver.wait_for(1)
    assert request.path == "/doors/lock?zone=hall%20A"
    assert verify_signature(SECRET, request.method, request.path, request.headers, request.body)
    for method, target in [("POST", request.path), ("PUT", "/doors/unlock?zone=hall%20A"), ("PUT", "/doors/lock"),
                           ("PUT", "/doors/lock?zone=hall%20B")]:
        assert not verify_signature(SECRET, method, target, request.headers, request.body), (method, target)
    timestamp = request.headers["x-gunwatch-timestamp"]
    text = f"PUT\n/doors/lock?zone=hall%20A\n{timestamp}\n".encode() + request.body  # as documented
    assert request.headers["x-gunwatch-signature"] == "sha256=" + hmac.new(SECRET.encode(), text, "sha256").hexdigest()


def test_old_or_altered_timestamp_is_rejected() -> None:
    body = b'{"kind":"alert"}'
    old = int(time.time()) - 301
    headers = {"X-Gunwatch-Timestamp": str(old), "X-Gunwatch-Signature": sign(SECRET, "POST", "/hook", old, body)}
    assert not verify_signature(SECRET, "POST", "/hook", headers, body)  # a replay of a captured request
    assert verify_signature(SECRET, "POST", "/hook", headers, body, max_age_s=600)
    moved = {**headers, "X-Gunwatch-Timestamp": str(int(time.time()))}
    assert not verify_signature(SECRET, "POST", "/hook", moved, body)  # a fresh timestamp on an old signature
    assert not verify_signature(SECRET, "POST", "/hook", {**headers, "X-Gunwatch-Timestamp": "soon"}, body)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "a webhook signs its requests: set a secret"),
        ({"secret": ""}, "a webhook signs its requests: set a secret"),  # e.g. ${WEBHOOK_SECRET:-} unset
        ({"signed": False, "secret": SECRET}, "false, but a secret is set"),
    ],
)
def test_a_webhook_without_a_secret_is_a_config_error(settings: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        channel_config(url="https://ops.example/hook", **settings)  # type: ignore[arg-type]
    assert problem in str(caught.value)
    assert channel_config(url="https://ops.example/hook", signed=False).secret is None  # unsigned, said so


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (408, True), (400, False)])
def test_error_answers(http_receiver: HttpReceiver, status: int, retryable: bool) -> None:
    http_receiver.set_mode("fail", status=status)
    with pytest.raises(DeliveryError) as caught:
        channel(http_receiver.url()).send(message(), None)
    assert caught.value.retryable is retryable
    assert f"HTTP {status}" in caught.value.reason and "'ops-hook'" in caught.value.reason


def test_hanging_receiver_fails_with_the_configured_timeout(http_receiver: HttpReceiver) -> None:
    http_receiver.set_mode("hang")  # holds every request unanswered until the fixture stops it
    with pytest.raises(DeliveryError) as caught:
        channel(http_receiver.url(), timeout_s=0.5).send(message(), None)
    # No time limit: the receiver got the request and never answered it, so the send ended because the
    # client gave up, and the request it gave up on carried the configured timeout (not httpx's default 5 s).
    assert len(http_receiver.requests) == 1
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert caught.value.__cause__.request.extensions["timeout"]["read"] == 0.5
    assert caught.value.retryable and "no answer within 0.5 s" in caught.value.reason


def test_receiver_down_then_up(http_receiver: HttpReceiver) -> None:
    hook = channel(http_receiver.url("/hook"), timeout_s=2)
    http_receiver.stop()
    with pytest.raises(DeliveryError) as caught:
        hook.send(message(), None)
    assert caught.value.retryable and "ConnectError" in caught.value.reason
    http_receiver.start()  # same port: the retry reaches it
    hook.send(message(), None)
    assert http_receiver.wait_for(1)[0].json["key"] == message().key


def test_reason_hides_the_password(http_receiver: HttpReceiver) -> None:
    http_receiver.set_mode("fail")
    url = f"http://user:hunter2@127.0.0.1:{http_receiver.port}/hook?token=abc"
    with pytest.raises(DeliveryError) as caught:
        channel(url).send(message(), None)
    assert "hunter2" not in caught.value.reason and "abc" not in caught.value.reason
    assert "user:***@127.0.0.1" in caught.value.reason


def test_snapshot_attached_as_base64(http_receiver: HttpReceiver, tmp_path: Path) -> None:
    jpeg = tmp_path / "snap.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9")
    channel(http_receiver.url()).send(message(snapshot=str(jpeg)), None)
    [request] = http_receiver.wait_for(1)
    assert base64.b64decode(request.json["snapshot_jpeg_base64"]) == jpeg.read_bytes()
    assert request.json["snapshot"] == str(jpeg)


def test_snapshot_left_out_when_off_missing_or_too_large(http_receiver: HttpReceiver, tmp_path: Path) -> None:
    large = tmp_path / "large.jpg"
    large.write_bytes(b"\0" * (2 * 1024 * 1024))
    small = tmp_path / "small.jpg"
    small.write_bytes(b"jpeg")
    channel(http_receiver.url(), attach_snapshot=False).send(message(snapshot=str(small)), None)
    channel(http_receiver.url()).send(message(snapshot=str(tmp_path / "missing.jpg")), None)
    channel(http_receiver.url()).send(message(snapshot=str(large)), None)
    assert all("snapshot_jpeg_base64" not in request.json for request in http_receiver.wait_for(3))


def test_call_endpoint_for_protocol_steps(http_receiver: HttpReceiver) -> None:
    status = call_endpoint(
        http_receiver.url("/doors/lockdown"), "PUT", {"locked": True}, {"X-Api": "1"}, 2.0, secret=SECRET
    )
    [request] = http_receiver.wait_for(1)
    assert status == 200
    assert (request.method, request.path, request.json) == ("PUT", "/doors/lockdown", {"locked": True})
    assert request.headers["x-api"] == "1"
    assert verify_signature(SECRET, "PUT", "/doors/lockdown", request.headers, request.body)


def test_call_endpoint_unusable_url_is_not_retryable() -> None:
    with pytest.raises(DeliveryError) as caught:
        call_endpoint("ftp://127.0.0.1/x", "POST", {}, None, 1.0)
    assert not caught.value.retryable
