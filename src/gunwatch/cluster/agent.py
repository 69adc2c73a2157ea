"""A node agent: the cameras the supervisor gives one Ray node, watched by the ordinary pipeline.

The agent runs one `WatchService` (built from the site, with no camera at first) on its node: the node's
cameras on threads, one batched detector of its own (frames never leave the node), the shared store and
the shared evidence folder. A camera is watched only under its lease in the store (`CameraLeases`):
`assign` takes the lease first, then starts the camera; while another holder's lease is live it returns
False and the supervisor tries again. A renewal thread renews every lease each `lease_s / 3`, all in one
statement; a lease lost (taken over after it lapsed) or one that could not be renewed before it expired (the
store unreachable) stops its camera at once. So a camera is never watched twice: another agent can only take
it after this one has stopped renewing it, and this one stops watching before its lease can have lapsed.

A camera's open event follows it (`handover`): `assign` adopts the event its previous holder left open, when
fresh enough to be the gun still in view, so the episode continues under one id on the new node; an older one
is closed, saying the camera moved. The camera's writes to the store are fenced by its lease
(`events.store.fencing`): each event version and health change commits only while this agent still holds the
lease with its token, so nothing it had queued (while the store was unreachable, or while the process was
paused past the lease's expiry) can overwrite what the new holder wrote: such writes are dropped, and not
handed to the alerts actor either. A lost lease also stops the camera. What fencing does not cover: files (a
snapshot or clip being written when the lease was lost still lands in the evidence folder, unreferenced).

Cut off (`fence_s`). The supervisor sends a heartbeat every `lease_s / 3`. An agent that has not heard from it
for `fence_s` (`supervisor.fence_after`: past the supervisor's own rule for giving up on a silent agent) stops
its cameras and gives their leases back: its node is cut off from the cluster (its alerts cannot reach the alerts
actor) or the supervisor is gone, and by now the supervisor has given up on it and places the cameras elsewhere,
where they can start only once these leases are free. Each camera it stops of its own accord (this, or a lease
lost) is named in its next `ping` answer (`AgentReport`) with the reason, so the supervisor places it again and
says why: no camera stops quietly.

Threat events and health changes go to the alerts actor through a `Forwarder` (sent again until handled).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from gunwatch.config.camera import Camera
from gunwatch.config.site import SiteConfig
from gunwatch.events.store import EventStore, StoreError
from gunwatch.events.store.leases import CameraLease, CameraLeases
from gunwatch.video.health import HealthChange

if TYPE_CHECKING:
    from gunwatch.events.model import ThreatEvent

log = logging.getLogger(__name__)

UNASSIGN_DRAIN_S = 10.0  # a camera given back waits this long at most for its last writes to be stored


@dataclass(frozen=True)
class AgentReport:
    """An agent's answer to the supervisor's ping: its node, the cameras it watches now, why it stopped each
    camera it stopped of its own accord since the supervisor last gave it that camera, and since when (wall
    clock) items wait in its hand-over queue to the alerts actor (None: nothing waits)."""

    node: str
    cameras: tuple[str, ...]
    stopped: dict[str, str] = field(default_factory=dict)
    unforwarded_since: float | None = None


def node_label() -> str:
    """This node as people read it: host name and the address Ray knows it by (the host alone outside Ray)."""
    try:
        import ray
    except ImportError:
        return socket.gethostname()
    if not ray.is_initialized():
        return socket.gethostname()
    return f"{socket.gethostname()}/{ray.util.get_node_ip_address()}"


class NodeAgent:
    """The body of a node agent actor (plain Python; `gunwatch.cluster.actors` makes it a Ray actor)."""

    def __init__(self, site: SiteConfig, agent_id: str, lease_s: float, alerts_actor: str | None,
                 namespace: str, log_format: str = "text", fence_s: float | None = None) -> None:
        from gunwatch.ops.logs import configure_logging
        from gunwatch.ops.memory import tune_malloc

        configure_logging(log_format)  # type: ignore[arg-type]
        tune_malloc()
        self.agent_id, self.lease_s, self.fence_s = agent_id, lease_s, fence_s
        self.heard_at = time.monotonic()  # the supervisor's last heartbeat or ping
        self.stopped_here: dict[str, str] = {}  # camera -> why this agent stopped it of its own accord
        self.adopt_within_s = adoption_window(site)
        self.node = node_label()
        self.store = EventStore(site.store.url)
        self.leases = CameraLeases(self.store)
        self.held: dict[str, CameraLease] = {}
        self._lock = threading.RLock()  # assign, unassign and the renewal thread: one camera change at a time
        self._stop = threading.Event()
        self.forwarder = None
        if alerts_actor is not None and (site.alerts.channels or site.alerts.protocols):
            from gunwatch.cluster.forwarding import Forwarder, alerts_sender

            self.forwarder = Forwarder(alerts_sender(alerts_actor, namespace)).start()
        self.service, self.watchdog = self._start_pipeline(site)
        from gunwatch.pipeline.live_view import PipelineLiveView

        self.live_view = PipelineLiveView(self.service)  # the console's wall and /metrics, through the supervisor
        self._renewer = threading.Thread(target=self._renew_loop, name="leases", daemon=True)
        self._renewer.start()
        log.info("agent %s on %s: ready", agent_id, self.node)

    def _start_pipeline(self, site: SiteConfig) -> tuple[Any, Any]:
        from gunwatch.pipeline.watch_command import build_service, start_watchdog

        forward = self.forwarder.put if self.forwarder is not None else None
        empty = site.model_copy(update={"cameras": {}})  # cameras come one by one with their leases
        service = build_service(empty, None, forward, self.store, forward)
        # Its cameras' events and health are stored only under their leases (fencing), from the first write.
        service.store_writer.lease_of = self.held.get  # no lock: the writer must not wait for an unassign
        service.start()
        return service, start_watchdog(service, None)

    # --- cameras ---------------------------------------------------------------------------------------

    def assign(self, name: str, camera: Camera) -> bool:
        """Watch `name` under its lease: False while another holder's lease on it is live."""
        self.heartbeat()  # asked by the supervisor: it is there (its heartbeat may come later)
        with self._lock:
            if name in self.held:
                return True
            watched_until = self._last_watched(name)
            lease = self.leases.acquire(name, self.agent_id, self.node, self.lease_s)
            if lease is None:
                return False
            self.held[name] = lease  # before the camera starts: its first writes are fenced by this lease
            self.stopped_here.pop(name, None)
            try:
                self.service.add_camera(name, camera, self._take_over(name, watched_until))
            except BaseException:
                del self.held[name]
                self.leases.release(lease)
                raise
            log.info("camera %s: watched on %s", name, self.node, extra={"camera": name})
            return True

    def unassign(self, name: str, why: str, stopped: bool = True) -> bool:
        """Stop watching `name` and give its lease back; False when it was not watched here."""
        with self._lock:
            if name not in self.held:
                return False
            self._stop_camera(name, why, stopped)
            # Its event's close stored (under the lease, still held) before the lease is given back: the next
            # holder finds it closed, not open.
            self.service.store_writer.wait_idle(UNASSIGN_DRAIN_S)
            self.leases.release(self.held.pop(name))
            return True

    def update_site(self, site: SiteConfig) -> None:
        """A reload's sections for cameras started from now on (the supervisor restarts the changed ones)."""
        with self._lock:
            self.service.site = site.model_copy(update={"cameras": {}})
            self.adopt_within_s = adoption_window(site)

    def cameras(self) -> list[str]:
        with self._lock:
            return sorted(self.held)

    def _stop_camera(self, name: str, why: str, stopped: bool, handed_over: bool = False) -> None:
        self.service.remove_camera(name, why, stopped=stopped, handed_over=handed_over)
        self.watchdog.forget(name)

    def _last_watched(self, name: str) -> float:
        """Until when the camera's last holder watched it, as its lease row says: its last renewal (expiry less
        the cluster's lease_s; a lease given back: earlier still, which only makes its event older). -inf when
        it was never leased."""
        lease = next((lease for lease in self.leases.all() if lease.camera == name), None)
        return float("-inf") if lease is None else lease.expires_at - self.lease_s

    def _take_over(self, name: str, watched_until: float) -> ThreatEvent | None:
        """The camera's open event to continue here, if fresh; older ones closed (and handed to alerts)."""
        from gunwatch.cluster.handover import take_over

        handover = take_over(self.store, name, self.node, watched_until, self.adopt_within_s)
        for event in handover.closed:
            log.warning("camera %s: event %s closed: too old to continue on %s", name, event.id, self.node,
                        extra={"camera": name, "event": event.id})
            if self.forwarder is not None:
                self.forwarder.put(event)
        if handover.adopted is not None:
            log.warning("camera %s: event %s continues on %s", name, handover.adopted.id, self.node,
                        extra={"camera": name, "event": handover.adopted.id})
        return handover.adopted

    # --- leases ----------------------------------------------------------------------------------------

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            with self._lock:
                if self._cut_off():
                    self._fence()
                else:
                    self._renew_all()

    def _cut_off(self) -> bool:
        return self.fence_s is not None and bool(self.held) and time.monotonic() - self.heard_at > self.fence_s

    def _fence(self) -> None:
        """Every camera stopped here and its lease given back: the supervisor has not been heard from for
        `fence_s`. Their open events stay open for their next holder to continue (`handover`)."""
        why = f"the supervisor not heard from on {self.node} for {time.monotonic() - self.heard_at:.0f} s"
        log.error("agent %s: %s: its cameras stop here so that other nodes can take them: %s", self.agent_id, why,
                  ", ".join(sorted(self.held)))
        for name in sorted(self.held):
            self._stop_camera(name, why, stopped=False, handed_over=True)
            # In the store (the console) at once, under the lease; the supervisor tells the alerts when it places
            # the camera again.
            self.service.store_writer.camera_health(HealthChange(name, "offline", why, time.time()))
            self.stopped_here[name] = why
        self.service.store_writer.wait_idle(UNASSIGN_DRAIN_S)  # what was queued stored before the leases go
        for lease in self.held.values():
            self._release_quietly(lease)
        self.held.clear()

    def _renew_all(self) -> None:
        """Every lease held here renewed in one statement (one transaction per node and period, whatever its
        cameras: the store's steady load grows with nodes, not cameras); a camera whose lease was lost stops."""
        held = list(self.held.values())
        try:
            renewed = self.leases.renew_all(held, self.lease_s)
        except StoreError as error:
            now = time.time()
            # Kept while another try can still come before the lease lapses; else another node may take the
            # camera, so it stops now.
            renewed = {lease.camera: lease for lease in held if now < lease.expires_at - self.lease_s / 3}
            log.warning("leases not renewed (%s); tried again: %s", error, ", ".join(renewed) or "none")
            renewed.update({lease.camera: None for lease in held if lease.camera not in renewed})
        for name, lease in renewed.items():
            if lease is not None:
                self.held[name] = lease
                continue
            del self.held[name]
            log.error("camera %s: lease lost on %s: stopped here (another node takes it)", name, self.node,
                      extra={"camera": name})
            self.stopped_here[name] = f"lease lost on {self.node}"
            self._stop_camera(name, self.stopped_here[name], stopped=False, handed_over=True)

    # --- looking ---------------------------------------------------------------------------------------

    def heartbeat(self) -> None:
        """The supervisor is there (sent every lease_s / 3, apart from its polls, which may wait on a camera)."""
        self.heard_at = time.monotonic()

    def ping(self) -> AgentReport:
        self.heartbeat()
        # Without the lock: an assign holds it while a camera opens (up to a minute), and a ping must answer.
        # Copies of dicts are atomic in CPython; an assign in progress shows its camera, which the supervisor
        # has not placed yet, so nothing is misread.
        waiting = self.forwarder.waiting_since if self.forwarder is not None else None
        return AgentReport(self.node, tuple(sorted(list(self.held))), dict(self.stopped_here), waiting)

    def live(self) -> list[Any]:
        """Its cameras now (`CameraLive` rows), for the console and /metrics on the head."""
        return self.live_view.cameras()

    def frame_jpeg(self, camera: str) -> tuple[bytes, float] | None:
        """A camera's newest analysed frame as a JPEG: only this crosses the network, and only when asked."""
        return self.live_view.frame_jpeg(camera)

    def status(self) -> dict[str, Any]:
        """This node's cameras (the pipeline's live rows), its detector and its hand-over queue."""
        detector = self.service.detector
        with self._lock:
            leases = {name: lease.expires_at for name, lease in self.held.items()}
        return {"agent": self.agent_id, "node": self.node, "cameras": [asdict(row) for row in self.service.status()],
                "leases": leases, "detector": {"workers": detector.workers, "waiting": detector.waiting(),
                                               "running": len(detector.running())},
                "alerts_queue": self.forwarder.pending if self.forwarder is not None else 0}

    def close(self) -> None:
        """Every camera stopped, every lease given back, what waits for the alerts actor handed over."""
        self._stop.set()
        self._renewer.join(self.lease_s)
        self.watchdog.stop()
        self.service.close()
        with self._lock:
            for lease in self.held.values():
                self._release_quietly(lease)
            self.held.clear()
        if self.forwarder is not None:
            self.forwarder.close(drain_s=10.0)
        self.store.close()
        log.info("agent %s on %s: closed", self.agent_id, self.node)

    def _release_quietly(self, lease: CameraLease) -> None:
        try:
            self.leases.release(lease)
        except StoreError as error:  # it lapses on its own within lease_s
            log.warning("camera %s: lease not given back (%s)", lease.camera, error)


def adoption_window(site: SiteConfig) -> float:
    """How fresh a camera's open event must be to continue on its new holder (`handover`)."""
    from gunwatch.config.cluster import ClusterSettings

    bound = site.cluster.restart_bound_s if site.cluster is not None else \
        ClusterSettings.model_fields["restart_bound_s"].default
    return site.confirmation.close_after_s + bound
