"""A real SMTP server on loopback for tests: aiosmtpd's threaded Controller on a free port.

    server = SmtpServer().start()           # smtp://127.0.0.1:PORT, keeps every message it accepts
    server.wait_for(1)                      # the ReceivedMail list once one message has arrived
    server.stop(); server.start()           # an outage: the same port and URL again afterwards
    SmtpServer(users={"alice": "s3cret"})   # AUTH PLAIN/LOGIN required, offered without TLS too
    SmtpServer(users=..., tls=files)        # AUTH only after STARTTLS, as a real server
    SmtpServer(tls=files, implicit_tls=True)  # smtps:// ; tls=files alone offers STARTTLS
    server.login_attempts                   # every AUTH user name tried, right or wrong

Recipients containing "reject" are refused with 550 (permanent), those containing "tempfail" with 451
(try again later). `self_signed_tls(folder)` makes a certificate for 127.0.0.1 with the openssl CLI; a
client trusts it when SSL_CERT_FILE points at its `cert`.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from support.waiting import MIN_TIMEOUT_S

HOST = "127.0.0.1"
REJECT_MARKER = "reject"
TEMPFAIL_MARKER = "tempfail"


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message. `login` is the AUTH user the client logged in as, None without AUTH."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def self_signed_tls(folder: Path) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 and localhost; skips the test when openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    files = TlsFiles(folder / "smtp-cert.pem", folder / "smtp-key.pem")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(files.key)]
    names = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    subprocess.run(
        [openssl, "req", "-x509", *key, *names, "-days", "1", "-out", str(files.cert)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return files


def free_port() -> int:
    # Chosen once and kept, so a restarted server is at the same URL (a small race with other binders).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class _Handler:
    """aiosmtpd hooks: refuse marked recipients, hand every accepted message to the server."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if REJECT_MARKER in address.lower():
            return f"550 5.1.1 <{address}>: recipient rejected"
        if TEMPFAIL_MARKER in address.lower():
            return f"451 4.3.0 <{address}>: try again later"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or b""
        # Parsed with plain newlines, so tests compare texts without the wire's CRLF.
        parsed = BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed, raw, login)  # type: ignore[arg-type]
        self.owner._received(mail)
        return "250 2.0.0 accepted"


class SmtpServer:
    """An SMTP server at 127.0.0.1:PORT; the port is chosen at construction and kept across restarts."""

    def __init__(
        self, users: dict[str, str] | None = None, tls: TlsFiles | None = None, implicit_tls: bool = False
    ) -> None:
        self.host, self.port = HOST, free_port()
        self.users = dict(users or {})
        self.tls, self.implicit_tls = tls, implicit_tls
        if implicit_tls and tls is None:
            raise ValueError("implicit_tls needs tls files")
        self._mails: list[ReceivedMail] = []
        self._logins: list[str] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self.users:
            # Without TLS files, AUTH is offered in clear: to test that a client does not use it.
            kwargs.update(auth_required=True, auth_require_tls=self.tls is not None, authenticator=self._authenticate)
        if self.tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert, self.tls.key)
            kwargs["ssl_context" if self.implicit_tls else "tls_context"] = context
        # A fresh Controller each time: stop() closes its event loop for good.
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10.0, **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            with self._changed:
                self._logins.append(user)
            if user in self.users and self.users[user] == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _received(self, mail: ReceivedMail) -> None:
        with self._changed:
            self._mails.append(mail)
            self._changed.notify_all()

    @property
    def login_attempts(self) -> list[str]:
        with self._changed:
            return list(self._logins)

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._changed:
            return list(self._mails)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """All messages received, once there are at least `count`; AssertionError after `timeout` seconds (at
        least MIN_TIMEOUT_S: see support.waiting)."""
        timeout = max(timeout, MIN_TIMEOUT_S)
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._mails) >= count, timeout):
                raise AssertionError(f"{len(self._mails)} of {count} messages arrived within {timeout} s")
            return list(self._mails)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[SmtpServer]:
    """`smtp_server`: a running SmtpServer without AUTH or TLS. A test module imports `smtp_server_fixture`."""
    with SmtpServer() as server:
        yield server
