"""Interlaced pictures: the comb taken out before the detector looks.

An analogue camera behind a DVR or encoder (D1, 960H) and broadcast-style 1080i send interlaced video: each
picture holds two fields taken a field apart (1/50 or 1/60 s), the even lines of one and the odd lines of
the other. Whatever moved between them comes out combed, and what moves fastest in a threat is the arm
drawing and aiming the gun. Players deinterlace; PyAV hands over the woven picture and says so
(`interlaced_frame`). FFmpeg's deinterlacers (yadif, bwdif) need every picture in order, where gunwatch
converts only the few it analyses, so each picture is mended on its own: where a line of the second field
lies beyond both first-field lines around it (a comb tooth) it is made again from them; still parts keep
both fields. Seeing one field everywhere instead costs half the lines, which small far guns need: on the
clips' frames it lowered a distant pistol's scores where this keeps them (README, "Interlaced cameras").

A camera's `deinterlace` says when: `auto` (the pictures the stream flags as interlaced), `always` (an
encoder that wove the fields into pictures it calls progressive: the comb is baked in) or `never`.
"""

from __future__ import annotations

import av
import numpy as np

from gunwatch.config.camera import Deinterlace

COMB = 10  # grey levels a line must lie beyond both of its neighbours to count as combed, not as detail


def woven(picture: np.ndarray | av.VideoFrame, rule: Deinterlace) -> bool:
    """Whether the picture is two fields woven together, to be taken apart under `rule`."""
    if rule == "never":
        return False
    if rule == "always":
        return True
    return isinstance(picture, av.VideoFrame) and bool(picture.interlaced_frame)


def uncombed(image: np.ndarray, comb: int = COMB) -> np.ndarray:
    """An H x W x 3 picture with its comb taken out: wherever a line of the second field lies beyond both lines of
    the first field around it (`comb` grey levels or more each way, where it moved between the fields), it is made
    again from those two lines; elsewhere (still parts) both fields stay, with all their lines of detail."""
    if image.shape[0] < 2:
        return image
    grey = image[..., 0].astype(np.int16) + image[..., 1] + image[..., 2]  # 0..765 (sum(axis=2) is 4x slower)
    odd = len(grey) // 2  # lines of the second field
    grey_above, grey_below = grey[0 : 2 * odd : 2], _next_lines(grey[0::2], odd)
    gap = (grey[1::2] - grey_above).astype(np.int32) * (grey[1::2] - grey_below)
    combed = gap > (3 * comb) ** 2  # both differences of one sign and large: a tooth, not an edge
    combed[:, 1:] |= combed[:, :-1]  # and the pixels beside a tooth, whose colour bleeds into it
    combed[:, :-1] |= combed[:, 1:]
    above, below = image[0 : 2 * odd : 2].astype(np.uint16), _next_lines(image[0::2], odd)
    shown = image.copy()
    np.copyto(shown[1::2], ((above + below + 1) >> 1).astype(np.uint8), where=combed[..., None])
    return shown


def _next_lines(field: np.ndarray, count: int) -> np.ndarray:
    """For each of the first `count` lines of the first field, the field line below it (the last one repeated)."""
    return field[1 : count + 1] if len(field) > count else np.concatenate([field[1:], field[-1:]])
