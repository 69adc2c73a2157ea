"""The site-wide sections of the config: detector, confirmation, motion, evidence, store and health."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from gunwatch.config.base import StrictModel

STORE_DIALECTS = ("sqlite", "postgresql")
# The live default of `detector.max_input_size` (and of `detect`, `eval`, `bench`): a 1080p frame goes into
# 640 x 384, where the first pass sees it as it sees a 720p frame at the model's 416.
LIVE_MAX_INPUT = 640
_DATABASE_URL = re.compile(r"^(?P<dialect>[A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9_]+)?://")


class SecondLookSettings(StrictModel):
    """The second look at people (cameras turn it on with `detect.second_look`): how many, how closely."""

    max_people: int = Field(4, ge=0, le=32, description="most confident people looked at per frame")
    max_crops_per_person: int = Field(2, ge=1, le=8, description="zoomed crops per person, at most")
    person_min_score: float = Field(0.3, ge=0, le=1, description="least score of a person worth a closer look")
    gun_to_person: float = Field(0.1, gt=0, le=1, description="a handgun's length as a share of its holder's height")
    target_gun_px: float = Field(48.0, gt=0, le=1024, description="the gun's width at the model input after zooming")
    max_zoom: float = Field(4.0, ge=1, le=16, description="largest upscaling of a crop")
    min_zoom_gain: float = Field(
        1.5, ge=1, le=16, description="a person is cropped only when the crop shows them this many times larger"
    )
    reach: float = Field(0.3, ge=0, le=2, description="an arm's reach beside the body, as a share of its height")
    unheld_factor: float = Field(
        0.8, gt=0, le=1, description="share of its score a gun away from every person keeps (1: no difference)"
    )
    near_camera: float = Field(
        0.15, gt=0, le=1, description="a gun this share of the frame's height tall counts as held (near the lens)"
    )


class DetectorSettings(StrictModel):
    """The one detector shared by every camera."""

    model: Path | None = Field(
        None, description="ONNX model (default: the shipped models/gunwatch-nano.onnx, or $GUNWATCH_MODEL)"
    )
    threads: int | None = Field(
        None, ge=1, description="ONNX Runtime threads per detector call (default: 1 when calls run in parallel, "
        "else all cores)"
    )
    parallel: int | None = Field(
        None, ge=1, le=16, description="detector calls run at once on different cameras' frames (default: one per core)"
    )
    input_size: int | None = Field(
        None, ge=64, le=1280, multiple_of=32, description="square input side (default: the model's own)"
    )
    # 640 by default: a 1080p frame is then seen at the scale a 720p one is seen at 416, where the live
    # defaults were measured, and finds far people a 416 px first pass misses (README, "Frame-shaped input").
    max_input_size: int | None = Field(
        LIVE_MAX_INPUT, ge=64, le=1280, multiple_of=32,
        description="frame-shaped input: a frame over 720p letterboxed into a larger input of its own aspect, up to "
                    "this side (null: every frame into the square input_size, as frames up to 720p always are)"
    )
    max_batch: int = Field(8, ge=1, le=64, description="frames from several cameras run in one call, at most this many")
    flip: bool = Field(False, description="also run every frame (and crop) mirrored and merge the two views: twice "
                                          "the model runs, and more false alarms on surveillance footage (README, "
                                          "\"Test-time flip\")")
    verifier: Path | Literal["auto", "none"] = Field(
        "auto", description="gun verifier judging every gun candidate (README, \"Gun verifier\"): auto (the shipped "
                            "one, as its INT8 copy when there is one, when `model` is the detector it was "
                            "calibrated with), none, or a file")
    second_look: SecondLookSettings = Field(default_factory=SecondLookSettings)


def detector_parallelism(settings: DetectorSettings, cores: int | None = None) -> tuple[int, int | None]:
    """(calls at once, ONNX Runtime threads per call; None: all cores), as the live pipeline runs them."""
    cores = cores or os.cpu_count() or 1
    parallel = settings.parallel or cores
    return parallel, settings.threads or (1 if parallel > 1 else None)


class ConfirmationSettings(StrictModel):
    """When gun detections become a threat event, and when the event ends.

    Two lanes, either of which confirms a track: `min_hits` of the last `window` analysed frames at the
    camera's threshold, or, for a gun scored at least `quick_margin` above it, `quick_hits` of the last
    `quick_window` (certainty buys time). Each lane alone raised no false alarm on the gun-free footage, so
    their union raises only what one of them would.
    """

    # window comes first so that min_hits can be checked against it. Chosen with `gunwatch bench alarms
    # --phases 3` on ../shared/videos and checked on three other phases (README, "Benchmarks"): 2 of 3 at the
    # threshold alone raised false alarms at some sampling phases; 3 of 5 raised none, and the quick lane
    # gives back the latency of confident guns.
    window: int = Field(5, ge=1, le=100, description="analysed frames looked back over")
    min_hits: int = Field(3, ge=1, description="frames of the window with the gun, to confirm it")
    quick_margin: float | None = Field(
        0.05, ge=0, le=1, description="a gun this far above the threshold confirms on quick_hits of quick_window "
                                      "(null: no quick lane)")
    quick_window: int = Field(3, ge=1, le=100, description="analysed frames the quick lane looks back over")
    quick_hits: int = Field(2, ge=1, description="frames of quick_window with the gun that far above")
    close_after_s: float = Field(10.0, gt=0, description="seconds without the gun before the event closes")

    @field_validator("min_hits", "quick_hits")
    @classmethod
    def _fits_window(cls, hits: int, info: ValidationInfo) -> int:
        key = "window" if info.field_name == "min_hits" else "quick_window"
        window = info.data.get(key)  # absent when it failed its own check
        if window is not None and hits > window:
            raise ValueError(f"must be <= {key} ({window}), got {hits}")
        return hits

    @property
    def longest_window(self) -> int:
        """The frames a track's history must hold for both lanes."""
        return max(self.window, self.quick_window if self.quick_margin is not None else 0)


