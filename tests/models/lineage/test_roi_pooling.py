"""RoI max pooling on the course's worked example: an 8 x 8 feature map, a 7 x 5 region, pooled to 2 x 2.

The course divides the region into sections of integer sizes (7 columns -> 3 + 4, 5 rows -> 2 + 3) and takes
the maximum of each: [[0.85, 0.84], [0.97, 0.96]]. Fast R-CNN's own code (Caffe's RoIPoolingLayer), which
torchvision's `roi_pool` and ONNX's `MaxRoiPool` (what gunwatch's Fast R-CNN exports to) follow, bounds bin i
by floor(i * h / 2) and ceil((i + 1) * h / 2): when a side does not divide, neighbouring bins share a row or
column. On this example the top bins also see row 5, so the top-right cell is 0.96, not 0.84. Both are
checked, so the difference is stated rather than hidden.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

FEATURE_MAP = np.array([
    [0.88, 0.44, 0.14, 0.16, 0.37, 0.77, 0.96, 0.27],
    [0.19, 0.45, 0.57, 0.16, 0.63, 0.29, 0.71, 0.70],
    [0.66, 0.26, 0.82, 0.64, 0.54, 0.73, 0.59, 0.26],
    [0.85, 0.34, 0.76, 0.84, 0.29, 0.75, 0.62, 0.25],
    [0.32, 0.74, 0.21, 0.39, 0.34, 0.03, 0.33, 0.48],
    [0.20, 0.14, 0.16, 0.13, 0.73, 0.65, 0.96, 0.32],
    [0.19, 0.69, 0.09, 0.86, 0.88, 0.07, 0.01, 0.48],
    [0.83, 0.24, 0.97, 0.04, 0.24, 0.35, 0.50, 0.91],
], np.float32)
# The region: columns 0..6 (7 wide), rows 3..7 (5 high); as an inclusive box (x1, y1, x2, y2) in cells.
REGION = (0, 3, 6, 7)
COURSE_ANSWER = [[0.85, 0.84], [0.97, 0.96]]
CAFFE_ANSWER = [[0.85, 0.96], [0.97, 0.96]]  # top bins span rows 3..5, left bins columns 0..3


def course_roi_max_pool(feature_map: np.ndarray, region: tuple[int, int, int, int], out: int) -> np.ndarray:
    """The course's rule: sections of integer sizes, the smaller first (7 -> 3 + 4), no overlap."""
    x1, y1, x2, y2 = region
    crop = feature_map[y1 : y2 + 1, x1 : x2 + 1]
    rows = np.cumsum([0] + [crop.shape[0] // out + (i >= out - crop.shape[0] % out) for i in range(out)])
    cols = np.cumsum([0] + [crop.shape[1] // out + (i >= out - crop.shape[1] % out) for i in range(out)])
    return np.array([[crop[rows[r] : rows[r + 1], cols[c] : cols[c + 1]].max() for c in range(out)]
                     for r in range(out)])


def test_the_course_rule_gives_the_course_answer() -> None:
    np.testing.assert_allclose(course_roi_max_pool(FEATURE_MAP, REGION, 2), COURSE_ANSWER)


def test_sections_are_three_and_four_columns_two_and_three_rows() -> None:
    marked = np.zeros((8, 8), np.float32)
    marked[4, 2] = 1.0  # last row and column of the top-left section (rows 3-4, columns 0-2)
    np.testing.assert_allclose(course_roi_max_pool(marked, REGION, 2), [[1, 0], [0, 0]])
    marked[4, 2], marked[5, 3] = 0.0, 1.0  # first row and column of the bottom-right section
    np.testing.assert_allclose(course_roi_max_pool(marked, REGION, 2), [[0, 0], [0, 1]])


def test_torchvisions_roi_pool_is_caffes_rule_with_shared_border_cells() -> None:
    torch = pytest.importorskip("torch")
    from torchvision.ops import roi_pool

    pooled = roi_pool(torch.from_numpy(FEATURE_MAP)[None, None], torch.tensor([[0.0, *REGION]]), (2, 2))
    np.testing.assert_allclose(pooled[0, 0].numpy(), CAFFE_ANSWER)


def test_onnx_runtimes_max_roi_pool_the_exported_fast_rcnn_runs_agrees_with_torchvision() -> None:
    node = helper.make_node("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 2], spatial_scale=1.0)
    graph = helper.make_graph(
        [node], "roi_pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8]),
         helper.make_tensor_value_info("rois", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (pooled,) = session.run(None, {"x": FEATURE_MAP[None, None], "rois": np.array([[0, *REGION]], np.float32)})
    np.testing.assert_allclose(pooled[0, 0], CAFFE_ANSWER)
