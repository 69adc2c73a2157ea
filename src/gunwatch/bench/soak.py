"""`gunwatch bench soak`: the live pipeline for a long run: does memory creep, does a queue grow, does every gun
episode still alarm?

Real parts, as `gunwatch watch` builds them (`watch_command`): RTSP cameras served by GStreamer's RTSP server
(`rtsp_server`, one process per clip, each client its own looping stream), the shipped detector, motion gating,
confirmation (the default rule), evidence, a SQLite store, the run record and the alerts (a protocol that
notifies a file channel, so the outbox carries every event). The clips are made from the repository's sample
images (`pipeline_clips`, 640x360 at 10 fps, no ../shared needed): half the cameras loop a gun clip, one gun
episode per pass at a known stream time (staggered from camera to camera), the others a quiet scene where a
figure walks by now and then (a false alarm there is counted).

Every `sample_every_s` (a minute in an hour's run) it samples the process's resident memory, the queues
(frames waiting for the detector, store and evidence writes waiting, outbox deliveries pending) and each
camera's frames in and analysed. After the warm-up: memory growth and a trend test per queue
(`soak_samples`). An episode alarmed when an event opened whose first gun frame lies in it; its latency is
from the episode's first gun frame to the event committed (`pipeline_latency`).

Passed: memory growth < 5 % after the warm-up, no queue grows, every episode due alarmed (issue 12).
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gunwatch.alerts.outbox import Outbox
from gunwatch.bench.pipeline_clips import ClipFormat, GunClip, make_gun_clip, make_static_clip
from gunwatch.bench.pipeline_latency import Spread, appearance_of, appearances_over, sample_of
from gunwatch.bench.rtsp_server import APT_PACKAGES, RtspServer, gst_rtsp_missing
from gunwatch.bench.soak_samples import CameraSample, Sample, Trend, after, growth_percent, queue_trends, rss_mib
from gunwatch.config.site import SiteConfig
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.ops.memory import tune_malloc
from gunwatch.pipeline.run_record import RunRecord
from gunwatch.pipeline.watch import WatchService
from gunwatch.pipeline.watch_command import build_service, start_alerts
from gunwatch.video.health import HealthChange
from gunwatch.video.sources import SourceStats

CLIP = ClipFormat(640, 360, 10.0)
DETECT_FPS = 5.0
GUN_S = 4.0  # each episode: the gun in view this long
FIRST_ONSET_S = 5.0  # the first gun camera's episode starts this far into its pass; the others later
QUIET_AFTER_S = 8.0  # at least this long without the gun before the next pass: the event closes in between
CLOSE_AFTER_S = 3.0
QUIET_CLIP_S, QUIET_VARIANTS = 30.0, 2
MAX_GROWTH_PERCENT = 5.0
MAX_WARMUP_S = 300.0


@dataclass(frozen=True)
class SoakSettings:
    seconds: float = 3600.0
    cameras: int = 8
    model: Path | None = None  # None: the shipped detector

    def __post_init__(self) -> None:
        if self.seconds < 20:
            raise ValueError(f"a soak needs at least 20 s, got {self.seconds:g}")
        if self.cameras < 2:
            raise ValueError(f"a soak needs at least 2 cameras (a gun camera and a quiet one), got {self.cameras}")

    @property
    def warmup_s(self) -> float:
        """The first 20 % of the run, at most 5 minutes: allocations that settle, not growth."""
        return min(0.2 * self.seconds, MAX_WARMUP_S)

    @property
    def sample_every_s(self) -> float:
        """A minute in an hour's run; at least 30 samples in a short one."""
        return min(60.0, self.seconds / 30)

    @property
    def episode_every_s(self) -> float:
        """A gun clip's pass: one episode per camera a minute, at least 3 per camera in a short run."""
        return min(60.0, max(20.0, self.seconds / 3))

    @property
    def gun_cameras(self) -> int:
        return math.ceil(self.cameras / 2)


