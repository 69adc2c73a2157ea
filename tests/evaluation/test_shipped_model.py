"""The shipped models: they load through the runtime, and their published numbers are what `gunwatch eval` measures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.evaluation.report import REPORT_KEYS
from gunwatch.inference.loading import (
    SHIPPED_DETECTOR,
    SHIPPED_LOCALIZER,
    SHIPPED_MODEL,
    SHIPPED_VERIFIER,
    SHIPPED_VERIFIER_INT8,
    int8_copy_of,
    load_detector,
    resolve_verifier,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "pistol-sample"
SPLIT_FILE = REPO / "splits" / "pistoldata_merged.json"
SHIPPED = [SHIPPED_DETECTOR, SHIPPED_LOCALIZER]
# Only timing may differ between runs; everything else is deterministic up to float rounding across CPUs.
UNTIMED_KEYS = [key for key in REPORT_KEYS if key != "ms_per_image"]


def test_the_detector_is_the_default() -> None:
    assert SHIPPED_MODEL == SHIPPED_DETECTOR
    assert load_detector().class_names == ("person", "handgun")


@pytest.mark.parametrize("model", SHIPPED, ids=lambda p: p.stem)
def test_shipped_model_carries_its_threshold_and_finds_guns_in_the_sample(model: Path) -> None:
    detector = load_detector(model)
    assert 0.0 < detector.threshold < 1.0
    report = evaluate(detector, SAMPLE, split="all", progress=False).report
    assert report.images == 32
    # A broken or untrained model flags nothing at its shipped threshold, or flags everything.
    assert report.image_recall >= 0.5
    assert report.image_fpr == 0.0
    assert report.map50 >= 0.3


@pytest.mark.slow
@pytest.mark.parametrize("model", SHIPPED, ids=lambda p: p.stem)
def test_published_test_split_numbers_are_reproduced(pistol_data: Path, model: Path) -> None:
    published = json.loads(model.with_suffix(".eval.json").read_text())
    # As `gunwatch eval` loads it: frame-shaped input (the localizer keeps its own).
    report = evaluate(load_detector(model, max_input=LIVE_MAX_INPUT), pistol_data, "test", SPLIT_FILE,
                      progress=False).report
    assert_published(report.to_json_dict(), published)


def test_the_shipped_verifier_pairs_with_the_shipped_detector_and_finds_guns_in_the_sample() -> None:
    # What runs is its INT8 copy, made from it as it is (README, "INT8": within 0.01 mAP@0.5 on test).
    assert int8_copy_of(SHIPPED_VERIFIER_INT8, SHIPPED_VERIFIER)
    assert resolve_verifier("auto", SHIPPED_DETECTOR) == SHIPPED_VERIFIER_INT8
    assert resolve_verifier("auto", SHIPPED_LOCALIZER) is None  # calibrated with the detector only
    detector = load_detector(SHIPPED_DETECTOR, verifier="auto")
    assert detector.name == "gunwatch-nano+verifier" and 0.0 < detector.threshold < 1.0
    report = evaluate(detector, SAMPLE, split="all", progress=False).report
    assert report.image_recall >= 0.5 and report.image_fpr == 0.0 and report.map50 >= 0.3


@pytest.mark.slow
@pytest.mark.parametrize("verifier", [SHIPPED_VERIFIER, SHIPPED_VERIFIER_INT8], ids=["fp32", "int8"])
def test_the_verified_detectors_published_numbers_are_reproduced(pistol_data: Path, verifier: Path) -> None:
    published = json.loads(verifier.with_suffix(".eval.json").read_text())
    detector = load_detector(SHIPPED_DETECTOR, verifier=verifier, max_input=LIVE_MAX_INPUT)
    assert_published(evaluate(detector, pistol_data, "test", SPLIT_FILE, progress=False).report.to_json_dict(),
                     published)


def assert_published(measured: dict, published: dict) -> None:
    for key in UNTIMED_KEYS:
        assert measured[key] == pytest.approx(published[key], abs=2e-3), key
    # The targets as stated: gun-image recall at <= 1 / 2 / 3 / 5 % of gun-free test images flagged.
    assert measured["image_recall_at_fpr"] == pytest.approx(published["image_recall_at_fpr"], abs=2e-3)
    # Their 95 % intervals (a seeded bootstrap over the test images): a score rounded differently on another
    # CPU may move a percentile by an image or so.
    spans, published_spans = measured["intervals"], published["intervals"]
    assert spans["map50"] == pytest.approx(published_spans["map50"], abs=5e-3)
    for share, interval in published_spans["image_recall_at_fpr"].items():
        assert spans["image_recall_at_fpr"][share] == pytest.approx(interval, abs=1e-2), share
    for key in ("image_recall", "image_fpr"):
        assert spans[key] == pytest.approx(published_spans[key], abs=1e-2), key
