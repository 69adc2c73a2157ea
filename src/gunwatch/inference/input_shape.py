"""Frame-shaped input for large frames: a frame over 720p letterboxed into a larger input of its own aspect.

A 1080p frame squeezed into the model's 416 px is seen at 0.22 of its size, where a person 200 px tall comes out
43 px, too small for the first pass to find (README, "Armed people at 1080p"). The network is fully
convolutional and takes any input whose sides are multiples of its largest stride, so frames larger than 720p
get a proportionally larger input, up to `max_side`, and the first pass sees them at the scale it sees 720p
at: the scale the live defaults were measured on (`gunwatch bench alarms`, whose clips are 720p and less).
That input is a rectangle of the frame's aspect (1080p: 640 x 384), not a square of grey around it, which would
cost 1.7 times as much for the same pixels.

Images up to 720p keep the square input the network was trained and every default measured with: a
rectangle there would save work (416 x 256 for 720p) but measured a little lower on frames from fixed cameras
(README, "Frame-shaped input").
"""

from __future__ import annotations

import math

STRIDE = 32  # YOLOX's largest stride: each input side must be a multiple of it
REFERENCE_LONG_SIDE = 1280  # 720p: frames up to this long are seen at the model's own input side


def round_up(value: float, multiple: int = STRIDE) -> int:
    return max(multiple, math.ceil(value / multiple - 1e-9) * multiple)


def frame_input_shape(height: int, width: int, model_side: int, max_side: int) -> tuple[int, int]:
    """(height, width) of the input an image of (height, width) is letterboxed into.

    Up to 720p the model's own square; beyond, the long side grows with the image (model_side x long / 1280,
    a multiple of the stride), never past `max_side`, and the short side is the image's at that scale,
    rounded up to the stride.
    """
    long_side = max(height, width)
    target = round_up(model_side * long_side / REFERENCE_LONG_SIDE)
    target = max(model_side, min(target, max(max_side, model_side)))
    if target == model_side:
        return model_side, model_side
    scale = target / long_side
    return (target, round_up(width * scale)) if height >= width else (round_up(height * scale), target)


def whole_image_side(detector: object, width: int, height: int, default: int) -> int:
    """The long side of the input a detector (or a wrapper that passes its attributes through) letterboxes an
    image of (width, height) into; `default` for runtimes without frame-shaped input."""
    shape_for = getattr(detector, "input_shape_for", None)
    return max(shape_for(height, width)) if shape_for is not None else default
