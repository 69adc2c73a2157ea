"""YOLOX decode on constructed head outputs, and the public COCO YOLOX-Nano end to end (when present)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.inference.detections import Detections
from gunwatch.inference.onnx_session import ModelError, open_session
from gunwatch.inference.onnx_yolox import (
    COCO_CLASSES,
    COCO_NANO_METADATA,
    OnnxYolox,
    decode_yolox,
    grid_and_strides,
    parse_input_size,
    to_nchw_pixels,
)
from gunwatch.metrics.iou import box_iou

SHARED = Path(__file__).resolve().parents[3] / "shared"
COCO_MODEL = SHARED / "weights/yolox_nano_coco.onnx"
PISTOL_IMAGES = SHARED / "datasets/PistolData_merged/pistol_images"
PERSON = 0

needs_coco_model = pytest.mark.skipif(not COCO_MODEL.is_file(), reason=f"{COCO_MODEL} not present")


def hot_point(raw: np.ndarray, index: int, xywh: tuple[float, ...], obj: float, cls: list[float]) -> None:
    raw[index, :4] = xywh
    raw[index, 4] = obj
    raw[index, 5:] = cls


# (stride, grid cell x, y, index of that cell in the 416 x 416 output): strides in order, rows outer.
CELLS_416 = [
    (8, 3, 5, 5 * 52 + 3),
    (16, 25, 1, 52 * 52 + 1 * 26 + 25),
    (32, 0, 12, 52 * 52 + 26 * 26 + 12 * 13 + 0),
]


@pytest.mark.parametrize(("stride", "cell_x", "cell_y", "index"), CELLS_416)
def test_decode_a_hot_point_to_its_pixel_box(stride: int, cell_x: int, cell_y: int, index: int) -> None:
    raw = np.zeros((3549, 5 + 3), np.float32)
    hot_point(raw, index, (0.5, 0.25, np.log(2.0), np.log(4.0)), obj=0.8, cls=[0.1, 0.5, 0.2])
    xyxy, scores, class_ids = decode_yolox(raw, (416, 416))
    center_x, center_y = (cell_x + 0.5) * stride, (cell_y + 0.25) * stride
    half_w, half_h = stride, 2 * stride  # w = 2 * stride, h = 4 * stride
    expected = [center_x - half_w, center_y - half_h, center_x + half_w, center_y + half_h]
    np.testing.assert_allclose(xyxy[index], expected, rtol=1e-6)
    assert scores[index] == pytest.approx(0.8 * 0.5)
    assert class_ids[index] == 1
    assert scores.argmax() == index
    assert xyxy.shape == (3549, 4)


def test_decode_a_non_square_input_reads_columns_along_the_width() -> None:
    # 64 high x 128 wide: grids 8x16, 4x8, 2x4. Last point = stride 32, row 1, column 3.
    raw = np.zeros((8 * 16 + 4 * 8 + 2 * 4, 6), np.float32)
    hot_point(raw, len(raw) - 1, (0.0, 0.0, 0.0, 0.0), obj=1.0, cls=[1.0])
    xyxy, scores, _ = decode_yolox(raw, (64, 128))
    np.testing.assert_allclose(xyxy[-1], [3 * 32 - 16, 32 - 16, 3 * 32 + 16, 32 + 16])
    assert scores[-1] == 1.0


def test_decode_rejects_a_mismatched_point_count() -> None:
    with pytest.raises(ValueError, match="3549"):
        decode_yolox(np.zeros((100, 85), np.float32), (416, 416))


def test_grid_order_is_rows_outer_columns_inner() -> None:
    grid, strides = grid_and_strides((16, 32), (8,))
    assert grid[:5].tolist() == [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1]]
    assert strides.ravel().tolist() == [8] * 8


@pytest.mark.parametrize(("text", "size"), [("416", (416, 416)), ("320x640", (320, 640)), ("416X416", (416, 416))])
def test_parse_input_size(text: str, size: tuple[int, int]) -> None:
    assert parse_input_size(text, Path("m.onnx")) == size


@pytest.mark.parametrize("text", ["", "big", "1x2x3"])
def test_parse_input_size_rejects_garbage(text: str) -> None:
    with pytest.raises(ModelError, match=r"m\.onnx"):
        parse_input_size(text, Path("m.onnx"))


@pytest.fixture(scope="module")
def coco_detector() -> OnnxYolox:
    if not COCO_MODEL.is_file():
        pytest.skip(f"{COCO_MODEL} not present")
    return OnnxYolox.for_reference_coco_model(COCO_MODEL, threads=2)


@needs_coco_model
def test_the_raw_coco_file_needs_its_description() -> None:
    # It carries no gunwatch metadata, so loading it as a gunwatch model must fail clearly.
    with pytest.raises(ModelError, match=r"gunwatch\.input_size"):
        OnnxYolox(COCO_MODEL, open_session(COCO_MODEL, threads=1))


@needs_coco_model
def test_class_names_must_match_the_output() -> None:
    metadata = {**COCO_NANO_METADATA, "gunwatch.classes": "gun"}
    detector = OnnxYolox(COCO_MODEL, open_session(COCO_MODEL, threads=1), metadata)
    with pytest.raises(ModelError, match="80 classes"):
        detector.detect([np.zeros((32, 32, 3), np.uint8)])


@needs_coco_model
def test_a_fixed_size_graph_refuses_another_input_size() -> None:
    metadata = {**COCO_NANO_METADATA, "gunwatch.input_size": "320"}
    with pytest.raises(ModelError, match=r"the graph takes \(416, 416\), not \(320, 320\)"):
        OnnxYolox(COCO_MODEL, open_session(COCO_MODEL, threads=1), metadata)


def test_reference_model_description(coco_detector: OnnxYolox) -> None:
    assert coco_detector.input_size == (416, 416)
    assert coco_detector.max_batch == 1  # the public export's batch axis is fixed
    assert coco_detector.class_names == COCO_CLASSES
    assert len(COCO_CLASSES) == 80
    assert coco_detector.class_names[PERSON] == "person"
    assert coco_detector.threshold == 0.3
    assert coco_detector.channel_order == "bgr"


def test_synthetic_images_give_detections_inside_each_image(coco_detector: OnnxYolox) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(240, 320), (500, 200), (416, 416)]]
    for h, w in [(240, 320), (500, 200)]:
        images.append(np.zeros((h, w, 3), np.uint8))
        images[-1][h // 4 : h // 2, w // 4 : w // 2] = (200, 30, 30)
    results = coco_detector.detect(images)
    assert len(results) == len(images)
    for image, detections in zip(images, results, strict=True):
        assert isinstance(detections, Detections)
        height, width = image.shape[:2]
        assert (detections.xyxy[:, [0, 2]] >= 0).all() and (detections.xyxy[:, [0, 2]] <= width).all()
        assert (detections.xyxy[:, [1, 3]] >= 0).all() and (detections.xyxy[:, [1, 3]] <= height).all()
        assert ((detections.scores >= 0) & (detections.scores <= 1)).all()
        assert ((detections.class_ids >= 0) & (detections.class_ids < 80)).all()


def test_no_images_no_results(coco_detector: OnnxYolox) -> None:
    assert coco_detector.detect([]) == []


# Two granada photos viewed by hand: a woman in a suit holding a pistol (portrait, 428 x 640) and a man
# aiming a revolver (landscape, 640 x 360). Expected person boxes drawn by eye, so matched loosely.
PERSON_PHOTOS = [("46.jpg", [15, 38, 428, 640]), ("55.jpg", [148, 0, 420, 360])]


@pytest.mark.parametrize(("name", "person_box"), PERSON_PHOTOS)
def test_finds_the_person_in_a_real_photo(coco_detector: OnnxYolox, name: str, person_box: list[int]) -> None:
    path = PISTOL_IMAGES / name
    if not path.is_file():
        pytest.skip(f"{path} not present")
    image = np.asarray(Image.open(path).convert("RGB"))
    people = coco_detector.detect([image])[0].of_class(PERSON).above(0.5)
    assert len(people) >= 1
    best = people[np.array([people.scores.argmax()])]
    assert box_iou(best.xyxy, np.array([person_box]))[0, 0] > 0.7
    assert best.xyxy[0, 2] - best.xyxy[0, 0] > 0.3 * image.shape[1]  # a person, not a hand


@pytest.mark.parametrize(("bgr", "channels"), [(True, [3.0, 2.0, 1.0]), (False, [1.0, 2.0, 3.0])])
def test_input_tensor_channel_order(bgr: bool, channels: list[float]) -> None:
    # The reference model was trained on BGR (OpenCV); a swap only costs a few points, so test it here.
    rgb = np.zeros((2, 3, 3), np.uint8) + np.array([1, 2, 3], np.uint8)
    tensor = to_nchw_pixels(rgb, bgr=bgr)
    assert tensor.shape == (1, 3, 2, 3)
    assert tensor.dtype == np.float32
    assert tensor[0, :, 1, 2].tolist() == channels  # raw 0..255 values, no scaling
    assert tensor.flags.c_contiguous
