"""What interlacing costs the live detector on the gun clips, and what taking the comb out gives back.

    python scripts/interlaced_clips.py [--clips ../shared/videos] [--fps 5]

An interlaced camera sends each picture as two fields a field apart, woven line by line; whatever moves
between them is combed. Each gun clip's episode frames are sampled at `--fps` and run through the live
detector (second look, verifier, frame-shaped input, as `gunwatch watch` runs it) four ways: the frame as it
is (progressive), woven with the next frame (its odd lines a frame later: an interlaced camera whose field
rate is this clip's frame rate, so twice the motion between fields of a 50-field camera at 25 fps), that
woven picture seen as one field (every second line made again from the others), and uncombed
(`video/fields.py`: only the comb teeth made again, what gunwatch does with a picture the stream flags as
interlaced). Reported per clip and in all: the share of sampled episode frames with a gun at or above the
live alarm threshold, and the mean of each frame's best gun score. `gunwatch bench alarms` on
ffmpeg-interlaced copies of the clips gives the alarm-level view (README, "Interlaced cameras").
"""
import argparse
import json
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.bench.alarm_clips import find_clips
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.loading import load_detector
from gunwatch.video.fields import uncombed

WAYS = ("progressive", "woven", "one field", "uncombed")

parser = argparse.ArgumentParser()
parser.add_argument("--clips", type=Path, default=Path("../shared/videos"))
parser.add_argument("--fps", type=float, default=5.0)
args = parser.parse_args()

detector = load_detector(second_look=True, verifier="auto", max_input=LIVE_MAX_INPUT, threads=2)
gun_class = detector.class_names.index(GUN_LABEL)
threshold = alarm_threshold(load_detector(verifier="auto"))  # the live one, as `watch` reads it (0.85)


def best_gun(image: np.ndarray) -> float:
    (found,) = detector.detect([image])
    guns = found.of_class(gun_class)
    return float(guns.scores.max()) if guns.scores.size else 0.0


def one_field(image: np.ndarray) -> np.ndarray:
    """The first field alone: each odd line the mean of the even lines around it."""
    shown = image.copy()
    first = image[0::2].astype(np.uint16)
    below = np.concatenate([first[1:], first[-1:]])[: len(image[1::2])]
    shown[1::2] = ((first[: len(below)] + below + 1) // 2).astype(np.uint8)
    return shown


def episode_pairs(path: Path, episodes, fps: float):
    """(frame, next frame) of the clip at about `fps`, inside its episodes."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = container.decode(stream)
        next_due = -1.0
        for frame in frames:
            t = float(frame.pts * stream.time_base)
            if t < next_due or not any(e.start <= t <= e.end for e in episodes):
                continue
            following = next(frames, None)
            if following is None:
                return
            next_due = t + 1 / fps
            yield frame.to_ndarray(format="rgb24"), following.to_ndarray(format="rgb24")


totals = {way: [] for way in WAYS}
for clip in find_clips([args.clips]):
    if clip.gun_free:
        continue
    scores = {way: [] for way in WAYS}
    for first, second in tqdm(list(episode_pairs(clip.path, clip.episodes, args.fps)), desc=clip.name, unit="frame"):
        woven = first.copy()
        woven[1::2] = second[1::2]
        for way, image in zip(WAYS, (first, woven, one_field(woven), uncombed(woven)), strict=True):
            scores[way].append(best_gun(image))
    row = {"clip": clip.name, "frames": len(scores["woven"]), "alarm_threshold": threshold}
    for way in WAYS:
        totals[way].extend(scores[way])
        values = np.array(scores[way])
        row[way] = {"at_threshold": round(float((values >= threshold).mean()), 3),
                    "mean_best": round(float(values.mean()), 3)}
    print(json.dumps(row), flush=True)
row = {"clip": "all", "frames": len(totals["woven"]), "alarm_threshold": threshold}
for way in WAYS:
    values = np.array(totals[way])
    row[way] = {"at_threshold": round(float((values >= threshold).mean()), 3),
                "mean_best": round(float(values.mean()), 3)}
print(json.dumps(row), flush=True)
