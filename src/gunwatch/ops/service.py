"""`gunwatch service install`: the systemd unit that runs `gunwatch watch` at boot, and its secrets file.

The unit is hardened the way a service that reads cameras and writes evidence needs: its own unprivileged
user, no new privileges, a private /tmp, the whole file system read-only (`ProtectSystem=strict`) except the
site file's store folder (a SQLite file and its journal) and evidence folder, and the homes hidden, or
read-only when gunwatch itself lives in one. Secrets stay out of the unit and the site file: the site file
names them as `${NAME}`, and the unit reads them from an environment file only root can read (systemd reads
it before it drops to the service's user).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from gunwatch.config.errors import ConfigError, ConfigProblem
from gunwatch.config.load import load_site_tree, site_variable_names
from gunwatch.config.sections import EvidenceSettings, StoreSettings
from gunwatch.ops.names import UNIT_NAME

USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")  # a user name useradd and systemd's User= both accept
SHARED_USERS = ("root", "nobody")  # not the service's own: root is all powerful, nobody shared by many
HOMES = (Path("/home"), Path("/root"), Path("/run/user"))
TEMPORARY = (Path("/tmp"), Path("/var/tmp"))


@dataclass(frozen=True)
class ServicePlan:
    """Everything the unit says, decided from the site file and this installation of gunwatch."""

    site_file: Path
    user: str
    unit_path: Path
    env_file: Path
    working_dir: Path
    command: tuple[str, ...]  # ExecStart's program and arguments
    writable: tuple[Path, ...]  # the only ReadWritePaths
    evidence_dir: Path
    state_files: tuple[Path, ...]  # the SQLite file and its journals, owned by the user too
    secrets: tuple[str, ...]  # the site file's ${NAME}s, for the environment file

    @property
    def warnings(self) -> list[str]:
        # The service's /tmp and /var/tmp are its own (PrivateTmp): what it writes there no one else sees.
        return [f"{path} is under {tmp}, which the service sees as a private, empty folder of its own: "
                f"move the site file's store and evidence out of it" for path in self.writable
                for tmp in TEMPORARY if _under(path, tmp)]

    @property
    def protect_home(self) -> str:
        # Hidden homes, unless gunwatch (its venv, working directory, site file or a folder it writes) is in one.
        used = (Path(self.command[0]), self.working_dir, self.site_file, *self.writable)
        return "read-only" if any(_under(path, home) for path in used for home in HOMES) else "yes"


def plan_service(site_file: Path, user: str, unit_dir: Path, env_file: Path, working_dir: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> ServicePlan:
    """The plan for `site_file`; ConfigError (naming the file and key) when the site file is wrong or its
    folders cannot be told without a secret, ValueError for a user or path a unit cannot hold. Relative paths
    in the site file are relative to `working_dir` (default: here), which becomes the service's working
    directory."""
    if not USER_NAME.fullmatch(user) or user in SHARED_USERS:
        raise ValueError(f"--user {user!r}: the service runs as an unprivileged user of its own, by name "
                         f"(e.g. gunwatch), never {' or '.join(SHARED_USERS)}")
    working_dir = (working_dir or Path.cwd()).resolve()
    site_file = (working_dir / site_file).resolve()
    # The folders, not the secrets: a ${NAME} not yet set outside the evidence section is fine here.
    tree = load_site_tree(site_file, {"evidence"}, environ)
    evidence_dir = (working_dir / EvidenceSettings.model_validate(tree.get("evidence") or {}).folder).resolve()
    database = _sqlite_file(tree.get("store") or {}, site_file)
    writable, state_files = [evidence_dir], []
    if database is not None:
        database = (working_dir / database).resolve()
        writable.append(database.parent)
        state_files = [database, *(database.with_name(database.name + end) for end in ("-journal", "-wal", "-shm"))]
    command = (*gunwatch_command(), "watch", "--config", str(site_file), "--status-every", "0", "--log-format", "json")
    plan = ServicePlan(site_file=site_file, user=user, unit_path=unit_dir / f"{UNIT_NAME}.service",
                       env_file=env_file.absolute(), working_dir=working_dir, command=command,
                       writable=tuple(_outermost(writable)), evidence_dir=evidence_dir,
                       state_files=tuple(state_files), secrets=tuple(site_variable_names(site_file)))
    # A line break in a path would end the setting early and start another: refused, not written.
    words = (*plan.command, str(plan.working_dir), str(plan.env_file), *map(str, plan.writable))
    odd = [word for word in words if any(ord(char) < 32 or ord(char) == 127 for char in word)]
    if odd:
        raise ValueError(f"a path with a control character cannot go into a systemd unit: {odd[0]!r}")
    return plan


def gunwatch_command() -> tuple[str, ...]:
    """This installation's `gunwatch`: the script beside the interpreter (a venv's bin/), else `python -m`."""
    script = Path(sys.executable).parent / "gunwatch"  # not resolved: a venv's python is a link out of it
    if os.access(script, os.X_OK):
        return (str(script.absolute()),)
    return (str(Path(sys.executable).absolute()), "-m", "gunwatch.cli")


def unit_text(plan: ServicePlan) -> str:
    writable = " ".join(_quoted(str(path), dollars=False) for path in plan.writable)
    command = " ".join(_quoted(part) for part in plan.command)
    return f"""\
