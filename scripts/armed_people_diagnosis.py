"""Why the second look finds few guns on the 1080p armed-people set: finding the people, or the guns on them.

    gunwatch data armed-people --data ../shared/datasets/PistolData_merged   # or let `gunwatch bench` build it
    python scripts/armed_people_diagnosis.py [SET [MODEL [VERIFIER]]]   # default: runs/armed-people-1080p,
                                                                       # the shipped model and verifier ("auto")

Prints, for the shipped detector (or MODEL) at 416 px and frame-shaped (640 x 384, the live default) and for
the COCO YOLOX-Nano it was fine-tuned from (416 px, its graph is fixed), the share of pasted people they find
(a person box scoring >= 0.3 that lies mostly inside the person's pasted patch), by the person's height in the
frame; then the shipped pipeline's gun-image recall at <= 2 % and 5 % of gun-free frames flagged with the
second look as it is, with the person's true place given to it (the oracle: what finding every person would
give), with the first pass at a larger input (square or frame-shaped), with fainter people looked at, and with
the people of the COCO model instead of the detector's own; and writes a contact sheet of the live default on
the first frames (runs/armed-people-live-default.jpg).
"""
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from gunwatch.bench.table import recall_at_fpr
from gunwatch.boxes import box_area, box_intersection
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.data.layouts import read_dataset
from gunwatch.evaluation.armed_people import pasted_person_boxes
from gunwatch.evaluation.runner import Predictions
from gunwatch.evaluation.small_guns import FRAME_SIZE
from gunwatch.inference.detections import Detections
from gunwatch.inference.input_shape import whole_image_side
from gunwatch.inference.loading import load_detector
from gunwatch.inference.onnx_yolox import OnnxYolox
from gunwatch.inference.person_crops import SecondLookParams
from gunwatch.inference.second_look import SecondLook
from gunwatch.video.annotate import draw_detections

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/armed-people-1080p")
SHIPPED = Path(sys.argv[2] if len(sys.argv) > 2 else "models/gunwatch-nano.onnx")
VERIFIER = sys.argv[3] if len(sys.argv) > 3 else "auto"
COCO = Path("../shared/weights/yolox_nano_coco.onnx")
HEIGHT_BINS = ((0, 150), (150, 250), (250, 400), (400, 10_000))
FLOOR = 0.3  # the second look's person_min_score
SHOWN = 0.3  # boxes drawn on the contact sheet: those scoring at least this

manifest = {m["id"]: m for m in map(json.loads, (ROOT / "manifest.jsonl").read_text().splitlines())}
records = sorted(read_dataset(ROOT).records, key=lambda r: int(r.image_path.stem))
frames = [load_rgb(r.image_path) for r in records]
people = [manifest[int(r.image_path.stem)]["people"] for r in records]
gun_free = np.array([not r.has_gun for r in records])


def found(detections: Detections, patch: list[int]) -> bool:
    """A person box of the detections mostly (>= 60 %) inside the pasted patch."""
    inside = box_intersection(detections.xyxy, np.array([patch], np.float32))[:, 0]
    return bool((inside >= 0.6 * np.maximum(box_area(detections.xyxy), 1)).any())


def person_rates() -> None:
    square = load_detector(SHIPPED, threads=2, spinning=False, verifier="none")
    shaped = load_detector(SHIPPED, threads=2, spinning=False, verifier="none", max_input=LIVE_MAX_INPUT)
    person = square.class_names.index("person")
    coco = OnnxYolox.for_reference_coco_model(COCO)
    rows = []
    for frame, pasted in zip(frames, people, strict=True):
        (ours,), (shaped_ours,), (theirs,) = square.detect([frame]), shaped.detect([frame]), coco.detect([frame])
        ours, shaped_ours = ours.of_class(person).above(FLOOR), shaped_ours.of_class(person).above(FLOOR)
        theirs = theirs.of_class(0).above(FLOOR)
        rows += [(p["person_height"], found(ours, p["patch"]), found(shaped_ours, p["patch"]),
                  found(theirs, p["patch"])) for p in pasted]
    table = np.array(rows, float)
    print(f"pasted people found at score >= {FLOOR} (shipped at 416 / frame-shaped / COCO at 416): "
          f"{table[:, 1].mean():.2f} / {table[:, 2].mean():.2f} / {table[:, 3].mean():.2f} of {len(table)}")
    for low, high in HEIGHT_BINS:
        rows_in = (table[:, 0] >= low) & (table[:, 0] < high)
        print(f"  {low}-{high} px tall: {rows_in.sum()} people, shipped {table[rows_in, 1].mean():.2f}, "
              f"frame-shaped {table[rows_in, 2].mean():.2f}, COCO {table[rows_in, 3].mean():.2f}")


def recalls(best: np.ndarray) -> str:
    """Gun-image recall at 2 % and 5 % of gun-free frames flagged, as `gunwatch bench` counts it."""
    scored = Predictions([Detections([[0, 0, 1, 1]], [score], [0]) for score in best], 0.0)
    return ", ".join(f"{recall_at_fpr(records, scored, fpr)[0]:.2f} at {fpr:.0%}" for fpr in (0.02, 0.05))


