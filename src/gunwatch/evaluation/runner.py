"""Run a detector over records, one image at a time, timing the model the way a camera feeds it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.base import Detector
from gunwatch.inference.detections import Detections


@dataclass(frozen=True)
class Predictions:
    detections: list[Detections]  # gun detections per record, in record order, every score kept
    ms_per_image: float  # preprocess + inference + postprocess; decoding the file is not counted


def predict_guns(detector: Detector, records: list[ImageRecord], progress: bool = True) -> Predictions:
    gun_class = detector.class_names.index(GUN_LABEL)
    detections: list[Detections] = []
    elapsed = 0.0
    for record in tqdm(records, desc=f"evaluating {detector.name}", unit="img", disable=not progress):
        image = load_rgb(record.image_path)
        start = time.perf_counter()
        (result,) = detector.detect([image])
        elapsed += time.perf_counter() - start
        detections.append(result.of_class(gun_class))
    return Predictions(detections, 1000 * elapsed / max(len(records), 1))
