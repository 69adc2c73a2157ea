"""Sliding windows on ONNX Runtime: the pyramid and window grid, boxes back in image pixels, the exported
convolutional form against PyTorch and against classifying every window's crop (the naive form)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gunwatch.boxes import box_iou
from gunwatch.inference.lineage.sliding_window import (
    OnnxSlidingWindow,
    grid_shape,
    grid_windows,
    image_levels,
    naive_windows,
    pyramid_scales,
    refine,
    to_image_pixels,
)
from gunwatch.inference.loading import load_detector

SCALES = [23 / 16, 23 / 32, 23 / 64]  # 23-px windows over 16, 32 and 64-px squares


def test_the_pyramid_runs_from_the_smallest_gun_to_the_largest_image_side() -> None:
    assert pyramid_scales(16, 64, 23, 2) == pytest.approx(SCALES)
    assert pyramid_scales(32, 640, 91, 2) == pytest.approx([91 / 32, 91 / 64, 91 / 128, 91 / 256, 91 / 512, 91 / 1024])
    assert pyramid_scales(32, 32, 91, 2**0.5) == pytest.approx([91 / 32])
    assert len(pyramid_scales(32, 640, 91, 2**0.5)) == 10  # 32 * sqrt(2)^9 = 724 >= 640


def test_an_image_gets_the_levels_a_window_fits_in_and_one_whose_window_is_its_shorter_side() -> None:
    assert image_levels(64, 64, SCALES, 23, 2) == [(92, 92), (46, 46), (23, 23)]
    # 48 x 100: 17 x 36 is too small for a window; the last fitting level's window covers 32 px, less than
    # 48 / sqrt(2), so the image's shorter side gets a level of its own.
    assert image_levels(48, 100, SCALES, 23, 2) == [(69, 144), (34, 72), (23, 48)]
    assert image_levels(10, 12, SCALES, 23, 2) == [(23, 28)]  # smaller than the smallest gun: upscaled once


def test_the_window_grid_is_every_stride_th_window_that_fits() -> None:
    assert grid_shape(92, 92, 23, 4) == (18, 18)
    assert grid_shape(23, 48, 23, 4) == (1, 7)
    np.testing.assert_array_equal(
        grid_windows(2, 3, 23, 4),
        [[0, 0, 23, 23], [4, 0, 27, 23], [8, 0, 31, 23], [0, 4, 23, 27], [4, 4, 27, 27], [8, 4, 31, 27]],
    )


def test_boxes_are_refined_by_window_sides_and_mapped_back_to_image_pixels() -> None:
    refined = refine(np.array([[4.0, 0, 27, 23]], np.float32), np.array([[0.1, 0.2, -0.1, 0]], np.float32), 23)
    np.testing.assert_allclose(refined, [[6.3, 4.6, 24.7, 23]], rtol=1e-6)
    # Level 69 x 144 of a 48 x 100 image: x scaled by 1.44, y by 1.4375; boxes past the image are clipped.
    boxes = np.array([[14.4, 14.375, 144, 69], [-5, 0, 150, 80]], np.float32)
    np.testing.assert_allclose(to_image_pixels(boxes, (69, 144), 48, 100), [[10, 10, 100, 48], [0, 0, 100, 48]],
                               rtol=1e-6)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, object]:
    """A small random window classifier (23-px windows, 4 apart) exported as training exports it."""
    torch = pytest.importorskip("torch")
    from gunwatch.models.lineage.sliding_window import WindowClassifier
    from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig
    from gunwatch.training.lineage.sliding_window.export import export_sliding_window

    torch.manual_seed(0)
    model = WindowClassifier(width_mult=0.35, trunk_blocks=4, head_kernel=2, hidden=16).eval()
    with torch.no_grad():  # logits centred and spread so the scores cover (0, 1), not all near 0.5
        logits, _ = model.forward_logits(torch.rand(1, 3, 92, 92))
        model.class_head.weight.div_(logits.std() / 2)
        model.class_head.bias.sub_(logits.mean()).div_(logits.std() / 2)
    config = SlidingWindowTrainConfig(data=Path("d"), split=Path("s"), pyramid_step=2, nms_iou=0.3, max_detections=20)
    path = export_sliding_window(model, SCALES, config, tmp_path_factory.mktemp("sw") / "model.onnx")
    return path, model


def test_the_onnx_graph_matches_pytorch_at_any_height_and_width(exported) -> None:
    torch = pytest.importorskip("torch")
    path, model = exported
    detector = load_detector(path, threads=1)
    for height, width in ((23, 23), (69, 144), (40, 31)):
        image = np.random.default_rng(height).random((1, 3, height, width), dtype=np.float32)
        probability, deltas = detector.session.run(None, {"images": image})
        with torch.no_grad():
            expected_p, expected_d = model(torch.from_numpy(image))
        assert probability.shape == (1, *grid_shape(height, width, 23, 4))
        np.testing.assert_allclose(probability, expected_p.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(deltas, expected_d.numpy(), rtol=1e-4, atol=1e-4)


def test_the_metadata_carries_the_window_grid_and_pyramid(exported) -> None:
    detector = load_detector(exported[0], threads=1)
    assert isinstance(detector, OnnxSlidingWindow)
    assert (detector.window, detector.stride, detector.step, detector.class_names) == (23, 4, 2.0, ("handgun",))
    assert detector.scales == pytest.approx(SCALES)
    assert (detector.nms_iou, detector.max_detections) == (0.3, 20)


def test_the_convolutional_form_scores_every_window_as_the_naive_form_does(exported) -> None:
    detector = load_detector(exported[0], threads=1)
    image = np.random.default_rng(1).integers(0, 256, (48, 100, 3), dtype=np.uint8)
    windows, naive_scores = naive_windows(detector, image)
    assert len(windows) == len(naive_scores) == detector.windows_per_image(48, 100) == 372 + 39 + 7
    assert detector.regions(image) == len(windows)
    conv_windows, conv_scores = [], []
    for level in detector.levels(48, 100):
        w, p, _ = detector.run_level(image, level)
        conv_windows.append(to_image_pixels(w, level, 48, 100))
        conv_scores.append(p)
    np.testing.assert_allclose(np.concatenate(conv_windows), windows, rtol=1e-6)
    np.testing.assert_allclose(np.concatenate(conv_scores), naive_scores, rtol=1e-5, atol=1e-6)
    assert naive_scores.std() > 0.05  # a real comparison, not of constants


def test_detect_keeps_the_best_windows_after_nms_in_image_pixels(exported) -> None:
    detector = load_detector(exported[0], threads=1)
    images = [np.random.default_rng(2).integers(0, 256, (48, 100, 3), dtype=np.uint8),
              np.random.default_rng(3).integers(0, 256, (64, 64, 3), dtype=np.uint8)]
    found = detector.detect(images)
    assert detector.windows_last == [418, detector.windows_per_image(64, 64)]
    for detections, image in zip(found, images, strict=True):
        assert 0 < len(detections) <= 20
        assert (np.diff(detections.scores) <= 0).all()
        assert (detections.xyxy >= 0).all()
        assert (detections.xyxy[:, [0, 2]] <= image.shape[1]).all()
        assert (detections.xyxy[:, [1, 3]] <= image.shape[0]).all()
        overlaps = box_iou(detections.xyxy, detections.xyxy)
        np.fill_diagonal(overlaps, 0)
        assert overlaps.max() <= 0.3 + 1e-6
    assert detector.detect([]) == []
