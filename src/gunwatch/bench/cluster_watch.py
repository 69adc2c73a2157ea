"""`gunwatch watch` as a site runs it, in a process of its own: on the loopback cluster (--cluster) or alone.

    with WatchProcess(folder, site_dict(...), address) as watch:   # started; SIGTERM and waited for at the end
        watch.wait_ready(timeout_s)                                # every camera online (and leased: a cluster)

The site file is written as JSON (YAML reads it). The watch leads a session of its own (`start_new_session`):
its CPU time is summed over that session (`proc_cpu`). Its log goes to a file beside the site file: errors
quote its tail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from gunwatch.events.store import EventStore
from gunwatch.events.store.leases import CameraLeases

READY_TIMEOUT_S = 300.0  # agents load their detectors and open their cameras on a loaded machine
STOP_TIMEOUT_S = 180.0  # SIGTERM to exit: cameras stopped, leases given back, the alerts actor drained
POLL_S = 0.5


def site_dict(cameras: dict[str, str], store_url: str, folder: Path, console_port: int, fps: float,
              cluster: dict[str, Any] | None = None, confirmation: dict[str, Any] | None = None) -> dict[str, Any]:
    """The bench's site: RTSP cameras at `fps`, the store, evidence in `folder`/evidence (the cluster's share:
    one folder on one machine), the console on loopback (its /metrics is read); the rest the product's
    defaults. `cluster`: the cluster section (None: one process)."""
    (folder / "evidence").mkdir(parents=True, exist_ok=True)
    site: dict[str, Any] = {
        "cameras": {name: {"url": url, "detect": {"fps": fps}} for name, url in cameras.items()},
        "store": {"url": store_url},
        "evidence": {"folder": str((folder / "evidence").resolve())},
        "console": {"listen": f"127.0.0.1:{console_port}"},
    }
    if confirmation is not None:
        site["confirmation"] = confirmation
    if cluster is not None:
        site["cluster"] = cluster
    return site


class WatchProcess:
    def __init__(self, folder: Path, site: dict[str, Any], address: str | None) -> None:
        self.folder, self.address = folder, address
        self.cameras = sorted(site["cameras"])
        self.store_url = site["store"]["url"]
        self.site_file = folder / "site.yaml"
        self.log_file = folder / "watch.log"
        folder.mkdir(parents=True, exist_ok=True)
        self.site_file.write_text(json.dumps(site, indent=1))
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> WatchProcess:
        command = [sys.executable, "-m", "gunwatch.cli", "watch", "--config", str(self.site_file), "--status-every",
                   "0"]
        if self.address is not None:
            command += ["--cluster", self.address]
        self.started_at = time.time()
        with self.log_file.open("ab") as log:  # a file: a pipe nobody reads would fill and block the watch
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                            start_new_session=True, env={**os.environ, "RAY_DEDUP_LOGS": "0"})
        return self

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_file.read_text(errors="replace")[-chars:] if self.log_file.exists() else "(no log)"

    def check_running(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"gunwatch watch ({self.site_file}) ended with code {self.process.returncode}:\n"
                               f"{self.log_tail()}")

    def leased(self, store: EventStore) -> dict[str, str]:
        """camera -> node label of its live lease (a cluster's)."""
        return {camera: lease.node for camera, lease in CameraLeases(store).live().items()}

    def wait_ready(self, store: EventStore, timeout_s: float) -> None:
        """Until every camera is online (since this watch started) and, on a cluster, holds a live lease."""
        deadline = time.monotonic() + timeout_s
        wanted = set(self.cameras)
        while True:
            self.check_running()
            online = store.online_since(self.started_at)
            leased = set(self.leased(store)) if self.address is not None else wanted
            if wanted <= online and wanted <= leased:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"not every camera was online{' and leased' if self.address else ''} {timeout_s:g} s after "
                    f"gunwatch watch started: offline {', '.join(sorted(wanted - online)) or 'none'}; without a "
                    f"lease {', '.join(sorted(wanted - leased)) or 'none'}. Its log ({self.log_file}):\n"
                    f"{self.log_tail()}")
            time.sleep(POLL_S)

    def stop(self) -> int:
        """SIGTERM and wait (its cameras stop, its leases are given back); SIGKILL of its session after
        STOP_TIMEOUT_S. The exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process is not None else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()

    def __enter__(self) -> WatchProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()
