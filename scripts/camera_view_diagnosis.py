"""Why guns on camera views are missed, gun by gun: no person found near the gun, no candidate on the gun, or a
candidate that scores too low (issue 11).

    python scripts/camera_view_diagnosis.py [DATA [SPLIT [MODEL [VERIFIER]]]]
    # default: ../shared/datasets/cctv_guns_dev, test (splits/<data>.json), the shipped model and verifier ("auto")

Runs the live default (frame-shaped first pass, second look) twice, the detector alone and with the verifier,
and prints per group of images (the folder an image lies in: a camera, for cctv_guns_dev): the guns, their
median size, how many have a person found (score >= the second look's floor) whose reach box holds the gun's
centre, and how many get a candidate on them (IoU >= 0.3) at any score, at >= 0.5, at the pair's image threshold
and at its alarm threshold. A gun with a person but no candidate is a recognition miss (more data of such guns);
one with a candidate below the thresholds is a scoring miss.
"""
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from gunwatch.boxes import box_iou
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.selection import default_split_file, select_records
from gunwatch.inference.alarm_threshold import alarm_threshold
from gunwatch.inference.detections import Detections
from gunwatch.inference.loading import load_detector
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.inference.second_look import GUN_LABEL, PERSON_LABEL, held_mask

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/cctv_guns_dev")
SPLIT = sys.argv[2] if len(sys.argv) > 2 else "test"
MODEL = Path(sys.argv[3] if len(sys.argv) > 3 else "models/gunwatch-nano.onnx")
VERIFIER = sys.argv[4] if len(sys.argv) > 4 else "auto"
ON_GUN_IOU = 0.3
PARAMS = SecondLookParams()

records = [r for r in select_records(DATA, SPLIT, default_split_file(DATA)).records if len(r.boxes)]
alone = load_detector(MODEL, max_input=LIVE_MAX_INPUT, second_look=True)
verified = load_detector(MODEL, max_input=LIVE_MAX_INPUT, second_look=True, verifier=VERIFIER)
person_id, gun_id = alone.class_names.index(PERSON_LABEL), alone.class_names.index(GUN_LABEL)


def best_on(guns: np.ndarray, detections: Detections) -> np.ndarray:
    """Each gun's best candidate score at IoU >= ON_GUN_IOU (0 where none)."""
    candidates = detections.of_class(gun_id)
    if not len(candidates):
        return np.zeros(len(guns))
    on_gun = box_iou(guns, candidates.xyxy) >= ON_GUN_IOU
    return np.where(on_gun, candidates.scores[None, :], 0).max(axis=1)


rows: dict[str, list[tuple[float, float, bool, float, float]]] = defaultdict(list)
for number, record in enumerate(records, 1):
    print(f"\r{number} / {len(records)} images", end="", file=sys.stderr)
    image = load_rgb(record.image_path)
    guns = np.asarray(record.boxes, np.float32).reshape(-1, 4)
    found = alone.detect([image])[0]
    people = found.of_class(person_id)  # the first pass's people come out unchanged
    held = held_mask(guns, people.xyxy[people.scores >= PARAMS.person_min_score], PARAMS)
    scores_alone, scores_verified = best_on(guns, found), best_on(guns, verified.detect([image])[0])
    for gun, is_held, a, v in zip(guns, held, scores_alone, scores_verified, strict=True):
        rows[record.image_path.parent.name].append((gun[2] - gun[0], gun[3] - gun[1], bool(is_held), a, v))
print(file=sys.stderr)

pairs = (("detector alone", 3, alone.threshold, alarm_threshold(alone)),
         ("with the verifier", 4, verified.threshold, alarm_threshold(verified)))
print(f"{DATA.name} {SPLIT}, {MODEL.name} + verifier {VERIFIER}; share of guns:")
print(f"{'group':>14} {'guns':>5} {'w x h px':>9} {'held':>5} | {'':>17} {'any':>5} {'>=0.5':>5} "
      f"{'>=image thr':>11} {'>=alarm thr':>11}")
for group, values in sorted(rows.items()):
    table = np.array(values, dtype=np.float64)
    for k, (name, column, image_thr, alarm_thr) in enumerate(pairs):
        scores = table[:, column]
        head = (f"{group:>14} {len(table):>5} {np.median(table[:, 0]):>4.0f}x{np.median(table[:, 1]):<4.0f} "
                f"{table[:, 2].mean():>5.2f}" if k == 0 else " " * 36)
        print(f"{head} | {name:>17} {np.mean(scores > 0):>5.2f} {np.mean(scores >= 0.5):>5.2f} "
              f"{np.mean(scores >= image_thr):>5.2f} ({image_thr:.2f}) "
              f"{np.mean(scores >= alarm_thr):>5.2f} ({alarm_thr:.2f})")
