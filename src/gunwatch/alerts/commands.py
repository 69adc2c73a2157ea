"""Protocol "run" steps: a local program, e.g. `espeak-ng -w /tmp/lockdown.wav "Lockdown. {zone}"`.

Programs run without a shell (a camera or zone name can never become shell syntax), in a process group of
their own, which is killed as a whole when the step takes too long: a hung speaker or PA script must not
hold the protocol, nor leave children behind.

They get a minimal environment, not gunwatch's: that holds the site's passwords and keys (SMTP_PASSWORD,
WEBHOOK_SECRET, GUNWATCH_LINK_SECRET...), and a script, or anything it starts, has no need to see them.
A command gets the variables in BASE_ENV (and LC_*) that gunwatch has, the event as GUNWATCH_CAMERA,
GUNWATCH_ZONE, GUNWATCH_SCORE, GUNWATCH_EVENT_ID and GUNWATCH_SITE, and what its step's `env` names.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gunwatch.alerts.channels.base import DeliveryError

OUTPUT_LIMIT = 4096  # characters of stdout and of stderr kept (the end, where errors are)
# What a command needs to find programs, speak the site's language and time zone, and reach the sound
# server (XDG_RUNTIME_DIR: PulseAudio / PipeWire sockets); none of it is a credential.
BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "XDG_RUNTIME_DIR")
BASE_ENV_PREFIX = "LC_"  # LC_ALL, LC_CTYPE, ...
EVENT_ENV_PREFIX = "GUNWATCH_"
_AFTER_KILL_S = 2.0  # how long to wait for the killed group's pipes to close


@dataclass(frozen=True)
class CommandResult:
    """A command that exited with status 0. Outputs are decoded text, truncated to their last 4 KB."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float


class _Placeholder:
    """Stands in for a placeholder without a value, formatting back to its own text (spec included)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + (":" + spec if spec else "") + "}"


class _KeepUnknown(dict[str, Any]):
    def __missing__(self, key: str) -> _Placeholder:
        return _Placeholder(key)


def substitute(argv: list[str], text_vars: dict[str, str] | None) -> list[str]:
    """`argv` with `{camera}`, `{zone}`, `{score}`, `{event_id}`... filled in from `text_vars` in the arguments.

    Unknown placeholders stay as they are; an argument that is not a valid format string (a lone brace, a
    JSON text) is left unchanged. The program itself (argv[0]) is never substituted: data must not choose
    what runs."""
    if not text_vars or not argv:
        return list(argv)
    values = _KeepUnknown(text_vars)
    return [argv[0]] + [_fill(item, values) for item in argv[1:]]


def _fill(item: str, values: _KeepUnknown) -> str:
    try:
        return item.format_map(values)
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        return item


def event_env(text_vars: Mapping[str, str]) -> dict[str, str]:
    """The event as variables: {"camera": "lobby"} -> {"GUNWATCH_CAMERA": "lobby"}."""
    return {EVENT_ENV_PREFIX + name.upper(): value for name, value in text_vars.items()}


def command_env(pass_env: Iterable[str] = (), extra: Mapping[str, str] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A command's environment: BASE_ENV and LC_* from `environ` (default: this process's), the names in
    `pass_env` that it has, then `extra` (which wins). Nothing else of gunwatch's environment goes along."""
    source = os.environ if environ is None else environ
    wanted = set(BASE_ENV) | set(pass_env)
    env = {name: value for name, value in source.items() if name in wanted or name.startswith(BASE_ENV_PREFIX)}
    env.setdefault("PATH", os.defpath)  # a service started without PATH still finds /bin and /usr/bin
    env.update(extra or {})
    return env


def run_command(
    argv: list[str],
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    text_vars: dict[str, str] | None = None,
    pass_env: Iterable[str] = (),
) -> CommandResult:
    """Runs `argv` (placeholders filled from `text_vars`) and waits up to `timeout_s` seconds.

    The environment is `command_env`'s: the base variables, those named in `pass_env`, the event from
    `text_vars` as GUNWATCH_* variables, and `env` on top. Raises DeliveryError: retryable for a timeout
    (the process group is killed) or a non-zero exit, not retryable when the program does not exist or
    cannot be executed."""
    if not argv:
        raise DeliveryError("run step: empty command", retryable=False)
    args = substitute(argv, text_vars)
    environment = command_env(pass_env, {**event_env(text_vars or {}), **(env or {})})
    program = args[0]
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            start_new_session=True,  # its own process group, so a timeout can kill its children too
        )
    except (FileNotFoundError, NotADirectoryError) as error:
        raise DeliveryError(f"command {program!r}: command not found ({error.strerror})", retryable=False) from error
    except PermissionError as error:
        raise DeliveryError(f"command {program!r}: cannot execute ({error.strerror})", retryable=False) from error
    except OSError as error:  # out of processes or memory: may pass
        raise DeliveryError(f"command {program!r}: could not start ({error})", retryable=True) from error
    try:
        out, err = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        try:
            out, err = process.communicate(timeout=_AFTER_KILL_S)
        except subprocess.TimeoutExpired:  # a child that left the group still holds the pipes
            out, err = b"", b""
        raise DeliveryError(
            f"command {program!r} timed out after {timeout_s:g} s and was killed{_last_line(err)}", retryable=True
        ) from None
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    duration = time.monotonic() - started
    code = process.returncode
    if code != 0:
        how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
        raise DeliveryError(f"command {program!r} {how}{_last_line(err)}", retryable=True)
    return CommandResult(tuple(args), code, _text(out), _text(err), duration)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)  # pgid == pid: start_new_session made it the group leader


def _text(data: bytes | None) -> str:
    text = (data or b"").decode(errors="replace")
    return text if len(text) <= OUTPUT_LIMIT else "…" + text[-(OUTPUT_LIMIT - 1) :]


def _last_line(err: bytes | None) -> str:
    lines = [line.strip() for line in _text(err).splitlines() if line.strip()]
    return f": {lines[-1][:300]}" if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
