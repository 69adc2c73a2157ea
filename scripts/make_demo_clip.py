"""Build the bundled demo camera clip (samples/demo/lobby.mp4) that `make run` watches.

Licence-clean: made only from images of samples/pistol-sample (a public-domain `granada` photo with a
handgun, and CC BY 4.0 `cctv` frames, attributed in samples/demo/README.md). A "camera" shows a quiet
grey surveillance scene with sensor noise, cuts to the handgun scene (a slow zoom, as a PTZ camera
would), and back, so one pass opens a threat event and lets it close:

    0-3 s   cctv scene        no gun
    3-7 s   handgun scene     the event opens within a second of the cut
    7-10 s  cctv scene        no gun: the event closes after `close_after_s`

    python scripts/make_demo_clip.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch.bench.pipeline_clips import fit
from gunwatch.video.writer import VideoWriter

SAMPLE = Path("samples/pistol-sample/pistol_images")
OUT = Path("samples/demo/lobby.mp4")
SIZE = (640, 360)  # width, height
FPS = 15
# (image, seconds): the gun image is the sample's clearest handgun for the shipped model at this size.
SCENES = (("775.jpg", 3.0), ("1774.jpg", 4.0), ("1487.jpg", 3.0))
GUN_SCENE = "1774.jpg"
ZOOM = 1.15  # the gun scene zooms in by this much over its duration
NOISE = 3.0  # sensor noise (std of grey levels), so the frames are never identical


def frames() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for name, seconds in SCENES:
        image = Image.open(SAMPLE / name)
        count = round(seconds * FPS)
        for i in range(count):
            zoom = 1.0 + (ZOOM - 1.0) * i / count if name == GUN_SCENE else 1.0
            pixels = fit(image, SIZE, zoom).astype(np.float32)
            pixels += rng.normal(0, NOISE, pixels.shape[:2])[..., None]
            out.append(pixels.clip(0, 255).astype(np.uint8))
    return out


def main() -> None:
    # A key frame every second, as cameras send: a viewer joining mid-stream (RTSP) decodes within a second.
    # One encoder thread gives one slice per frame: the test RTSP server passes multi-slice frames on broken.
    with VideoWriter(OUT, FPS, options={"g": str(FPS)}, threads=1) as writer:
        for frame in frames():
            writer.write(frame)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
