"""Whether a failed send may have arrived all the same: a refusal or nothing connected certainly did not; a
timeout or a server error might have (the outbox sends a cancel only where an alert may have arrived)."""

from __future__ import annotations

import pytest

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.smtp import SmtpChannel
from gunwatch.alerts.channels.webhook import WebhookChannel
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import channel_config
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - `http_receiver`
from support.silent_server import SilentServer
from support.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401 - `smtp_server`

MESSAGE = AlertMessage(key="evt-1:alert:x", kind="alert", title="GUN DETECTED: lobby", body="A gun.")


def webhook(url: str) -> WebhookChannel:
    return WebhookChannel("hook", channel_config(url=url, signed=False, timeout_s=0.5))  # type: ignore[arg-type]


def failure(channel: WebhookChannel | SmtpChannel, address: str | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as raised:
        channel.send(MESSAGE, address)
    return raised.value


def test_a_webhook_nobody_listens_on_certainly_got_nothing(refused_port: int) -> None:
    assert not failure(webhook(f"http://127.0.0.1:{refused_port}/hook")).may_have_arrived


@pytest.mark.parametrize(("status", "may_have_arrived"), [(400, False), (404, False), (429, False), (500, True),
                                                          (503, True), (504, True)])
def test_a_webhook_answer_says_whether_it_may_have_taken_it(http_receiver: HttpReceiver, status: int,
                                                             may_have_arrived: bool) -> None:
    http_receiver.set_mode("fail", status=status)
    assert failure(webhook(http_receiver.url())).may_have_arrived is may_have_arrived


def test_a_webhook_that_never_answers_may_have_taken_it(http_receiver: HttpReceiver) -> None:
    http_receiver.set_mode("hang")
    error = failure(webhook(http_receiver.url()))
    assert "no answer within" in error.reason and error.may_have_arrived
    http_receiver.release()


def test_a_refused_address_certainly_got_nothing(smtp_server: SmtpServer) -> None:
    mail = SmtpChannel("mail", channel_config(url=smtp_server.url, timeout_s=2))  # type: ignore[arg-type]
    error = failure(mail, "bob-reject@school.example")
    assert "550" in error.reason and not error.may_have_arrived


def test_a_mail_server_nobody_listens_on_certainly_got_nothing(refused_port: int) -> None:
    mail = SmtpChannel("mail", channel_config(url=f"smtp://127.0.0.1:{refused_port}", timeout_s=2))  # type: ignore[arg-type]
    assert not failure(mail, "alice@school.example").may_have_arrived


def test_a_silent_mail_server_may_have_taken_it() -> None:
    with SilentServer() as silent:
        mail = SmtpChannel("mail", channel_config(url=f"smtp://127.0.0.1:{silent.port}", timeout_s=0.5))  # type: ignore[arg-type]
        error = failure(mail, "alice@school.example")
    assert "timed out" in error.reason and error.may_have_arrived
