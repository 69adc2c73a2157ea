"""What the shipped pipeline's false positives on the test split's gun images are (issue 11: why mAP@0.5 stalls).

    python scripts/test_split_false_positives.py [--model M] [--verifier auto|none|FILE] [--out FILE.png]

A box scored at or above the threshold on an image that holds a gun, matching no labelled gun at IoU 0.5, costs
mAP@0.5 as any false positive does. Each is sorted into one of three kinds: on a labelled gun with another
extent (one box mostly inside the other, intersection >= 0.6 of the smaller: a suppressor or a hand the label
leaves out, a close-up the label crops), a second box on a gun already matched (a duplicate NMS kept), or away
from every labelled gun (an unlabelled gun, or a real mistake: a person looks at the sheet to tell which).
Prints the counts, AP over all scores at IoU 0.3 beside 0.5 (how much of mAP@0.5 is box extent), and writes a
sheet of the highest-scoring ones, labels in green, the false positive in red.
"""
import argparse
import contextlib
import io
from pathlib import Path

import numpy as np
from pycocotools.cocoeval import COCOeval

from gunwatch.boxes import box_ios, box_iou
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.metrics.coco_map import _detections, _ground_truth, _results
from gunwatch.metrics.plots import GalleryItem, plot_gallery

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, default=Path("../shared/datasets/PistolData_merged"))
parser.add_argument("--model", type=Path, default=SHIPPED_DETECTOR)
parser.add_argument("--verifier", default="auto")
parser.add_argument("--out", type=Path, default=Path("runs/test-false-positives.png"))
parser.add_argument("--show", type=int, default=24, help="false positives on the sheet, highest scores first")
args = parser.parse_args()

records = select_records(args.data, "test", Path("splits/pistoldata_merged.json"), None, None).records
detector = load_detector(args.model, threads=1, spinning=False, verifier=args.verifier, max_input=LIVE_MAX_INPUT)
predictions = predict_guns(detector, records, progress=True)
kinds = {"on a labelled gun, another extent": [], "a second box on a matched gun": [], "away from labelled guns": []}
for record, found in zip(records, predictions.detections, strict=True):
    if not len(record.gun_boxes):
        continue
    kept = found.above(detector.threshold)
    if not len(kept.xyxy):
        continue
    iou = box_iou(kept.xyxy, record.gun_boxes)
    ios = box_ios(kept.xyxy, record.gun_boxes)
    matched = iou.max(axis=1) >= 0.5
    for index in np.flatnonzero(~matched):
        gun = int(ios[index].argmax())
        if ios[index, gun] < 0.6:
            kind = "away from labelled guns"
        elif (iou[matched, gun] >= 0.5).any():
            kind = "a second box on a matched gun"
        else:
            kind = "on a labelled gun, another extent"
        kinds[kind].append((float(kept.scores[index]), record, kept.xyxy[index], kind))



def ap_at(ious: list[float]) -> list[float]:
    """COCO AP (101 recall points, up to 100 boxes an image) at each IoU threshold, as `gunwatch eval` counts."""
    pairs = [(found.xyxy, found.scores) for found in predictions.detections]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = _ground_truth([record.gun_boxes for record in records], [(r.width, r.height) for r in records])
        evaluator = COCOeval(truth, _detections(truth, _results(pairs)), iouType="bbox")
        evaluator.params.iouThrs = np.array(ious)
        evaluator.evaluate()
        evaluator.accumulate()
    precision = evaluator.eval["precision"][:, :, 0, 0, -1]
    return [float(row[row > -1].mean()) for row in precision]


total = sum(len(found) for found in kinds.values())
gun_images = sum(1 for record in records if len(record.gun_boxes))
print(f"{detector.name}: {total} false positives at its threshold {detector.threshold:.3f} on {gun_images} test "
      f"images with guns")
for kind, found in kinds.items():
    print(f"  {kind}: {len(found)}")
print("AP at IoU 0.3 / 0.5: {:.3f} / {:.3f}".format(*ap_at([0.3, 0.5])))
worst = sorted((item for found in kinds.values() for item in found), key=lambda item: -item[0])[: args.show]
items = [GalleryItem(load_rgb(record.image_path), record.gun_boxes, box[None], np.array([score]),
                     f"{record.key}: {kind}") for score, record, box, kind in worst]
print(f"sheet: {plot_gallery(items, args.out, columns=6)}")
