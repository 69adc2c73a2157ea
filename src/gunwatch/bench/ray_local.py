"""A real local Ray cluster: a head and worker nodes as separate `ray start --block` processes, on loopback.

    cluster = RayCluster(["node_a", "node_b"]).start()   # head + one worker node per name, on loopback
    cluster.address                                       # "127.0.0.2:PORT", for --cluster / ray.init
    cluster.kill("node_a")                                # SIGKILL every process of that node's session
    cluster.stop()                                        # every node's session, and the temp dir

Used by the tests (tests/support/ray_cluster.py) and by `gunwatch bench cluster`. Each node has its own
session (its raylet and workers die with it; their CPU time is summed per node) and every
node of the cluster its own loopback address (127.0.0.2 the head, 127.0.0.3, ... the workers): Ray rewrites
127.0.0.1 to the machine's outward address, and tests talk to loopback only. The head has no CPUs (no agent
goes there); the workers `worker_cpus` each and a custom resource named after them. The head checks node
health every half second, so a killed node is declared dead within a few seconds. Ray's temp dir is short
(its socket paths must stay under ~100 bytes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gunwatch.bench.proc_cpu import read_processes

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT_S = 120.0
HEALTH = {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "1000",
          "RAY_health_check_failure_threshold": "4", "RAY_USAGE_STATS_ENABLED": "0",
          "RAY_raylet_start_wait_time_s": "120"}  # a loaded machine: Ray's 30 s to register a node is not enough
OBJECT_STORE_BYTES = "80000000"  # Ray's floor is 75 MB: these nodes pass events, not frames
HEAD = "head"


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ray_missing() -> str | None:
    """Why a local Ray cluster cannot start here, or None when it can."""
    try:
        import ray  # noqa: F401
    except ImportError as error:
        return str(error)
    return None if RAY.exists() else f"no {RAY}"


class RayCluster:
    def __init__(self, workers: list[str], worker_cpus: int = 2) -> None:
        self.workers, self.worker_cpus = workers, worker_cpus
        self.root = Path(tempfile.mkdtemp(prefix="gwr", dir="/tmp"))
        self.head_ip = "127.0.0.2"
        self.port = free_port(self.head_ip)
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}  # HEAD and the workers; each pid leads its session
        self.ips = {name: f"127.0.0.{3 + index}" for index, name in enumerate(workers)}

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.port}"

    def start(self) -> RayCluster:
        try:
            self._node(HEAD, ["--head", "--port", str(self.port), "--node-ip-address", self.head_ip,
                              "--num-cpus", "0", "--include-dashboard=false"])
            self._wait_for_nodes(1)
            for count, name in enumerate(self.workers, start=2):  # one at a time: a loaded machine starts them all
                self._node(name, ["--address", self.address, "--node-ip-address", self.ips[name],
                                  "--num-cpus", str(self.worker_cpus), "--resources", f'{{"{name}": 1}}'])
                self._wait_for_nodes(count)
        except BaseException:
            self.stop()
            raise
        return self

    def _node(self, name: str, args: list[str]) -> None:
        log = (self.root / f"{name}.log").open("ab")
        # A temp dir per node: nodes sharing one would each stream every node's worker logs to the driver.
        command = [str(RAY), "start", "--block", "--disable-usage-stats", "--temp-dir", str(self.root / name[-1]),
                   "--object-store-memory", OBJECT_STORE_BYTES, *args]
        self.nodes[name] = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            env={**os.environ, **HEALTH}, start_new_session=True)

    def _wait_for_nodes(self, count: int) -> None:
        """Until `count` nodes are alive, asked through a driver of its own (not this process)."""
        code = ("import ray, time, sys\n"
                f"ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n"
                f"while sum(n['Alive'] for n in ray.nodes()) < {count}: time.sleep(0.2)\n")
        try:
            subprocess.run([sys.executable, "-c", code], check=True, timeout=START_TIMEOUT_S, capture_output=True,
                           env={**os.environ, **HEALTH})
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            raise RuntimeError(f"the Ray cluster did not reach {count} node(s): {error}\n{self.log_tail()}") from None

    def worker_of(self, node_label: str) -> str | None:
        """The worker whose address ends a node label ("host/127.0.0.3", as agents and leases name nodes)."""
        return next((name for name, ip in self.ips.items() if node_label.endswith(f"/{ip}")), None)

    def kill(self, name: str) -> None:
        """SIGKILL every process of a node's session: `ray start`, its raylet and every worker (actors) on it, as a
        machine that loses power. Ray gives each worker a process group of its own, so killing the node's group
        alone left its actors running until they noticed their raylet gone: seconds in which a lost node's agent
        still renewed its leases and stored its cameras' events."""
        process = self.nodes[name]
        kill_session(process.pid)
        process.wait()

    def stop(self) -> None:
        for process in self.nodes.values():
            kill_session(process.pid)
            process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}"
                         for path in sorted(self.root.glob("*.log")))


def kill_session(session_id: int, wait_s: float = 60.0) -> None:
    """SIGKILL every live process of a session until none is left (a raylet may start a worker meanwhile)."""
    deadline = time.monotonic() + wait_s
    while members := session_members(session_id):
        if time.monotonic() > deadline:  # stuck in the kernel (uninterruptible): say so rather than hang
            raise RuntimeError(f"processes {members} of session {session_id} still alive {wait_s:g} s after SIGKILL")
        for pid in members:
            with contextlib.suppress(ProcessLookupError):  # gone meanwhile
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)  # a killed process is still listed until the kernel ends it: no busy loop over /proc


def session_members(session_id: int) -> list[int]:
    """The live processes (not zombies) whose session is `session_id`."""
    return [pid for pid, row in read_processes().items() if row.session == session_id and row.alive]
