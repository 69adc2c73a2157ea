"""`${NAME}` references filled from the environment, and the problems named by key path."""

from __future__ import annotations

import pytest

from gunwatch.config.env import substitute_env, variable_names


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("rtsp://admin:${PW}@cam/s", {"PW": "secret"}, "rtsp://admin:secret@cam/s"),
        ("${A}-${B}", {"A": "1", "B": "2"}, "1-2"),
        ("${USER_NAME:-admin}", {}, "admin"),
        ("${USER_NAME:-admin}", {"USER_NAME": "guard"}, "guard"),
        ("${USER_NAME:-admin}", {"USER_NAME": ""}, "admin"),  # empty counts as unset, as in the shell
        ("${EMPTY}", {"EMPTY": ""}, ""),
        ("${DB:-sqlite:///runs/x.db}", {}, "sqlite:///runs/x.db"),  # a default may hold ':' and '/'
        ("$${NOT_A_REFERENCE}", {}, "${NOT_A_REFERENCE}"),
        ("cost: $5", {}, "cost: $5"),
        ("no references", {}, "no references"),
    ],
)
def test_substitutes_references_in_strings(value: str, environ: dict[str, str], expected: str) -> None:
    assert substitute_env({"key": value}, environ) == ({"key": expected}, [])


def test_walks_mappings_and_lists_and_leaves_other_values_alone() -> None:
    tree = {"a": [1, {"b": "${X}"}, True, None], "c": 2.5}
    assert substitute_env(tree, {"X": "x"}) == ({"a": [1, {"b": "x"}, True, None], "c": 2.5}, [])


def test_keys_are_not_substituted() -> None:
    assert substitute_env({"${X}": "v"}, {"X": "x"}) == ({"${X}": "v"}, [])


def test_an_unset_variable_is_a_problem_at_its_key_path_and_the_value_is_kept() -> None:
    tree = {"cameras": {"lobby": {"masks": ["${A}", "ok ${B}"]}}}
    result, problems = substitute_env(tree, {"A": "a"})
    assert result == {"cameras": {"lobby": {"masks": ["a", "ok ${B}"]}}}
    assert problems == [
        (("cameras", "lobby", "masks", 1), "environment variable B is not set (set it, or write ${B:-default})")
    ]


@pytest.mark.parametrize("body", ["1ABC", "A B", "", "A:default"])
def test_a_malformed_reference_is_a_problem(body: str) -> None:
    _, problems = substitute_env({"key": f"${{{body}}}"}, {"ABC": "x", "A": "x"})
    assert problems == [(("key",), f"${{{body}}} is not a variable reference: write ${{NAME}} or ${{NAME:-default}}")]


def test_variable_names_are_listed_once_in_the_files_order_without_escaped_or_malformed_ones() -> None:
    tree = {"cameras": {"b": {"url": "rtsp://u:${CAM}@h"}, "a": {"url": "x${CAM}"}},
            "store": {"url": "postgresql://g:${PG:-secret}@db/g"},
            "alerts": [{"url": "$${LITERAL} ${1BAD} ${SMTP}"}], "${KEY}": 3}
    assert variable_names(tree) == ["CAM", "PG", "SMTP"]
