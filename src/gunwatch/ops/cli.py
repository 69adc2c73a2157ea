"""`gunwatch service install` and `gunwatch service status` (registered in gunwatch.cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gunwatch.ops.names import DEFAULT_ENV_FILE, SYSTEM_UNIT_DIR, UNIT_NAME

service_app = typer.Typer(help="gunwatch watch as a systemd service: started at boot, restarted after a failure.",
                          no_args_is_help=True)
UnitDirOption = Annotated[Path, typer.Option("--unit-dir", help="where systemd units go")]


def _say(text: str) -> None:
    typer.echo(text, err=True)


@service_app.command("install")
def install_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="the site file the service watches")],
    user: Annotated[str, typer.Option(help="the unprivileged user it runs as (created if missing)")] = "gunwatch",
    unit_dir: UnitDirOption = SYSTEM_UNIT_DIR,
    env_file: Annotated[Path, typer.Option(
        "--env-file", help="the secrets file (mode 0600): written with the site file's ${NAME}s if missing")
    ] = DEFAULT_ENV_FILE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the unit (and a new secrets file); write "
                                                            "nothing")] = False,
) -> None:
    """Write the systemd unit that runs `gunwatch watch --config FILE` (JSON logs to the journal) as its own
    user, writing only the site file's store and evidence folders; secrets from a 0600 environment file.
    Relative paths in the site file stay relative to this folder, the service's working directory."""
    from gunwatch.config import ConfigError
    from gunwatch.ops.install import InstallError, install
    from gunwatch.ops.service import env_text, plan_service, unit_text

    try:
        plan = plan_service(config, user, unit_dir, env_file)
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=1) from error
    except ValueError as error:
        _say(f"error: {error}")
        raise typer.Exit(code=2) from error
    for warning in plan.warnings:
        _say(f"warning: {warning}")
    if dry_run:
        typer.echo(f"# {plan.unit_path}\n{unit_text(plan)}")
        if not plan.env_file.exists():
            typer.echo(f"# {plan.env_file} (mode 0600)\n{env_text(plan)}")
        return
    try:
        report = install(plan)
    except (InstallError, OSError) as error:
        _say(f"error: {error}")
        raise typer.Exit(code=2) from error
    _say(f"wrote {report.unit_path}" + (f"; created user {plan.user}" if report.user_created else ""))
    _say(f"{'wrote' if report.env_written else 'kept'} {report.env_file} (mode 0600)")
    for note in report.notes:
        _say(f"note: {note}")
    if report.missing_secrets:
        _say(f"set {', '.join(report.missing_secrets)} in {report.env_file} before starting")
    _say(f"then: systemctl enable --now {UNIT_NAME}; gunwatch service status; journalctl -u {UNIT_NAME} -f")


@service_app.command("status")
def status_command(
    unit_dir: UnitDirOption = SYSTEM_UNIT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout")] = False,
) -> None:
    """Whether the service is installed and running (systemctl is-active / show); exit 0 running, 3 not
    running or not known, 4 not installed."""
    from gunwatch.ops.status import format_status, service_status

    status = service_status(unit_dir)
    if as_json:
        typer.echo(json.dumps(status.to_json_dict()))
        _say(format_status(status))
    else:
        typer.echo(format_status(status))
    raise typer.Exit(code=status.exit_code)
