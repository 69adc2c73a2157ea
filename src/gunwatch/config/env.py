"""`${NAME}` and `${NAME:-default}` in string values, filled from the environment before validation.

This keeps passwords out of the site file. `${NAME:-default}` takes the default when NAME is unset or
empty, as in the shell; `$${...}` stands for a literal `${...}`. Only string values are substituted (not
keys), and the result is not read as YAML again, so a value can never add settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A key path into the YAML tree: mapping keys and list indices.
Location = tuple[str | int, ...]

_REFERENCE = re.compile(r"\$(\$?)\{([^}]*)\}")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


def substitute_env(tree: object, environ: Mapping[str, str]) -> tuple[object, list[tuple[Location, str]]]:
    """The tree with every reference replaced, and a (location, message) for each one that cannot be.

    A value with an unresolved reference is left as written, so that the rest of the file can still be
    validated and every problem reported at once.
    """
    problems: list[tuple[Location, str]] = []
    return _walk(tree, (), environ, problems), problems


def _walk(node: object, location: Location, environ: Mapping[str, str], problems: list[tuple[Location, str]]) -> object:
    if isinstance(node, dict):
        return {key: _walk(value, (*location, key), environ, problems) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(item, (*location, index), environ, problems) for index, item in enumerate(node)]
    if isinstance(node, str):
        return _substitute(node, location, environ, problems)
    return node


def _substitute(text: str, location: Location, environ: Mapping[str, str], problems: list[tuple[Location, str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped, body = match.group(1), match.group(2)
        if escaped:
            return match.group(0)[1:]
        reference = _BODY.fullmatch(body)
        if reference is None:
            message = f"${{{body}}} is not a variable reference: write ${{NAME}} or ${{NAME:-default}}"
            problems.append((location, message))
            return match.group(0)
        name, default = reference.group("name"), reference.group("default")
        value = environ.get(name)
        if default is not None and not value:
            return default
        if value is None:
            message = f"environment variable {name} is not set (set it, or write ${{{name}:-default}})"
            problems.append((location, message))
            return match.group(0)
        return value

    return _REFERENCE.sub(replace, text)


def variable_names(tree: object) -> list[str]:
    """The NAMEs that `${NAME}` references in the tree's string values use, each once, in the file's order
    (escaped `$${...}` and malformed references left out): what an environment file for the site must set."""
    names: dict[str, None] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack += reversed(list(node.values()))
        elif isinstance(node, list):
            stack += reversed(node)
        elif isinstance(node, str):
            for match in _REFERENCE.finditer(node):
                reference = None if match.group(1) else _BODY.fullmatch(match.group(2))
                if reference is not None:
                    names.setdefault(reference.group("name"))
    return list(names)
