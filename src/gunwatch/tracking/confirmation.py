"""From one camera's gun detections, frame by frame, to threat events: open, updated, closed.

A gun counts when its box's centre is in an enabled zone (anywhere, with none) and outside every mask.
The tracker follows the counted guns; a hit is a frame in which a track matched a detection at or above
the camera's threshold. A track with `min_hits` hits among the last `window` analysed frames is
confirmed, and so is one scored `quick_margin` over the threshold in `quick_hits` of the last `quick_window`
(the quick lane: a confident gun needs fewer frames); a confirmed track opens the camera's threat event.

One event per camera at a time: a gun confirmed while an event is open joins it. The site's protocol
answers "a gun at this camera", and two guns in one picture are one incident; an event per track would
also split one gun into several events whenever its track is lost and born again. A gun that has joined
keeps the event alive; an unconfirmed one (a flicker elsewhere in the picture) does not.

An event can also be adopted (`adopt`): one opened by another holder of the camera (a cluster node that was
lost), continued here under its id. A gun confirmed here joins it, and without one it closes `close_after_s`
after the adoption, as it would have after its last sighting had the camera not moved.

Every "open" or "updated" change is made by the frame just analysed (an update means a higher score), so
the evidence stage can take the event's best frame from the frame in hand.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field

from gunwatch.config import Camera
from gunwatch.config.sections import ConfirmationSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.tracking.tracker import GunTracker, Sighting, TrackerSettings
from gunwatch.tracking.zones import CameraZones

HANDGUN_CLASS_ID = 1  # in the shipped detector's ("person", "handgun"); the localizer's is 0


@dataclass
class HitHistory:
    """One track's score in each of the last `length` analysed frames (0: not seen), and when it first held the
    gun (a score at or over the camera's threshold)."""

    length: int
    scores: deque[float] = field(init=False)
    first_hit: float | None = None  # wall-clock time of the first hit
    first_pts: float | None = None  # and its stream timestamp

    def __post_init__(self) -> None:
        self.scores = deque(maxlen=self.length)

    def add(self, score: float, hit: bool, now: float, pts: float | None) -> None:
        self.scores.append(score)
        if hit and self.first_hit is None:
            self.first_hit, self.first_pts = now, pts

    def count(self, at_least: float, last: int) -> int:
        """Frames among the last `last` whose score reached `at_least`."""
        return sum(score >= at_least for score in list(self.scores)[-last:])


@dataclass(frozen=True)
class Hit:
    """A counted gun above the threshold, with its track, in the frame just analysed."""

    track_id: int
    box: tuple[float, float, float, float]
    score: float
    zone: str | None


class ThreatConfirmer:
    """Confirms one camera's guns and keeps its threat event; `update` for each analysed frame, `tick` between.

    Both return the event's changes: each a new version (an immutable value) holding the event's id, so a
    consumer on another thread keeps the version it was given.
    """

    def __init__(
        self,
        camera_name: str,
        camera: Camera,
        confirmation: ConfirmationSettings,
        model_threshold: float,
        gun_class_id: int = HANDGUN_CLASS_ID,
        tracker: TrackerSettings | None = None,
    ) -> None:
        self.camera_name = camera_name
        self.settings = confirmation
        self.threshold = camera.detect.threshold if camera.detect.threshold is not None else model_threshold
        self.gun_class_id = gun_class_id
        self.zones = CameraZones.of_camera(camera)
        # Tracks start only from detections that are hits themselves: a weaker one never begins a threat.
        default = TrackerSettings(high_score=self.threshold, low_score=min(TrackerSettings.low_score, self.threshold))
        self.tracker = GunTracker(tracker or default)
        self._histories: dict[int, HitHistory] = {}
        self._event: ThreatEvent | None = None
        self._event_tracks: set[int] = set()
        self._adopted_at = float("-inf")  # an adopted event counts as last seen then (its own last_seen stays true)

    @property
    def event(self) -> ThreatEvent | None:
        """The open event's newest version, None when there is none."""
        return self._event

    def adopt(self, event: ThreatEvent, now: float) -> None:
        """Continue `event` (open elsewhere until now) as this camera's event: before the first frame."""
        if event.camera != self.camera_name or event.state == "closed":
            raise ValueError(f"camera {self.camera_name}: cannot adopt {event.state} event {event.id} "
                             f"of camera {event.camera}")
        if self._event is not None:
            raise ValueError(f"camera {self.camera_name}: cannot adopt event {event.id}: {self._event.id} is open")
        self._event, self._event_tracks, self._adopted_at = event, set(), now

    def update(
        self, now: float, size: tuple[int, int], detections: Detections, pts: float | None = None
    ) -> list[ThreatEvent]:
        """One analysed frame: its wall-clock time, its (width, height), its detections of every class."""
        changes = self.tick(now)
        guns, zones = self._guns_that_count(detections, size)
        hits = self._record(self.tracker.update(guns, now), zones, now, pts)
        self._forget_dead_tracks()
        change = self._confirm(hits, now)
        return [*changes, change] if change else changes

    def tick(self, now: float) -> list[ThreatEvent]:
        """Closes the event once its guns have been gone `close_after_s`: call it when frames stop arriving too."""
        event = self._event
        if event is None or now - max(event.last_seen, self._adopted_at) < self.settings.close_after_s:
            return []
        closed = dataclasses.replace(event, state="closed", closed_at=now)
        for track_id in self._event_tracks:  # a new event must be confirmed afresh
            if track_id in self._histories:
                self._histories[track_id] = HitHistory(self.settings.longest_window)
        self._event, self._event_tracks, self._adopted_at = None, set(), float("-inf")
        return [closed]

    def _guns_that_count(self, detections: Detections, size: tuple[int, int]) -> tuple[Detections, list[str | None]]:
        guns = detections.of_class(self.gun_class_id)
        counts, zones = self.zones.place(guns.xyxy, size)
        return guns[counts], [zone for zone, keep in zip(zones, counts.tolist(), strict=True) if keep]

    def _record(self, sightings: list[Sighting], zones: list[str | None], now: float, pts: float | None) -> list[Hit]:
        """Adds this frame to every live track's history; returns the hits."""
        hits = [Hit(s.track_id, s.box, s.score, zones[s.index]) for s in sightings if s.score >= self.threshold]
        scores = {s.track_id: s.score for s in sightings}
        for track_id in self.tracker.track_ids:
            history = self._histories.setdefault(track_id, HitHistory(self.settings.longest_window))
            score = scores.get(track_id, 0.0)
            history.add(score, score >= self.threshold, now, pts)
        return hits

    def _forget_dead_tracks(self) -> None:
        live = self.tracker.track_ids
        self._histories = {track_id: h for track_id, h in self._histories.items() if track_id in live}
        self._event_tracks &= live

    def _confirm(self, hits: list[Hit], now: float) -> ThreatEvent | None:
        fresh = [hit for hit in hits if hit.track_id not in self._event_tracks]
        confirmed = [hit for hit in fresh if self._confirms(self._histories[hit.track_id])]
        self._event_tracks.update(hit.track_id for hit in confirmed)
        if self._event is None:
            return self._open(confirmed, hits, now) if confirmed else None
        return self._extend(hits, now)

    def _confirms(self, history: HitHistory) -> bool:
        """Either lane: enough hits at the threshold, or fewer well over it."""
        rule = self.settings
        if history.count(self.threshold, rule.window) >= rule.min_hits:
            return True
        return (rule.quick_margin is not None
                and history.count(self.threshold + rule.quick_margin, rule.quick_window) >= rule.quick_hits)

    def _open(self, confirmed: list[Hit], hits: list[Hit], now: float) -> ThreatEvent:
        lead = max(confirmed, key=lambda hit: hit.score)
        history = self._histories[lead.track_id]
        assert history.first_hit is not None  # a lane's frames are hits
        self._event = ThreatEvent(
            camera=self.camera_name,
            state="open",
            first_seen=history.first_hit,
            confirmed_at=now,
            last_seen=now,
            max_score=lead.score,
            best_box=lead.box,
            zone=lead.zone,
            track_id=lead.track_id,
            boxes=self._event_boxes(hits),
            first_pts=history.first_pts,
        )
        return self._event

    def _extend(self, hits: list[Hit], now: float) -> ThreatEvent | None:
        """Keeps the open event alive with its guns' hits; an "updated" change when the score rises."""
        event = self._event
        assert event is not None
        ours = [hit for hit in hits if hit.track_id in self._event_tracks]
        if not ours:
            return None
        best = max(ours, key=lambda hit: hit.score)
        if best.score <= event.max_score:
            self._event = dataclasses.replace(event, last_seen=now)  # kept alive, not published: no new score
            return None
        self._event = dataclasses.replace(event, state="updated", last_seen=now, max_score=best.score,
                                          best_box=best.box, zone=best.zone, boxes=self._event_boxes(hits))
        return self._event

    def _event_boxes(self, hits: list[Hit]) -> tuple[tuple[float, float, float, float], ...]:
        return tuple(hit.box for hit in hits if hit.track_id in self._event_tracks)
