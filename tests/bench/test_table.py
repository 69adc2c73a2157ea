"""The benchmark table: accuracy from the eval code, speed against the COCO reference at the same size."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gunwatch.bench.table import (
    BenchCase,
    bench_case,
    default_cases,
    format_bench_table,
    recall_at_5_interval,
    recall_at_fpr,
)
from gunwatch.checksums import sha256_of
from gunwatch.cli import app
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.runner import Predictions
from gunwatch.inference.detections import Detections
from gunwatch.inference.quantize import quantize_yolox
from support.verifier_graph import write_redness_verifier
from support.yolox_graph import yolox_graph

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "pistol-sample"


def test_a_row_for_a_tiled_yolox_model(tiny_detector_onnx: Path, coco_weights: Path) -> None:
    case = BenchCase(tiny_detector_onnx, 96, "on", SAMPLE, "all", "sample")
    row = bench_case(case, coco_weights, runs=2, progress=False)
    assert row.model == "tiny-nano" and row.input == "96 tiled" and row.images == 32
    assert 0 <= row.map50 <= 1 and 0 <= row.recall <= 1 and 0 <= row.image_fpr <= 1
    assert row.threshold == pytest.approx(0.4)
    assert row.ms_1_thread > 0 and row.reference_ms_1_thread > 0 and row.ratio_all_cores > 0
    assert row.runs_per_frame > 4  # the sample's photos (up to 640 px) in 96 px tiles, plus the whole frame
    table = format_bench_table([row], "yolox_nano_coco")
    assert "tiny-nano" in table and "x ref" in table.splitlines()[0]


def test_plain_and_second_look_rows_count_their_model_runs(tiny_detector_onnx: Path, coco_weights: Path) -> None:
    plain = bench_case(BenchCase(tiny_detector_onnx, 96, "off", SAMPLE, "all", "sample"), coco_weights, runs=2,
                       progress=False)
    looked = bench_case(BenchCase(tiny_detector_onnx, 96, "off", SAMPLE, "all", "sample", second_look=True),
                        coco_weights, runs=2, progress=False)
    assert plain.runs_per_frame == 1.0 and plain.input == "96"
    assert looked.runs_per_frame >= 1.0 and looked.input == "96 2nd look"
    header, _, *rows = format_bench_table([plain, looked], "yolox_nano_coco").splitlines()
    assert "runs" in header.split()
    assert rows[0].split()[10] == "1.00" and rows[1].split()[12] == f"{looked.runs_per_frame:.2f}"


def test_an_int8_model_is_timed_against_its_fp32_source(coco_weights: Path, tmp_path: Path) -> None:
    fp32 = yolox_graph(tmp_path / "tiny-yolox.onnx", input_size=64)
    calibration = sorted((SAMPLE / "pistol_images").glob("*.jpg"))[:4]
    int8 = quantize_yolox(fp32, calibration, tmp_path / "tiny-yolox-int8.onnx")
    (tmp_path / "small-guns" / "pistol_images").mkdir(parents=True)  # present: not rebuilt from a test split
    cases = default_cases([fp32, int8], SAMPLE, [64], tmp_path / "small-guns")
    assert [(c.model.stem, c.tiles, c.fp32, c.second_look) for c in cases] == [
        ("tiny-yolox", "off", None, False), ("tiny-yolox", "off", None, False), ("tiny-yolox", "on", None, False),
        ("tiny-yolox", "off", None, True), ("tiny-yolox", "off", None, True),
        ("tiny-yolox-int8", "off", fp32, False), ("tiny-yolox-int8", "off", fp32, False),
        ("tiny-yolox-int8", "on", fp32, False),
    ]
    row = bench_case(BenchCase(int8, 64, "off", SAMPLE, "all", "sample", fp32=fp32), coco_weights, runs=2,
                     progress=False)
    assert row.fp32_ms_1_thread is not None and row.fp32_ms_1_thread > 0 and row.fp32_ms_all_cores is not None
    assert row.ratio_fp32_1_thread == pytest.approx(row.ms_1_thread / row.fp32_ms_1_thread)
    assert row.to_json_dict()["ratio_fp32_all_cores"] == row.ratio_fp32_all_cores
    plain = bench_case(BenchCase(fp32, 64, "off", SAMPLE, "all", "sample"), coco_weights, runs=2, progress=False)
    assert plain.ratio_fp32_1_thread is None
    lines = format_bench_table([plain, row], "yolox_nano_coco").splitlines()
    assert "x fp32 1t" in lines[0]
    assert lines[2].split()[-2:] == ["-", "-"]
    assert lines[3].split()[-2:] == [f"{row.ratio_fp32_1_thread:.2f}", f"{row.ratio_fp32_all_cores:.2f}"]


def test_cli_prints_the_table_and_json(tiny_localizer_onnx: Path, coco_weights: Path) -> None:
    args = ["bench", "--model", str(tiny_localizer_onnx), "--data", str(SAMPLE), "--reference", str(coco_weights),
            "--runs", "2", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["model"] == "tiny-localizer" and row["input"] == "64" and row["data"] == "pistol-sample"
    assert row["images"] == 32
    assert {"map50", "map50_95", "recall", "image_fpr", "fp_per_negative_image", "ms_1_thread",
            "reference_ms_all_cores"} <= set(row)
    assert "tiny-localizer" in result.stderr


def test_missing_reference_is_a_clear_error(tiny_localizer_onnx: Path, tmp_path: Path) -> None:
    args = ["bench", "--model", str(tiny_localizer_onnx), "--data", str(SAMPLE), "--reference",
            str(tmp_path / "none.onnx"), "--runs", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"{tmp_path / 'none.onnx'}: reference model file not found" in result.stderr


def test_a_verified_row_counts_the_crops_its_verifier_judged(tiny_detector_onnx: Path, coco_weights: Path,
                                                             tmp_path: Path) -> None:
    verifier = write_redness_verifier(tmp_path / "verifier.onnx", sha256_of(tiny_detector_onnx),
                                      **{"gunwatch.floor": "0.0001", "gunwatch.top_k": "2"})
    row = bench_case(BenchCase(tiny_detector_onnx, 96, "off", SAMPLE, "all", "sample", second_look=True,
                               verifier=str(verifier)), coco_weights, runs=2, progress=False)
    assert row.input == "96 2nd look +verifier"
    assert 0 < row.crops_per_frame <= 2 * row.runs_per_frame  # at most top_k per detector run
    header, _, *rows = format_bench_table([row], "yolox_nano_coco").splitlines()
    assert rows[0].split()[header.split().index("crops") + 3] == f"{row.crops_per_frame:.2f}"


def test_an_int8_verifiers_row_times_the_same_pipeline_with_its_fp32_source(
        tiny_detector_onnx: Path, coco_weights: Path, tmp_path: Path) -> None:
    import numpy as np

    from gunwatch.inference.quantize import quantize_verifier
    from support.verifier_graph import write_conv_verifier

    fp32 = write_conv_verifier(tmp_path / "verifier.onnx", sha256_of(tiny_detector_onnx),
                               **{"gunwatch.floor": "0.0001", "gunwatch.top_k": "2"})
    crops = np.random.default_rng(0).integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
    int8 = quantize_verifier(fp32, crops, tmp_path / "verifier-int8.onnx")
    row = bench_case(BenchCase(tiny_detector_onnx, 96, "off", SAMPLE, "all", "sample", second_look=True,
                               verifier=str(int8)), coco_weights, runs=2, progress=False)
    assert row.input == "96 2nd look +verifier int8" and row.crops_per_frame > 0
    assert row.fp32_ms_1_thread is not None and row.fp32_ms_all_cores is not None


def test_armed_people_rows_compare_first_pass_tiles_and_second_look(tmp_path: Path) -> None:
    detector = yolox_graph(tmp_path / "tiny-yolox.onnx", input_size=64)
    (tmp_path / "small-guns" / "pistol_images").mkdir(parents=True)
    (tmp_path / "armed" / "pistol_images").mkdir(parents=True)  # present: not rebuilt
    cases = default_cases([detector], SAMPLE, [64], tmp_path / "small-guns", tmp_path / "armed")
    armed = [(c.tiles, c.second_look, c.verifier, c.max_input) for c in cases if c.data == tmp_path / "armed"]
    # Frame-shaped as live; the last row is the live default with every frame in the square input, as before.
    assert armed == [("off", False, "none", 640), ("on", False, "none", 640), ("off", True, "none", 640),
                     ("off", True, "none", None)]
    assert all(c.data_label == "armed people 1080p" and c.split == "all" for c in cases if c.data == tmp_path / "armed")
    # The network at each square size on the test split; every 1080p row frame-shaped.
    assert [c.max_input for c in cases if c.data == SAMPLE and not c.second_look] == [None]
    assert {c.max_input for c in cases if c.data == tmp_path / "small-guns"} == {640}


def test_an_armed_people_set_that_cannot_be_built_says_why(tmp_path: Path) -> None:
    detector = yolox_graph(tmp_path / "tiny-yolox.onnx", input_size=64)
    (tmp_path / "small-guns" / "pistol_images").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"armed: no armed-people set there and no person model"):
        default_cases([detector], SAMPLE, [64], tmp_path / "small-guns", tmp_path / "armed")
    with pytest.raises(ValueError, match=r"none\.onnx: the person model .* is not there"):
        default_cases([detector], SAMPLE, [64], tmp_path / "small-guns", tmp_path / "armed", tmp_path / "none.onnx")


def test_cli_builds_the_armed_people_set_with_the_coco_model(coco_weights: Path, tmp_path: Path) -> None:
    args = ["data", "armed-people", "--data", str(SAMPLE), "--split", "all", "--people-model", str(coco_weights),
            "--frames", "2", "--out", str(tmp_path / "armed")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    manifest = (tmp_path / "armed" / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["origin"] for line in manifest] == ["armed-people"] * 2 + ["unarmed-people"] * 2
    missing = CliRunner().invoke(app, [*args[:6], "--people-model", str(tmp_path / "none.onnx")])
    assert missing.exit_code == 2 and "none.onnx: the person model" in missing.stderr


def record(name: str, gun: bool) -> ImageRecord:
    boxes = np.array([[1, 1, 5, 5]], np.float32) if gun else np.zeros((0, 4), np.float32)
    return ImageRecord(Path(name), 10, 10, boxes, ("handgun",) * len(boxes))


def scored(*tops: float | None) -> Predictions:
    return Predictions([Detections() if top is None else Detections([[0, 0, 4, 4]], [top], [0]) for top in tops], 0.0)


def test_recall_at_two_percent_counts_gun_images_above_the_score_that_passes_one_in_fifty_gun_free() -> None:
    free = [record(f"free{i}", False) for i in range(100)]
    guns = [record(f"gun{i}", True) for i in range(4)]
    free_scores = [0.9, 0.8, 0.7] + [0.1] * 97  # two may pass at 2 % of 100: the line is the third, 0.7
    recall, threshold = recall_at_fpr([*free, *guns], scored(*free_scores, 0.95, 0.75, 0.7, None), 0.02)
    assert threshold > np.float32(0.7) and threshold == pytest.approx(0.7)  # the lowest that keeps 0.7 out
    assert recall == 0.5  # 0.95 and 0.75 pass; 0.7 does not (it ties the gun-free line); no detection does not


def test_the_recall_at_five_percent_comes_with_its_interval() -> None:
    free = [record(f"free{i}", False) for i in range(60)]
    guns = [record(f"gun{i}", True) for i in range(40)]
    rng = np.random.default_rng(0)
    predictions = scored(*rng.uniform(0.0, 0.7, 60), *rng.uniform(0.3, 1.0, 40))
    recall, _ = recall_at_fpr([*free, *guns], predictions, 0.05)
    interval = recall_at_5_interval([*free, *guns], predictions)
    assert interval.low < recall < interval.high
    assert math.isnan(recall_at_5_interval(guns, scored(*rng.uniform(0, 1, 40))).low)  # no gun-free image
