"""R-CNN trained end to end on the synthetic set: proposals, features, SVM, ridge, ONNX, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.inference.loading import load_detector
from gunwatch.training.lineage.rcnn.config import RcnnTrainConfig
from gunwatch.training.lineage.rcnn.train import GT, NEGATIVE, REGRESSION, sample_regions
from gunwatch.training.pipeline import train_from_config

pytest.importorskip("torch")
pytest.importorskip("sklearn")


def write_run(tmp_path: Path, synthetic_set, **extra: object) -> tuple[Path, Path, Path]:
    data = synthetic_set(tmp_path / "data", guns=10, negatives=4)
    keys = sorted(p.name for p in (data / "pistol_images").iterdir())
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": keys, "val": keys, "test": keys}))
    lines = {"data": data, "split": split, "out": tmp_path / "run", "model": "rcnn", "threads": 1,
             "proposals_folder": tmp_path / "proposals", "warp_size": 48, "negatives_per_image": 12,
             "regression_per_image": 6, "svm_c": "[0.01, 1.0]", "max_val_image_fpr": 0.0, **extra}
    config = tmp_path / "train.yaml"
    config.write_text("".join(f"{key}: {value}\n" for key, value in lines.items()))
    return data, split, config


def test_regions_sampled_per_image_by_the_papers_thresholds():
    config = RcnnTrainConfig(data=Path("d"), split=Path("s"), negatives_per_image=2, regression_per_image=1)
    record = ImageRecord(Path("1.jpg"), 100, 100, np.array([[0, 0, 10, 10]]), ("handgun",))
    proposals = np.array([[0, 0, 10, 9], [0, 0, 10, 5], [0, 0, 5, 5], [50, 50, 60, 60], [70, 70, 90, 90],
                          [20, 20, 40, 40]], np.float32)  # IoU 0.9, 0.5 (neither), 0.25, 0, 0, 0
    boxes, roles, matched = sample_regions(config, record, proposals, np.random.default_rng(0))
    assert roles.tolist() == [GT, NEGATIVE, NEGATIVE, REGRESSION]
    np.testing.assert_array_equal(boxes[0], [0, 0, 10, 10])
    np.testing.assert_array_equal(boxes[3], [0, 0, 10, 9])
    np.testing.assert_array_equal(matched[[0, 3]], [[0, 0, 10, 10], [0, 0, 10, 10]])
    assert not matched[1:3].any()
    assert {tuple(b) for b in boxes[1:3].tolist()} <= {tuple(p) for p in proposals[2:].tolist()}


@pytest.mark.slow
def test_a_short_run_learns_the_fixture_images(tmp_path: Path, synthetic_set) -> None:
    data, split, config = write_run(tmp_path, synthetic_set)
    model_path = train_from_config(config, resume=False, overrides={})
    run = tmp_path / "run"
    for artefact in ("history.json", "summary.json", "curves.png", "model.onnx", "features.onnx"):
        assert (run / artefact).is_file(), artefact
    summary = json.loads((run / "summary.json").read_text())
    assert summary["val_ap"] > 0.9
    assert summary["val_iou_after_regression"] > summary["val_iou_before_regression"]
    detector = load_detector(model_path, threads=1)
    report = evaluate(detector, data, "test", split, progress=False).report
    assert report.map50 >= 0.8
    assert report.image_recall >= 0.9
    assert report.image_fpr == 0.0  # the threshold was chosen on these images for 0 % flagged
    assert detector.last_proposal_counts and min(detector.last_proposal_counts) > 0

    # --resume keeps the features on disk; a changed setting starts them again
    before = sorted(p.stat().st_mtime_ns for p in (run / "features" / "train").glob("chunk-*.npz"))
    train_from_config(config, resume=True, overrides={})
    after = sorted(p.stat().st_mtime_ns for p in (run / "features" / "train").glob("chunk-*.npz"))
    assert before == after


def test_the_svm_solver_finds_liblinears_l2_loss_svm():
    from sklearn.svm import LinearSVC

    from gunwatch.training.lineage.rcnn.train import fit_linear_svm

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, 400) > 0.8).astype(int)
    ours = fit_linear_svm(x, y, 0.01)
    # a huge intercept_scaling leaves liblinear's bias (almost) unpenalised, as ours is
    theirs = LinearSVC(C=0.01, loss="squared_hinge", dual=False, intercept_scaling=1000, tol=1e-10).fit(x, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-3)
    np.testing.assert_allclose(ours.decision_function(x[:3]), theirs.decision_function(x[:3]), atol=1e-3)
