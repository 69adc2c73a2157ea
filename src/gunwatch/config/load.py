"""Read a site file: parse the YAML, fill in `${ENV}` references, validate, and report every problem at once."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from gunwatch.config.env import substitute_env, variable_names
from gunwatch.config.errors import ConfigError, ConfigProblem, key_path
from gunwatch.config.messages import validation_problems
from gunwatch.config.sections import StoreSettings
from gunwatch.config.site import SiteConfig

# The section a command that only reads the store needs; its variables (the database password) stay required.
STORE_SECTION = "store"


def load_site_config(path: Path | str, environ: Mapping[str, str] | None = None) -> SiteConfig:
    """The validated site config in `path`, or ConfigError listing every problem as `FILE: key.path: message`.

    `environ` (default: the process environment) fills `${NAME}` references. Relative paths in the file
    (video files, model, evidence folder, SQLite file) are relative to the working directory, as in the
    training configs.
    """
    text = _read(path)
    return parse_site_config(text, str(path), environ)


def parse_site_config(text: str, file: str = "<string>", environ: Mapping[str, str] | None = None) -> SiteConfig:
    """As `load_site_config`, for text already read; `file` names it in messages."""
    tree = _parse_yaml(text, file)
    tree, env_problems = substitute_env(tree, os.environ if environ is None else environ)
    problems = [ConfigProblem(file, message, key_path(location)) for location, message in env_problems]
    try:
        config = SiteConfig.model_validate(tree)
    except ValidationError as error:
        # A value left unsubstituted fails validation too; its missing variable is the one problem to report.
        unresolved = {problem.key for problem in problems}
        problems += [p for p in validation_problems(error, file, SiteConfig) if not _under(p.key, unresolved)]
    if problems:
        raise ConfigError(problems)
    return config


def load_store_settings(path: Path | str, environ: Mapping[str, str] | None = None) -> StoreSettings:
    """The site file's store section, read "for reading": for commands that only read the store (`event list`,
    `event show`, `camera status`), which must work on a machine that lacks the channels' passwords.

    The whole file is still checked, but a `${NAME}` left unset outside `store` is no problem here (nor is
    what validation says of the value it left); one inside `store` is, as is every other problem."""
    tree = load_site_tree(path, {STORE_SECTION}, environ)
    return StoreSettings.model_validate(tree.get(STORE_SECTION) or {})


def load_site_tree(path: Path | str, required: set[str], environ: Mapping[str, str] | None = None,
                   ) -> dict[str, object]:
    """The site file's tree with `${NAME}`s filled in, the whole file checked, for a command that needs only
    some sections: a `${NAME}` left unset is a problem only under a key in `required` (elsewhere it stays as
    written, and what validation says of it is no problem); every other problem is."""
    text = _read(path)
    file = str(path)
    tree = _parse_yaml(text, file)
    tree, env_problems = substitute_env(tree, os.environ if environ is None else environ)
    problems = [ConfigProblem(file, message, key_path(location)) for location, message in env_problems]
    unresolved = {problem.key for problem in problems}
    problems = [p for p in problems if _under(p.key, required)]
    try:
        SiteConfig.model_validate(tree)
    except ValidationError as error:
        problems += [p for p in validation_problems(error, file, SiteConfig) if not _under(p.key, unresolved)]
    if problems:
        raise ConfigError(problems)
    assert isinstance(tree, dict)  # _parse_yaml returns a mapping, and substitution keeps its shape
    return tree


def site_variable_names(path: Path | str) -> list[str]:
    """The environment variables the site file's `${NAME}`s use, in the file's order (its secrets, mostly)."""
    return variable_names(_parse_yaml(_read(path), str(path)))


def _read(path: Path | str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([ConfigProblem(str(path), f"cannot read the file ({error})")]) from error


def _under(key: str | None, keys: set[str | None]) -> bool:
    return key is not None and any(key == k or key.startswith(f"{k}.") or key.startswith(f"{k}[") for k in keys if k)


def _parse_yaml(text: str, file: str) -> dict[str, object]:
    try:
        tree = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        # Built from the parts: PyYAML's own message quotes the line, which may hold a password.
        message = f"invalid YAML: {error.problem or error.context}"
        if mark is not None:
            message += f" (column {mark.column + 1})"
        if error.problem and error.context and error.context_mark:
            message += f", {error.context} that starts on line {error.context_mark.line + 1}"
        raise ConfigError([ConfigProblem(file, message, line=mark.line + 1 if mark else None)]) from error
    except yaml.reader.ReaderError as error:
        # A control character (a binary file, a stray NUL): where it is, not PyYAML's "in <unicode string>".
        before = text[: error.position]
        line, column = before.count("\n") + 1, error.position - (before.rfind("\n") + 1) + 1
        message = f"invalid YAML: unacceptable character #x{error.character:04x} (column {column})"
        raise ConfigError([ConfigProblem(file, message, line=line)]) from error
    except yaml.YAMLError as error:
        raise ConfigError([ConfigProblem(file, f"invalid YAML: {error}")]) from error
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise ConfigError([ConfigProblem(file, "must be a mapping of sections (cameras, detector, store, ...)")])
    return tree


_MERGE_TAG = "tag:yaml.org,2002:merge"
_STRING_TAG = "tag:yaml.org,2002:str"


# Deeper than any site file needs, and far from Python's recursion limit (PyYAML composes recursively).
MAX_DEPTH = 64
# Values a site file may hold once its aliases are expanded: a large site has a few thousand. Aliases of
# aliases double at each layer (`&a [x, x]`, `&b [*a, *a]`, ...): 30 lines could stand for 10^9 values,
# which every later walk over the tree (environment variables, validation) would expand.
MAX_EXPANDED_NODES = 200_000


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except for mapping keys: a repeated key is an error (PyYAML would keep the last
    one silently, so a second camera pasted under the same name would replace the first), and a key is
    always the text written (YAML 1.1 would read a zone named `on` or `no` as a boolean, `1` as a number), and
    so is a value with a colon, as YAML 1.2 reads it (YAML 1.1 reads `to: 18:00` as 1080, `aspect: 16:9` as 969).

    Structures that would otherwise end in a RecursionError, not a ConfigError, are errors with their line:
    nesting deeper than MAX_DEPTH, and an alias inside the mapping or list its anchor names (`&a [*a]`).
    A document whose aliases expand to more than MAX_EXPANDED_NODES values is refused at the alias that
    crosses the bound (the "billion laughs")."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._open: list[str | None] = []  # the anchors of the nodes being composed, outermost first

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open:
                raise yaml.composer.ComposerError(
                    None, None, f"the alias *{event.anchor} is inside the &{event.anchor} it refers to",
                    event.start_mark)
            return super().compose_node(parent, index)
        if len(self._open) >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                              event.start_mark)
        self._open.append(getattr(event, "anchor", None))
        try:
            return super().compose_node(parent, index)
        finally:
            self._open.pop()

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _check_expanded_size(node)
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | str:
        if ":" in node.value:  # YAML 1.1's base 60 (18:00 is 1080, 16:9 is 969): YAML 1.2 reads text, as a person does
            return str(self.construct_scalar(node))
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (4300): its own error, without the line
            raise yaml.constructor.ConstructorError(None, None, "a number with too many digits",
                                                    node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, object]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue  # `<<: *defaults` brings keys that this mapping may override
            if isinstance(key_node, yaml.ScalarNode):
                key_node.tag = _STRING_TAG
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float | str:
        if ":" in node.value:  # base 60 again (1:30.5 would be 90.5)
            return str(self.construct_scalar(node))
        return super().construct_yaml_float(node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)


def _check_expanded_size(root: yaml.Node) -> None:
    """Count the values `root` stands for with every alias expanded, without expanding: PyYAML's composer
    hands an alias back as the very node its anchor names, so the tree is a graph whose shared nodes are
    counted once each and weighed by how often they are reached. Iterative: aliases may nest deeper than
    Python's recursion limit."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not children_done:
            stack.append((node, True))
            stack += [(child, False) for child in children if id(child) not in sizes]
            continue
        size = 1 + sum(sizes[id(child)] for child in children)
        if size > MAX_EXPANDED_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values", node.start_mark)
        sizes[id(node)] = size


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []
