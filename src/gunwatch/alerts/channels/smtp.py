"""Email through an SMTP server (stdlib smtplib): one connection per message, the snapshot attached.

URLs: `smtp://[USER:PASS@]HOST[:25][?starttls=yes|no]` (SMTP upgraded with STARTTLS when starttls=yes)
and `smtps://[USER:PASS@]HOST[:465]` (TLS from the first byte). A password never travels in clear: with
USER:PASS, smtp:// always upgrades with STARTTLS (starttls=no is refused), and a server that offers no
STARTTLS gets no login, only a delivery error naming the channel. Without a login, starttls defaults to no.
USER and PASS are percent-decoded, so a password may hold any character written as %XX. TLS certificates
are checked against the system's trusted CAs (OpenSSL's SSL_CERT_FILE / SSL_CERT_DIR apply).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import SmtpChannelConfig
from gunwatch.config.redact import redact_url

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_YES, _NO = ("yes", "true", "on", "1"), ("no", "false", "off", "0")
URGENT_KINDS = ("pre_alert", "alert", "escalation")
# Characters kept in the left part of a Message-ID (a subset of RFC 5322 dot-atom text) and in file names.
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_+=-]+")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_LINE_BREAKS = re.compile(r"[\r\n]+")


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect, from the channel URL."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    user: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """The SmtpTarget of an smtp:// or smtps:// URL; ValueError (with the password hidden) when malformed."""
    shown = redact_url(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"{shown}: not an smtp:// or smtps:// URL")
    if not parts.hostname:
        raise ValueError(f"{shown}: no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as error:
        raise ValueError(f"{shown}: bad port ({error})") from None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise ValueError(f"{shown}: unknown parameter(s) {', '.join(unknown)}; only starttls=yes|no is known")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if user is not None and password is None:
        raise ValueError(f"{shown}: a user needs a password (smtp://USER:PASS@HOST)")
    # With a login, TLS is not optional: AUTH PLAIN / LOGIN send the password itself, only base64-encoded.
    login_needs_tls = user is not None and scheme == "smtp"
    starttls_text = query.get("starttls", ["yes" if login_needs_tls else "no"])[-1].lower()
    if starttls_text not in _YES + _NO:
        raise ValueError(f"{shown}: starttls must be yes or no, not {starttls_text!r}")
    starttls = starttls_text in _YES
    if scheme == "smtps" and starttls:
        raise ValueError(f"{shown}: smtps:// is TLS from the start; starttls=yes is for smtp://")
    if login_needs_tls and not starttls:
        raise ValueError(f"{shown}: starttls=no would send the password in clear; a login needs STARTTLS "
                         "(the default with a user) or smtps://")
    return SmtpTarget(parts.hostname, port, scheme == "smtps", starttls, user, password)


def message_id(key: str) -> str:
    """`<KEY@gunwatch>` for an idempotency key: every delivery of one notification carries the same id, so
    mail clients and people see a redelivery as the same message. Characters a Message-ID cannot hold become
    '.', and then a hash of the raw key is added, so two keys that differ only there still differ."""
    safe = _ID_UNSAFE.sub(".", key).strip(".")[:120].strip(".")
    if safe != key:
        safe = f"{safe}.{hashlib.sha256(key.encode()).hexdigest()[:10]}".lstrip(".")
    return f"<{safe}@gunwatch>"


def attachment_name(message: AlertMessage) -> str:
    stem = _NAME_UNSAFE.sub("-", message.event_id or message.key).strip(".-")[:100]
    return f"{stem or 'snapshot'}.jpg"


def email_text(message: AlertMessage) -> str:
    """The plain-text body: the message body, the snapshot link, then one `name: url` line per action."""
    parts = [message.body.rstrip()]
    if message.snapshot_url:
        parts.append(f"Snapshot: {message.snapshot_url}")
    if message.links:
        parts.append("\n".join(f"{name}: {url}" for name, url in message.links.items()))
    return "\n\n".join(part for part in parts if part) + "\n"


def _one_line(text: str) -> str:
    # Header values must not break lines (header injection; EmailMessage refuses them anyway).
    return _LINE_BREAKS.sub(" ", text).strip()


class SmtpChannel(Channel):
    """Sends each message as one email to the address (an email address) it is given."""

    config: SmtpChannelConfig

    def __init__(self, name: str, config: SmtpChannelConfig):
        super().__init__(name, config)
        self.target = parse_smtp_url(config.url)  # a malformed URL fails here, at startup, not at the first alert
        self.sender = config.sender or f"gunwatch@{self.target.host}"

    @property
    def _where(self) -> str:
        return f"smtp channel {self.name!r} ({redact_url(self.config.url)})"

    def send(self, message: AlertMessage, address: str | None) -> None:
        if not address or not address.strip():
            raise DeliveryError(f"{self._where}: no email address for recipient {message.recipient!r}", retryable=False,
                                may_have_arrived=False)
        email = self._build(message, address.strip())
        try:
            self._deliver(email, address.strip())
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()), (0, b""))
            raise self._refused(f"recipient {address} refused", code, reply) from error
        except smtplib.SMTPResponseException as error:  # sender refused, data refused, bad login, 421...
            what = "login failed" if isinstance(error, smtplib.SMTPAuthenticationError) else "server refused"
            raise self._refused(what, error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPNotSupportedError as error:  # e.g. starttls=yes but no STARTTLS offered: configuration
            login = " (the login was not sent: it must not travel in clear)" if self.target.user is not None else ""
            raise DeliveryError(f"{self._where}: {error}{login}", retryable=False, may_have_arrived=False) from error
        except (smtplib.SMTPException, OSError) as error:  # refused connection, DNS, TLS, a dropped connection
            if _timed_out(error):
                raise DeliveryError(f"{self._where}: timed out after {self.config.timeout_s:g} s") from error
            # Nothing connected: certainly not delivered. A connection dropped mid-way may have been after DATA.
            never_connected = isinstance(error, ConnectionRefusedError | socket.gaierror | smtplib.SMTPConnectError)
            raise DeliveryError(f"{self._where}: {type(error).__name__}: {error}", retryable=True,
                                may_have_arrived=not never_connected) from error

    def _refused(self, what: str, code: int, reply: bytes | str) -> DeliveryError:
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        # 5xx: the server will say the same again; 4xx (and anything odd): try again later.
        # The server answered with a refusal: it did not take the message.
        return DeliveryError(f"{self._where}: {what}: {code} {_one_line(text)[:300]}", retryable=not 500 <= code < 600,
                             may_have_arrived=False)

    def _build(self, message: AlertMessage, address: str) -> EmailMessage:
        email = EmailMessage()
        try:
            email["Subject"] = _one_line(message.title)
            email["From"] = self.sender
            email["To"] = address
            email["Date"] = formatdate(message.created_at or time.time(), localtime=True)
            email["Message-ID"] = message_id(message.key)
            email["X-Gunwatch-Key"] = _one_line(message.key)
            email["X-Gunwatch-Kind"] = message.kind
            email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies back to us
            if message.kind in URGENT_KINDS:
                email["Importance"] = "high"
                email["X-Priority"] = "1"
            email.set_content(email_text(message))
        except (ValueError, MessageError) as error:
            raise DeliveryError(
                f"{self._where}: cannot build the email to {address!r}: {error}", retryable=False,
                may_have_arrived=False,
            ) from error
        snapshot = self._snapshot_bytes(message)
        if snapshot is not None:
            email.add_attachment(snapshot, maintype="image", subtype="jpeg", filename=attachment_name(message))
        return email

    def _snapshot_bytes(self, message: AlertMessage) -> bytes | None:
        if not (self.config.attach_snapshot and message.snapshot):
            return None
        try:
            return Path(message.snapshot).read_bytes()
        except OSError:  # gone or unreadable: the alert matters more than its picture
            return None

    def reach(self) -> str:
        """Connect, EHLO, STARTTLS where configured and log in where a user is given, then say goodbye:
        everything a send does but the message. DeliveryError (as `send` raises it) when that fails."""
        deadline = time.monotonic() + self.config.timeout_s
        try:
            client = self._open(deadline)
        except smtplib.SMTPResponseException as error:
            what = "login failed" if isinstance(error, smtplib.SMTPAuthenticationError) else "server refused"
            raise self._refused(what, error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(f"{self._where}: {error}", retryable=False, may_have_arrived=False) from error
        except (smtplib.SMTPException, OSError) as error:
            if _timed_out(error):
                raise DeliveryError(f"{self._where}: timed out after {self.config.timeout_s:g} s") from error
            raise DeliveryError(f"{self._where}: {type(error).__name__}: {error}") from error
        try:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
        finally:
            client.close()
        steps = ["EHLO"] + (["STARTTLS"] if self.target.starttls else []) + (
            ["TLS"] if self.target.implicit_tls else []) + (["login"] if self.target.user is not None else [])
        return f"connected, {', '.join(steps)} ok"

    def _deliver(self, email: EmailMessage, address: str) -> None:
        deadline = time.monotonic() + self.config.timeout_s
        client = self._open(deadline)
        try:
            _arm(client, deadline)
            client.send_message(email, from_addr=self.sender, to_addrs=[address])
            # Accepted already: a failed goodbye must not cause a retry (and a duplicate email).
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
        finally:
            client.close()

    def _open(self, deadline: float) -> smtplib.SMTP:
        """A connection ready for a message: greeted, upgraded to TLS and logged in as the URL says."""
        target, timeout = self.target, self.config.timeout_s
        # The host goes to the constructor (which connects), as TLS checks the certificate against the host
        # given there. local_hostname: smtplib would otherwise look up our FQDN, which stalls where DNS is down.
        client: smtplib.SMTP
        if target.implicit_tls:
            client = smtplib.SMTP_SSL(
                target.host, target.port, socket.gethostname(), timeout=timeout, context=_tls_context()
            )
        else:
            client = smtplib.SMTP(target.host, target.port, socket.gethostname(), timeout=timeout)
        try:
            if "." not in client.local_hostname:  # EHLO wants a domain or an address literal
                client.local_hostname = _address_literal(client.sock)
            _arm(client, deadline)
            client.ehlo_or_helo_if_needed()
            if target.starttls:
                _arm(client, deadline)
                client.starttls(context=_tls_context())  # raises unless the server upgraded the connection
                client.ehlo()
            if target.user is not None:
                if not isinstance(client.sock, ssl.SSLSocket):  # parse_smtp_url's rule, kept where it matters
                    raise smtplib.SMTPNotSupportedError("no TLS on this connection")
                _arm(client, deadline)
                client.login(target.user, target.password or "")
        except BaseException:
            client.close()
            raise
        return client


def _arm(client: smtplib.SMTP, deadline: float) -> None:
    """Each step gets only the time left, so the whole send stays near `timeout_s`, not a multiple of it."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    if client.sock is not None:
        client.sock.settimeout(left)


def _timed_out(error: BaseException) -> bool:
    # smtplib reports a read that timed out as SMTPServerDisconnected, with the TimeoutError as its context.
    return isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError)


def _address_literal(sock: socket.socket | None) -> str:
    if sock is None:
        return "[127.0.0.1]"
    host = sock.getsockname()[0]
    return f"[IPv6:{host}]" if ":" in host else f"[{host}]"


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