class MotionSettings(StrictModel):
    """Skip inference on a still picture, yet look again regularly: a gun held still must not be missed."""

    enabled: bool = True
    forced_check_s: float = Field(2.0, gt=0, description="seconds after which a still picture is analysed anyway")
    # A gun aimed and held still turns into background within seconds; the forced check alone would then give
    # confirmation one frame every forced_check_s (3 hits 2 s apart: 4 s, up to 8 s when a look misses).
    gun_hold_score: float | None = Field(
        0.5, ge=0, le=1,
        description="while a gun scoring at least this was seen within forced_check_s, every sampled frame is "
                    "analysed, still or not (null: motion alone decides)")


class EvidenceSettings(StrictModel):
    """Snapshots and clips kept for each threat event."""

    folder: Path = Field(Path("runs/evidence"), description="where snapshots and clips are written")
    pre_roll_s: float = Field(5.0, ge=0, le=60, description="seconds of video before confirmation (kept in memory)")
    post_roll_s: float = Field(
        5.0, ge=0, le=600, description="seconds of video after the event opens (so the clip is ready soon after it)"
    )
    alert_wait_s: float = Field(
        0.5, ge=0, le=10, description="longest an alert waits for its snapshot: later, it goes without one and "
                                      "the picture follows"
    )


class StoreSettings(StrictModel):
    """Where events and camera health are stored."""

    # repr=False: a database URL may hold a password; print `redact_url(store.url)` instead.
    url: str = Field(
        "sqlite:///runs/gunwatch.db", repr=False, description="SQLAlchemy URL: sqlite:///FILE or postgresql://..."
    )
    backups: str | None = Field(
        None, min_length=1,
        description="folder of `gunwatch backup`'s backups, which `watch` looks in before it upgrades the store "
                    "(default: backups/ beside a SQLite file, ./backups for PostgreSQL)",
    )

    @field_validator("url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        match = _DATABASE_URL.match(url)
        if not match:
            raise ValueError("must be a database URL such as sqlite:///runs/gunwatch.db or postgresql://HOST/DB")
        dialect = match.group("dialect").lower()
        if dialect == "postgres":
            raise ValueError("write postgresql://, not postgres:// (SQLAlchemy no longer accepts the short name)")
        if dialect not in STORE_DIALECTS:
            raise ValueError(f"unsupported database {dialect}://; accepted: {', '.join(STORE_DIALECTS)}")
        return url


class ReconnectSettings(StrictModel):
    """Exponential backoff between attempts to reach a camera that is offline."""

    initial_s: float = Field(1.0, gt=0, description="first wait")
    max_s: float = Field(30.0, gt=0, description="longest wait (the wait doubles up to it)")

    @field_validator("max_s")
    @classmethod
    def _not_below_initial(cls, max_s: float, info: ValidationInfo) -> float:
        initial = info.data.get("initial_s")
        if initial is not None and max_s < initial:
            raise ValueError(f"must be >= initial_s ({initial:g}), got {max_s:g}")
        return max_s


class WatchdogSettings(StrictModel):
    """When the watchdog of `gunwatch watch` calls something hung, restarts it and reports it."""

    every_s: float = Field(1.0, gt=0, le=60, description="how often it looks")
    reader_grace_s: float = Field(
        10.0, gt=0, le=3600, description="a camera reader with neither a frame nor a failure for stall_after_s and "
                                         "this much more is hung (its own timeouts did not fire): reopened")
    detector_call_s: float = Field(60.0, gt=0, le=3600, description="a detector call running longer is given up")
    clip_s: float = Field(120.0, gt=0, le=3600, description="a clip taking longer than this and its own length "
                                                            "(pre- and post-roll) to encode is given up")
    delivery_s: float = Field(
        60.0, gt=0, le=3600, description="a message's attempt running longer (or longer than its channel's timeout "
                                         "and a grace) is given up and retried; calls and commands only past their "
                                         "own timeout: they are not safe to repeat early")


class HealthSettings(StrictModel):
    """When a camera counts as stalled, and how it is reconnected; the watchdog's bounds."""

    stall_after_s: float = Field(10.0, gt=0, description="seconds without a frame before a camera is stalled")
    reconnect: ReconnectSettings = Field(default_factory=ReconnectSettings)
    watchdog: WatchdogSettings = Field(default_factory=WatchdogSettings)