@dataclass(frozen=True)
class SoakCamera:
    name: str
    kind: str  # "gun" or "quiet"
    frames_in: int
    analysed: int
    dropped: int
    reconnects: int
    decode_errors: int
    episodes: int  # gun episodes over (their gun scene ended over a second before the stop)
    alarmed: int  # of those, with an event
    false_alarms: int  # events whose first gun frame lies in no episode
    latency: Spread  # episode's first gun frame -> event committed, seconds

    def to_json_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class SoakResult:
    settings: SoakSettings
    seconds: float  # as run
    samples: list[Sample]
    cameras: list[SoakCamera]
    memory_growth_percent: float
    queues: dict[str, Trend]
    latency: Spread  # every camera's episodes together
    health_changes: int
    deliveries: dict[str, int]  # outbox rows by status at the end

    @property
    def warmup_s(self) -> float:
        return self.settings.warmup_s

    @property
    def episodes(self) -> int:
        return sum(camera.episodes for camera in self.cameras)

    @property
    def alarmed(self) -> int:
        return sum(camera.alarmed for camera in self.cameras)

    @property
    def false_alarms(self) -> int:
        return sum(camera.false_alarms for camera in self.cameras)

    @property
    def failures(self) -> list[str]:
        """Why the soak failed; empty when it passed."""
        found = []
        if not self.memory_growth_percent < MAX_GROWTH_PERCENT:  # nan fails too
            found.append(f"memory grew {self.memory_growth_percent:.1f} % after the warm-up (limit "
                         f"{MAX_GROWTH_PERCENT:g} %)")
        found += [f"queue {name} grows (trend z {t.z:.1f}, +{t.rise:.1f} items)" for name, t in self.queues.items()
                  if t.grows]
        if self.episodes == 0:
            found.append("no gun episode was due: the run is too short to judge alarms")
        if self.alarmed < self.episodes:
            found.append(f"{self.episodes - self.alarmed} of {self.episodes} gun episodes raised no event")
        return found

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_json_dict(self) -> dict[str, object]:
        return {
            "settings": {"seconds": self.settings.seconds, "cameras": self.settings.cameras,
                         "model": str(self.settings.model) if self.settings.model else None,
                         "warmup_s": self.warmup_s, "sample_every_s": self.settings.sample_every_s,
                         "episode_every_s": self.settings.episode_every_s},
            "seconds": self.seconds, "passed": self.passed, "failures": self.failures,
            "memory_growth_percent": self.memory_growth_percent,
            "queues": {name: {**asdict(t), "grows": t.grows} for name, t in self.queues.items()},
            "episodes": self.episodes, "alarmed": self.alarmed, "false_alarms": self.false_alarms,
            "latency_s": asdict(self.latency), "health_changes": self.health_changes, "deliveries": self.deliveries,
            "cameras": [camera.to_json_dict() for camera in self.cameras],
            "samples": [asdict(sample) for sample in self.samples],
        }


class EpisodeEvents:
    """on_event: each event as it opens, matched to its camera's gun episode (or counted as a false alarm)."""

    def __init__(self, clips: dict[str, GunClip]) -> None:
        self.clips = clips
        self._lock = threading.Lock()
        self.opened: set[str] = set()
        self.latency: dict[tuple[str, int], float] = {}  # (camera, episode) -> seconds
        self.false_alarms: dict[str, int] = {}
        self.reopened = 0  # a second event within one episode

    def __call__(self, event: ThreatEvent) -> None:
        committed = time.time()  # first: the service calls this once the row is committed
        with self._lock:
            if event.state != "open" or event.id in self.opened:  # an event is published again with its clip
                return
            self.opened.add(event.id)
            clip = self.clips.get(event.camera)
            episode = appearance_of(clip, event.first_pts) if clip and event.first_pts is not None else None
            if clip is None or episode is None:
                self.false_alarms[event.camera] = self.false_alarms.get(event.camera, 0) + 1
            elif (event.camera, episode) in self.latency:
                self.reopened += 1
            else:
                sample = sample_of(event, committed, clip)
                self.latency[(event.camera, episode)] = sample.total_s if sample else math.nan


