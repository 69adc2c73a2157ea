"""Password hashing with argon2-cffi's own defaults: hash, verify, rehash after the parameters change."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST

from gunwatch.users.passwords import MAX_LENGTH, MIN_LENGTH, PasswordError, Passwords, check_password

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_a_hash_is_argon2id_with_the_library_defaults_and_verifies_only_its_password(passwords: Passwords) -> None:
    stored = passwords.hash(PASSWORD)
    defaults = PasswordHasher()
    assert stored.startswith(f"$argon2id$v=19$m={defaults.memory_cost},t={defaults.time_cost},"
                             f"p={defaults.parallelism}$")
    assert PASSWORD not in stored
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + "!")
    assert not passwords.needs_rehash(stored)


def test_two_hashes_of_one_password_differ(passwords: Passwords) -> None:
    assert passwords.hash(PASSWORD) != passwords.hash(PASSWORD)  # a salt each


def test_a_hash_made_with_other_parameters_verifies_and_asks_to_be_redone(passwords: Passwords) -> None:
    older = Passwords(PasswordHasher.from_parameters(CHEAPEST)).hash(PASSWORD)
    assert passwords.verify(older, PASSWORD)
    assert passwords.needs_rehash(older)


def test_no_stored_hash_or_a_broken_one_never_verifies(passwords: Passwords) -> None:
    assert not passwords.verify(None, PASSWORD)
    assert not passwords.verify(None, "no such user: this hash matches nothing that is typed")
    assert not passwords.verify("$argon2id$garbage", PASSWORD)
    assert passwords.needs_rehash("not a hash")


@pytest.mark.parametrize(("password", "message"), [
    ("", f"at least {MIN_LENGTH} characters (this one has 0)"),
    ("x" * (MIN_LENGTH - 1), f"at least {MIN_LENGTH} characters (this one has {MIN_LENGTH - 1})"),
    ("x" * (MAX_LENGTH + 1), f"at most {MAX_LENGTH} characters"),
])
def test_a_password_too_short_or_too_long_is_refused_saying_why(password: str, message: str) -> None:
    with pytest.raises(PasswordError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Passwords(PasswordHasher.from_parameters(CHEAPEST)).hash(password)


def test_the_shortest_and_longest_allowed_passwords_pass() -> None:
    check_password("x" * MIN_LENGTH)
    check_password("x" * MAX_LENGTH)


def test_a_longer_text_never_matches_a_password_of_the_longest_length() -> None:
    cheap = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    stored = cheap.hash("x" * MAX_LENGTH)
    assert cheap.verify(stored, "x" * MAX_LENGTH)
    assert not cheap.verify(stored, "x" * (MAX_LENGTH + 5))
