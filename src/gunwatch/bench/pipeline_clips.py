"""Camera clips for the pipeline benchmark, made on the fly from the repository's sample images.

Licence-clean, like samples/demo (see its README): `cctv` frames (CC BY 4.0) and a public-domain
`granada` handgun photo from samples/pistol-sample. Two kinds:

- a gun clip: a quiet scene, the handgun scene from a known frame on (the onset), a quiet scene again;
  looped, every pass is one gun appearance with a known stream timestamp;
- a static clip: a typical, mostly static camera (a cctv frame with sensor noise) in which a dark figure
  walks across once per pass, the short burst of motion a real scene has now and then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from gunwatch.video.writer import VideoWriter

SAMPLE_IMAGES = Path(__file__).resolve().parents[3] / "samples" / "pistol-sample" / "pistol_images"
QUIET_BEFORE, GUN_SCENE, QUIET_AFTER = "775.jpg", "1774.jpg", "1487.jpg"  # as in samples/demo/lobby.mp4
STATIC_SCENE = "2619.jpg"
GUN_ZOOM = 1.15  # the gun scene zooms in slowly, as a PTZ camera would (and so it is not one still picture)
NOISE_STD = 3.0  # sensor noise in grey levels: consecutive frames are never identical
NOISE_FIELDS = 8  # noise is drawn once and cycled: drawing a 720p field per frame costs more than encoding it
# veryfast at the default CRF gives about 0.5 Mbit/s for a noisy static 720p scene, a usual camera bit rate.
ENCODER_OPTIONS = {"preset": "veryfast"}


@dataclass(frozen=True)
class ClipFormat:
    width: int = 1280
    height: int = 720
    fps: float = 15.0

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True)
class GunClip:
    """A clip with one gun appearance per pass; times are stream timestamps (seconds, pts of frame 0 added)."""

    path: Path
    start_pts: float  # the file's first frame
    onset_pts: float  # the first frame with the gun
    gun_end_pts: float  # the first frame without it again
    pass_s: float  # one pass: a looped file's timestamps go on rising by this much per pass
    fps: float


def fit(image: Image.Image, size: tuple[int, int], zoom: float = 1.0) -> np.ndarray:
    """Scale to cover `size` (times `zoom`) and crop the middle, as a camera's field of view."""
    width, height = size
    scale = max(width / image.width, height / image.height) * zoom
    resized = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return np.asarray(resized.crop((left, top, left + width, top + height)).convert("RGB"))


class SensorNoise:
    def __init__(self, size: tuple[int, int], seed: int = 0):
        rng = np.random.default_rng(seed)
        width, height = size
        shape = (height, width, 1)  # grey noise, the same in every channel
        self.fields = [rng.normal(0, NOISE_STD, shape).round().astype(np.int16) for _ in range(NOISE_FIELDS)]

    def add(self, image: np.ndarray, index: int) -> np.ndarray:
        return (image.astype(np.int16) + self.fields[index % NOISE_FIELDS]).clip(0, 255).astype(np.uint8)


def _scene(name: str) -> Image.Image:
    return Image.open(SAMPLE_IMAGES / name)


def _write(path: Path, frames: Iterator[np.ndarray], fps: float, streamed: bool = False) -> Path:
    """`streamed`: for the RTSP server (`rtsp_server`): one slice per frame (a frame of several slices reaches
    an RTSP client with all but its last slice missing) and a key frame every second (a client joins at one)."""
    options, threads = (ENCODER_OPTIONS | {"g": str(max(1, round(fps)))}, 1) if streamed else (ENCODER_OPTIONS, 0)
    with VideoWriter(path, fps, options, threads) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def first_pts(path: Path) -> float:
    """The stream timestamp of the file's first frame (the reader passes the file's own timestamps on)."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return float(frame.time or 0.0)


def make_gun_clip(path: Path, lead_s: float, gun_s: float, tail_s: float, fmt: ClipFormat = ClipFormat(),
                  streamed: bool = False) -> GunClip:
    """`lead_s` quiet, `gun_s` of the handgun scene, `tail_s` quiet (`streamed`: see `_write`)."""
    counts = [round(seconds * fmt.fps) for seconds in (lead_s, gun_s, tail_s)]
    noise = SensorNoise(fmt.size)

    def frames() -> Iterator[np.ndarray]:
        quiet, after = fit(_scene(QUIET_BEFORE), fmt.size), fit(_scene(QUIET_AFTER), fmt.size)
        gun = _scene(GUN_SCENE)
        for i in range(counts[0]):
            yield noise.add(quiet, i)
        for i in range(counts[1]):
            yield noise.add(fit(gun, fmt.size, 1.0 + (GUN_ZOOM - 1.0) * i / counts[1]), i)
        for i in range(counts[2]):
            yield noise.add(after, i)

    _write(path, frames(), fmt.fps, streamed)
    start = first_pts(path)
    return GunClip(path, start, start + counts[0] / fmt.fps, start + (counts[0] + counts[1]) / fmt.fps,
                   sum(counts) / fmt.fps, fmt.fps)


def make_static_clip(path: Path, seconds: float, walk_at_s: float, walk_s: float = 1.5,
                     fmt: ClipFormat = ClipFormat(), streamed: bool = False) -> Path:
    """A still cctv scene with noise; a dark figure crosses it from `walk_at_s` for `walk_s` seconds (`streamed`:
    see `_write`)."""
    count, walk_from, walk_frames = round(seconds * fmt.fps), round(walk_at_s * fmt.fps), round(walk_s * fmt.fps)
    noise = SensorNoise(fmt.size, seed=1)
    scene = fit(_scene(STATIC_SCENE), fmt.size)
    # A person-sized figure: a third of the frame high, as someone a few metres from the camera.
    figure_h, figure_w = fmt.height // 3, fmt.height // 9
    top = fmt.height // 2

    def frames() -> Iterator[np.ndarray]:
        for i in range(count):
            image = scene
            step = i - walk_from
            if 0 <= step < walk_frames:
                image = scene.copy()
                left = round((fmt.width - figure_w) * step / max(walk_frames - 1, 1))
                image[top : top + figure_h, left : left + figure_w] = (45, 40, 38)
            yield noise.add(image, i)

    return _write(path, frames(), fmt.fps, streamed)
