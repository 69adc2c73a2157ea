"""What a photo turned on its side (or squeezed) costs the shipped pipeline: why gunwatch honours EXIF orientation.

    python scripts/sideways_photos.py [--model FILE] [--verifier auto|none|FILE] [--pictures upright squeezed ...]

A phone held upright stores its photo as landscape pixels and a tag that turns them; a reader that ignores
the tag hands the detector a picture on its side. The test split's images are run upright, a quarter turn
clockwise (EXIF orientation 6, the commonest), and upside down (3), through the shipped detector (and
verifier), with frame-shaped input as `gunwatch eval` runs it. Image-level numbers only (turning a picture
moves its boxes): gun-image recall at the pipeline's own threshold and at <= 2 % / 5 % of gun-free images
flagged, each operating point measured on the same turned images. A last pass squeezes each image to 0.69 of its
width, as a camera squeezes a 16:9 picture into a 704 x 576 sub-stream (README, "Main or sub-stream"), and one
more stretches that squeezed picture back as a camera's `aspect: 16:9` does (`video/aspect.py`): what the pixels the
squeeze left cost, once the shape is restored.
"""
import argparse
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb, resize_to
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr
from gunwatch.video.aspect import shown_size

SQUEEZE = Fraction(704, 576) / Fraction(16, 9)  # a 16:9 picture in a 704 x 576 stream: 0.69 of its width
PICTURES = ("upright", "a quarter clockwise (6)", "upside down (3)", "squeezed", "squeezed, stretched back")


def pictured(image: np.ndarray, how: str) -> np.ndarray:
    if how.startswith("squeezed"):
        squeezed = resize_to(image, (max(1, round(image.shape[1] * SQUEEZE)), image.shape[0]))
        if how == "squeezed":
            return squeezed
        return resize_to(squeezed, shown_size(squeezed.shape[1], squeezed.shape[0], 1 / SQUEEZE))
    turns = {"upright": 0, "a quarter clockwise (6)": -1, "upside down (3)": 2}[how]
    return np.ascontiguousarray(np.rot90(image, turns))


parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, default=Path("../shared/datasets/PistolData_merged"))
parser.add_argument("--model", type=Path, default=SHIPPED_DETECTOR)
parser.add_argument("--verifier", default="auto", help="auto: the shipped verifier, for the shipped detector only")
parser.add_argument("--pictures", nargs="+", choices=PICTURES, default=PICTURES)
args = parser.parse_args()

records = select_records(args.data, "test", Path("splits/pistoldata_merged.json")).records
detector = load_detector(args.model, verifier=args.verifier, max_input=LIVE_MAX_INPUT, threads=2)
gun_class = detector.class_names.index(GUN_LABEL)
free = np.array([not r.has_gun for r in records])
for name in args.pictures:
    best = []
    for record in tqdm(records, desc=name, unit="img"):
        (found,) = detector.detect([pictured(load_rgb(record.image_path), name)])
        guns = found.of_class(gun_class)
        best.append(float(guns.scores.max()) if guns.scores.size else 0.0)
    best = np.array(best)
    row = {"model": str(args.model), "verifier": args.verifier, "picture": name,
           "recall_at_threshold": float((best[~free] >= detector.threshold).mean()),
           "fpr_at_threshold": float((best[free] >= detector.threshold).mean())}
    for fpr in (0.02, 0.05):
        pairs = [(np.zeros((1, 4)), np.array([score])) for score in best]
        row[f"recall_at_{fpr}"] = float((best[~free] >= threshold_for_image_fpr(pairs, free, fpr)).mean())
    print(json.dumps(row), flush=True)
