"""A user store on both backends, with a clock the tests move and argon2 at its cheapest (the parameters are
not what these tests check; tests/users/test_passwords.py checks the real defaults)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from gunwatch.events.store import EventStore
from gunwatch.users.passwords import Passwords
from gunwatch.users.store import UserStore
from support.clock import Clock

T0 = 1_750_000_000.0
PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cheap_passwords() -> Passwords:
    return Passwords(PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture
def users(store: EventStore, clock: Clock, cheap_passwords: Passwords) -> Iterator[UserStore]:
    yield UserStore(store, session_hours=2.0, passwords=cheap_passwords, clock=clock)