# Written by `gunwatch service install` for {_escaped(str(plan.site_file))}: install again after moving its
# store or evidence folder (the only folders the service may write).
[Unit]
Description=gunwatch: handgun detection on the site's cameras
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User={plan.user}
WorkingDirectory={_escaped(str(plan.working_dir))}
EnvironmentFile={_escaped(str(plan.env_file))}
ExecStart={command}
# `systemctl reload gunwatch`: the watch re-reads its site file (cameras, channels, protocols) without a restart.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
# On stop the watch closes its events and records the end of its run: give it the time.
TimeoutStopSec=60
SyslogIdentifier={UNIT_NAME}
NoNewPrivileges=yes
PrivateTmp=yes
ProtectSystem=strict
ProtectHome={plan.protect_home}
ReadWritePaths={writable}

[Install]
WantedBy=multi-user.target
"""


def env_text(plan: ServicePlan) -> str:
    names = "".join(f"{name}=\n" for name in plan.secrets)
    return (f"# Secrets for {UNIT_NAME}.service: the ${{NAME}}s of {plan.site_file}, one NAME=value a line.\n"
            f"# Only root reads this file (mode 0600); `systemctl restart {UNIT_NAME}` after a change.\n{names}")


def missing_secrets(plan: ServicePlan) -> list[str]:
    """The site file's names that the existing environment file does not set (or sets empty)."""
    values: dict[str, str] = {}
    for line in plan.env_file.read_text().splitlines():
        name, equals, value = line.strip().partition("=")
        if equals and not name.startswith("#"):
            values[name.strip()] = value.strip().strip("'\"")
    return [name for name in plan.secrets if not values.get(name)]


def _sqlite_file(store: object, site_file: Path) -> Path | None:
    """The SQLite file the store section names (relative as written); None for a server database."""
    url = store.get("url") if isinstance(store, dict) else None
    url = url if isinstance(url, str) else StoreSettings().url
    if not url.lower().startswith("sqlite"):
        return None
    if "${" in url:
        raise ConfigError([ConfigProblem(str(site_file), "the SQLite file must not come from an environment "
                                                         "variable that is not set here", "store.url")])
    database = make_url(StoreSettings(url=url).url).database
    return None if not database or database == ":memory:" else Path(database)


def _outermost(paths: list[Path]) -> list[Path]:
    """Each path once, leaving out one inside another (the evidence folder beside the store, say)."""
    unique = sorted(set(paths))
    return [path for path in unique if not any(other != path and _under(path, other) for other in unique)]


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _escaped(text: str) -> str:
    # systemd reads %x as a specifier in every setting; a one-path setting takes the rest of its line as it is.
    return text.replace("%", "%%")


def _quoted(text: str, dollars: bool = True) -> str:
    """One word as systemd reads it: specifiers (%) escaped, `$` too on a command line (it expands
    variables there), and double quotes around a word with a space, quote or backslash."""
    text = _escaped(text)
    if dollars:
        text = text.replace("$", "$$")
    if any(char.isspace() or char in "\"'\\" for char in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
