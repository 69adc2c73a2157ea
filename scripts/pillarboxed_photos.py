"""What black bars cost the shipped pipeline, and what leaving them out gives back (`inference/borders.py`).

    python scripts/pillarboxed_photos.py [--model FILE] [--verifier auto|none|FILE]

Recorded CCTV often reaches people as a 4:3 picture inside a 16:9 file, black bars left and right. Each test-split
photo is run as it is and inside a 16:9 frame of black bars (pillarboxed: bars left and right, the photo's own
height), through the shipped detector and verifier with frame-shaped input, as `gunwatch eval` runs them.
Image-level numbers (the bars move boxes): gun-image recall at the pipeline's threshold and at <= 2 % / 5 % of
gun-free images flagged, each measured on the same pictures. Run it on a checkout from before the bars were left
out to see what they cost (README, "Black bars").
"""
import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr


def pillarboxed(image: np.ndarray) -> np.ndarray:
    """The photo centred in a black frame 16:9 wide (as it is when it is that wide already)."""
    height, width = image.shape[:2]
    frame_width = max(width, round(height * 16 / 9))
    frame = np.zeros((height, frame_width, 3), np.uint8)
    left = (frame_width - width) // 2
    frame[:, left : left + width] = image
    return frame


parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, default=Path("../shared/datasets/PistolData_merged"))
parser.add_argument("--model", type=Path, default=SHIPPED_DETECTOR)
parser.add_argument("--verifier", default="auto", help="auto: the shipped verifier, for the shipped detector only")
args = parser.parse_args()

records = select_records(args.data, "test", Path("splits/pistoldata_merged.json")).records
detector = load_detector(args.model, verifier=args.verifier, max_input=LIVE_MAX_INPUT, threads=2)
gun_class = detector.class_names.index(GUN_LABEL)
free = np.array([not r.has_gun for r in records])
for name, picture in (("as it is", lambda image: image), ("pillarboxed 16:9", pillarboxed)):
    best = []
    for record in tqdm(records, desc=name, unit="img"):
        (found,) = detector.detect([picture(load_rgb(record.image_path))])
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
