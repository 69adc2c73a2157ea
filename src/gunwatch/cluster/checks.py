"""What cluster mode needs before it starts anything: PostgreSQL, an evidence share, a Ray cluster to join.

    check_cluster_site(site, "site.yaml")   # ConfigError naming store.url / evidence.folder
    connect_cluster(site.cluster)           # ClusterUnreachable naming the address, fast

A SQLite file lives on one machine, and every node writes events, health and leases: PostgreSQL is the one
store of a cluster. Evidence is written on the node that watches the camera and served from the head, so
the folder is one share mounted at the same path everywhere.

Ray's own `ray.init` retries an address where no cluster answers for many minutes (it also waits on a port
that accepts and never answers). So the address is tried first, with a socket timeout: a TCP connection,
then HTTP/2's greeting, which every gRPC server (a Ray head's GCS, a Ray Client server) answers at once.
"""

from __future__ import annotations

import logging
import socket
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from gunwatch.config.cluster import AUTO, ClusterSettings, ray_endpoint
from gunwatch.config.errors import ConfigError, ConfigProblem
from gunwatch.config.site import SiteConfig

PROBE_TIMEOUT_S = 5.0  # a head on the cluster's network answers in milliseconds; a firewall never does
# The client's HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113 §3.4): a gRPC server answers
# with a SETTINGS frame of its own.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_FRAME_HEADER = 9
_SETTINGS = 4
_CHECK_HINT = "is the head running (`ray start --head --port PORT`), and its port open to this machine?"


class ClusterUnreachable(ConnectionError):
    """The Ray cluster of `cluster.address` cannot be reached or joined; the message names the address."""


def check_cluster_site(site: SiteConfig, site_path: Path | str) -> None:
    """ConfigError listing every reason `site` cannot run in cluster mode, each at its key in `site_path`."""
    file = str(site_path)
    problems: list[ConfigProblem] = []
    if site.cluster is None:
        problems.append(ConfigProblem(file, "cluster mode needs this section, or gunwatch watch --cluster ADDRESS",
                                      "cluster"))
    if make_url(site.store.url).get_backend_name() == "sqlite":
        problems.append(ConfigProblem(
            file, "SQLite cannot be the store of a cluster: it is one file on one machine, and every node writes "
                  "events, health and camera leases. PostgreSQL is the one store of a cluster: "
                  "postgresql://USER@HOST/DATABASE", "store.url"))
    shared = site.cluster is None or site.cluster.shared_evidence
    problem = _evidence_problem(site.evidence.folder, shared)
    if problem:
        problems.append(ConfigProblem(file, problem, "evidence.folder"))
    if problems:
        raise ConfigError(problems)


def connect_cluster(settings: ClusterSettings, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Join the Ray cluster at `settings.address` in `settings.namespace` (nothing when this process has
    joined one already). ClusterUnreachable, within about `timeout_s`, when nothing answers there or what
    answers is no Ray cluster; also when Ray is not installed or refuses to join."""
    try:
        import ray
    except ImportError:
        raise ClusterUnreachable("cluster mode needs Ray on every node: pip install 'gunwatch[cluster]'") from None
    if ray.is_initialized():
        return
    address = _resolve(settings.address)
    endpoint = ray_endpoint(address)
    if endpoint is None:
        raise ClusterUnreachable(f"cannot use {address} (from cluster.address {settings.address}) as a Ray address")
    probe_ray_address(address, *endpoint, timeout_s)
    try:
        ray.init(address=address, namespace=settings.namespace, logging_level=logging.WARNING)
    except Exception as error:  # Ray raises ConnectionError, RuntimeError (a version mismatch), ValueError...
        raise ClusterUnreachable(f"cannot join the Ray cluster at {address}: {_first_line(error)}") from error


def probe_ray_address(address: str, host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """ClusterUnreachable unless a gRPC server answers at host:port within `timeout_s` (twice: connecting,
    then its greeting)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as connection:
            connection.sendall(_HTTP2_PREFACE)
            header = _receive(connection, _FRAME_HEADER)
    except TimeoutError:
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address}: no answer within {timeout_s:g} s; "
                                 f"{_CHECK_HINT}") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ClusterUnreachable(f"cannot reach the Ray cluster at {address}: {reason}; {_CHECK_HINT}") from None
    if len(header) < _FRAME_HEADER or header[3] != _SETTINGS:
        raise ClusterUnreachable(f"{address} is not a Ray cluster: something listens there but does not speak "
                                 "gRPC as a Ray head does (is it the GCS port of `ray start --head --port`?)")


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _resolve(address: str) -> str:
    """`auto` as Ray reads it ($RAY_ADDRESS, or the cluster started on this machine); others unchanged."""
    if address != AUTO:
        return address
    from ray._private.services import canonicalize_bootstrap_address  # private: Ray exposes no public lookup

    try:
        found = canonicalize_bootstrap_address(AUTO)
    except Exception as error:
        raise ClusterUnreachable(f"cluster.address is auto and no Ray cluster was found: {_first_line(error)}"
                                 ) from None
    if found is None:
        raise ClusterUnreachable("cluster.address is auto and no Ray cluster was found: $RAY_ADDRESS is unset "
                                 "and no `ray start` ran on this machine; give the head's HOST:PORT")
    return found


def _evidence_problem(folder: Path, shared: bool) -> str | None:
    """Why `folder` cannot hold a cluster's evidence, or None."""
    everywhere = " every node mounts at this same path (NFS, CephFS, a cloud file share)" if shared else ""
    if shared and not folder.is_absolute():
        return (f"{folder} is a relative path: in a cluster it must be the absolute path of a folder{everywhere}, "
                "the same on each node whatever its working directory")
    if not folder.exists():
        return f"{folder} does not exist: in a cluster it must be a folder{everywhere}, mounted before gunwatch starts"
    if not folder.is_dir():
        return f"{folder} is not a folder: in a cluster it must be a folder{everywhere}"
    try:  # a real write: root passes every permission check, yet a read-only or root-squashed share refuses
        with tempfile.TemporaryFile(dir=folder, prefix=".gunwatch-write-check-"):
            pass
    except OSError as error:
        return (f"{folder} is not writable here ({error.strerror or error}): the nodes write snapshots and clips "
                f"into it{'; it must be a writable folder' + everywhere if shared else ''}")
    return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
