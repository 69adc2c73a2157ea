"""build_report on hand-made records and predictions: every number of the report checked by hand."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.report import REPORT_KEYS, EvalReport, build_report, format_report
from gunwatch.evaluation.runner import Predictions
from gunwatch.inference.detections import Detections
from gunwatch.metrics.intervals import proportion_interval

# The documented `gunwatch eval --json` keys, in order.
DOCUMENTED_KEYS = [
    "images", "map50", "map50_95", "ap_small", "ap_medium", "ap_large", "precision", "recall", "f1",
    "image_recall", "image_fpr", "fp_per_negative_image", "mean_iou", "ms_per_image", "threshold",
]  # fmt: skip


def record(name: str, boxes: list[list[float]], origin: str | None) -> ImageRecord:
    return ImageRecord(Path(name), 100, 100, boxes, (GUN_LABEL,) * len(boxes), origin)


def dets(*pairs: tuple[list[float], float]) -> Detections:
    return Detections([box for box, _ in pairs], [score for _, score in pairs], [0] * len(pairs))


def mixed_case() -> tuple[list[ImageRecord], Predictions]:
    records = [
        record("1.jpg", [[10, 10, 50, 50]], "web"),  # gun, 1600 px: medium
        record("2.jpg", [[0, 0, 20, 20]], "web"),  # gun, 400 px: small
        record("3.jpg", [], "cctv"),
        record("4.jpg", [], "cctv"),
        record("5.jpg", [], "web"),
        record("6.jpg", [], None),
    ]
    predictions = [
        dets(([10, 10, 50, 40], 0.9), ([60, 60, 90, 90], 0.6)),  # IoU 0.75: a hit; and a false positive
        dets(([0, 0, 20, 10], 0.3)),  # IoU 0.5 but under the threshold: a miss at the operating point
        dets(([5, 5, 25, 25], 0.7), ([30, 30, 40, 40], 0.55)),  # two false alarms on a gun-free image
        dets(([0, 0, 10, 10], 0.4)),  # under the threshold: not flagged
        dets(),
        dets(([0, 0, 5, 5], 0.5)),  # exactly the threshold: flagged
    ]
    return records, Predictions(predictions, ms_per_image=12.5)


def test_operating_point_numbers_at_the_threshold() -> None:
    records, predictions = mixed_case()
    report, _ = build_report(records, predictions, threshold=0.5)
    # TP 1, FP 1 + 2 + 1 = 4, FN 1.
    assert report.images == 6
    assert report.precision == pytest.approx(1 / 5, abs=1e-12)
    assert report.recall == 0.5
    assert report.f1 == pytest.approx(2 / 7, abs=1e-12)
    assert report.image_recall == 0.5  # 1.jpg flagged, 2.jpg not
    assert report.image_fpr == 0.5  # 3.jpg and 6.jpg of four gun-free images
    assert report.fp_per_negative_image == 0.75  # 3 passing boxes on four gun-free images
    # Every prediction counts for the mean IoU, threshold or not: (0.75 + 0.5) / 2.
    assert report.mean_iou == pytest.approx(0.625, abs=1e-12)
    assert (report.ms_per_image, report.threshold) == (12.5, 0.5)
    # Right about 1.jpg, 4.jpg and 5.jpg; wrong about 2.jpg, 3.jpg and 6.jpg.
    assert report.image_accuracy == 0.5
    assert report.image_fpr_by_origin == {"cctv": 0.5, "unknown": 1.0, "web": 0.0}
    assert list(report.image_fpr_by_origin) == ["cctv", "unknown", "web"]
    assert 0 < report.map50 < 1


def test_gun_image_recall_at_each_share_of_gun_free_images_flagged_needs_no_threshold() -> None:
    # 100 gun-free images, five of them scoring .99 down to .95, and five gun images between and below them.
    free_tops = [0.99, 0.98, 0.97, 0.96, 0.95] + [0.1] * 95
    gun_tops = [0.995, 0.985, 0.975, 0.965, 0.5]
    records = [record(f"g{i}.jpg", [[0, 0, 20, 20]], "web") for i in range(5)]
    records += [record(f"f{i}.jpg", [], "web") for i in range(100)]
    predictions = Predictions([dets(([0, 0, 20, 20], top)) for top in gun_tops]
                              + [dets(([50, 50, 70, 70], top)) for top in free_tops], ms_per_image=1.0)
    for threshold in (0.2, 0.9):  # the model's own threshold does not move them
        report, _ = build_report(records, predictions, threshold)
        # 1 %: one gun-free image may alarm (.99), so the bar is just above .98; 5 %: all five high ones may.
        assert report.image_recall_at_fpr == {"0.01": 2 / 5, "0.02": 3 / 5, "0.03": 4 / 5, "0.05": 1.0}
    assert json.loads(json.dumps(report.to_json_dict()))["image_recall_at_fpr"]["0.02"] == 3 / 5
    assert "gun-image recall at <= 1 / 2 / 3 / 5 % gun-free flagged  0.400 / 0.600 / 0.800 / 1.000" in \
        format_report(report, "t")


def test_the_report_carries_95_percent_intervals_around_its_numbers() -> None:
    # 40 gun images and 60 gun-free ones with overlapping scores: no number is certain from 100 images.
    rng = np.random.default_rng(3)
    records = [record(f"g{i}.jpg", [[0, 0, 20, 20]], "web") for i in range(40)]
    records += [record(f"f{i}.jpg", [], "web") for i in range(60)]
    predictions = Predictions([dets(([0, 0, 20, 20], s)) for s in rng.uniform(0.3, 1.0, 40)]
                              + [dets(([50, 50, 70, 70], s)) for s in rng.uniform(0.0, 0.7, 60)], ms_per_image=1.0)
    report, _ = build_report(records, predictions, threshold=0.6)
    spans = report.intervals
    low, high = spans["map50"]
    assert low < report.map50 < high and high - low > 0.05
    for share, (low, high) in spans["image_recall_at_fpr"].items():
        assert low <= report.image_recall_at_fpr[share] <= high
    flagged_guns = round(report.image_recall * 40)
    assert spans["image_recall"] == pytest.approx(list(proportion_interval(flagged_guns, 40)), abs=1e-4)
    assert spans["image_fpr"][0] < report.image_fpr < spans["image_fpr"][1]
    # Seeded: the same predictions give the same intervals; without draws, none.
    assert build_report(records, predictions, threshold=0.6)[0].intervals == spans
    assert build_report(records, predictions, threshold=0.6, draws=0)[0].intervals == {}
    text = format_report(report, "t")
    (map_line,) = [line for line in text.splitlines() if line.split()[0] == "mAP@0.5"]
    assert map_line.endswith(f"{report.map50:.3f}  ({spans['map50'][0]:.3f}-{spans['map50'][1]:.3f})")
    assert "95 % intervals" in text and json.dumps(report.to_json_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.2, {"precision": 2 / 7, "recall": 1.0, "image_fpr": 0.75, "fp_per_negative_image": 1.0}),
        (0.65, {"precision": 0.5, "recall": 0.5, "image_fpr": 0.25, "fp_per_negative_image": 0.25}),
        (0.95, {"precision": math.nan, "recall": 0.0, "image_fpr": 0.0, "fp_per_negative_image": 0.0}),
    ],
)
def test_other_thresholds(threshold: float, expected: dict[str, float]) -> None:
    records, predictions = mixed_case()
    report, _ = build_report(records, predictions, threshold)
    got = {key: getattr(report, key) for key in expected}
    assert got == pytest.approx(expected, abs=1e-12, nan_ok=True)
    assert report.mean_iou == pytest.approx(0.625, abs=1e-12)  # independent of the threshold


def test_perfect_predictions() -> None:
    records = [
        record("1.jpg", [[10, 10, 50, 50]], "web"),
        record("2.jpg", [[0, 0, 20, 20], [60, 60, 90, 95]], "web"),
        record("3.jpg", [], "cctv"),
    ]
    predictions = Predictions(
        [dets(([10, 10, 50, 50], 0.9)), dets(([0, 0, 20, 20], 0.8), ([60, 60, 90, 95], 0.7)), dets()], 1.0
    )
    report, coco = build_report(records, predictions, threshold=0.5)
    assert report.map50 == 1.0
    # pycocotools averages over IoU thresholds and size bins: 1.0 up to float rounding.
    assert (report.map50_95, report.ap_small, report.ap_medium) == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)
    assert math.isnan(report.ap_large)  # no large gun: undefined, not 0
    assert (report.precision, report.recall, report.f1, report.image_recall) == (1.0, 1.0, 1.0, 1.0)
    assert (report.image_fpr, report.fp_per_negative_image, report.mean_iou) == (0.0, 0.0, 1.0)
    assert report.image_fpr_by_origin == {"cctv": 0.0}
    np.testing.assert_array_equal(coco.precision_curve, np.ones(101))


def test_to_json_dict_turns_nan_into_none() -> None:
    records = [record("1.jpg", [[10, 10, 50, 50]], "web"), record("2.jpg", [], None)]
    report, _ = build_report(records, Predictions([dets(), dets()], 3.0), threshold=0.5)
    payload = report.to_json_dict()
    assert list(payload) == [*REPORT_KEYS, "image_accuracy", "image_fpr_by_origin", "image_recall_at_fpr",
                             "intervals"]
    assert payload["precision"] is None  # nothing predicted
    assert (payload["ap_small"], payload["ap_large"]) == (None, None)
    assert (payload["ap_medium"], payload["map50"], payload["recall"], payload["f1"]) == (0.0, 0.0, 0.0, 0.0)
    assert (payload["image_fpr"], payload["mean_iou"], payload["images"]) == (0.0, 0.0, 2)
    assert payload["image_fpr_by_origin"] == {"unknown": 0.0}
    assert payload["image_recall_at_fpr"] == {"0.01": 0.0, "0.02": 0.0, "0.03": 0.0, "0.05": 0.0}
    json.dumps(payload, allow_nan=False)  # strict JSON


def test_to_json_dict_cleans_nested_values() -> None:
    report = EvalReport(
        *([math.nan] * len(REPORT_KEYS)), image_accuracy=math.nan, image_fpr_by_origin={"cctv": math.nan, "web": 0.5},
        image_recall_at_fpr={"0.02": math.nan},
    )
    payload = report.to_json_dict()
    assert payload == {
        **dict.fromkeys(REPORT_KEYS), "image_accuracy": None, "image_fpr_by_origin": {"cctv": None, "web": 0.5},
        "image_recall_at_fpr": {"0.02": None}, "intervals": {},
    }


def test_report_keys_are_the_documented_ones_in_order() -> None:
    assert list(REPORT_KEYS) == DOCUMENTED_KEYS
    fields = [f.name for f in dataclasses.fields(EvalReport)]
    assert fields == [*DOCUMENTED_KEYS, "image_accuracy", "image_fpr_by_origin", "image_recall_at_fpr", "intervals"]


def test_format_report_shows_undefined_numbers_as_na() -> None:
    records = [record("1.jpg", [[10, 10, 50, 50]], "web"), record("2.jpg", [], "cctv")]
    report, _ = build_report(records, Predictions([dets(), dets(([1, 1, 9, 9], 0.9))], 3.0), threshold=0.5)
    text = format_report(report, "tiny on all 2 images")
    lines = text.splitlines()
    assert lines[0] == "tiny on all 2 images"
    ap_row = ["AP", "small", "/", "medium", "/", "large", "n/a", "/", "0.000", "/", "n/a"]
    assert any(line.split() == ap_row for line in lines)
    assert any(line.split() == ["of", "origin", "cctv", "1.000"] for line in lines)


def test_the_eval_commands_default_draws_are_the_bootstraps() -> None:
    import inspect

    from gunwatch.cli import eval_command, eval_photos_command
    from gunwatch.metrics.bootstrap import DRAWS

    for command in (eval_command, eval_photos_command):
        assert inspect.signature(command).parameters["draws"].default == DRAWS
