"""Capacity: how many cameras the pipeline samples at their detect fps, with motion gating on and off.

Sources keep only their newest frame, so a pipeline that cannot keep up never builds a queue: it samples
each camera less often than asked. "No growing backlog" is therefore measured as the sampling rate
holding: every camera sampled at >= 95 % of its detect fps over the measured window. Counters are read
after a warm-up (sources opening, every camera's first frame analysed) and again `seconds` later. A frame
counts as sampled when its camera takes it (not when its analysis ends), and the window runs from before the
first reading to after the second, so no sample outside it is counted: a camera's rate can exceed its detect
fps only by the schedule's own bound (`next_sample_due`: 2 samples in any window).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gunwatch.bench.pipeline_service import DETECT_FPS, SiteOptions, TimedAnalyzer, bench_site, running_service
from gunwatch.pipeline.watch import CameraStatus, WatchService

KEEPS_UP_SHARE = 0.95


@dataclass(frozen=True)
class Snapshot:
    """The service's counters at one moment."""

    began: float  # wall clock, before the counters were read
    ended: float  # and after
    cpu_s: float  # this process's CPU time, every thread
    cameras: tuple[CameraStatus, ...]
    infer_frames: int
    infer_s: float


def snapshot(service: WatchService, analyzer: TimedAnalyzer) -> Snapshot:
    began, cpu_s, cameras = time.time(), time.process_time(), tuple(service.status())
    return Snapshot(began, time.time(), cpu_s, cameras, analyzer.frames, analyzer.seconds)


@dataclass(frozen=True)
class CapacityRow:
    cameras: int
    gating: bool
    seconds: float  # measured window
    target_fps: float  # detect fps asked of every camera
    sampled_fps_min: float  # frames taken per second, the worst camera
    sampled_fps_mean: float
    inference_share: float  # sampled frames that ran inference (the rest: still, gated)
    decoded_fps: float  # frames decoded per second per camera (the source runs at 15)
    dropped_share: float  # decoded frames replaced before they were sampled (2/3 by design at 15 -> 5 fps)
    infer_ms: float  # mean detector time per analysed frame (a batch call's time shared by its frames)
    cpu_percent: float  # this process's CPU time over wall time, % of all cores

    @property
    def keeps_up(self) -> bool:
        return self.sampled_fps_min >= KEEPS_UP_SHARE * self.target_fps

    def to_json_dict(self) -> dict[str, object]:
        return {**asdict(self), "keeps_up": self.keeps_up}


def row_between(before: Snapshot, after: Snapshot, gating: bool, target_fps: float = DETECT_FPS) -> CapacityRow:
    seconds = after.ended - before.began  # a window that holds every counted sample
    first = {camera.camera: camera for camera in before.cameras}
    sampled, analysed, still, decoded, dropped = [], 0, 0, 0, 0
    for camera in after.cameras:
        start = first[camera.camera]
        analysed_here = camera.analysed - start.analysed
        sampled.append(camera.sampled - start.sampled)
        analysed += analysed_here
        still += camera.still - start.still
        decoded += camera.frames_in - start.frames_in
        dropped += camera.dropped - start.dropped
    count = len(after.cameras)
    infer_frames = after.infer_frames - before.infer_frames
    return CapacityRow(
        cameras=count, gating=gating, seconds=seconds, target_fps=target_fps,
        sampled_fps_min=min(sampled) / seconds, sampled_fps_mean=sum(sampled) / count / seconds,
        inference_share=analysed / max(analysed + still, 1), decoded_fps=decoded / count / seconds,
        dropped_share=dropped / max(decoded, 1),
        infer_ms=1000 * (after.infer_s - before.infer_s) / infer_frames if infer_frames else 0.0,
        cpu_percent=100 * (after.cpu_s - before.cpu_s) / seconds / (os.cpu_count() or 1),
    )


def warm_up(service: WatchService, seconds: float) -> None:
    """`seconds`, and longer (up to 3x) until every camera's first frame is through: every camera's first
    frame is analysed, and with many cameras that burst must not be charged to the measured window."""
    began = time.monotonic()
    time.sleep(seconds)
    while time.monotonic() - began < 3 * seconds:
        if all(camera.analysed + camera.still > 1 for camera in service.status()):
            return
        time.sleep(0.1)


def measure_capacity(analyzer: TimedAnalyzer, videos: list[Path], count: int, folder: Path, options: SiteOptions,
                     seconds: float, warmup_s: float) -> CapacityRow:
    """`count` cameras, camera i playing videos[i % len(videos)], measured for `seconds` after `warmup_s`."""
    cameras = {f"cam{i + 1:02d}": videos[i % len(videos)] for i in range(count)}
    with running_service(bench_site(cameras, folder, options), analyzer) as service:
        warm_up(service, warmup_s)
        before = snapshot(service, analyzer)
        time.sleep(seconds)
        after = snapshot(service, analyzer)
    return row_between(before, after, options.gating)
