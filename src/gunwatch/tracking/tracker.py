"""A ByteTrack-style tracker: a stable id for each gun box of one camera across its analysed frames.

ByteTrack (Zhang et al., ECCV 2022) associates in two stages: confident detections first, then the weak
ones left over, but only with tracks seen in the previous frame. A gun that scores low for a frame (motion
blur, a hand over it) keeps its identity instead of being lost and born again, and a weak detection never
starts a track of its own.

Between the two, the confident detections and tracks still unmatched are tried again with every box grown by
`buffer` of its width and height on each side (the buffered IoU of C-BIoU, Yang et al., WACV 2023). A gun
30 px wide carried by someone walking across a 1080p view moves more than its own width between two frames
analysed at 5 fps, so its boxes in consecutive frames do not overlap at all: without the buffer each frame
starts a new track, and confirmation, which counts hits per track, never fires however sure every frame is.
Only leftovers of the plain stage are buffered, so boxes that overlap as they are keep their pairs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from gunwatch.boxes import box_iou
from gunwatch.inference.detections import Detections

# A lost track's box is extrapolated at most this far: a constant velocity is a fair guess over a few
# frames, but over seconds it carries the box into places where the gun never went.
MAX_PREDICT_S = 1.0
# Weight of the newest measurement in the velocity: one jittery box should not fling the prediction.
VELOCITY_SMOOTHING = 0.5


@dataclass(frozen=True)
class TrackerSettings:
    high_score: float = 0.5  # detections at or above it are matched first and may start a track
    low_score: float = 0.1  # weaker ones down to it may only keep a track of the previous frame alive
    match_iou: float = 0.3  # least IoU between a track's predicted box and a confident detection
    low_match_iou: float = 0.5  # stricter for a weak detection, which is more often something else
    # Confident leftovers are matched again at match_iou with boxes grown by this share of their size on each side:
    # 1.0 pairs boxes up to about 1.6 widths apart along their motion (a gun carried at walking pace moves about
    # 1.4 of its widths between frames analysed at 5 fps). 1.5 paired as many guns on the far clips, and at
    # thresholds under the live one also a wrong box beside a gun (README, "Guns on the move").
    buffer: float = 1.0
    max_lost_frames: int = 15  # analysed frames a track may go unmatched before it is dropped
    # ... and seconds: with motion gating, analysed frames of a still scene can be seconds apart.
    max_lost_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.low_score <= self.high_score <= 1:
            raise ValueError(f"need 0 <= low_score <= high_score <= 1, got {self.low_score}, {self.high_score}")
        if not (0 < self.match_iou <= 1 and 0 < self.low_match_iou <= 1):
            raise ValueError("match_iou and low_match_iou must be in (0, 1]")
        if self.buffer < 0:
            raise ValueError(f"buffer must be >= 0, got {self.buffer}")
        if self.max_lost_frames < 0 or self.max_lost_s < 0:
            raise ValueError("max_lost_frames and max_lost_s must be >= 0")


@dataclass
class Track:
    """One gun followed across frames. Boxes are xyxy pixels of the analysed frame."""

    id: int
    box: np.ndarray  # (4,) float64: the box of the last matched detection
    score: float  # of the last matched detection
    updated_at: float  # time of the last match
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))  # box coordinates per second
    lost_frames: int = 0  # analysed frames since the last match
    matches: int = 1

    def predict(self, now: float) -> np.ndarray:
        return self.box + self.velocity * min(now - self.updated_at, MAX_PREDICT_S)

    def match(self, box: np.ndarray, score: float, now: float) -> None:
        dt = now - self.updated_at
        if dt > 0:
            measured = (box - self.box) / dt
            # The first measured velocity replaces the zero a new track starts with; later ones are averaged.
            weight = 1.0 if self.matches == 1 else VELOCITY_SMOOTHING
            self.velocity = weight * measured + (1 - weight) * self.velocity
        self.box, self.score, self.updated_at = box, score, now
        self.lost_frames = 0
        self.matches += 1


@dataclass(frozen=True)
class Sighting:
    """A track matched with a detection in the current frame."""

    track_id: int
    index: int  # the detection's row in the Detections given to `update`
    box: tuple[float, float, float, float]
    score: float


def greedy_match(iou: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """(row, column) pairs taken by falling IoU, each row and column at most once, each with IoU >= min_iou.

    Greedy rather than optimal (Hungarian): with the few guns one camera sees, the two differ only for
    ambiguously overlapping boxes, and it needs no solver dependency.
    """
    rows, cols = np.nonzero(iou >= min_iou)
    order = np.argsort(-iou[rows, cols], kind="stable")
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    pairs = []
    for row, col in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
        if row not in used_rows and col not in used_cols:
            used_rows.add(row)
            used_cols.add(col)
            pairs.append((row, col))
    return pairs


class GunTracker:
    """Tracks the boxes of one camera, whatever their class: give it only the gun detections."""

    def __init__(self, settings: TrackerSettings | None = None) -> None:
        self.settings = settings or TrackerSettings()
        self._tracks: list[Track] = []
        self._ids = itertools.count(1)

    @property
    def tracks(self) -> list[Track]:
        """Live tracks, the lost ones included."""
        return list(self._tracks)

    @property
    def track_ids(self) -> set[int]:
        return {track.id for track in self._tracks}

    def update(self, detections: Detections, now: float) -> list[Sighting]:
        """Associates one analysed frame's detections (taken at wall-clock `now`); returns the matched ones."""
        s = self.settings
        self._drop_stale(now)
        high = np.flatnonzero(detections.scores >= s.high_score)
        low = np.flatnonzero((detections.scores >= s.low_score) & (detections.scores < s.high_score))
        was_active = [track for track in self._tracks if track.lost_frames == 0]

        sightings, unmatched_tracks, unmatched_high = self._associate(self._tracks, detections, high, s.match_iou, now)
        if s.buffer > 0 and unmatched_tracks and unmatched_high:  # a small gun that moved more than its size
            buffered, unmatched_tracks, unmatched_high = self._associate(
                unmatched_tracks, detections, np.array(unmatched_high, np.int64), s.match_iou, now, s.buffer)
            sightings += buffered
        # Stage 2: the weak detections may continue only tracks that were seen in the previous frame.
        active_left = [track for track in unmatched_tracks if track in was_active]
        low_sightings, _, _ = self._associate(active_left, detections, low, s.low_match_iou, now)
        sightings += low_sightings

        matched = {sighting.track_id for sighting in sightings}
        for track in self._tracks:
            if track.id not in matched:
                track.lost_frames += 1
        self._tracks = [track for track in self._tracks if track.lost_frames <= s.max_lost_frames]
        sightings += [self._start(detections, index, now) for index in unmatched_high]
        return sorted(sightings, key=lambda sighting: sighting.index)

    def _associate(
        self, tracks: list[Track], detections: Detections, indices: np.ndarray, min_iou: float, now: float,
        buffer: float = 0.0,
    ) -> tuple[list[Sighting], list[Track], list[int]]:
        """Matches `tracks` with the detections at `indices`, their boxes grown by `buffer` of their size on each
        side: (sightings, unmatched tracks, unmatched indices)."""
        predicted = np.array([track.predict(now) for track in tracks]).reshape(-1, 4)
        found = detections.xyxy[indices].astype(np.float64).reshape(-1, 4)
        pairs = greedy_match(box_iou(grown(predicted, buffer), grown(found, buffer)), min_iou)
        sightings = []
        for row, col in pairs:
            index = int(indices[col])
            box, score = detections.xyxy[index].astype(np.float64), float(detections.scores[index])
            tracks[row].match(box, score, now)
            sightings.append(Sighting(tracks[row].id, index, _as_tuple(box), score))
        matched_rows = {row for row, _ in pairs}
        matched_cols = {col for _, col in pairs}
        unmatched_tracks = [track for row, track in enumerate(tracks) if row not in matched_rows]
        unmatched = [int(index) for col, index in enumerate(indices) if col not in matched_cols]
        return sightings, unmatched_tracks, unmatched

    def _start(self, detections: Detections, index: int, now: float) -> Sighting:
        box, score = detections.xyxy[index].astype(np.float64), float(detections.scores[index])
        track = Track(next(self._ids), box, score, now)
        self._tracks.append(track)
        return Sighting(track.id, index, _as_tuple(box), score)

    def _drop_stale(self, now: float) -> None:
        # Before matching, so that after a gap (a camera offline) an old track cannot claim a new gun.
        self._tracks = [track for track in self._tracks if now - track.updated_at <= self.settings.max_lost_s]


def grown(boxes: np.ndarray, buffer: float) -> np.ndarray:
    """xyxy boxes grown by `buffer` of their own width and height on each side."""
    if buffer == 0:
        return boxes
    size = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1)
    return boxes + buffer * size * np.array([-1.0, -1.0, 1.0, 1.0])


def _as_tuple(box: np.ndarray) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2, y2
