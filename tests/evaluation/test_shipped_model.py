"""The shipped model: it loads through the runtime, and its published numbers are what `gunwatch eval` measures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gunwatch.evaluation.evaluate import evaluate
from gunwatch.evaluation.report import REPORT_KEYS
from gunwatch.inference.loading import SHIPPED_MODEL, load_detector

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "models" / "gunwatch-localizer.eval.json"
SAMPLE = REPO / "samples" / "pistol-sample"
SPLIT_FILE = REPO / "splits" / "pistoldata_merged.json"
# Only timing may differ between runs; everything else is deterministic up to float rounding across CPUs.
UNTIMED_KEYS = [key for key in REPORT_KEYS if key != "ms_per_image"]


def test_shipped_model_carries_its_threshold_and_finds_guns_in_the_sample() -> None:
    detector = load_detector(SHIPPED_MODEL)
    assert 0.0 < detector.threshold < 1.0
    report = evaluate(detector, SAMPLE, split="all", progress=False).report
    assert report.images == 32
    # A broken or untrained model flags nothing at the shipped threshold (about 0.998) or flags everything.
    assert report.image_recall >= 0.75
    assert report.image_fpr == 0.0
    assert report.map50 >= 0.3


@pytest.mark.slow
def test_published_test_split_numbers_are_reproduced(pistol_data: Path) -> None:
    published = json.loads(PUBLISHED.read_text())
    report = evaluate(load_detector(SHIPPED_MODEL), pistol_data, "test", SPLIT_FILE, progress=False).report
    measured = report.to_json_dict()
    for key in UNTIMED_KEYS:
        assert measured[key] == pytest.approx(published[key], abs=2e-3), key
