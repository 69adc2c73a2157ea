"""`gunwatch quantize`'s choices: calibration images from train, the method and the threshold from val."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.data.images import load_rgb
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import make_split
from gunwatch.evaluation.calibrate import calibrate_threshold
from gunwatch.evaluation.int8_build import (
    MAX_VAL_IMAGE_FPR,
    Candidate,
    Int8Build,
    build_int8_model,
    calibration_images,
    format_int8_build,
)
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector
from gunwatch.inference.onnx_session import ModelError
from gunwatch.inference.quantize import source_metadata
from support.yolox_graph import yolox_graph

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "pistol-sample"


@pytest.fixture(scope="module")
def sample_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 32 sample images split 50 / 40 / 10 (the sample has no split file of its own)."""
    path = tmp_path_factory.mktemp("split") / "sample.json"
    split = make_split(read_dataset(SAMPLE).records, {"train": 0.5, "val": 0.4, "test": 0.1}, seed=0)
    path.write_text(split.to_json("pistol-sample"))
    return path


@pytest.fixture(scope="module")
def fp32_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return yolox_graph(tmp_path_factory.mktemp("fp32") / "tiny-yolox.onnx", input_size=64)


def test_calibration_images_are_a_seeded_draw_from_train(sample_split: Path) -> None:
    train = {record.image_path for record in select_records(SAMPLE, "train", sample_split).records}
    first = calibration_images(SAMPLE, sample_split, 5, seed=0)
    assert len(first) == 5 and set(first) <= train
    assert calibration_images(SAMPLE, sample_split, 5, seed=0) == first
    assert calibration_images(SAMPLE, sample_split, 5, seed=1) != first
    assert sorted(calibration_images(SAMPLE, sample_split, 1000, seed=0)) == sorted(train)  # capped at the split


def test_the_best_method_on_val_is_kept_with_a_val_threshold(fp32_model: Path, sample_split: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "int8.onnx"
    build = build_int8_model(fp32_model, SAMPLE, out, sample_split, images=4, methods=("minmax", "percentile"),
                             progress=False)
    assert [c.method for c in build.candidates] == ["minmax", "percentile"]
    assert build.method == max(build.candidates, key=lambda c: c.val_map50).method
    assert 0 <= build.fp32_val_map50 <= 1
    metadata = source_metadata(out)
    assert metadata["gunwatch.precision"] == "int8"
    assert f"{build.method} calibration on 4 images (4 train-split images drawn with seed 0)" in (
        metadata["gunwatch.quantization"])
    # The threshold is the FP32 rule applied to the INT8 model on val, stored with every digit.
    assert metadata["gunwatch.threshold"] == repr(build.threshold)
    assert load_detector(out).threshold == build.threshold
    assert calibrate_threshold(out, SAMPLE, sample_split, "val", MAX_VAL_IMAGE_FPR) == build.threshold


def test_the_report_names_the_kept_method_and_the_budget() -> None:
    candidates = [Candidate("minmax", 0.70), Candidate("entropy", 0.73)]
    build = Int8Build(Path("m-int8.onnx"), "entropy", 0.61, 0.83, candidates, 200)
    text = format_int8_build(build)
    assert "INT8, entropy" in text and "<- kept" in text.splitlines()[3]
    assert "-0.100" in text and "not worth shipping" in text
    assert build.to_json_dict()["within_budget"] is False
    close = Int8Build(Path("m-int8.onnx"), "minmax", 0.61, 0.83, [Candidate("minmax", 0.825)], 200)
    assert close.within_budget and "not worth shipping" not in format_int8_build(close)


def test_a_verifier_is_calibrated_on_the_crops_the_live_pipeline_cuts_and_judged_with_its_detector(
        fp32_model: Path, sample_split: Path, tmp_path: Path) -> None:
    import shutil

    from gunwatch.checksums import sha256_of
    from gunwatch.evaluation.int8_build import build_int8_verifier, live_verifier_crops, paired_detector
    from gunwatch.inference.verifier import OnnxGunVerifier
    from support.verifier_graph import write_conv_verifier

    detector = tmp_path / "detector.onnx"
    shutil.copyfile(fp32_model, detector)
    verifier = write_conv_verifier(tmp_path / "verifier.onnx", sha256_of(detector), **{
        "gunwatch.detector": detector.name})
    assert paired_detector(verifier) == detector
    images = calibration_images(SAMPLE, sample_split, 4, seed=0)
    crops = live_verifier_crops(detector, verifier, images, progress=False)
    judged = OnnxGunVerifier.load(verifier)
    live = load_detector(detector, verifier=verifier, second_look=True, max_input=640)
    live.look.detector.verifier = judged
    for path in images:
        live.detect([load_rgb(path)])
    assert len(crops) == judged.crops_run >= 16 and crops.shape[1:] == (32, 32, 3)  # every crop the live run judged

    out = tmp_path / "verifier-int8.onnx"
    build = build_int8_verifier(verifier, SAMPLE, out, sample_split, images=4, methods=("minmax",), progress=False)
    assert build.method == "minmax" and build.calibration_crops == len(crops)
    metadata = source_metadata(out)
    assert metadata["gunwatch.precision"] == "int8" and metadata["gunwatch.detector_sha256"] == sha256_of(detector)
    assert metadata["gunwatch.threshold"] == repr(build.threshold)
    assert calibrate_threshold(detector, SAMPLE, sample_split, "val", MAX_VAL_IMAGE_FPR, verifier=out) == (
        build.threshold)
    assert load_detector(detector, verifier=out).threshold == build.threshold

    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    shutil.copyfile(verifier, elsewhere / "verifier.onnx")
    with pytest.raises(ModelError, match="is not beside it unchanged"):
        paired_detector(elsewhere / "verifier.onnx")
