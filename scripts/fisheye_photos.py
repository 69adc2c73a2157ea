"""What a ceiling fisheye costs the shipped pipeline, and what unwrapping it into panoramas gives back.

    python scripts/fisheye_photos.py [--side 1024] [--seed 0] [--figure docs/fisheye-unwrapped.jpg]

No fisheye footage is at hand, so each test-split photo is put where a ceiling fisheye shows a person: on a
sector of the circle, its top towards the rim and its bottom towards the centre, bent round the centre, at a
random angle (seeded), one radius pixel per photo pixel and `NATIVE_AT` of the radius per photo pixel along the
arc (as `video/fisheye.py` unwraps it, so the unwrapped photo comes back at its own scale). The rest of the
circle is grey with noise, and black outside it. The photo lies wholly inside one half panorama (a person spans
10-20 degrees of the circle and the halves overlap by 20; a photo spans far more). The pipeline (detector,
second look, verifier, frame-shaped input, as `gunwatch detect` runs it) then sees the photos as they are, the
fisheye pictures as a camera sends them, and the fisheye pictures unwrapped as a camera's `fisheye: {mount:
ceiling}` makes it. Image level: gun-image recall at the pipeline's threshold and at <= 2 % / 5 % of gun-free
images flagged.

The wall mount measured the same way (commit f7e5f22, `--mount wall`) is why a wall fisheye is not unwrapped.
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.config.camera import Fisheye
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb, resize_to
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr
from gunwatch.video.annotate import draw_detections
from gunwatch.video.fisheye import NATIVE_AT, OVERLAP, unwrapped

CEILING = Fisheye(mount="ceiling")
RIM_GAP = 0.04  # the photo's top lies this fraction of the radius inside the rim
FIGURE_ROWS, FIGURE_SIDE = 2, 360  # the figure: gun photos, and the height each picture is drawn at


def bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """`image` sampled at float (rows, cols), each inside it."""
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, image.shape[0] - 1), np.minimum(c0 + 1, image.shape[1] - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[:, None]
    top = image[r0, c0] * (1 - fc) + image[r0, c1] * fc
    bottom = image[r1, c0] * (1 - fc) + image[r1, c1] * fc
    return top * (1 - fr) + bottom * fr


def in_ceiling_fisheye(photo: np.ndarray, side: int, rng: np.random.Generator) -> np.ndarray:
    """The photo where a ceiling fisheye of `side` x `side` shows a person (module docstring)."""
    radius = side / 2
    rim = radius * (1 - RIM_GAP)
    depth = rim - radius * CEILING.inner  # the photo's height may not pass the inner circle
    arc_per_px = 1 / (NATIVE_AT * radius)  # radians of the circle per photo pixel along the arc
    most_wide = (math.pi - 0.1) / arc_per_px  # within one half's 180 degrees
    scale = min(0.8 * depth / photo.shape[0], most_wide / photo.shape[1])
    photo = resize_to(photo, (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale))))
    height, width = photo.shape[:2]
    span = width * arc_per_px
    half = int(rng.integers(2))
    start = half * math.pi - OVERLAP + rng.uniform(0, math.pi + 2 * OVERLAP - span)  # wholly inside that half
    picture = np.clip(rng.normal(128, 12, (side, side, 3)), 0, 255)
    ys, xs = np.mgrid[:side, :side] + 0.5
    r = np.hypot(xs - radius, ys - radius)
    picture[r > radius] = 0
    angle = (np.arctan2(ys - radius, xs - radius) - start) % (2 * math.pi)
    inside = (angle < span) & (r <= rim) & (r > rim - height)
    cols = np.clip(angle[inside] / arc_per_px - 0.5, 0, width - 1)
    rows = np.clip(rim - r[inside] - 0.5, 0, height - 1)
    picture[inside] = bilinear(photo.astype(np.float32), rows, cols)
    return picture.astype(np.uint8)


parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, default=Path("../shared/datasets/PistolData_merged"))
parser.add_argument("--side", type=int, default=1024, help="the fisheye picture's side in pixels")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--figure", type=Path, help="also draw the first gun photos' fisheye pictures, as sent and "
                                                "unwrapped, with the pipeline's gun boxes, into this JPEG")
args = parser.parse_args()

records = select_records(args.data, "test", Path("splits/pistoldata_merged.json")).records
detector = load_detector(SHIPPED_DETECTOR, verifier="auto", max_input=LIVE_MAX_INPUT, threads=2)
gun_class = detector.class_names.index(GUN_LABEL)
free = np.array([not r.has_gun for r in records])
rng = np.random.default_rng(args.seed)
drawn: list[np.ndarray] = []  # the figure's pictures: each gun photo's fisheye as sent, then unwrapped
best: dict[str, list[float]] = {"photo as it is": [], "fisheye as sent": [], "fisheye unwrapped": []}
for record in tqdm(records, unit="img"):
    photo = load_rgb(record.image_path)
    fisheye = in_ceiling_fisheye(photo, args.side, rng)
    pictures = {"photo as it is": photo, "fisheye as sent": fisheye, "fisheye unwrapped": unwrapped(fisheye, CEILING)}
    for name, picture in pictures.items():
        (found,) = detector.detect([picture])
        guns = found.of_class(gun_class)
        best[name].append(float(guns.scores.max()) if guns.scores.size else 0.0)
        if args.figure is not None and record.has_gun and len(drawn) < 2 * FIGURE_ROWS and name != "photo as it is":
            drawn.append(draw_detections(picture, guns.above(detector.threshold), detector.class_names))
if args.figure is not None:
    def at_figure_height(picture: np.ndarray) -> np.ndarray:
        return resize_to(picture, (round(picture.shape[1] * FIGURE_SIDE / picture.shape[0]), FIGURE_SIDE))

    rows = [np.concatenate([at_figure_height(sent), at_figure_height(panorama)], axis=1)
            for sent, panorama in zip(drawn[::2], drawn[1::2], strict=True)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(args.figure, quality=80)
for name, scores in best.items():
    scores_array = np.array(scores)
    row = {"picture": name, "side": args.side, "seed": args.seed,
           "recall_at_threshold": float((scores_array[~free] >= detector.threshold).mean()),
           "fpr_at_threshold": float((scores_array[free] >= detector.threshold).mean())}
    pairs = [(np.zeros((1, 4)), np.array([score])) for score in scores_array]
    for fpr in (0.02, 0.05):
        row[f"recall_at_{fpr}"] = float((scores_array[~free] >= threshold_for_image_fpr(pairs, free, fpr)).mean())
    print(json.dumps(row), flush=True)
