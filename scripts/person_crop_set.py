"""The second look's person crops of a generated armed-people set, as a training set (issue 11 item 2; built
on 2026-12-07, 1,179 crops of which 393 hold a gun; trained on by configs/detector-crops.yaml, not shipped).

    python scripts/person_crop_set.py runs/armed-people-1080p-train runs/armed-people-crops-train

Each pasted person (armed or not; their true place from the set's manifest, standing at the bottom centre of
their patch) gets the crops the live second look would cut around them (`plan_person_crops` with the live
defaults, the first pass frame-shaped at `LIVE_MAX_INPUT`), cut from the full-resolution frame and written as
they are (the trainer scales them to its input), with the guns inside in crop pixels. A crop that cuts a gun
(10-90 % of it inside) is left out: the live second look drops such a gun, and training must not call its
visible part background. Writes the notebook layout and a split file (`split.json`, every crop in `train`) for
a training config's `extra_train`.
"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from gunwatch.boxes import box_area, box_intersection
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import Split
from gunwatch.evaluation.armed_people import pasted_person_boxes
from gunwatch.inference.person_crops import SecondLookParams, plan_person_crops

MODEL_SIDE = 416
source, out = Path(sys.argv[1]), Path(sys.argv[2])
manifest = {m["id"]: m for m in map(json.loads, (source / "manifest.jsonl").read_text().splitlines())}
records = sorted(read_dataset(source).records, key=lambda r: int(r.image_path.stem))
(out / "pistol_images").mkdir(parents=True, exist_ok=True)
(out / "pistol_annotations").mkdir(parents=True, exist_ok=True)
written, with_gun, cut = [], 0, 0
for record in tqdm(records, desc="cutting person crops", unit="frame"):
    frame = load_rgb(record.image_path)
    height, width = frame.shape[:2]
    people = manifest[int(record.image_path.stem)]["people"]
    persons = pasted_person_boxes(people)
    tiles = plan_person_crops(persons, np.ones(len(persons)), (width, height), MODEL_SIDE,
                              LIVE_MAX_INPUT / max(width, height), SecondLookParams())
    for tile in tiles:
        corner = np.array([tile.x1, tile.y1, tile.x1, tile.y1], np.float32)
        guns = np.asarray(record.gun_boxes, np.float32).reshape(-1, 4)
        inside = box_intersection(guns, corner[None] + np.array([[0, 0, tile.x2 - tile.x1, tile.y2 - tile.y1]]))[:, 0]
        share = inside / np.maximum(box_area(guns), 1)
        if ((share > 0.1) & (share < 0.9)).any():
            cut += 1
            continue
        side = tile.x2 - tile.x1
        kept = np.clip(guns[share >= 0.9] - corner, 0, side)
        name = f"{record.image_path.stem}-{tile.x1}-{tile.y1}"
        Image.fromarray(frame[tile.y1 : tile.y2, tile.x1 : tile.x2]).save(out / "pistol_images" / f"{name}.jpg",
                                                                         quality=90)
        lines = [f"1 {(x1 + x2) / 2 / side:.6f} {(y1 + y2) / 2 / side:.6f} {(x2 - x1) / side:.6f} "
                 f"{(y2 - y1) / side:.6f}" for x1, y1, x2, y2 in kept.tolist()] or ["0 0 0 0 0"]
        (out / "pistol_annotations" / f"{name}.txt").write_text("\n".join(lines) + "\n")
        written.append(f"{name}.jpg")
        with_gun += bool(len(kept))
(out / "split.json").write_text(Split(0, {}, {"train": written}).to_json(out.name))
print(f"{len(written)} crops ({with_gun} with a gun) from {len(records)} frames; {cut} crops that cut a gun left out")
