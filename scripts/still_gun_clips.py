"""Guns held still in front of a fixed camera: each gun clip frozen at moments of its episodes.

    python scripts/still_gun_clips.py --out runs/still-clips [--clips ../shared/videos] [--seconds 8]
    gunwatch bench alarms --clips runs/still-clips --out runs/still-clips-bench

(`make alarms` builds this set beside the far-camera ones and benches each.)

The shared gun clips move (hand-held cameras, people walking), so the motion gate lets every sampled frame
through. A fixed camera watching someone who stands and aims sees a still picture: the gate's background
takes the person in within seconds, and a gate that looks only at motion then analyses one frame every
`motion.forced_check_s`. For each gun episode of at least 2 s, this writes its frame at a quarter, half and
three quarters of the episode, held for `--seconds` (the clip's own frame rate, H.264), as a camera that
connects while the gun is held still would deliver it. The sidecar makes the whole clip one episode and keeps
the gun's box where the source has one within half a second of the frozen frame.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch.bench.alarm_clips import BenchClip, find_clips
from gunwatch.video.files import video_frames, video_rate
from gunwatch.video.writer import VideoWriter

MOMENTS = (0.25, 0.5, 0.75)  # of each episode
BOX_GAP_S = 0.5  # a source box this close to the frozen frame is the frozen gun's box
MIN_EPISODE_S = 2.0


def frame_at(path: Path, t: float) -> np.ndarray:
    """The clip's first frame at or after `t` seconds from its first frame, upright (RGB), as gunwatch reads it."""
    start = None
    for frame in video_frames(path):
        start = frame.time_s if start is None else start
        if frame.time_s is None or start is None or frame.time_s - start >= t - 1e-6:
            return frame.image
    raise ValueError(f"{path}: no frame at {t:.2f} s")


def write_still(picture: np.ndarray, rate: float, seconds: float, target: Path) -> None:
    with VideoWriter(target, rate) as writer:
        for _ in range(round(seconds * rate)):
            writer.write(picture)


def frozen_box(clip: BenchClip, t: float, seconds: float) -> list[dict[str, object]]:
    near = [box for box in clip.boxes if abs(box.t - t) <= BOX_GAP_S]
    if not near:
        return []
    closest = min(abs(box.t - t) for box in near)
    guns = [box.xyxy for box in near if abs(abs(box.t - t) - closest) < 1e-6]
    return [{"t": float(s), "xyxy": list(xyxy)} for s in range(int(seconds) + 1) for xyxy in guns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=Path("../shared/videos"))
    parser.add_argument("--out", type=Path, default=Path("runs/still-clips"))
    parser.add_argument("--seconds", type=float, default=8.0, help="how long each frozen frame is held")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = [clip for clip in find_clips([args.clips]) if not clip.gun_free]
    written = 0
    for clip in tqdm(clips, unit="clip"):
        for k, episode in enumerate(clip.episodes):
            if episode.end - episode.start < MIN_EPISODE_S:
                continue
            for moment in MOMENTS:
                t = episode.start + moment * (episode.end - episode.start)
                target = args.out / f"{Path(clip.name).name}-e{k + 1}-{round(moment * 100)}.mp4"
                if target.with_suffix(".json").exists():  # written last: this one is done (a rerun adds the rest)
                    continue
                write_still(frame_at(clip.path, t), video_rate(clip.path), args.seconds, target)
                sidecar = {"what": f"{clip.name} frozen at {t:.2f} s for {args.seconds:g} s "
                                   "(scripts/still_gun_clips.py)",
                           "episodes": [[0.0, args.seconds]], "boxes": frozen_box(clip, t, args.seconds)}
                target.with_suffix(".json").write_text(json.dumps(sidecar))
                written += 1
    print(f"{args.out}: {written} still clips written")


if __name__ == "__main__":
    main()
