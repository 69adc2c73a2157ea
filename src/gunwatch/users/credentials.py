"""The random secrets of sessions and API tokens, and what is stored of them (a SHA-256, never the secret).

A plain SHA-256 is enough here, unlike for passwords: these secrets are 256 random bits, nothing to guess.

An API token reads `gwt_<id>_<secret>`: the prefix makes a leaked token easy to spot (secret scanners, logs),
the public `id` finds its row without a search by hash, and only the secret's hash is compared.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NamedTuple

TOKEN_PREFIX = "gwt"


class TokenParts(NamedTuple):
    id: str
    secret: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)


def new_token() -> tuple[str, TokenParts]:
    """A token's text and its parts. The id is hex: it never contains the separator."""
    parts = TokenParts(secrets.token_hex(8), new_secret())
    return f"{TOKEN_PREFIX}_{parts.id}_{parts.secret}", parts


def parse_token(text: str) -> TokenParts | None:
    """The parts of a token's text, or None when it is not shaped like one (the secret may contain `_`)."""
    prefix, _, rest = text.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(token_id) != 16 or not secret or len(secret) > 100:
        return None
    return TokenParts(token_id, secret)
