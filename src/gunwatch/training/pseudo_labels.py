"""Person boxes for the training images, found by the COCO YOLOX-Nano itself.

The data set labels only handguns. Fine-tuning on it alone would teach the network that people are
background and erase the COCO `person` class; labelling the people it already sees keeps the class alive
(the detector reports people and guns). Results are cached in a JSON file next to the run, keyed by image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch.checksums import sha256_of
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.onnx_yolox import OnnxYolox

COCO_PERSON = 0


def person_boxes(
    records: list[ImageRecord], reference_model: Path, min_score: float, cache: Path | None = None
) -> dict[str, np.ndarray]:
    """Record key -> (K, 4) xyxy person boxes in the record's pixels, scored >= min_score by the COCO model.

    The cache is used only when it was made by the same model file, score floor and image folder.
    """
    folders = sorted({str(r.image_path.parent.resolve()) for r in records})
    header = {"model_sha256": sha256_of(reference_model), "min_score": min_score, "image_folders": folders}
    known: dict[str, list[list[float]]] = {}
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("header") == header:
            known = stored["boxes"]
    missing = [r for r in records if r.key not in known]
    if missing:
        detector = OnnxYolox.for_reference_coco_model(reference_model)
        for record in tqdm(missing, desc="labelling people (COCO YOLOX-Nano)", unit="img"):
            (found,) = detector.detect([load_rgb(record.image_path)])
            people = found.of_class(COCO_PERSON).above(min_score)
            known[record.key] = np.round(people.xyxy, 1).tolist()
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"header": header, "boxes": known}))
    return {r.key: np.asarray(known[r.key], np.float32).reshape(-1, 4) for r in records}
