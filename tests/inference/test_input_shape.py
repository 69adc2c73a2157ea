"""Frame-shaped input: each image's rectangle, its scale, and the runtime running images of many shapes at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gunwatch.inference.input_shape import STRIDE, frame_input_shape, whole_image_side
from gunwatch.inference.loading import SHIPPED_LOCALIZER, load_detector
from gunwatch.inference.onnx_session import ModelError, open_session
from gunwatch.inference.onnx_yolox import OnnxYolox
from support.yolox_graph import yolox_graph


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        (720, 1280, (416, 416)),  # up to 720p: the square the network was trained and measured with
        (480, 640, (416, 416)),  # a 4:3 photo
        (300, 200, (416, 416)),  # a person crop
        (1080, 1920, (384, 640)),  # 1080p: seen at a third, as 720p is at 416 px, in a rectangle of its aspect
        (1920, 1080, (640, 384)),  # a portrait frame: the same, turned
        (2160, 3840, (384, 640)),  # 4K: held at the most allowed
        (900, 1600, (320, 544)),  # between: grown with the frame, to the stride
        (736, 1312, (256, 448)),  # just over 720p: the next stride up
    ],
)
def test_shapes(height: int, width: int, expected: tuple[int, int]) -> None:
    assert frame_input_shape(height, width, 416, 640) == expected


def test_a_maximum_at_or_under_the_model_side_keeps_the_square() -> None:
    assert frame_input_shape(1080, 1920, 416, 416) == (416, 416)
    assert frame_input_shape(1080, 1920, 416, 320) == (416, 416)


@given(st.integers(16, 4000), st.integers(16, 4000), st.sampled_from([320, 416]), st.sampled_from([416, 640, 1024]))
def test_the_image_fits_at_the_scale_of_its_long_side(height: int, width: int, model_side: int, max_side: int) -> None:
    shape = frame_input_shape(height, width, model_side, max_side)
    assert all(side % STRIDE == 0 for side in shape)
    long_in, long_image = max(shape), max(height, width)
    assert model_side <= long_in <= max(model_side, max_side)
    scale = min(shape[0] / height, shape[1] / width)  # what the letterbox applies
    assert scale == pytest.approx(long_in / long_image)  # the long side fills its side: the scale is known
    if long_in == model_side:
        assert shape == (model_side, model_side)  # up to 720p (and wherever the input does not grow): the square
    else:  # a grown input: a rectangle with no more padding than rounding
        assert shape[0] - height * scale < STRIDE and shape[1] - width * scale < STRIDE
    if long_image <= 1280:
        assert long_in == model_side


def test_whole_image_side_falls_back_for_runtimes_without_frame_shapes() -> None:
    assert whole_image_side(object(), 1920, 1080, 416) == 416


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return yolox_graph(tmp_path_factory.mktemp("shapes") / "tiny-yolox.onnx", input_size=64)


def scene(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_each_image_runs_in_its_own_rectangle(graph: Path) -> None:
    # A frame-shaped detector gives each image of a mixed call exactly what a detector fixed at that image's
    # rectangle gives it alone: images are grouped by shape, never letterboxed into another's.
    session = open_session(graph, threads=1)
    shaped = OnnxYolox(graph, session, max_input_side=96)
    images = [scene(1080, 1920, 0), scene(300, 200, 1), scene(1080, 1920, 2), scene(2160, 3840, 3)]
    results = shaped.detect(images)
    for image, found in zip(images, results, strict=True):
        height, width = frame_input_shape(*image.shape[:2], 64, 96)
        fixed = OnnxYolox(graph, session, {"gunwatch.input_size": f"{height}x{width}"})
        (alone,) = fixed.detect([image])
        assert len(found) > 0
        np.testing.assert_allclose(found.xyxy, alone.xyxy, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(found.scores, alone.scores, rtol=1e-5)
    assert shaped.images_run == 4
    # The work in runs at the default 64 x 64: two 1080p frames in 64 x 96, the crop in the square, 4K in 64 x 96
    # (held at the maximum).
    assert shaped.work_run == pytest.approx((3 * 64 * 96 + 64 * 64) / (64 * 64))


def test_without_a_maximum_every_image_goes_into_the_square(graph: Path) -> None:
    square = OnnxYolox(graph, open_session(graph, threads=1))
    assert square.input_shape_for(1080, 1920) == (64, 64)
    square.detect([scene(1080, 1920, 0)])
    assert square.work_run == 1.0


def test_frame_shapes_need_a_square_default(graph: Path) -> None:
    with pytest.raises(ModelError, match="frame-shaped input needs a square default size"):
        OnnxYolox(graph, open_session(graph, threads=1), {"gunwatch.input_size": "64x96"}, max_input_side=96)


def test_the_default_does_not_stop_models_that_take_one_size(tmp_path: Path) -> None:
    # `detector.max_input_size` is on by default; a fixed-size graph or another kind of model keeps its input.
    fixed = load_detector(yolox_graph(tmp_path / "fixed.onnx", input_size=64, fixed_size=True), max_input=640)
    assert fixed.max_input_side is None and fixed.input_shape_for(1080, 1920) == (64, 64)
    (found,) = fixed.detect([scene(1080, 1920, 0)])
    assert len(found) > 0
    shaped = load_detector(yolox_graph(tmp_path / "free.onnx", input_size=64), max_input=640)
    assert shaped.input_shape_for(1080, 1920) == (64, 96)
    localizer = load_detector(SHIPPED_LOCALIZER, max_input=640)
    assert not hasattr(localizer, "max_input_side")
