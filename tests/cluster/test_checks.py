"""Cluster mode refuses what cannot work, each with its key: SQLite, evidence no node can share, a cluster
nobody answers for. And it joins a real Ray head that `ray start` began on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from gunwatch.cluster.checks import ClusterUnreachable, check_cluster_site, connect_cluster
from gunwatch.config import ConfigError, SiteConfig, parse_site_config
from gunwatch.config.cluster import ClusterSettings
from support.ports import refusing_port
from support.private_tmpfs import run_private, skip_without_private_mounts
from support.silent_server import SilentServer
from support.waiting import wait_until

SITE = "site.yaml"
POSTGRES = "postgresql://gunwatch@db.school.org/gunwatch"
# Ray turns 127.0.0.1 into the machine's network address (it assumes other nodes must reach it); another
# loopback address it keeps as given, so the head, its GCS and the driver all stay on loopback.
HEAD_IP = "127.0.0.7"
HEAD_START_S = 180.0  # a hang guard only: a head on a loaded 2-core machine starts in 10-30 s


@pytest.fixture
def site(tmp_path: Path) -> Callable[..., SiteConfig]:
    """A cluster site: PostgreSQL and a writable evidence folder unless told otherwise."""

    def make(store: str = POSTGRES, evidence: Path | str | None = None, cluster: str = "{address: '10.0.0.10:6379'}",
             ) -> SiteConfig:
        folder = tmp_path / "evidence" if evidence is None else evidence
        if evidence is None:
            folder.mkdir(exist_ok=True)  # type: ignore[union-attr]
        text = (f"cameras: {{lobby: {{url: a.mp4}}}}\nstore: {{url: '{store}'}}\nevidence: {{folder: '{folder}'}}\n"
                + (f"cluster: {cluster}\n" if cluster else ""))
        return parse_site_config(text, SITE, {})

    return make


def problems(site: SiteConfig) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        check_cluster_site(site, SITE)
    return [str(problem) for problem in caught.value.problems]


def test_a_cluster_site_with_postgresql_and_a_shared_folder_passes(site) -> None:
    check_cluster_site(site(), SITE)
    check_cluster_site(site(store="postgresql+psycopg://gunwatch:secret@db:5433/gunwatch"), SITE)


def test_sqlite_is_refused(site) -> None:
    assert problems(site(store="sqlite:///runs/gunwatch.db")) == [
        f"{SITE}: store.url: SQLite cannot be the store of a cluster: it is one file on one machine, and every "
        "node writes events, health and camera leases. PostgreSQL is the one store of a cluster: "
        "postgresql://USER@HOST/DATABASE"]


def test_a_missing_evidence_folder_is_refused(site, tmp_path: Path) -> None:
    missing = tmp_path / "share" / "evidence"
    assert problems(site(evidence=missing)) == [
        f"{SITE}: evidence.folder: {missing} does not exist: in a cluster it must be a folder every node mounts at "
        "this same path (NFS, CephFS, a cloud file share), mounted before gunwatch starts"]


def test_a_relative_evidence_folder_is_refused(site) -> None:
    [problem] = problems(site(evidence="runs/evidence"))
    assert problem.startswith(f"{SITE}: evidence.folder: runs/evidence is a relative path: in a cluster it must be "
                              "the absolute path of a folder every node mounts")


def test_an_evidence_path_that_is_a_file_is_refused(site, tmp_path: Path) -> None:
    file = tmp_path / "evidence.txt"
    file.write_text("not a folder")
    [problem] = problems(site(evidence=file))
    assert problem.startswith(f"{SITE}: evidence.folder: {file} is not a folder")


def test_without_a_shared_folder_the_evidence_folder_must_still_exist(site, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    cluster = "{address: '10.0.0.10:6379', shared_evidence: false}"
    assert problems(site(evidence=missing, cluster=cluster)) == [
        f"{SITE}: evidence.folder: {missing} does not exist: in a cluster it must be a folder, mounted before "
        "gunwatch starts"]


READ_ONLY_CHECK = """
import sys
from gunwatch.cluster.checks import check_cluster_site
from gunwatch.config import ConfigError, parse_site_config
site = parse_site_config(sys.argv[1], "site.yaml", {})
try:
    check_cluster_site(site, "site.yaml")
except ConfigError as error:
    print(error)
