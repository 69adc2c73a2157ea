"""SmtpChannel against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.smtp import SmtpChannel, message_id, parse_smtp_url
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import channel_config
from support.silent_server import SilentServer
from support.smtp_server import SmtpServer, self_signed_tls, smtp_server_fixture  # noqa: F401 - `smtp_server`

TO = "guard@school.example"


def channel(url: str, **settings: object) -> SmtpChannel:
    return SmtpChannel("email", channel_config(url=url, **settings))  # type: ignore[arg-type]


def alert(snapshot: Path | None = None, key: str = "evt-1:alert:guard", **fields: object) -> AlertMessage:
    values: dict[str, object] = {
        "key": key,
        "kind": "alert",
        "title": "GUN DETECTED: entrance",
        "body": "A handgun was seen at the entrance.\nFollow the lockdown protocol.",
        "camera": "entrance",
        "event_id": "evt-1",
        "score": 0.91,
        "created_at": 1_700_000_000.0,
        "snapshot": str(snapshot) if snapshot else None,
        "snapshot_url": "https://gunwatch.example/events/evt-1/snapshot.jpg",
        "links": {"ack": "https://gunwatch.example/a/ack?t=abc", "false_alarm": "https://gunwatch.example/a/fa?t=d"},
    }
    values.update(fields)
    return AlertMessage(**values)  # type: ignore[arg-type]


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    buffer = BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    path = tmp_path / "snapshot.jpg"
    path.write_bytes(buffer.getvalue())
    return path


def test_email_carries_subject_body_links_and_snapshot(smtp_server: SmtpServer, jpeg: Path) -> None:
    channel(smtp_server.url).send(alert(jpeg), TO)

    [mail] = smtp_server.wait_for(1)
    email = mail.message
    assert mail.rcpt_tos == (TO,)
    assert mail.mail_from == "gunwatch@127.0.0.1"
    assert email["Subject"] == "GUN DETECTED: entrance"
    assert email["To"] == TO
    assert email["X-Gunwatch-Key"] == "evt-1:alert:guard"
    assert email["X-Gunwatch-Kind"] == "alert"
    body = email.get_body(("plain",)).get_content()
    assert "A handgun was seen at the entrance.\nFollow the lockdown protocol." in body
    assert "ack: https://gunwatch.example/a/ack?t=abc" in body
    assert "false_alarm: https://gunwatch.example/a/fa?t=d" in body
    assert "https://gunwatch.example/events/evt-1/snapshot.jpg" in body
    [attachment] = list(email.iter_attachments())
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_filename() == "evt-1.jpg"
    assert attachment.get_content() == jpeg.read_bytes()


def test_sender_and_no_attachment_when_switched_off(smtp_server: SmtpServer, jpeg: Path) -> None:
    channel(smtp_server.url, sender="alerts@school.example", attach_snapshot=False).send(alert(jpeg), TO)

    [mail] = smtp_server.wait_for(1)
    assert mail.mail_from == "alerts@school.example"
    assert mail.message["From"] == "alerts@school.example"
    assert list(mail.message.iter_attachments()) == []


def test_missing_snapshot_file_still_sends(smtp_server: SmtpServer, tmp_path: Path) -> None:
    channel(smtp_server.url).send(alert(tmp_path / "gone.jpg"), TO)

    [mail] = smtp_server.wait_for(1)
    assert list(mail.message.iter_attachments()) == []


def test_non_ascii_text_and_no_header_injection(smtp_server: SmtpServer) -> None:
    title = "WAFFE ERKANNT: Eingang Süd\r\nBcc: everyone@school.example"
    channel(smtp_server.url).send(alert(title=title, body="Räumen! 🚨", key="evt-1:alert:jürgen"), TO)

    [mail] = smtp_server.wait_for(1)
    assert mail.message["Subject"] == "WAFFE ERKANNT: Eingang Süd Bcc: everyone@school.example"
    assert mail.message["Bcc"] is None and mail.rcpt_tos == (TO,)
    assert "Räumen! 🚨" in mail.message.get_body(("plain",)).get_content()
    assert mail.message["X-Gunwatch-Key"] == "evt-1:alert:jürgen"


def test_message_id_is_the_same_for_every_delivery_of_a_key(smtp_server: SmtpServer) -> None:
    email = channel(smtp_server.url)
    email.send(alert(), TO)
    email.send(alert(), TO)  # a redelivery, e.g. after a lost reply
    email.send(alert(key="evt-1:cancel:guard", kind="cancel", title="CANCELLED: entrance"), TO)

    first, again, cancel = (mail.message["Message-ID"] for mail in smtp_server.wait_for(3))
    assert first == again == message_id("evt-1:alert:guard")
    assert first.startswith("<evt-1.alert.guard.") and first.endswith("@gunwatch>")
    assert cancel != first


def test_message_ids_of_keys_that_differ_in_unsafe_characters_differ() -> None:
    assert message_id("evt-1:alert:a@x.org") != message_id("evt-1:alert:a/x/org")
    assert message_id("plain-key_1") == "<plain-key_1@gunwatch>"
    assert "\n" not in message_id("bad\r\nkey") and " " not in message_id("a b")


def test_login_with_user_and_percent_encoded_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(files.cert))
    with SmtpServer(users={"alarm": "p@ss:w/rd"}, tls=files) as server:
        url = f"smtp://alarm:p%40ss%3Aw%2Frd@127.0.0.1:{server.port}"  # STARTTLS: the default with a login
        channel(url, timeout_s=2.0).send(alert(), TO)
        [mail] = server.wait_for(1)
        assert mail.login == "alarm"

        with pytest.raises(DeliveryError) as refused:
            channel(f"smtp://alarm:wrong@127.0.0.1:{server.port}", timeout_s=2.0).send(alert(), TO)
        assert not refused.value.retryable
        assert "login failed: 535" in refused.value.reason
        assert "wrong" not in refused.value.reason  # the password is redacted

        with pytest.raises(DeliveryError) as anonymous:  # the server wants AUTH: 530, a configuration error
            channel(server.url).send(alert(), TO)
        assert not anonymous.value.retryable


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the server offers AUTH in clear
def test_a_password_never_travels_in_clear() -> None:
    # smtp://USER:PASS@HOST:587 with no starttls parameter used to log in over the plain connection.
    with SmtpServer(users={"alarm": "hunter2"}) as server:  # no STARTTLS, AUTH offered in clear
        with pytest.raises(DeliveryError) as plain:
            channel(f"smtp://alarm:hunter2@127.0.0.1:{server.port}").send(alert(), TO)
        assert not plain.value.retryable  # a configuration problem: retrying would not help
        assert "'email'" in plain.value.reason and "STARTTLS" in plain.value.reason
        assert "login was not sent" in plain.value.reason and "hunter2" not in plain.value.reason
        assert server.login_attempts == [] and server.mails == []


@pytest.mark.parametrize("url", ["smtp://alarm:pw@mail.example:587?starttls=no",
                                 "smtp://alarm:pw@127.0.0.1:587?starttls=off"])
def test_a_login_without_tls_is_refused_at_startup(url: str) -> None:
    with pytest.raises(ValueError) as error:
        channel(url)
    assert "password in clear" in str(error.value) and ":pw@" not in str(error.value)


def test_rejected_recipient_is_not_retryable(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as rejected:
        channel(smtp_server.url).send(alert(), "reject-me@school.example")
    assert not rejected.value.retryable
    assert "'email'" in rejected.value.reason and "127.0.0.1" in rejected.value.reason
    assert "550" in rejected.value.reason and "reject-me@school.example" in rejected.value.reason

    with pytest.raises(DeliveryError) as later:  # 451: try again later
        channel(smtp_server.url).send(alert(), "tempfail@school.example")
    assert later.value.retryable and "451" in later.value.reason
    assert smtp_server.mails == []


def test_no_address_is_not_retryable(smtp_server: SmtpServer) -> None:
    for address in (None, "", "  "):
        with pytest.raises(DeliveryError) as missing:
            channel(smtp_server.url).send(alert(recipient="guard"), address)
        assert not missing.value.retryable
        assert "no email address for recipient 'guard'" in missing.value.reason


def test_stopped_server_is_retryable_and_a_restart_delivers(smtp_server: SmtpServer) -> None:
    email = channel(smtp_server.url, timeout_s=1.0)
    smtp_server.stop()
    with pytest.raises(DeliveryError) as down:
        email.send(alert(), TO)
    # No time limit: a refused connection fails at once, said so by its own error rather than a timeout.
    assert "ConnectionRefusedError" in down.value.reason and "timed out" not in down.value.reason
    assert down.value.retryable and "127.0.0.1" in down.value.reason

    smtp_server.start()
    email.send(alert(), TO)
    assert len(smtp_server.wait_for(1)) == 1


def test_silent_server_times_out() -> None:
    with SilentServer() as silent:  # accepts the connection but never says hello
        with pytest.raises(DeliveryError) as hung:
            channel(f"smtp://127.0.0.1:{silent.port}", timeout_s=0.3).send(alert(), TO)
        # No time limit: the server was still holding the connection unanswered when the client hung up, so the
        # client's own timeout ended the send (a broken one would have met the server's hang guard instead).
        assert silent.client_hung_up_first()
    assert hung.value.retryable and "timed out after 0.3 s" in hung.value.reason


@pytest.mark.parametrize("implicit_tls", [False, True], ids=["starttls", "smtps"])
def test_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, implicit_tls: bool) -> None:
    files = self_signed_tls(tmp_path)
    with SmtpServer(tls=files, implicit_tls=implicit_tls) as server:
        url = server.url if implicit_tls else f"{server.url}?starttls=yes"
        with pytest.raises(DeliveryError) as untrusted:  # the system CAs do not know our certificate
            channel(url, timeout_s=2.0).send(alert(), TO)
        assert untrusted.value.retryable and "CERTIFICATE_VERIFY_FAILED" in untrusted.value.reason

        monkeypatch.setenv("SSL_CERT_FILE", str(files.cert))
        channel(url, timeout_s=2.0).send(alert(), TO)
        assert server.wait_for(1)[0].message["Subject"] == "GUN DETECTED: entrance"


def test_starttls_required_but_not_offered_is_not_retryable(smtp_server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as plain:
        channel(f"{smtp_server.url}?starttls=yes").send(alert(), TO)
    assert not plain.value.retryable and "STARTTLS" in plain.value.reason


def test_parse_smtp_url() -> None:
    plain = parse_smtp_url("smtp://mail.example")
    assert (plain.host, plain.port, plain.user) == ("mail.example", 25, None)
    assert not plain.starttls and not plain.implicit_tls
    login = parse_smtp_url("smtp://me:pw@mail.example:587")
    assert (login.port, login.user, login.starttls, login.implicit_tls) == (587, "me", True, False)
    tls = parse_smtp_url("smtps://me:a%2Fb@mail.example")
    assert (tls.port, tls.implicit_tls, tls.user, tls.password) == (465, True, "me", "a/b")
    assert parse_smtp_url("SMTP://mail.example:587?starttls=yes").starttls
    for bad in ("smtp://", "smtps://mail.example?starttls=yes", "smtp://h?startls=yes", "smtp://h?starttls=maybe"):
        with pytest.raises(ValueError):
            parse_smtp_url(bad)
    with pytest.raises(ValueError) as error:
        channel("smtp://me:hunter2@h?x=1")
    assert "hunter2" not in str(error.value)
