"""The cluster supervisor: one agent per node, every camera of the site on one of them, moved when a node goes.

It runs in the driver (`gunwatch watch --cluster`). Every poll (`POLL_S`) it:
1. reads the site file again when its mtime changed or SIGHUP asked (`gunwatch reload`): cameras added are
   placed, removed ones stopped, changed ones restarted on their node, the others untouched; a file with errors
   is logged (file, key) and the running site goes on;
2. pings the agents: one whose node left `ray.nodes()`, whose actor died, or that stayed silent for two
   leases (then killed) is dropped, and its cameras are recorded `offline` ("node ... lost") in the store; a
   camera an agent that answers no longer watches (it stopped it of its own accord: a lost lease, or cut off
   from the supervisor, `agent.AgentReport`) is recorded `offline` with the agent's reason and placed again;
3. starts an agent on each alive node that has CPUs for a detector and none yet;
4. places the cameras not running (`placement.place`: balanced by count, within each node's capacity; the
   first placement waits, up to a minute, for every first agent to load its detector) and asks their agents
   to start them. The move is recorded per camera as a health change naming both nodes. The camera's open
   event is left open: its new node's agent continues it under the same id, or closes it when too old
   (`handover`); it is handed to the alerts actor as it was, in case the lost node died before handing it over.
   Once the camera runs on its new node (the lost node's lease, and so its writes, over), every event of the
   camera stored since the lost agent's last account of its hand-over queue is handed on as well, closed ones
   included: an episode that began and ended while its node was cut off still raises its alert, late and
   saying so (`ProtocolEngine.on_event`; a protocol that ran for an event never runs for it again).

A heartbeat thread tells every agent every `lease_s / 3` that the supervisor is there, apart from the polls
(which can wait up to ASSIGN_TIMEOUT_S on a camera's source): an agent that has not heard from it for
`fence_after(lease_s)` stops its cameras and frees their leases, so a node cut off from the cluster but still
reaching the store does not keep cameras it cannot raise alerts for.

Failover bound. An agent starts a camera only under its lease, so a lost node's camera starts elsewhere once
both (a) the loss is seen (its actor's death, or at the latest Ray's node health check: some 15 s with Ray's
defaults, a 3 s period and 5 failures; ~2 s with the tests' settings) and (b) its lease has lapsed (at most
lease_s after the dead node's last renewal), then within a poll (POLL_S) and a camera start:
max(a, b) + POLL_S + start. Measured on the loopback test cluster (lease_s 4): back online 5-7 s after the
SIGKILL. A node cut off from the cluster, its agent still running, frees its leases itself after
fence_after(lease_s) instead: fence_after(lease_s) + POLL_S + start. A move longer than cluster.restart_bound_s
is logged as an error.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunwatch.cluster.actors import ALERTS_ACTOR, agent_name, start_agent, start_alerts_host
from gunwatch.cluster.forwarding import Forwarder, alerts_sender
from gunwatch.cluster.placement import node_capacity, per_node, place
from gunwatch.config import ConfigError, load_site_config
from gunwatch.config.site import SiteConfig
from gunwatch.events.store import EventStore, StoreError
from gunwatch.events.store.leases import CameraLeases
from gunwatch.pipeline.reload import plan_reload
from gunwatch.video.health import HealthChange

if TYPE_CHECKING:
    from gunwatch.cluster.agent import AgentReport
    from gunwatch.config.cluster import ClusterSettings

log = logging.getLogger(__name__)

POLL_S = 1.0
PING_TIMEOUT_S = 5.0
ASSIGN_TIMEOUT_S = 60.0  # opening a camera's source; an agent that takes longer is asked again next poll
FIRST_PLACEMENT_WAIT_S = 60.0  # at start, at most this long for the agents still loading their detector
RETRY_AGENT_S = 30.0  # a node whose agent failed to start is tried again after this
CLOSE_TIMEOUT_S = 60.0
# Between an event's commit and its entry in the agent's hand-over queue lies the wait for its snapshot (at most
# evidence.alert_wait_s, 10 s) and the writer's queue: events stored this long before a lost agent's last
# account of that queue are handed on again too.
HAND_ON_MARGIN_S = 60.0
HEAD_RESOURCE = "node:__internal_head__"  # Ray's mark of the head node


def fence_after(lease_s: float) -> float:
    """How long an agent goes without hearing from the supervisor before it stops its cameras: past the
    supervisor's own rule for giving up on a silent agent (two leases of unanswered pings, counted from the first
    unanswered one, which comes up to a heartbeat period, a poll and a ping's wait after the last heartbeat), so
    the supervisor has given up on it and recorded its cameras offline first."""
    return 2 * lease_s + lease_s / 3 + POLL_S + PING_TIMEOUT_S


@dataclass
class Agent:
    node_id: str
    name: str
    handle: Any
    node: str  # host/address, as people read it
    capacity: int
    ready: bool = False
    silent_since: float | None = None
    # Wall clock: what its node stored before then had reached the alerts actor, as its last ping answer told.
    handed_up_to: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Node:
    node_id: str
    label: str
    cpus: float


class Supervisor:
    def __init__(self, config: Path, site: SiteConfig, settings: ClusterSettings, store: EventStore,
                 poll_s: float = POLL_S, log_format: str = "text", reload_asked: threading.Event | None = None) -> None:
        self.config, self.site, self.settings, self.store, self.poll_s = config, site, settings, store, poll_s
        # Set by SIGHUP (`gunwatch reload`): the site file is read again at the next poll, changed mtime or not
        # (a file replaced within the mtime's resolution, or put back as it was).
        self.reload_asked = reload_asked or threading.Event()
        self.log_format = log_format  # the actors log as the supervisor does
        self.agents: dict[str, Agent] = {}  # by node id
        self.placement: dict[str, str] = {}  # camera -> node id, for cameras an agent runs
        self.lost_from: dict[str, str] = {}  # camera -> the node it ran on when that node was lost
        self.lost_at: dict[str, float] = {}  # camera -> when that loss was seen (monotonic)
        # camera -> since when (wall clock) its lost node's events may not have reached the alerts actor
        self.unalerted_since: dict[str, float] = {}
        self.retry_at: dict[str, float] = {}  # node id -> when to try its agent again
        self.started_at = time.monotonic()
        self.waiting: list[str] = []  # cameras no node has room for, as last said
        self.alerts: Any = None
        # What the supervisor tells the alerts actor (moves, lost nodes' events), sent again until handled, as
        # the agents' own items are: a fire-and-forget call is lost with an actor that dies before handling it.
        self.hand_over: Forwarder | None = None
        self.on_cameras: Any = None  # hears the site's cameras after a reload (the run's record)
        # Removed from the site file while their node was lost: their open events are closed here once their
        # lease has lapsed (`_retire_removed`).
        self.retiring: set[str] = set()
        self._mtime = _mtime(config)
        self._closing = threading.Event()
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)

    @property
    def with_alerts(self) -> bool:
        return bool(self.site.alerts.channels or self.site.alerts.protocols)

    # --- life cycle ------------------------------------------------------------------------------------

    def start(self) -> Supervisor:
        import ray

        here = ray.get_runtime_context().get_node_id()
        log.info("cluster: supervisor on node %s (namespace %s)", here[:12], self.settings.namespace)
        if self.with_alerts:
            # On the head (it outlives workers: without it there is no cluster); here when none is seen.
            head = next((node["NodeID"] for node in ray.nodes() if node.get("Alive")
                         and HEAD_RESOURCE in node.get("Resources", {})), here)
            self.alerts = start_alerts_host(self.site, self.settings.namespace, head, self.log_format)
            # Its channels open (or it fails) before any camera starts.
            log.info("cluster: alerts actor on %s", ray.get(self.alerts.ping.remote()))
            self.hand_over = Forwarder(alerts_sender(ALERTS_ACTOR, self.settings.namespace)).start()
        self._heartbeat.start()
        return self

    def poll(self) -> None:
        self._reload_if_changed()
        self._retire_removed()
        nodes = self._alive_nodes()
        self._drop_lost(nodes)
        self._add_agents(nodes)
        self._place()

    def close(self) -> None:
        """The agents closed (if they were not), then the alerts actor drained and stopped."""
        import ray

        self._closing.set()
        self.close_agents()
        if self.hand_over is not None:
            self.hand_over.close(drain_s=CLOSE_TIMEOUT_S)
            self.hand_over = None
        if self.alerts is not None:
            _quietly(ray.get, self.alerts.close.remote(), timeout=CLOSE_TIMEOUT_S)
            _quietly(ray.kill, self.alerts)
            self.alerts = None

    def close_agents(self) -> None:
        """Every agent stops its cameras and gives their leases back."""
        import ray

        closing = [agent.handle.close.remote() for agent in self.agents.values()]
        ready, _ = ray.wait(closing, num_returns=len(closing), timeout=CLOSE_TIMEOUT_S)
        for ref in ready:
            _quietly(ray.get, ref)
        for agent in self.agents.values():
            _quietly(ray.kill, agent.handle)
        self.agents.clear()

    # --- nodes and agents ------------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        """Every agent told the supervisor is there, every lease_s / 3 (answers are not awaited: the polls' pings
        judge the agents)."""
        while not self._closing.wait(self.settings.lease_s / 3):
            for agent in list(self.agents.values()):  # a copy: the poll adds and drops agents meanwhile
                try:
                    agent.handle.heartbeat.remote()
                except Exception as error:  # Ray shutting down: the poll's pings tell the rest
                    log.warning("cluster: heartbeat to %s not sent: %s", agent.node, error)

    def _alive_nodes(self) -> dict[str, Node]:
        import ray

        return {node["NodeID"]: Node(node["NodeID"], f"{node['NodeManagerHostname']}/{node['NodeManagerAddress']}",
                                     float(node.get("Resources", {}).get("CPU", 0.0)))
                for node in ray.nodes() if node.get("Alive")}

    def _drop_lost(self, nodes: dict[str, Node]) -> None:
        import ray

        agents = list(self.agents.values())
        pings = {agent.node_id: agent.handle.ping.remote() for agent in agents if agent.node_id in nodes}
        ray.wait(list(pings.values()), num_returns=len(pings), timeout=PING_TIMEOUT_S)
        now = time.monotonic()
        for agent in agents:
            why = self._lost(agent, pings.get(agent.node_id), nodes, now)
            if why is not None:
                self._drop(agent, why)

    def _lost(self, agent: Agent, ping: Any, nodes: dict[str, Node], now: float) -> str | None:
        """Why `agent` is lost, or None while it answers (or may still start)."""
        import ray

        if agent.node_id not in nodes:
            return f"node {agent.node} left the cluster"
        ready, _ = ray.wait([ping], timeout=0)
        if not ready:
            agent.silent_since = agent.silent_since or now
            if now - agent.silent_since > 2 * self.settings.lease_s and agent.ready:
                _quietly(ray.kill, agent.handle)
                return f"agent on {agent.node} silent for {now - agent.silent_since:.0f} s"
            return None
        try:
            report = ray.get(ping)
        except Exception as error:  # RayActorError: it died (or its constructor failed)
            if not agent.ready:
                log.error("cluster: the agent on %s did not start: %s", agent.node, error)
                self.retry_at[agent.node_id] = time.monotonic() + RETRY_AGENT_S
            else:  # often its whole node is dying: no new agent there before Ray could tell (its cameras wait a lease)
                self.retry_at[agent.node_id] = time.monotonic() + self.settings.lease_s
            return f"agent on {agent.node} died ({type(error).__name__})"
        if not agent.ready:
            log.info("cluster: agent %s ready on %s (room for %d cameras)", agent.name, agent.node, agent.capacity)
        agent.ready, agent.silent_since = True, None
        agent.handed_up_to = min(time.time(), report.unforwarded_since or float("inf"))
        self._reconcile(agent, report)
        return None

    def _reconcile(self, agent: Agent, report: AgentReport) -> None:
        """The cameras placed on `agent` that it no longer watches (it stopped them of its own accord) recorded
        `offline` with its reason and placed again (on any node with room, its own included)."""
        gone = sorted(camera for camera, node in self.placement.items()
                      if node == agent.node_id and camera not in report.cameras)
        for camera in gone:
            why = report.stopped.get(camera, f"no longer watched on {agent.node}")
            self._unplace(camera, agent.node)
            log.error("cluster: camera %s stopped on %s: %s; placing it again", camera, agent.node, why,
                      extra={"camera": camera})
            self._health(HealthChange(camera, "offline", f"{why}; placing it again", time.time()))

    def _unplace(self, camera: str, node: str) -> None:
        """`camera` no longer runs on `node` (its label): to be placed again, the move timed from now."""
        del self.placement[camera]
        self.lost_from[camera] = node
        self.lost_at[camera] = time.monotonic()

    def _drop(self, agent: Agent, why: str) -> None:
        import ray

        del self.agents[agent.node_id]
        _quietly(ray.kill, agent.handle)  # gone for sure: a slow agent must not renew leases behind our back
        cameras = sorted(camera for camera, node in self.placement.items() if node == agent.node_id)
        log.warning("cluster: %s; its cameras move: %s", why, ", ".join(cameras) or "none")
        for camera in cameras:
            self._unplace(camera, agent.node)
            self.unalerted_since[camera] = agent.handed_up_to - HAND_ON_MARGIN_S
            self._health(HealthChange(camera, "offline", f"{why}; moving to another node", time.time()))
        if cameras:
            self._hand_on_events(cameras, agent.node)

    def _hand_on_events(self, cameras: list[str], node: str) -> None:
        """Their open events stay open for their new node to continue (or close when too old: `handover`); each
        is handed to the alerts actor as it was, in case the lost node died before handing it over (a protocol
        starts one run per event, however often it hears of it)."""
        from gunwatch.cluster.handover import open_events

        try:
            events = open_events(self.store, cameras)
        except StoreError as error:
            log.error("cluster: open events of %s not read: %s", ", ".join(cameras), error)
            return
        for event in events:
            log.warning("cluster: event %s of camera %s open: its node %s was lost; the camera's new node "
                        "continues it (or closes it, when too old)", event.id, event.camera, node,
                        extra={"camera": event.camera, "event": event.id})
            self.to_alerts(event)

    def _hand_on_since(self, camera: str) -> None:
        """The camera's events stored since its lost node's last account of its hand-over queue, whatever their
        state, to the alerts actor: what that node may have stored and never handed over (`_drop`)."""
        from gunwatch.cluster.handover import changed_since

        since = self.unalerted_since.pop(camera, None)
        if since is None or self.hand_over is None:
            return
        try:
            events = changed_since(self.store, [camera], since)
        except StoreError as error:
            log.error("cluster: camera %s: the events its lost node stored not read again: %s", camera, error,
                      extra={"camera": camera})
            return
        for event in events:
            self.to_alerts(event)  # each protocol at most once per event, however often it hears of it
        if events:
            log.info("cluster: camera %s: %d event(s) its lost node stored handed to the alerts again", camera,
                     len(events), extra={"camera": camera})

    def _add_agents(self, nodes: dict[str, Node]) -> None:
        now = time.monotonic()
        for node in nodes.values():
            if node.node_id in self.agents or self.retry_at.get(node.node_id, 0.0) > now:
                continue
            capacity = node_capacity(node.cpus, self.settings.detector_cpus, self.settings.camera_cpus,
                                     self.settings.max_cameras_per_node)
            if capacity <= 0:
                continue  # no CPUs for a detector there (a head kept for the supervisor, say)
            name = agent_name(node.node_id)
            # Its detector's CPUs and its cameras', reserved in Ray: the node is full in Ray's books as it is here.
            cpus = min(node.cpus, round(self.settings.detector_cpus + capacity * self.settings.camera_cpus, 4))
            handle = start_agent(self.site, node.node_id, name, self.settings.namespace, self.settings.lease_s,
                                 fence_after(self.settings.lease_s), cpus, self.with_alerts, self.log_format)
            self.agents[node.node_id] = Agent(node.node_id, name, handle, node.label, capacity)
            log.info("cluster: starting agent %s on %s", name, node.label)

    # --- cameras ---------------------------------------------------------------------------------------

    def _place(self) -> None:
        import ray

        if not self.placement and self._agents_starting():
            return  # the first placement waits for every first agent: all cameras on the quickest node is no spread
        ready = {agent.node_id: agent.capacity for agent in self.agents.values() if agent.ready}
        target = place(self.site.enabled_cameras, self.placement, ready)
        waiting = sorted(set(self.site.enabled_cameras) - set(target)) if ready else []
        if waiting != self.waiting:  # said once per change; before the first agent is ready, nothing has room yet
            self.waiting = waiting
            if waiting:
                log.warning("cluster: no node has room for %s (%d node(s) ready; cluster.camera_cpus and "
                            "max_cameras_per_node set the room)", ", ".join(waiting), len(ready))
        starting = {camera: node for camera, node in target.items() if self.placement.get(camera) != node}
        if not starting:
            return
        asked_at = time.time()
        calls = {camera: self.agents[node].handle.assign.remote(camera, self.site.enabled_cameras[camera])
                 for camera, node in starting.items()}
        ray.wait(list(calls.values()), num_returns=len(calls), timeout=ASSIGN_TIMEOUT_S)
        for camera, ref in calls.items():
            agent = self.agents[starting[camera]]
            try:
                started = ray.get(ref, timeout=0)
            except ray.exceptions.GetTimeoutError:
                continue  # still opening: asked again next poll (the agent answers True once it runs)
            except Exception as error:
                log.error("cluster: camera %s did not start on %s: %s", camera, agent.node, error,
                          extra={"camera": camera})
                continue
            if started:
                self._started(camera, agent, asked_at)

    def _agents_starting(self) -> bool:
        """Whether, in the first minute, an agent is still loading its detector."""
        if time.monotonic() - self.started_at > FIRST_PLACEMENT_WAIT_S:
            return False
        return any(not agent.ready for agent in self.agents.values())

    def _started(self, camera: str, agent: Agent, asked_at: float) -> None:
        self.placement[camera] = agent.node_id
        moved_from = self.lost_from.pop(camera, None)
        if moved_from is None:
            log.info("cluster: camera %s runs on %s", camera, agent.node, extra={"camera": camera})
            return
        self._hand_on_since(camera)  # its lost node's lease is over: nothing more of that node can be stored
        reason = f"moved from {moved_from} to {agent.node}" if moved_from != agent.node else \
            f"running again on {agent.node}"
        took = time.monotonic() - self.lost_at.pop(camera, time.monotonic())
        log.warning("cluster: camera %s %s, %.1f s after the loss was seen", camera, reason, took,
                    extra={"camera": camera})
        if took > self.settings.restart_bound_s:
            log.error("cluster: camera %s took %.0f s to move, over cluster.restart_bound_s (%g s)", camera, took,
                      self.settings.restart_bound_s, extra={"camera": camera})
        # Dated when it was asked: the new source's own `online` (which may be stored first) stays the latest.
        self._record(HealthChange(camera, "offline", reason, asked_at))

    def where(self) -> dict[str, list[str]]:
        """node (as people read it) -> its cameras."""
        labels = {agent.node_id: agent.node for agent in self.agents.values()}
        return {labels.get(node, node): cameras for node, cameras in per_node(self.placement).items()}

    # --- the site file ---------------------------------------------------------------------------------

    def _reload_if_changed(self) -> None:
        mtime = _mtime(self.config)
        if mtime == self._mtime and not self.reload_asked.is_set():
            return
        self._mtime = mtime
        self.reload_asked.clear()
        try:
            new = load_site_config(self.config)
            plan = plan_reload(self.site, new, str(self.config))
            if plan.alerts_changed and self.alerts is not None:
                import ray

                ray.get(self.alerts.update.remote(new.alerts, str(self.config)))
        except ConfigError as error:
            for problem in error.problems:
                log.error("cluster: site file refused, the running site goes on unchanged: %s", problem)
            return
        except Exception as error:  # the alerts actor could not take it (a RayTaskError around a ConfigError)
            log.error("cluster: site file %s refused, the running site goes on unchanged: %s", self.config, error)
            return
        log.info("cluster: reload of %s: %s", self.config, plan.summary())
        self._apply(new, plan.removed, plan.changed)

    def _apply(self, new: SiteConfig, removed: tuple[str, ...], changed: tuple[str, ...]) -> None:
        import ray

        ray.wait([agent.handle.update_site.remote(new) for agent in self.agents.values()],
                 num_returns=len(self.agents), timeout=PING_TIMEOUT_S)
        self.retiring -= set(new.enabled_cameras)  # added back before it was retired: its new holder adopts or closes
        for camera in (*removed, *changed):
            node = self.placement.pop(camera, None)
            agent = self.agents.get(node) if node is not None else None
            if agent is None:
                if camera in removed and camera in self.lost_from:
                    self.retiring.add(camera)
                continue
            why = "removed from the site file" if camera in removed else "changed in the site file; restarted"
            _quietly(ray.get, agent.handle.unassign.remote(camera, why, camera in removed), timeout=ASSIGN_TIMEOUT_S)
            if camera in changed:  # on the same node again; else `_place` finds it one
                restarted = _quietly(ray.get, agent.handle.assign.remote(camera, new.enabled_cameras[camera]),
                                     timeout=ASSIGN_TIMEOUT_S)
                if restarted:
                    self.placement[camera] = agent.node_id
        self.site = new
        if self.on_cameras is not None:
            self.on_cameras(list(new.enabled_cameras))

    def _retire_removed(self, leases: CameraLeases | None = None) -> None:
        """Each camera removed while its node was lost, once its lease is ours to take (the lost node's lapsed):
        its open events closed, its state `stopped`, the lease given back; tried again next poll until then."""
        import os

        from gunwatch.cluster.agent import node_label
        from gunwatch.cluster.handover import retire

        leases = leases or CameraLeases(self.store)
        for camera in sorted(self.retiring):
            try:
                lease = leases.acquire(camera, f"supervisor-{os.getpid()}", node_label(), self.settings.lease_s)
                if lease is None:
                    continue  # the lost node's lease has not lapsed yet
                try:
                    closed = retire(self.store, camera)
                    self._health(HealthChange(camera, "stopped", "removed from the site file", time.time()))
                finally:
                    leases.release(lease)
            except StoreError as error:
                log.error("cluster: camera %s, removed: its open events not closed yet: %s", camera, error)
                continue
            self.retiring.discard(camera)
            self.lost_from.pop(camera, None)
            self._hand_on_since(camera)
            for event in closed:
                log.warning("cluster: event %s of camera %s closed: the camera was removed while its node was lost",
                            event.id, camera, extra={"camera": camera, "event": event.id})
                self.to_alerts(event)

    # --- to the alerts ---------------------------------------------------------------------------------

    def to_alerts(self, item: Any) -> None:
        """An event or health change to the alerts actor, sent again until handled (none without alerts)."""
        if self.hand_over is not None:
            self.hand_over.put(item)

    # --- health ----------------------------------------------------------------------------------------

    def _health(self, change: HealthChange) -> None:
        """A camera's health change from the supervisor: to the store and the alerts actor (offline protocols)."""
        self._record(change)
        self.to_alerts(change)

    def _record(self, change: HealthChange) -> None:
        try:
            self.store.record_health(change.camera, change.state, change.reason, change.at)
        except StoreError as error:
            log.error("cluster: camera %s: %s not recorded: %s", change.camera, change, error)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _quietly(call: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except Exception as error:  # closing: what is gone is gone
        log.warning("cluster: %s", error)
        return None
