"""YOLOX detectors on ONNX Runtime: letterbox, one run per image, grid decode, class-aware NMS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from gunwatch.inference.detections import Detections
from gunwatch.inference.input_shape import frame_input_shape
from gunwatch.inference.letterbox import letterbox, unletterbox_boxes
from gunwatch.inference.nms import batched_nms
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float, open_session

KIND = "yolox"
STRIDES = (8, 16, 32)
# Scores below this cannot matter at any useful operating point; dropping them keeps NMS cheap
# while still returning "every detection" for precision/recall curves.
PRE_NMS_FLOOR = 0.01
NMS_IOU = 0.45
# Images per ONNX run for exports with a free batch axis (tiles of a 1080p frame: 18 + 1).
MAX_BATCH = 32

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip

# What the public COCO YOLOX-Nano export would say if it carried gunwatch metadata.
COCO_NANO_METADATA = {
    "gunwatch.kind": KIND,
    "gunwatch.input_size": "416",
    "gunwatch.classes": ",".join(COCO_CLASSES),
    "gunwatch.threshold": "0.3",
    "gunwatch.channel_order": "bgr",
}


def grid_and_strides(input_size: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """(P, 2) grid cell (x, y) and (P, 1) stride of every output point, stride by stride, rows outer."""
    grids, point_strides = [], []
    for stride in strides:
        rows, cols = input_size[0] // stride, input_size[1] // stride
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        point_strides.append(np.full((rows * cols, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(point_strides).astype(np.float32)


def decode_yolox(
    raw: np.ndarray, input_size: tuple[int, int], strides: tuple[int, ...] = STRIDES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw head output (P, 5 + C), obj/cls already sigmoid-ed, to (xyxy input pixels, scores, class ids).

    ``input_size`` is (height, width) of the network input; the score is obj times the best class score.
    """
    grid, stride = grid_and_strides(input_size, strides)
    if raw.ndim != 2 or len(raw) != len(grid):
        raise ValueError(f"decode_yolox: expected ({len(grid)}, 5 + classes) for {input_size}, got {raw.shape}")
    raw = raw.astype(np.float32)
    centers = (raw[:, :2] + grid) * stride
    sizes = np.exp(raw[:, 2:4]) * stride
    xyxy = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1)
    class_scores = raw[:, 5:]
    class_ids = class_scores.argmax(axis=1)
    scores = raw[:, 4] * class_scores[np.arange(len(raw)), class_ids]
    return xyxy, scores, class_ids.astype(np.int64)


def postprocess(raw: np.ndarray, input_size: tuple[int, int], scale: float, image_shape: tuple[int, ...]) -> Detections:
    """One image's raw output (P, 5 + C) -> detections in the original image's pixels (decode, floor, NMS)."""
    xyxy, scores, class_ids = decode_yolox(raw, input_size)
    confident = scores >= PRE_NMS_FLOOR
    xyxy, scores, class_ids = xyxy[confident], scores[confident], class_ids[confident]
    keep = batched_nms(xyxy, scores, class_ids, NMS_IOU)
    return Detections(unletterbox_boxes(xyxy[keep], scale, image_shape), scores[keep], class_ids[keep])


def takes_any_size(session: ort.InferenceSession) -> bool:
    """Whether the graph's input height and width are free axes (gunwatch's exports), so frame-shaped input runs."""
    return not any(isinstance(side, int) for side in session.get_inputs()[0].shape[2:])


def parse_input_size(text: str, path: Path) -> tuple[int, int]:
    """'416' or '416x416' (height x width) to (height, width)."""
    try:
        parts = [int(part) for part in text.lower().split("x")]
    except ValueError as error:
        raise ModelError(f"{path}: metadata 'gunwatch.input_size' is not a size: {text!r}") from error
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ModelError(f"{path}: metadata 'gunwatch.input_size' is not a size: {text!r}")