def with_people(first: Detections, people: np.ndarray, scores: np.ndarray, person: int,
                replace: bool = False) -> Detections:
    """The first pass's detections with more person boxes (or with them instead of its own people)."""
    keep = first.class_ids != person if replace else np.ones(len(first.scores), bool)
    return Detections(np.concatenate([first.xyxy[keep], np.asarray(people, np.float32).reshape(-1, 4)]),
                      np.concatenate([first.scores[keep], np.asarray(scores, np.float32)]),
                      np.concatenate([first.class_ids[keep], np.full(len(scores), person)]))


def second_look_recalls() -> None:
    crops = load_detector(SHIPPED, threads=2, spinning=False, verifier=VERIFIER)
    person, gun = crops.class_names.index("person"), crops.class_names.index("handgun")
    coco = OnnxYolox.for_reference_coco_model(COCO)
    # (label, first-pass square side or None for frame-shaped input, whose people: "own", "truth" added, or the
    # COCO model's "coco" instead, floor)
    variants = (("frame-shaped (the live default)", None, "own", 0.3),
                ("frame-shaped, true people added", None, "truth", 0.3),
                ("square 416 (the live default before)", 416, "own", 0.3), ("true people added", 416, "truth", 0.3),
                ("first pass at 640", 640, "own", 0.3), ("first pass at 832", 832, "own", 0.3),
                ("people from score 0.1", 416, "own", 0.1), ("people from score 0.05", 416, "own", 0.05),
                ("people from the COCO model instead (one more run)", 416, "coco", 0.3))
    for label, side, people_from, floor in variants:
        first_pass = load_detector(SHIPPED, threads=2, spinning=False, verifier=VERIFIER, input_size=side,
                                   max_input=None if side else LIVE_MAX_INPUT)
        look = SecondLook(crops, 416, SecondLookParams(person_min_score=floor))
        best = []
        for frame, pasted in zip(frames, people, strict=True):
            (first,) = first_pass.detect([frame])
            if people_from == "truth":  # a person-shaped box at the bottom centre of each patch, where they stand
                truth = pasted_person_boxes(pasted)
                first = with_people(first, truth, np.ones(len(truth)), person)
            elif people_from == "coco":
                (theirs,) = coco.detect([frame])
                theirs = theirs.of_class(0)
                first = with_people(first, theirs.xyxy, theirs.scores, person, replace=True)
            seen_side = whole_image_side(first_pass, frame.shape[1], frame.shape[0], side or 416)
            (result,) = look.refine([frame], [first], [seen_side / max(frame.shape[:2])])
            guns = result.of_class(gun)
            best.append(float(guns.scores.max()) if guns.scores.size else 0.0)
        # In runs at 416 px: a larger first pass counts by its pixels, as `gunwatch bench` counts it.
        runs = first_pass.work_run / len(frames) * (side or 416) ** 2 / 416**2 + (people_from == "coco")
        runs += look.model_runs / len(frames)
        print(f"second look, {label}: gun-image recall {recalls(np.array(best))} of gun-free frames flagged; "
              f"{runs:.2f} model runs a frame (of 416 px)")


def contact_sheet(path: Path, armed: int = 8, unarmed: int = 4, side: int = 300) -> None:
    """The live default's detections scoring >= SHOWN (guns red, people blue) and the labelled gun (green)
    around the first pasted person of the first armed and gun-free frames, each cropped to that person."""
    live = load_detector(SHIPPED, threads=2, spinning=False, verifier=VERIFIER, second_look=True,
                         max_input=LIVE_MAX_INPUT)
    chosen = [i for i in range(len(records)) if not gun_free[i]][:armed]
    chosen += [i for i in range(len(records)) if gun_free[i]][:unarmed]
    sheet = Image.new("RGB", (4 * side, side * -(-len(chosen) // 4)), (255, 255, 255))
    for k, i in enumerate(chosen):
        (found,) = live.detect([frames[i]])
        shown = draw_detections(frames[i], found.above(SHOWN), live.class_names)
        picture = Image.fromarray(shown)
        draw = ImageDraw.Draw(picture)
        for x1, y1, x2, y2 in records[i].gun_boxes.tolist():  # a little outside the box, so red stays visible
            draw.rectangle((x1 - 4, y1 - 4, x2 + 4, y2 + 4), outline=(0, 200, 0), width=3)
        x1, y1, x2, y2 = people[i][0]["patch"]
        pad = 0.15 * max(x2 - x1, y2 - y1)
        width, height = FRAME_SIZE
        picture = picture.crop((max(0, x1 - pad), max(0, y1 - pad), min(width, x2 + pad), min(height, y2 + pad)))
        picture = ImageOps.contain(picture, (side, side))
        sheet.paste(picture, ((k % 4) * side, (k // 4) * side))
    sheet.save(path, quality=80)
    print(f"contact sheet: {path}")


person_rates()
second_look_recalls()
contact_sheet(Path("runs/armed-people-live-default.jpg"))
