"""A camera's picture at the shape it is shown, before the detector looks.

Pixels need not be square. A stream may say so with its sample aspect ratio (SAR, one pixel's width over its
height): a PAL D1 picture of 720 x 576 shown at 4:3 has SAR 16:15, an anamorphic 16:9 one 64:45. Players
stretch the picture by it; PyAV hands over the stored pixels. And many IP cameras squeeze their 16:9 picture
into a 704 x 576 or 640 x 480 sub-stream without saying so. The detector learnt people at their true
proportions: squeezed to 0.69 of their width, the test split's photos lose a tenth of the guns found at the shipped
threshold (README, "Squeezed sub-streams"). So every picture is stretched to its shape as shown, by the camera's
`aspect`:
- `auto`: by the SAR the stream signals (square when it signals none);
- `W:H`, such as `16:9`: to that display shape, for a stream that squeezes without saying so;
- `stored`: the pixels as sent.
Stretched (`data.images.resize_to`), never shrunk: the side that is short grows, so no pixel the camera sent is
lost. The shape is the
stored picture's, before the camera's `rotate` turns it.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from gunwatch.config.camera import display_aspect

SQUARE_ENOUGH = Fraction(1, 100)  # a SAR within 1 % of square is left alone: an encoder's rounding, not a shape
PLAUSIBLE_SAR = (Fraction(1, 4), Fraction(4))  # a SAR outside is a broken header, not a picture's shape


def stamp_sample_aspect(picture: av.VideoFrame, stream: av.VideoStream) -> None:
    """Keep the stream's SAR with a decoded picture. FFmpeg's decoded frame carries it, but PyAV's VideoFrame does
    not expose it, so the decoder's is kept in the picture's `opaque` (PyAV's slot for the caller's own data)."""
    sar = stream.codec_context.sample_aspect_ratio
    if sar:
        picture.opaque = Fraction(sar)


def sample_aspect(picture: np.ndarray | av.VideoFrame, aspect: str) -> Fraction:
    """One pixel's width over its height as the picture is shown, under a camera's `aspect`."""
    if aspect == "stored":
        return Fraction(1)
    shape = display_aspect(aspect)
    if isinstance(picture, av.VideoFrame):
        width, height, signalled = picture.width, picture.height, picture.opaque
    else:
        height, width, signalled = picture.shape[0], picture.shape[1], None
    if shape is not None:
        return shape * height / width
    if isinstance(signalled, Fraction) and PLAUSIBLE_SAR[0] <= signalled <= PLAUSIBLE_SAR[1]:
        return signalled
    return Fraction(1)


def shown_size(width: int, height: int, sar: Fraction) -> tuple[int, int]:
    """(width, height) of a stored picture stretched to its shape as shown: the short side grows."""
    if abs(sar - 1) <= SQUARE_ENOUGH:
        return width, height
    if sar > 1:
        return round(width * sar), height
    return width, round(height / sar)

