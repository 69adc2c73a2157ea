"""Choose a model's operating threshold on the validation split: the most recall a false-alarm budget allows."""

from __future__ import annotations

from pathlib import Path

from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import sample_records, select_records
from gunwatch.inference.loading import load_detector
from gunwatch.metrics.operating import threshold_for_image_fpr


def calibrate_threshold(model: Path, data: Path, split_file: Path, split: str, max_image_fpr: float,
                        max_images: int | None = None, verifier: Path | None = None) -> float:
    """The lowest threshold at which at most max_image_fpr of the split's gun-free images are flagged;
    `max_images`: on a fixed sample of the split (a detector that takes seconds per image); `verifier`: the
    threshold of the detector's scores combined with this gun verifier's."""
    records = sample_records(select_records(data, split, split_file).records, max_images)
    predictions = predict_guns(load_detector(model, verifier=verifier), records)
    negatives = [not record.has_gun for record in records]
    return threshold_for_image_fpr(predictions.detections, negatives, max_image_fpr)