class OnnxYolox:
    """A YOLOX ONNX export behind the Detector interface.

    ``metadata`` overrides what the file carries; it lets a file without gunwatch metadata
    (the public COCO export) be described from code, or a model exported with free height and width
    run at another input size (``{"gunwatch.input_size": "640"}``).

    ``max_input_side`` turns on frame-shaped input (`gunwatch.inference.input_shape`): an image over 720p goes
    into a larger input of its own aspect, up to that side; the others, and every image without it, into the
    square input size.
    """

    def __init__(self, path: Path, session: ort.InferenceSession, metadata: dict[str, str] | None = None,
                 max_input_side: int | None = None):
        metadata = {**gunwatch_metadata(session), **(metadata or {})}
        self.name = path.stem
        self.path = path
        self.session = session
        model_input = session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_size = parse_input_size(_required(metadata, "gunwatch.input_size", path), path)
        # A symbolic (named) batch axis takes any batch; the public COCO export is fixed at 1.
        self.max_batch = MAX_BATCH if not isinstance(model_input.shape[0], int) else model_input.shape[0]
        fixed_hw = [side for side in model_input.shape[2:] if isinstance(side, int)]
        if fixed_hw and tuple(model_input.shape[2:]) != self.input_size:
            raise ModelError(f"{path}: the graph takes {tuple(model_input.shape[2:])}, not {self.input_size}")
        self.class_names = tuple(name.strip() for name in _required(metadata, "gunwatch.classes", path).split(","))
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path, default=0.3)
        fixed_shape = bool(fixed_hw) or self.input_size[0] != self.input_size[1]
        if max_input_side is not None and fixed_shape:
            raise ModelError(f"{path}: frame-shaped input needs a square default size and free height and width")
        self.max_input_side = max_input_side
        self.images_run = 0  # images through the network so far (tiles and crops count: the cost `bench` reports)
        self.pixels_run = 0  # their input pixels (a larger input costs more than one run at the default size)
        self.channel_order = metadata.get("gunwatch.channel_order", "bgr").lower()
        if self.channel_order not in ("bgr", "rgb"):
            raise ModelError(f"{path}: metadata 'gunwatch.channel_order' must be bgr or rgb: {self.channel_order!r}")

    @classmethod
    def for_reference_coco_model(cls, path: Path | str, threads: int | None = None) -> OnnxYolox:
        """The public COCO YOLOX-Nano export (no gunwatch metadata): 416 px, 80 classes, person = 0."""
        path = Path(path)
        return cls(path, open_session(path, threads), metadata=COCO_NANO_METADATA)

    @property
    def work_run(self) -> float:
        """The network's work so far in runs at the default input size (a 640 x 384 input counts 1.42 at 416)."""
        return self.pixels_run / (self.input_size[0] * self.input_size[1])

    def input_shape_for(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the input an image of that size is letterboxed into."""
        if self.max_input_side is None:
            return self.input_size
        return frame_input_shape(height, width, self.input_size[0], self.max_input_side)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Letterbox every image, run those of one input shape in batches of up to `max_batch`, decode each."""
        results: list[Detections | None] = [None] * len(images)
        by_shape: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(self.input_shape_for(*image.shape[:2]), []).append(i)
        for shape, members in by_shape.items():
            for start in range(0, len(members), self.max_batch):
                chunk = members[start : start + self.max_batch]
                for i, found in zip(chunk, self._run([images[i] for i in chunk], shape), strict=True):
                    results[i] = found
        return [found if found is not None else Detections() for found in results]

    def _run(self, images: list[np.ndarray], shape: tuple[int, int]) -> list[Detections]:
        batch, scales = self.input_batch(images, shape)
        raw = self.session.run(None, {self.input_name: batch})[0]
        self.images_run += len(images)
        self.pixels_run += len(images) * shape[0] * shape[1]
        if raw.shape[-1] != 5 + len(self.class_names):
            # Otherwise class ids would silently index the wrong names.
            names = len(self.class_names)
            raise ModelError(f"{self.path}: output has {raw.shape[-1] - 5} classes, metadata names {names}")
        return [postprocess(out, shape, scale, image.shape) for out, scale, image in zip(raw, scales, images,
                                                                                          strict=True)]

    def input_batch(self, images: list[np.ndarray],
                    shape: tuple[int, int] | None = None) -> tuple[np.ndarray, list[float]]:
        """The network input for RGB images (letterboxed into `shape`, default the input size, in the model's
        channel order) and each image's scale.

        INT8 calibration feeds its images through this too, so it sees exactly the pixels the runtime does.
        """
        boxed = [letterbox(image, shape or self.input_size) for image in images]
        batch = np.concatenate([to_nchw_pixels(padded, bgr=self.channel_order == "bgr") for padded, _ in boxed])
        return batch, [scale for _, scale in boxed]


def to_nchw_pixels(image: np.ndarray, bgr: bool) -> np.ndarray:
    """HxWx3 uint8 RGB to 1x3xHxW float32 in 0..255 (YOLOX takes raw pixel values, no normalisation)."""
    pixels = image[..., ::-1] if bgr else image
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)


def _required(metadata: dict[str, str], key: str, path: Path) -> str:
    if not metadata.get(key):
        raise ModelError(f"{path}: metadata {key!r} missing")
    return metadata[key]
