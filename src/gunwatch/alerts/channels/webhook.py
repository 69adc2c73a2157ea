"""Webhook channel: the message as a JSON POST, signed with HMAC-SHA256 by the channel's secret.

The signature, `X-Gunwatch-Signature: sha256=HEX`, is the hex HMAC-SHA256, keyed with the secret, of

    METHOD "\n" TARGET "\n" TIMESTAMP "\n" BODY

METHOD upper-case (`POST`); TARGET the request target as sent on the request line, path and query string,
percent-encoding kept (`/hooks/gunwatch?site=1`; no scheme, host or fragment: a proxy in front of the
receiver may change those); TIMESTAMP the decimal Unix time in `X-Gunwatch-Timestamp`; BODY the exact body
bytes (empty for a request without one). So a captured request cannot be altered, replayed later, sent with
another method, or replayed to another endpoint of the same receiver. Receivers check a delivery with
`verify_signature(secret, method, target, headers, body)` and deduplicate on `X-Gunwatch-Key`, since the
outbox may deliver the same message more than once. A channel sends unsigned requests only when its
config says `signed: false`.

`call_endpoint` is the one HTTP path: the webhook channel and the protocols' "call" steps (door locks,
access-control lockdown) both go through it, so both fail, retry and sign the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import WebhookChannelConfig
from gunwatch.config.redact import endpoint_only, redact_url

MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024  # larger JPEGs are left out: many receivers cap request bodies
SIGNATURE_PREFIX = "sha256="
# Answers a retry may fix: the receiver timed out or is rate limiting us; every other 4xx is our mistake.
RETRYABLE_4XX = (408, 429)
ERROR_TEXT_LIMIT = 200  # characters of an error answer quoted in the reason


def signed_bytes(method: str, target: str, timestamp: int | str, body: bytes) -> bytes:
    """What the signature covers: `METHOD\nTARGET\nTIMESTAMP\n` + body (see the module's docstring)."""
    return f"{method.upper()}\n{target}\n{timestamp}\n".encode() + body


def sign(secret: str, method: str, target: str, timestamp: int | str, body: bytes) -> str:
    """The X-Gunwatch-Signature value: `sha256=` and the hex HMAC-SHA256 of `signed_bytes(...)`."""
    digest = hmac.new(secret.encode(), signed_bytes(method, target, timestamp, body), hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def request_target(url: str) -> str:
    """The path and query of `url` as an HTTP client sends them on the request line (`/` for no path)."""
    return httpx.URL(url).raw_path.decode("ascii")


def verify_signature(secret: str, method: str, target: str, headers: Mapping[str, str], body: bytes,
                     max_age_s: float = 300) -> bool:
    """Whether a request carries a valid signature by `secret` over its method, target (path and query, as
    received on the request line), timestamp and body, made at most `max_age_s` ago (or ahead, for clock
    skew). `headers` may use any case for the names."""
    lowered = {name.lower(): value for name, value in headers.items()}
    signature, timestamp = lowered.get("x-gunwatch-signature"), lowered.get("x-gunwatch-timestamp")
    if not signature or not timestamp:
        return False
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    if age > max_age_s:
        return False
    expected = sign(secret, method, target, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.encode())  # bytes: any text compares, none raises


def call_endpoint(
    url: str,
    method: str = "POST",
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
    *,
    secret: str | None = None,
    label: str = "call",
    client: httpx.Client | None = None,
) -> int:
    """Send one HTTP request and return its 2xx status; otherwise raise DeliveryError.

    `json_body` (None: no body) is sent as compact JSON, with X-Gunwatch-Timestamp and, when `secret` is
    set, X-Gunwatch-Signature over the method, the URL's path and query and exactly those bytes (config
    validation makes sure a webhook channel or call step that should sign has a non-empty secret).
    `timeout_s` bounds connecting, writing, waiting for the answer and the pool, each. `label` names the
    caller in error reasons ("webhook channel 'ops'").
    Pass a long-lived `client` to reuse its connections (a new client costs tens of ms: TLS context, pool).
    Retryable: timeouts, connection errors, 408, 429 and 5xx. Not retryable: other 4xx, redirects (not
    followed: a POST must not silently go elsewhere) and URLs httpx cannot use.
    """
    where = f"{label}: {method} {endpoint_only(url)}"  # the path of an incoming webhook is often its secret
    body = b"" if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
    timestamp = int(time.time())
    # Ours last: a caller's header must not break the signature's timestamp.
    sent_headers = {**(headers or {}), "Content-Type": "application/json", "X-Gunwatch-Timestamp": str(timestamp)}
    try:
        if secret:
            sent_headers["X-Gunwatch-Signature"] = sign(secret, method, request_target(url), timestamp, body)
        # A stream: the status is all we need, so a large answer is never read (only the start of an error).
        opener = client.stream if client is not None else httpx.stream
        with opener(method, url, content=body or None, headers=sent_headers, timeout=timeout_s) as response:
            status = response.status_code
            if 200 <= status < 300:
                return status
            detail = _start_of(response)
            location = response.headers.get("location")
    except httpx.ConnectTimeout as error:  # before connecting: nothing was sent
        raise DeliveryError(f"{where}: cannot connect within {timeout_s:g} s", may_have_arrived=False) from error
    except httpx.TimeoutException as error:  # the request may have been taken, the answer never came
        raise DeliveryError(f"{where}: no answer within {timeout_s:g} s ({type(error).__name__})") from error
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise DeliveryError(f"{where}: unusable URL ({_hide(error, url)})", retryable=False,
                            may_have_arrived=False) from error
    except httpx.ConnectError as error:  # refused, unknown host, TLS handshake: nothing was sent
        raise DeliveryError(f"{where}: {type(error).__name__}: {_hide(error, url)}", may_have_arrived=False) from error
    except httpx.TransportError as error:
        raise DeliveryError(f"{where}: {type(error).__name__}: {_hide(error, url)}") from error
    # A redirect or a 4xx: the receiver did not take the message. A 5xx may come after it did (a receiver that
    # stored it and then broke, a proxy whose upstream took it and answered late: 502, 504).
    if 300 <= status < 400:
        target = f" to {redact_url(location)}" if location else ""
        raise DeliveryError(f"{where}: HTTP {status}, redirected{target} (not followed)", retryable=False,
                            may_have_arrived=False)
    retryable = status >= 500 or status in RETRYABLE_4XX
    raise DeliveryError(f"{where}: HTTP {status}{f': {detail}' if detail else ''}", retryable=retryable,
                        may_have_arrived=status >= 500)


def _start_of(response: httpx.Response) -> str:
    """The first characters of an error answer, for the reason; reading it is bounded by the read timeout."""
    received = b""
    try:
        for chunk in response.iter_bytes():
            received += chunk
            if len(received) >= ERROR_TEXT_LIMIT:
                break
    except httpx.HTTPError:
        pass  # the status decides; a body that stalls or breaks off must not turn a 400 into a timeout
    return " ".join(received[:ERROR_TEXT_LIMIT].decode(errors="replace").split())


def _hide(error: Exception, url: str) -> str:
    """The error's text with the raw URL (and so any password in it) replaced by its redacted form."""
    return str(error).replace(url, redact_url(url)) or type(error).__name__


class WebhookChannel(Channel):
    """POSTs `message.to_json()` (plus `snapshot_jpeg_base64` when attaching) to `config.url`.

    Headers: X-Gunwatch-Key (idempotency key), X-Gunwatch-Kind, X-Gunwatch-Timestamp and, with a secret,
    X-Gunwatch-Signature. A webhook has one destination: `address` is ignored (the message's `recipient`
    already says whom it is for).
    """

    config: WebhookChannelConfig

    def __init__(self, name: str, config: WebhookChannelConfig):
        super().__init__(name, config)
        self._client: httpx.Client | None = None  # made on first send, kept: its connections are reused

    def send(self, message: AlertMessage, address: str | None) -> None:
        if self._client is None:
            self._client = httpx.Client()
        payload = message.to_json()
        snapshot = self._snapshot_base64(message.snapshot)
        if snapshot is not None:
            payload["snapshot_jpeg_base64"] = snapshot
        headers = {"X-Gunwatch-Key": message.key, "X-Gunwatch-Kind": message.kind}
        call_endpoint(
            self.config.url,
            "POST",
            payload,
            headers,
            self.config.timeout_s,
            secret=self.config.secret,
            label=f"webhook channel {self.name!r}",
            client=self._client,
        )

    def reach(self) -> str:
        """A TCP connection to the receiver's host and port, and the TLS handshake for https (the certificate
        checked): no request is sent, so nothing reaches whoever reads the webhook."""
        url = httpx.URL(self.config.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        where = f"webhook channel {self.name!r}: {endpoint_only(self.config.url)}"
        try:
            with socket.create_connection((url.host, port), timeout=self.config.timeout_s) as connection:
                if url.scheme != "https":
                    return f"TCP connection to {url.host}:{port} ok"
                with ssl.create_default_context().wrap_socket(connection, server_hostname=url.host) as tls:
                    return f"TCP and TLS ({tls.version()}) to {url.host}:{port} ok"
        except TimeoutError as error:
            raise DeliveryError(f"{where}: no connection within {self.config.timeout_s:g} s") from error
        except ssl.SSLError as error:
            raise DeliveryError(f"{where}: TLS failed: {error.reason or error}", may_have_arrived=False) from error
        except OSError as error:
            raise DeliveryError(f"{where}: {error.strerror or error}", may_have_arrived=False) from error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _snapshot_base64(self, snapshot: str | None) -> str | None:
        """The snapshot as base64, or None: not attaching, no file, unreadable or too large. A missing
        picture must never stop the alert itself."""
        if not (self.config.attach_snapshot and snapshot):
            return None
        path = Path(snapshot)
        try:
            if not path.is_file() or path.stat().st_size >= MAX_SNAPSHOT_BYTES:
                return None
            return base64.b64encode(path.read_bytes()).decode("ascii")
        except OSError:
            return None
