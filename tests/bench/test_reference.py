"""The speed reference: the fixed-size COCO export, freed to run at any size, gives the original's numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from gunwatch.bench.reference import free_input_size, reference_detector
from gunwatch.inference.onnx_yolox import OnnxYolox


def test_the_freed_reference_matches_the_original_at_416(coco_weights: Path) -> None:
    image = np.random.default_rng(0).integers(0, 255, (300, 500, 3), dtype=np.uint8)
    original = OnnxYolox.for_reference_coco_model(coco_weights, threads=1).detect([image])[0]
    freed = reference_detector(coco_weights, 416, threads=1).detect([image])[0]
    np.testing.assert_array_equal(original.xyxy, freed.xyxy)
    np.testing.assert_array_equal(original.scores, freed.scores)


def test_the_freed_reference_runs_at_other_sizes_and_batches(coco_weights: Path) -> None:
    model = free_input_size(onnx.load(str(coco_weights)))
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim] == ["batch", "", "height", "width"]
    detector = reference_detector(coco_weights, 320, threads=1)
    assert len(detector.detect([np.zeros((200, 200, 3), np.uint8)] * 3)) == 3
