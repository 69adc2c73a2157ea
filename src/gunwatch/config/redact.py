"""Hide credentials in URLs before they reach any output: logs, summaries, errors, the dashboard."""

from __future__ import annotations

import re

REDACTED = "***"

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Query parameters that carry secrets in camera and stream URLs (snapshot CGIs, signed HLS links).
_SECRET_QUERY = re.compile(
    r"([?&;](?:password|passwd|pass|pwd|secret|token|access_token|auth|key|api_key|apikey|signature|sig)=)[^&;#]*",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """`url` with the password of `user:password@` and secret query values replaced by ***.

    Errs on the side of hiding: a password with an unencoded '/' or '@' is still hidden, even though it
    makes the URL itself invalid. Paths and URLs without credentials come back unchanged.
    """
    scheme = _SCHEME.match(url)
    if not scheme:
        return url
    url = _SECRET_QUERY.sub(rf"\1{REDACTED}", url)
    start = scheme.end()
    end = next((i for i in range(start, len(url)) if url[i] in "/?#"), len(url))
    at = url.rfind("@", start, end)
    if at == -1 and ":" in url[start:end]:
        # No '@' in the authority, yet a ':' and a later '@': a password holding '/', '?' or '#'.
        at = url.rfind("@", end)
    if at == -1:
        return url
    user, colon, _password = url[start:at].partition(":")
    return url[:start] + (f"{user}:{REDACTED}" if colon else user) + url[at:]


def endpoint_only(url: str) -> str:
    """`scheme://host:port/…`: for URLs whose path or query is itself a credential (Slack, Teams and Discord
    incoming webhooks, chat bot tokens), shown in logs, errors and summaries without it."""
    scheme = _SCHEME.match(url)
    if not scheme:
        return url
    rest = redact_url(url)[scheme.end():]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    hidden = "/…" if len(authority) < len(rest) else ""
    return url[: scheme.end()] + authority + hidden

