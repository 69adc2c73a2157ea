"""How good are a drill's labels, when the detector draws them? cctv_guns_dev's `room1` as a site's drill.

    python scripts/drill_demo.py --out runs/drill-room1             # the drill clip, its labels, their quality
    gunwatch train --config configs/verifier-drill-demo.yaml        # the verifier with them (runs/verifier-drill)

`room1` is 188 labelled frames of one actor with a pistol in a hall, from a ceiling camera (the train group
of `splits/cctv_guns_dev.json`; `room3`, the same hall in another recording, and `gas_station` are its test
groups). Its frames, in their recording's order, become a 2 fps H.264 clip with a sidecar saying the gun is in
view throughout, as a site's drill recording would be, and `gunwatch data drill`'s code labels it. The true
boxes are then the check: for each score floor, the share of frames that got a label and the share of labels
on the gun (IoU >= 0.4 with a true box, what the verifier's training counts as a gun), and the share whose
centre lies inside a true box. The folder written at `--min-score` is the training set for the verifier run
above, the same recipe as `configs/verifier-cameras.yaml`, which trains on the true boxes.
"""

from __future__ import annotations

import argparse
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from gunwatch.boxes import box_iou
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.selection import select_records
from gunwatch.events.drill_frames import DrillSettings, export_drill
from gunwatch.inference.loading import load_detector

DATA = Path("../shared/datasets/cctv_guns_dev")
FPS = 2
FLOORS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", type=Path, default=Path("runs/drill-room1"))
parser.add_argument("--min-score", type=float, default=DrillSettings.min_score)
args = parser.parse_args()

records = sorted((r for r in select_records(DATA, "train", Path("splits/cctv_guns_dev.json")).records),
                 key=lambda r: r.image_path.name)
clip = args.out / "room1-drill.mp4"
args.out.mkdir(parents=True, exist_ok=True)
# Written here rather than by gunwatch's VideoWriter, as for the README's numbers: another encoder setting
# gives another clip, and the detector's labels on it move by a few frames.
with av.open(str(clip), "w") as container:
    first = load_rgb(records[0].image_path)
    stream = container.add_stream("libx264", rate=FPS)
    stream.height, stream.width = (side - side % 2 for side in first.shape[:2])
    stream.pix_fmt, stream.time_base = "yuv420p", Fraction(1, FPS)
    for index, record in enumerate(records):
        image = load_rgb(record.image_path)[: stream.height, : stream.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = index
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
episodes = [(0.0, len(records) / FPS)]
clip.with_suffix(".json").write_text(json.dumps({"episodes": [list(episodes[0])], "what": "room1 as a drill"}))
truth = {index / FPS: np.asarray(r.boxes, np.float64).reshape(-1, 4) for index, r in enumerate(records)}

detector = load_detector(None, verifier="auto", max_input=LIVE_MAX_INPUT, second_look=True)


def labels_of(folder: Path) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(time, boxes, scores) of every frame the drill export wrote into `folder`."""
    found = []
    for line in (folder / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        found.append((entry["t"], np.asarray(entry["boxes"], np.float64).reshape(-1, 4), np.asarray(entry["scores"])))
    return found


def quality(found: list[tuple[float, np.ndarray, np.ndarray]], floor: float) -> tuple[float, float, float]:
    """Share of frames labelled, and of labels on a gun (IoU >= 0.4) and with their centre in a gun's box."""
    labelled = on_gun = centred = 0
    for t, boxes, scores in found:
        boxes = boxes[scores >= floor]
        if not len(boxes):
            continue
        labelled += 1
        guns = truth[min(truth, key=lambda time: abs(time - t))]
        on_gun += int((box_iou(boxes, guns) >= 0.4).any()) if len(guns) else 0
        cx, cy = (boxes[0, 0] + boxes[0, 2]) / 2, (boxes[0, 1] + boxes[0, 3]) / 2
        centred += int(((guns[:, 0] <= cx) & (cx <= guns[:, 2]) & (guns[:, 1] <= cy) & (cy <= guns[:, 3])).any())
    return labelled / len(truth), on_gun / max(labelled, 1), centred / max(labelled, 1)


low = args.out / f"floor-{FLOORS[0]}"
export_drill(clip, episodes, low, detector, camera="room1",
             settings=DrillSettings(fps=FPS, margin_s=0.0, min_score=FLOORS[0]))
print(f"room1 as a drill ({len(records)} frames, {FPS} fps), labelled by {detector.name}:")
print(f"{'score floor':>11} {'frames labelled':>15} {'labels on the gun':>17} {'centre in the gun':>17}")
found = labels_of(low)
for floor in FLOORS:
    shares = quality(found, floor)
    print(f"{floor:>11.2f} {shares[0]:>15.2f} {shares[1]:>17.2f} {shares[2]:>17.2f}")
summary = export_drill(clip, episodes, args.out / "frames", detector, camera="room1",
                       settings=DrillSettings(fps=FPS, margin_s=0.0, min_score=args.min_score))
print(f"training set at {args.min_score}: {summary.labelled} frames labelled, {summary.unlabelled} left out, "
      f"in {args.out / 'frames'} (contact sheet {summary.sheet})")