@dataclass
class Cameras:
    """The clips, their RTSP servers and which camera plays which."""

    servers: list[RtspServer] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    gun: dict[str, GunClip] = field(default_factory=dict)

    def close(self) -> None:
        for server in self.servers:
            server.stop()


def make_cameras(settings: SoakSettings, folder: Path, progress: Callable[[str], None]) -> Cameras:
    """Half the cameras (rounded up) loop a gun clip each, their episodes spread over the pass; the others share
    the quiet clips' servers (each client gets its own stream)."""
    cameras = Cameras()
    pass_s, guns = settings.episode_every_s, settings.gun_cameras
    spread = pass_s - FIRST_ONSET_S - GUN_S - QUIET_AFTER_S
    progress(f"making {guns} gun clips ({pass_s:g} s, one episode each) and {QUIET_VARIANTS} quiet ones")
    try:
        for i in range(guns):
            name = f"gun{i + 1:02d}"
            lead = FIRST_ONSET_S + spread * i / guns
            clip = make_gun_clip(folder / f"{name}.mp4", lead, GUN_S, pass_s - lead - GUN_S, CLIP, streamed=True)
            server = RtspServer(clip.path, name, log=folder / f"{name}.rtsp.log").start()
            cameras.servers.append(server)
            cameras.urls[name], cameras.gun[name] = server.url, clip
        quiet = []
        for v in range(QUIET_VARIANTS):
            path = make_static_clip(folder / f"quiet{v + 1}.mp4", QUIET_CLIP_S, (v + 0.5) * QUIET_CLIP_S / 2,
                                    fmt=CLIP, streamed=True)
            server = RtspServer(path, f"quiet{v + 1}", log=folder / f"quiet{v + 1}.rtsp.log").start()
            cameras.servers.append(server)
            quiet.append(server)
        for i in range(settings.cameras - guns):
            cameras.urls[f"quiet{i + 1:02d}"] = quiet[i % len(quiet)].url
    except BaseException:
        cameras.close()
        raise
    return cameras


def soak_site(urls: dict[str, str], folder: Path) -> SiteConfig:
    """The cameras at 5 fps, gating on; store, evidence and the alert file in `folder`; every threat notifies
    the file channel (so each event goes through the outbox)."""
    return SiteConfig.model_validate({
        "cameras": {name: {"url": url, "detect": {"fps": DETECT_FPS}} for name, url in urls.items()},
        "confirmation": {"close_after_s": CLOSE_AFTER_S},
        "evidence": {"folder": str(folder / "evidence"), "pre_roll_s": 2, "post_roll_s": 2},
        "store": {"url": f"sqlite:///{folder / 'events.db'}"},
        "alerts": {
            "site_name": "soak",
            "channels": {"log": {"url": f"file://{folder / 'alerts.jsonl'}"}},
            "recipients": {"desk": {"name": "Front desk"}},
            # No cooldown: every event runs the protocol (a merged one would hide an event from the outbox).
            "protocols": {"alarm": {"trigger": {"on": "threat"}, "cooldown_s": 0,
                                    "steps": [{"notify": {"to": ["desk"], "via": ["log"]}}]}},
        },
    })


def take_sample(service: WatchService, store: EventStore, started: float, events: EpisodeEvents) -> Sample:
    writers = {stats.name: stats.waiting for stats in service.writers()}
    queues = {"detector": service.detector.waiting(), "store_writer": writers.get("store writer", 0),
              "evidence_writer": writers.get("evidence writer", 0), "outbox": outbox_waiting(store)}
    cameras = {row.camera: CameraSample(row.frames_in, row.analysed, row.dropped, row.state)
               for row in service.status()}
    return Sample(time.time() - started, rss_mib(), queues, cameras, len(events.opened))


def outbox_waiting(store: EventStore) -> int:
    outbox = Outbox(store)
    return sum(len(outbox.list(status=status, limit=100_000)) for status in ("pending", "sending"))