"""


def test_a_read_only_share_is_refused(tmp_path: Path) -> None:
    """A real read-only mount (a tmpfs in a private mount namespace): root's permission checks pass on it, so
    only a write tells."""
    skip_without_private_mounts()
    share = tmp_path / "share"
    share.mkdir()
    text = f"cameras: {{lobby: {{url: a.mp4}}}}\nstore: {{url: '{POSTGRES}'}}\nevidence: {{folder: '{share}'}}\n" \
           "cluster: {address: '10.0.0.10:6379'}\n"
    script = f'mount -t tmpfs -o ro,size=1m tmpfs "$1" && exec "{sys.executable}" -c "$2" "$3"'
    result = run_private(script, str(share), READ_ONLY_CHECK, text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{SITE}: evidence.folder: {share} is not writable here (Read-only file system): the nodes write snapshots "
        "and clips into it; it must be a writable folder every node mounts at this same path (NFS, CephFS, a "
        "cloud file share)")


def test_every_problem_at_once(site, tmp_path: Path) -> None:
    listed = problems(site(store="sqlite:///runs/gunwatch.db", evidence=tmp_path / "missing", cluster=""))
    assert [problem.split(":")[1].strip() for problem in listed] == ["cluster", "store.url", "evidence.folder"]
    assert listed[0] == f"{SITE}: cluster: cluster mode needs this section, or gunwatch watch --cluster ADDRESS"


# --- joining the Ray cluster -----------------------------------------------------------------------------------

def unused_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ray_installed() -> None:
    pytest.importorskip("ray")


@pytest.mark.usefixtures("ray_installed")
def test_an_address_nobody_listens_on_fails_at_once_naming_it(refused_port: int) -> None:
    address = f"127.0.0.1:{refused_port}"
    with pytest.raises(ClusterUnreachable) as caught:
        connect_cluster(ClusterSettings(address=address))
    assert str(caught.value) == (f"cannot reach the Ray cluster at {address}: Connection refused; is the head "
                                 "running (`ray start --head --port PORT`), and its port open to this machine?")


@pytest.mark.usefixtures("ray_installed")
def test_a_port_that_accepts_and_never_answers_fails_after_the_timeout() -> None:
    """What ray.init would wait on for many minutes: here the probe's timeout ends it."""
    with SilentServer() as silent:
        address = f"127.0.0.1:{silent.port}"
        with pytest.raises(ClusterUnreachable, match=rf"^cannot reach the Ray cluster at {address}: no answer "
                                                     r"within 0.5 s; is the head running"):
            connect_cluster(ClusterSettings(address=address), timeout_s=0.5)
        assert silent.client_hung_up_first()


@pytest.mark.usefixtures("ray_installed")
def test_a_port_of_something_else_is_no_ray_cluster(postgres_url: str) -> None:
    """The database's port given by mistake: it answers, not as a Ray head does."""
    address = f"127.0.0.1:{make_url(postgres_url).port}"
    with pytest.raises(ClusterUnreachable, match=rf"^{address} is not a Ray cluster: something listens there"):
        connect_cluster(ClusterSettings(address=address))


@pytest.mark.usefixtures("ray_installed")
def test_auto_reads_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    with refusing_port(HEAD_IP) as port:
        address = f"{HEAD_IP}:{port}"
        monkeypatch.setenv("RAY_ADDRESS", address)
        with pytest.raises(ClusterUnreachable,
                           match=rf"^cannot reach the Ray cluster at {address}: Connection refused"):
            connect_cluster(ClusterSettings(address="auto"))


@pytest.fixture
def ray_head(ray_installed: None) -> Iterator[str]:
    """A real Ray head (`ray start --head --block`) on loopback, in its own process group, with its own temp
    folder; killed at the end (never `ray stop`, which would stop other clusters of this machine too)."""
    port = unused_port(HEAD_IP)
    temp = Path(tempfile.mkdtemp(prefix="gw-ray-"))  # short: Ray's socket paths must fit in 107 bytes
    log = temp / "head.log"
    command = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--node-ip-address", HEAD_IP,
               "--port", str(port), "--temp-dir", str(temp), "--num-cpus", "1", "--include-dashboard=false",
               "--disable-usage-stats", "--block"]
    with log.open("w") as output:
        head = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        started = wait_until(lambda: "Ray runtime started" in log.read_text() or head.poll() is not None,
                             HEAD_START_S)
        assert started and head.poll() is None, f"the Ray head did not start:\n{log.read_text()[-3000:]}"
        yield f"{HEAD_IP}:{port}"
    finally:
        _kill_group_and_strays(head, temp)
        subprocess.run(["rm", "-rf", str(temp)], check=False)


def _kill_group_and_strays(head: subprocess.Popen[bytes], temp: Path) -> None:
    """SIGKILL the head's process group, then any process of this cluster that left it (named by its temp
    folder, which is this test's own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command_line = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(temp).encode() in command_line:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)


JOIN = textwrap.dedent("""
    import sys
    import ray
    from gunwatch.cluster.checks import connect_cluster
    from gunwatch.config.cluster import ClusterSettings
    settings = ClusterSettings(address=sys.argv[1], namespace="gw-checks")
    connect_cluster(settings)
    connect_cluster(settings)  # joined already: nothing
    print(ray.get_runtime_context().namespace, sorted(node["NodeManagerAddress"] for node in ray.nodes()))
    ray.shutdown()
""")


def test_joins_a_real_ray_head(ray_head: str) -> None:
    joined = subprocess.run([sys.executable, "-c", JOIN, ray_head], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    assert joined.returncode == 0, joined.stderr[-3000:]
    assert joined.stdout.splitlines()[-1] == f"gw-checks ['{HEAD_IP}']"
