"""`gunwatch reload --config FILE`: the running `gunwatch watch` of that site reads its site file again.

The live run is found in the site's store (watch_runs: host and pid, a fresh heartbeat) and sent SIGHUP; the
watch itself reads the file, applies it or refuses it, and logs which (`gunwatch.pipeline.reload`). Only
the site file's store section is read here: the watch's environment fills the `${NAME}` references, not
this shell's.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="the site YAML file the watch runs")]


def reload_command(config: ConfigOption) -> None:
    """Make the running watch of this site read its site file again (as SIGHUP does): cameras added, removed
    or changed start, stop or restart alone; alerts change for events that open afterwards."""
    from gunwatch.config import ConfigError, load_store_settings
    from gunwatch.events.store import EventStore, StoreError
    from gunwatch.events.store.runs import RunLog
    from gunwatch.pipeline.run_record import STALE_AFTER_S, process_alive

    try:
        settings = load_store_settings(config)
    except ConfigError as error:
        for problem in error.problems:
            _say(f"error: {problem}")
        raise typer.Exit(code=2) from error
    host, now = socket.gethostname(), time.time()
    try:
        store = EventStore(settings.url, create=False, upgrade=False)
        try:
            runs = [run for run in RunLog(store).unfinished() if now - run.heartbeat_at <= STALE_AFTER_S]
        finally:
            store.close()
    except StoreError as error:
        _say(f"error: {error}")
        raise typer.Exit(code=1) from error
    here = [run for run in runs if run.host == host and process_alive(run.pid)]
    if not here:
        elsewhere = ", ".join(run.label for run in runs if run.host != host)
        _say(f"error: no watch of {config} runs on this host ({host})"
             + (f"; it runs as {elsewhere}: run gunwatch reload there" if elsewhere else ""))
        raise typer.Exit(code=1)
    for run in here:
        os.kill(run.pid, signal.SIGHUP)
        _say(f"{run.label}: asked to read {config} again; its log says what changed or why it was refused")


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
