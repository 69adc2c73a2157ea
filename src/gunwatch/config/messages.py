"""pydantic's validation errors, reworded as config problems: `cameras.lobby.detect.fps: must be > 0`."""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gunwatch.config.env import Location
from gunwatch.config.errors import ConfigProblem, ReferenceProblems, key_path

# pydantic marks an error in a mapping's key (a camera or zone name) with this location part.
_KEY_MARK = "[key]"

_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def validation_problems(error: ValidationError, file: str, model: type[BaseModel]) -> list[ConfigProblem]:
    problems = []
    for details in error.errors(include_url=False):
        cause = details.get("ctx", {}).get("error")
        if isinstance(cause, ReferenceProblems):  # one problem per dangling name, each at its own key
            base = key_path(_location(details))
            problems += [ConfigProblem(file, message, ".".join(filter(None, (base, key))))
                         for key, message in cause.problems]
            continue
        problems.append(ConfigProblem(file, _message(details, model), key_path(_location(details)) or None))
    return problems


def _location(details: ErrorDetails) -> Location:
    return tuple(part for part in details["loc"] if part != _KEY_MARK)


def _message(details: ErrorDetails, model: type[BaseModel]) -> str:
    kind, context, given = details["type"], details.get("ctx", {}), details["input"]
    if kind in _BOUNDS:
        bound = next(iter(context.values()))
        bound = f"{bound:g}" if isinstance(bound, float) else bound
        # Numbers only: a string could be a password substituted into the wrong key.
        got = f", got {given}" if isinstance(given, int | float) and not isinstance(given, bool) else ""
        return f"must be {_BOUNDS[kind]} {bound}{got}"
    if kind == "extra_forbidden":
        return _unknown_key(details["loc"], model)
    if kind == "missing":
        return "required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of keys to values"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("path_type", "path_parsing"):
        return "must be a file path"
    text = details["msg"]
    for prefix, replacement in (("Value error, ", ""), ("Input should be", "must be")):
        if text.startswith(prefix):
            text = replacement + text[len(prefix) :]
    return text


def _unknown_key(location: tuple[int | str, ...], model: type[BaseModel]) -> str:
    known = _known_keys(model, location[:-1])
    if not known:
        return "unknown key"
    close = difflib.get_close_matches(str(location[-1]), known, n=1)
    return f"unknown key (did you mean {close[0]!r}?)" if close else f"unknown key (known: {', '.join(known)})"


def _known_keys(model: type[BaseModel], location: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at `location`, found by walking its annotations (mappings, lists, optionals)."""
    annotation: Any = model
    for part in location:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return []
            annotation = field.annotation
        elif get_origin(annotation) in (dict, list):
            annotation = get_args(annotation)[-1]
        else:
            return []
    annotation = _unwrap(annotation)
    return list(annotation.model_fields) if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def _unwrap(annotation: Any) -> Any:
    # Annotated[X, ...] -> X, and X | None -> X
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
