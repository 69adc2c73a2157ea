"""Password hashing: argon2id through argon2-cffi, with the library's maintained default parameters.

    passwords = Passwords()
    stored = passwords.hash("correct horse battery")
    passwords.verify(stored, "correct horse battery")   # True
    passwords.verify(None, "anything")                 # False, after as much work as a real check

When argon2-cffi raises its defaults, hashes made before still verify; `needs_rehash` says they should be
redone with the new parameters (the user store does that at the next sign-in, when it has the password).
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
# Far above any real passphrase; a megabyte "password" would only cost hashing time.
MAX_LENGTH = 1024


class PasswordError(ValueError):
    """A password that cannot be used (too short, too long); the message says which rule it broke."""


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_LENGTH} characters (this one has {len(password)}); "
                            "a few words in a row are easy to remember and hard to guess")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password may have at most {MAX_LENGTH} characters (this one has {len(password)})")


class Passwords:
    """`hasher` defaults to argon2-cffi's own defaults (RFC 9106's low-memory profile today); tests pass a
    cheaper one. Safe to share between threads."""

    def __init__(self, hasher: PasswordHasher | None = None):
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None
        self._dummy_lock = threading.Lock()

    def hash(self, password: str) -> str:
        """The argon2id hash of a password that passes `check_password` (PasswordError otherwise)."""
        check_password(password)
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches `stored`. With no stored hash (an unknown user) a dummy hash is checked
        instead, so the answer takes as long and does not tell which names exist."""
        try:
            return self.hasher.verify(stored or self._dummy_hash(), password[:MAX_LENGTH + 1]) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with other parameters than this hasher's (e.g. older defaults)."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    def _dummy_hash(self) -> str:
        # Made once, with this hasher's parameters: verifying against it costs what a real check costs.
        with self._dummy_lock:
            if self._dummy is None:
                self._dummy = self.hasher.hash("no such user: this hash matches nothing that is typed")
            return self._dummy
