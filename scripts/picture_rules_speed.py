"""What a camera's picture rules cost per analysed picture, against converting the same picture to RGB.

    python scripts/picture_rules_speed.py [--rounds 20]

Each row makes one `Frame` from a decoded picture (H.264, coded here) and reads its `image`, as the pipeline does
for each picture it analyses; the reference row is the same picture with no rule, which is the decoder's
YUV -> RGB conversion alone. Median milliseconds of `--rounds`, on one core (the rules run on the camera's
thread), interleaved so that what else the machine runs weighs on every row alike.
"""
import argparse
import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from gunwatch.bench.interleaved import interleaved_median_ms
from gunwatch.config.camera import Fisheye
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.video.aspect import stamp_sample_aspect
from gunwatch.video.frame import Frame, PictureRules


def analysed(picture: av.VideoFrame, rules: PictureRules) -> Callable[[], np.ndarray]:
    """Making the pipeline's frame of `picture` and reading its RGB image, with `rules` applied."""
    return lambda: Frame("speed", picture, 0, None, 0.0, rules).image


def decoded_picture(width: int, height: int, folder: Path, interlaced: bool = False,
                    sar: Fraction | None = None) -> av.VideoFrame:
    """One H.264 picture of noise with a little structure, as a camera sends it."""
    rng = np.random.default_rng(0)
    picture = np.repeat(rng.integers(0, 256, (height, width // 8, 3), dtype=np.uint8), 8, axis=1)
    path = folder / f"{width}x{height}-{interlaced}-{sar}.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if interlaced:
            stream.options = {"x264-params": "interlaced=1:tff=1"}
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = sar
        container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        stamp_sample_aspect(frame, stream)  # as the sources do
        return frame


parser = argparse.ArgumentParser()
parser.add_argument("--rounds", type=int, default=20)
args = parser.parse_args()

ceiling = Fisheye(mount="ceiling")
with tempfile.TemporaryDirectory() as folder:
    cases = {
        "1080i, comb taken out": (decoded_picture(1920, 1080, Path(folder), interlaced=True), PictureRules()),
        "704x576 sub-stream, aspect 16:9": (decoded_picture(704, 576, Path(folder)), PictureRules(aspect="16:9")),
        "1280x1280 ceiling fisheye, unwrapped": (decoded_picture(1280, 1280, Path(folder)),
                                                 PictureRules(fisheye=ceiling)),
        "2048x2048 ceiling fisheye, unwrapped": (decoded_picture(2048, 2048, Path(folder)),
                                                 PictureRules(fisheye=ceiling)),
    }
    as_stored = PictureRules(deinterlace="never")  # the reference: no rule, the conversion alone
    calls = {(name, with_rule): analysed(picture, rules if with_rule else as_stored)
             for name, (picture, rules) in cases.items() for with_rule in (False, True)}
    ms = interleaved_median_ms(calls, rounds=args.rounds, warmup=0)

    # For scale: the shipped detector alone (no second look, no verifier) on the 1080p picture, on one thread.
    detector = load_detector(SHIPPED_DETECTOR, verifier="none", threads=1, max_input=LIVE_MAX_INPUT)
    full_hd = Frame("speed", cases["1080i, comb taken out"][0], 0, None, 0.0).image
    first_pass_ms = interleaved_median_ms({"first pass": lambda: detector.detect([full_hd])}, args.rounds, 1)

print(f"{'picture':40} {'RGB only ms':>12} {'with the rule ms':>17} {'ratio':>6}")
for name in cases:
    plain, ruled = ms[name, False], ms[name, True]
    print(f"{name:40} {plain:12.1f} {ruled:17.1f} {ruled / plain:5.1f}x")
print(f"for scale, the shipped detector's first pass on the 1080p picture (one thread): "
      f"{first_pass_ms['first pass']:.1f} ms")
