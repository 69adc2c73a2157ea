"""The gun clips as a 1080p camera further away would show them: each clip shrunk into a 1920 x 1080 frame.

    python scripts/far_camera_clips.py --out runs/far-clips [--clips ../shared/videos] [--heights 1,0.5,0.33]
        [--negatives] [--pan 250]
    gunwatch bench alarms --clips runs/far-clips/h0.33 --out runs/far-clips/h0.33-bench

The shared gun clips are close-ups of 360-720 lines; the issue's held-out footage is 1080p surveillance whose guns
are 20-40 px wide. For each height share h, every gun clip (and with `--negatives` every gun-free one, into
`negatives/`, for false alarms at the same scale) is written again as a 1080p clip
in which the clip's picture fills h of the frame's height (its width in proportion), centred, over a still 1080p
scene (the first frame of a gun-free clip, scaled up, so the motion gate sees a camera whose only change is the
clip), with its edges faded in over 4 % of its shorter side so that no hard rectangle frames the gun. h = 1 is the
clip enlarged to 1080p; at 0.5 and 0.33 its guns come out at half and a third of that size, as a camera two and
three times further away would see them (at 1080p). The sidecar keeps the episodes; gun boxes (the clip's and
`sidecars/`' overlay) are mapped into the new frame. This is a measure of scale at the alarm level, with the
live pipeline's confirmation; the pasted picture is not a real far camera (no haze, its own compression, a
still scene around it), so read it beside the 1080p armed-people set, not instead of footage.

`--pan PX` moves the picture back and forth across the frame at PX pixels a second (from the left edge), as
someone walking across a wide view moves: 250 px/s is about 1.4 m/s for a person 300 px tall (1.7 m; at 0.33
of the height `jpadwor1_range-pistol`'s officer is 250-330 px), and a gun 38 px wide then moves 50 px between
two frames analysed at 5 fps. The boxes move with it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from gunwatch.bench.alarm_clips import find_clips
from gunwatch.data.images import feather_mask, resize_to

WIDTH, HEIGHT = 1920, 1080
FEATHER = 0.04  # share of the pasted picture's shorter side over which it fades in
BACKGROUND = "negatives/sachith_night-lane-cctv"  # a still street at night; any gun-free clip will do


def first_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{path}: no frames")


def scene_clip(folder: Path) -> Path:
    """The clip whose first frame is the still scene: BACKGROUND where the folder has it, else its first gun-free
    clip."""
    gun_free = [clip for clip in find_clips([folder]) if clip.gun_free]
    for clip in gun_free:
        if clip.name == BACKGROUND:
            return clip.path
    if not gun_free:
        raise SystemExit(f"{folder}: no gun-free clip (sidecar with \"episodes\": []) to take the still scene from")
    return gun_free[0].path


def placement(width: int, height: int, share: float) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a width x height picture filling `share` of the 1080p frame's height, centred."""
    h = round(HEIGHT * share)
    w = min(WIDTH, round(width * h / height))
    h = round(height * w / width)
    return (WIDTH - w) // 2, (HEIGHT - h) // 2, w, h


def pan_offset(t: float, pan: float, travel: int) -> int:
    """How far right of the leftmost place the picture is at clip time t: back and forth at `pan` px/s over
    `travel` px (a triangle wave starting at the left), 0 without panning."""
    if pan <= 0 or travel <= 0:
        return 0
    phase = (t * pan) % (2 * travel)
    return round(phase if phase <= travel else 2 * travel - phase)


def write_clip(source: Path, target: Path, share: float, scene: np.ndarray,
               pan: float = 0.0) -> tuple[float, float, float, float, int]:
    """The clip shrunk into the scene, moving across it at `pan` px/s (0: centred, still); returns how frame
    pixels map: (scale_x, scale_y, x, y, travel), x at time t being x + pan_offset(t, pan, travel)."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        x, y, w, h = placement(stream.width, stream.height, share)
        travel = WIDTH - w if pan > 0 else 0
        x = 0 if pan > 0 else x
        alpha = feather_mask(h, w, FEATHER)
        rate = stream.average_rate or 25
        with av.open(str(target), "w") as out:
            encoded = out.add_stream("libx264", rate=rate, options={"crf": "20", "preset": "veryfast"})
            encoded.width, encoded.height, encoded.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            start, last = None, -1  # each frame at its own time from the first, in frame periods (a finer clock
            # makes PyAV 18's mp4 muxer refuse the encoder's packets)
            for index, frame in enumerate(container.decode(stream)):
                picture = resize_to(frame.to_ndarray(format="rgb24"), (w, h)).astype(np.float32)
                canvas = scene.copy()
                start = frame.time if start is None else start
                left = x + pan_offset(frame.time - start if frame.time is not None else index / rate, pan, travel)
                region = canvas[y:y + h, left:left + w].astype(np.float32)
                canvas[y:y + h, left:left + w] = (alpha * picture + (1 - alpha) * region).round().astype(np.uint8)
                out_frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                pts = round((frame.time - start) * rate) if frame.time is not None else index
                out_frame.pts = last = max(pts, last + 1)
                for packet in encoded.encode(out_frame):
                    out.mux(packet)
            for packet in encoded.encode():
                out.mux(packet)
        return w / stream.width, h / stream.height, x, y, travel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=Path, default=Path("../shared/videos"))
    parser.add_argument("--out", type=Path, default=Path("runs/far-clips"))
    parser.add_argument("--heights", default="1,0.5,0.33", help="shares of the 1080p frame's height")
    parser.add_argument("--negatives", action="store_true", help="the gun-free clips too")
    parser.add_argument("--pan", type=float, default=0.0,
                        help="px/s at which the picture moves back and forth across the frame (someone walking "
                             "across a wide view); folders then end in -panN")
    args = parser.parse_args()
    clips = [clip for clip in find_clips([args.clips]) if args.negatives or not clip.gun_free]
    scene = resize_to(first_frame(scene_clip(args.clips)), (WIDTH, HEIGHT))
    for share in (float(part) for part in args.heights.split(",")):
        folder = args.out / (f"h{share:g}" + (f"-pan{args.pan:g}" if args.pan > 0 else ""))
        folder.mkdir(parents=True, exist_ok=True)
        for clip in tqdm(clips, desc=f"height {share:g}", unit="clip"):
            # Its own name: `sidecars/`' overlay (keyed by name) must not add the close-up's boxes again.
            target = folder / ("negatives" if clip.gun_free else "") / f"{Path(clip.name).name}-h{share:g}.mp4"
            target.parent.mkdir(exist_ok=True)
            if target.with_suffix(".json").exists():  # written last: this clip is done (a rerun adds the rest)
                continue
            sx, sy, x, y, travel = write_clip(clip.path, target, share, scene, args.pan)
            boxes = []
            for box in clip.boxes:
                left = x + pan_offset(box.t, args.pan, travel)
                boxes.append({"t": box.t, "xyxy": [round(box.xyxy[0] * sx + left, 1), round(box.xyxy[1] * sy + y, 1),
                                                   round(box.xyxy[2] * sx + left, 1), round(box.xyxy[3] * sy + y, 1)]})
            moving = f", moving across at {args.pan:g} px/s" if args.pan > 0 else ""
            sidecar = {"what": f"{clip.name} at {share:g} of a 1080p frame's height{moving} "
                               "(scripts/far_camera_clips.py)",
                       "episodes": [[e.start, e.end] for e in clip.episodes], "boxes": boxes}
            target.with_suffix(".json").write_text(json.dumps(sidecar))
        print(f"{folder}: {len(clips)} clips")


if __name__ == "__main__":
    main()
