"""The one exception a config load raises, listing every problem as `FILE: key.path: message`."""

from __future__ import annotations

from dataclasses import dataclass

from gunwatch.config.env import Location


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file: where (the key path, or the line for YAML syntax) and what."""

    file: str
    message: str
    key: str | None = None
    line: int | None = None  # 1-based, for problems found while parsing the YAML

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"

    def to_json_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "key": self.key, "message": self.message}


class ReferenceProblems(ValueError):
    """Raised by a model validator that checks names against other sections (a protocol naming a channel
    that does not exist): each problem keeps its own key path, relative to the model that raised it."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))
        self.problems = problems


class ConfigError(ValueError):
    """A config file that cannot be used; `problems` holds every problem found, the message one per line."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def key_path(location: Location) -> str:
    """`cameras.lobby.zones.door.polygon[1][0]`: keys joined by dots, list indices in brackets."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
