"""Tiling: the plan covers the frame, cut boxes are dropped, and one object comes out once."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.inference.tiling import (
    Tile,
    TiledDetector,
    axis_starts,
    cut_by_tile,
    merge_detections,
    plan_tiles,
    should_tile,
)

MARK = (255, 0, 0)


class MarkFinder:
    """A stand-in detector that really looks at pixels: the bounding box of pure-red pixels is a "gun".

    Like a real model it sees only what is in the crop it is given, and it misses marks smaller than
    `min_side` pixels in its input (a 416 px model input shrinking a 1080p frame).
    """

    name = "mark-finder"
    class_names = ("person", "handgun")
    threshold = 0.5

    def __init__(self, input_side: int = 416, min_side: float = 8.0):
        self.input_side = input_side
        self.min_side = min_side
        self.calls: list[int] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.calls.append(len(images))
        return [self._find(image) for image in images]

    def _find(self, image: np.ndarray) -> Detections:
        mask = np.all(image == MARK, axis=2)
        if not mask.any():
            return Detections()
        ys, xs = np.nonzero(mask)
        box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
        scale = min(1.0, self.input_side / max(image.shape[:2]))
        if min(box[0, 2] - box[0, 0], box[0, 3] - box[0, 1]) * scale < self.min_side:
            return Detections()
        return Detections(box, np.array([0.9]), np.array([1]))


def frame_with_mark(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    frame = np.full((height, width, 3), 90, np.uint8)
    x1, y1, x2, y2 = box
    frame[y1:y2, x1:x2] = MARK
    return frame


@pytest.mark.parametrize(("length", "tile", "overlap"), [(1920, 416, 0.25), (1080, 416, 0.25), (500, 416, 0.2),
                                                          (416, 416, 0.25), (300, 416, 0.25), (4000, 640, 0.1)])
def test_axis_starts_cover_the_length_with_at_least_the_overlap(length: int, tile: int, overlap: float) -> None:
    starts = axis_starts(length, tile, overlap)
    assert starts[0] == 0
    assert starts[-1] + tile >= length
    assert starts == sorted(starts)
    for a, b in itertools.pairwise(starts):
        assert a + tile - b >= overlap * tile - 1  # rounding may cost a pixel


def test_1080p_plan_with_a_416_input() -> None:
    tiles = plan_tiles(1920, 1080, 416, 0.2)
    assert len(tiles) == 6 * 3
    assert all(t.x2 - t.x1 == 416 and t.y2 - t.y1 == 416 for t in tiles)
    assert max(t.x2 for t in tiles) == 1920 and max(t.y2 for t in tiles) == 1080
    covered = np.zeros((1080, 1920), bool)
    for t in tiles:
        covered[t.y1 : t.y2, t.x1 : t.x2] = True
    assert covered.all()


def test_a_small_frame_is_one_tile_of_itself() -> None:
    assert plan_tiles(300, 200, 416) == [Tile(0, 0, 300, 200)]


def test_bad_overlap_is_rejected() -> None:
    with pytest.raises(ValueError, match="overlap"):
        plan_tiles(1920, 1080, 416, 1.0)


def test_auto_tiles_only_frames_much_larger_than_the_input() -> None:
    assert should_tile(1920, 1080, 416, "auto")
    assert not should_tile(600, 400, 416, "auto")
    assert should_tile(600, 400, 416, "on")
    assert not should_tile(1920, 1080, 416, "off")


def test_cut_by_tile_ignores_frame_edges() -> None:
    tile = Tile(0, 0, 416, 416)
    boxes = np.array([[0, 0, 50, 50], [380, 10, 416, 60], [10, 390, 60, 416], [100, 100, 200, 200]], np.float32)
    # The tile's left and top edges are the frame's: touching them is not a cut.
    assert cut_by_tile(boxes, tile, 1920, 1080).tolist() == [False, True, True, False]
    # The same tile as the whole frame cuts nothing.
    assert not cut_by_tile(boxes, tile, 416, 416).any()


def test_merge_keeps_one_box_per_object_and_both_classes() -> None:
    parts = [
        Detections([[100, 100, 140, 130]], [0.9], [1]),
        Detections([[101, 99, 141, 131]], [0.8], [1]),  # the same gun from another tile
        Detections([[104, 104, 136, 126]], [0.7], [1]),  # a tighter box inside it (low IoU, contained)
        Detections([[90, 60, 200, 400]], [0.95], [0]),  # the person holding it: another class
        Detections([[600, 100, 640, 130]], [0.6], [1]),  # another gun
    ]
    merged = merge_detections(parts)
    assert sorted(merged.class_ids.tolist()) == [0, 1, 1]
    guns = merged.of_class(1)
    np.testing.assert_allclose(sorted(guns.scores.tolist()), [0.6, 0.9], rtol=1e-6)


def test_merge_of_nothing_is_empty() -> None:
    assert len(merge_detections([])) == 0
    assert len(merge_detections([Detections(), Detections()])) == 0


def test_a_box_split_across_two_tiles_comes_out_once() -> None:
    # Tiles of 416 on a 1920 x 1080 frame start at x = 0, 301, 602, ...: this mark straddles x = 416,
    # the first tile's right edge, and lies wholly inside the second tile.
    box = (396, 200, 436, 230)
    detector = TiledDetector(MarkFinder(min_side=8.0), 416, "on")
    (found,) = detector.detect([frame_with_mark(1920, 1080, box)])
    assert len(found) == 1
    np.testing.assert_allclose(found.xyxy[0], box, atol=0.5)


def test_a_25_pixel_gun_in_1080p_is_found_only_with_tiles() -> None:
    box = (1500, 700, 1525, 716)
    frame = frame_with_mark(1920, 1080, box)
    finder = MarkFinder(min_side=8.0)
    assert len(finder.detect([frame])[0]) == 0  # squeezed into 416 px it is 3 px tall
    (found,) = TiledDetector(finder, 416, "auto").detect([frame])
    assert len(found) == 1
    np.testing.assert_allclose(found.xyxy[0], box, atol=0.5)


def test_all_tiles_of_all_frames_go_to_the_model_in_one_call() -> None:
    finder = MarkFinder()
    detector = TiledDetector(finder, 416, "auto")
    frames = [frame_with_mark(1920, 1080, (10, 10, 60, 60)), frame_with_mark(640, 480, (10, 10, 60, 60))]
    results = detector.detect(frames)
    assert finder.calls == [2 + 18]  # two whole frames, the 1080p one's 18 tiles, none for the small one
    assert [len(r) for r in results] == [1, 1]


def test_off_is_the_plain_detector() -> None:
    finder = MarkFinder()
    frame = frame_with_mark(1920, 1080, (1500, 700, 1525, 716))
    (found,) = TiledDetector(finder, 416, "off").detect([frame])
    assert len(found) == 0
    assert finder.calls == [1]
