"""Annotated frames: boxes drawn where the detections are, guns in red."""

from __future__ import annotations

import numpy as np

from gunwatch.inference.detections import Detections
from gunwatch.video.annotate import GUN_COLOUR, OTHER_COLOUR, draw_detections


def test_boxes_are_drawn_in_their_colours_and_the_input_is_untouched() -> None:
    image = np.full((200, 300, 3), 128, np.uint8)
    found = Detections([[20, 40, 120, 180], [150, 60, 220, 100]], [0.9, 0.8], [0, 1])
    drawn = draw_detections(image, found, ("person", "handgun"))
    assert (image == 128).all()
    assert tuple(drawn[120, 20]) == OTHER_COLOUR  # left edge of the person box
    assert tuple(drawn[80, 220]) == GUN_COLOUR or tuple(drawn[80, 219]) == GUN_COLOUR  # right edge of the gun box
    assert (drawn[150, 250] == 128).all()  # away from every box


def test_no_detections_no_change() -> None:
    image = np.zeros((10, 10, 3), np.uint8)
    assert (draw_detections(image, Detections(), ("handgun",)) == image).all()