def deliveries_by_status(store: EventStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for delivery in Outbox(store).list(limit=1_000_000):
        counts[delivery.status] = counts.get(delivery.status, 0) + 1
    return counts


def run_soak(settings: SoakSettings, progress: Callable[[str], None] = lambda _: None) -> SoakResult:
    tune_malloc()  # as watch does: the soak measures what a site runs
    missing = gst_rtsp_missing()
    if missing:
        raise RuntimeError(f"the soak's cameras need GStreamer's RTSP server ({missing}); on Debian: apt-get "
                           f"install {APT_PACKAGES}")
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-soak-") as temp, ExitStack() as running:
        folder = Path(temp)
        cameras = make_cameras(settings, folder, progress)
        running.callback(cameras.close)
        site = soak_site(cameras.urls, folder)
        events = EpisodeEvents(cameras.gun)
        health: list[HealthChange] = []
        # As `gunwatch watch` builds it (watch_command.watch), closed in reverse order, the store last.
        store = EventStore(site.store.url)
        running.callback(store.close)
        alerts = start_alerts(site, store)
        assert alerts is not None  # the soak site has a protocol
        running.callback(alerts.close)
        record = RunRecord(store, list(site.enabled_cameras)).start(alerts.submit_event)
        running.push(record.exit)
        def on_health(change: HealthChange) -> None:
            health.append(change)
            alerts.submit_health(change)

        service = build_service(site, events, on_health, store, alerts.submit_event)
        running.callback(service.close)
        progress(f"soak: {settings.cameras} RTSP cameras for {settings.seconds:g} s, a sample every "
                 f"{settings.sample_every_s:g} s, warm-up {settings.warmup_s:g} s")
        service.start()
        started = time.time()
        samples = sample_until(service, store, started, events, settings, progress)
        stopped = time.time()
        service.stop()
        stats = {loop.name: loop.source.stats() for loop in service.loops}
        service.close()  # its writers drained: every event of the run is committed and heard
        deliveries = deliveries_by_status(store)
    return summarise(settings, samples, stats, events, stopped, started, len(health), deliveries)


def sample_until(service: WatchService, store: EventStore, started: float, events: EpisodeEvents,
                 settings: SoakSettings, progress: Callable[[str], None]) -> list[Sample]:
    samples: list[Sample] = []
    next_at, said_at = started, started
    while (now := time.time()) < started + settings.seconds:
        if now >= next_at:
            samples.append(take_sample(service, store, started, events))
            next_at += settings.sample_every_s
            if now - said_at >= 60 or len(samples) == 1:
                last = samples[-1]
                progress(f"{last.at_s / 60:5.1f} min: rss {last.rss_mib:.0f} MiB, queues {last.queues}, "
                         f"{last.events} events")
                said_at = now
        service.stop_event.wait(max(0.0, min(next_at, started + settings.seconds) - time.time()))
    samples.append(take_sample(service, store, started, events))
    return samples


def summarise(settings: SoakSettings, samples: list[Sample], stats: dict[str, SourceStats], events: EpisodeEvents,
              stopped: float, started: float, health_changes: int, deliveries: dict[str, int]) -> SoakResult:
    rows: list[SoakCamera] = []
    latencies: list[float] = []
    for name, source in stats.items():
        clip = events.clips.get(name)
        due = set(appearances_over(clip, source, stopped)) if clip else set()
        alarmed = {episode for (camera, episode) in events.latency if camera == name}
        values = [events.latency[(name, episode)] for episode in sorted(alarmed)]
        latencies += values
        last = samples[-1].cameras.get(name)
        rows.append(SoakCamera(name, "gun" if clip else "quiet", source.frames_in, last.analysed if last else 0,
                               source.dropped, source.reconnects, source.decode_errors, len(due | alarmed),
                               len(alarmed), events.false_alarms.get(name, 0), Spread.of(values)))
    settled = after(samples, settings.warmup_s)
    return SoakResult(settings, stopped - started, samples, rows, growth_percent([s.rss_mib for s in settled]),
                      queue_trends(settled), Spread.of(latencies), health_changes, deliveries)
