"""The live view of a running watch: each camera's newest frame with its boxes, its rates and its top gun score.

A real WatchService on looping clip cameras; the stand-in model finds a handgun (0.9) in the middle of every
picture of the `lobby` camera and nothing on `yard`'s (an empty picture's detections). Everything is waited
for as a condition, never for a time.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.config import parse_site_config
from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.live_view import MAX_WIDTH, PipelineLiveView, scaled
from gunwatch.pipeline.watch import WatchService
from gunwatch.service.live import CameraLive, LiveView
from gunwatch.video.frame import Frame
from support.stand_in_cameras import GREY, WAIT_S, GunInTheMiddle, write_clip
from support.waiting import wait_until

GUN_RED = (230, 30, 30)  # video.annotate's colour for guns
BLUE = (30, 60, 200)


class GunOnGreyOnly(GunInTheMiddle):
    """The stand-in's gun on grey pictures; a blue picture (the `yard` camera's) has nothing in it."""

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        found = super().detect(images)
        return [Detections() if image[..., 2].mean() > 150 else one for image, one in zip(images, found, strict=True)]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[WatchService]:
    lobby, yard = write_clip(tmp_path / "lobby.mp4", GREY), write_clip(tmp_path / "yard.mp4", BLUE)
    site = parse_site_config(f"""
cameras:
  lobby: {{url: "{lobby}", loop: true, detect: {{fps: 5, tiles: "off", threshold: 0.6}}}}
  yard: {{url: "{yard}", loop: true, detect: {{fps: 5, tiles: "off"}}}}
motion: {{enabled: false}}
confirmation: {{close_after_s: 60}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
""")
    watch = WatchService(site, FrameAnalyzer(GunOnGreyOnly(), 416))  # type: ignore[arg-type]
    yield watch
    watch.close()


def live(view: PipelineLiveView, camera: str) -> CameraLive:
    return next(row for row in view.cameras() if row.camera == camera)


def decoded(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)


def red_share(image: np.ndarray) -> float:
    """The share of pixels near the guns' red."""
    return float((np.abs(image - np.array(GUN_RED)).sum(axis=2) < 90).mean())


def test_a_running_watch_shows_each_cameras_frames_boxes_rates_and_top_score(service: WatchService) -> None:
    view: LiveView = PipelineLiveView(service)
    assert [row.camera for row in view.cameras()] == []  # not started: no camera yet
    service.start()
    rows = {row.camera: row for row in view.cameras()}
    assert set(rows) == {"lobby", "yard"}
    assert rows["lobby"].threshold == pytest.approx(0.6) and rows["yard"].threshold == pytest.approx(0.5)

    # Frames flowed and were analysed: rates positive, the lobby's gun its top score.
    assert wait_until(lambda: live(view, "lobby").top_score > 0.8, WAIT_S)
    assert wait_until(lambda: all(row.fps_in > 0 and row.fps_analysed > 0 and row.analysed > 0
                                  for row in view.cameras()), WAIT_S)
    assert live(view, "lobby").top_score == pytest.approx(0.9)
    assert live(view, "yard").top_score == 0.0  # nothing there, not even an "almost"
    assert live(view, "lobby").frames_in >= live(view, "lobby").analysed

    # The lobby's picture has the gun's box drawn; the yard's has none.
    assert wait_until(lambda: view.frame_jpeg("yard") is not None, WAIT_S)
    lobby, yard = view.frame_jpeg("lobby"), view.frame_jpeg("yard")
    assert lobby is not None and yard is not None
    lobby_image, yard_image = decoded(lobby[0]), decoded(yard[0])
    assert lobby_image.shape == yard_image.shape == (120, 160, 3)  # smaller than MAX_WIDTH: as it came
    assert red_share(lobby_image) > 0.01 and red_share(yard_image) == 0.0
    # The box is around the middle (0.4 .. 0.6 of the picture): its left edge is red, the middle is grey.
    assert np.abs(lobby_image[55:65, 64:66] - np.array(GUN_RED)).sum(axis=2).max() < 150
    assert np.abs(lobby_image[60, 80] - np.array(GREY)).sum() < 60
    assert lobby[1] > 1_600_000_000  # the frame's wall-clock time

    assert view.frame_jpeg("nowhere") is None
    assert service.status()[0].top_score == pytest.approx(0.9)  # the status line's "gun/thr" column reads it


def test_each_analysed_frame_is_encoded_once_however_many_ask(service: WatchService) -> None:
    view = PipelineLiveView(service)
    service.start()
    assert wait_until(lambda: view.frame_jpeg("lobby") is not None, WAIT_S)
    service.close()  # frames stop: the newest analysed frame stays the same from now on
    encoded = view.encoded
    answers: list[tuple[bytes, float] | None] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait(WAIT_S)
        for _ in range(5):
            answers.append(view.frame_jpeg("lobby"))

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(WAIT_S)
    assert len(answers) == 40 and len({id(answer[0]) for answer in answers if answer is not None}) == 1
    assert view.encoded - encoded <= 1  # the last frame, when no one had asked for it yet
    lobby = next(loop for loop in service.loops if loop.name == "lobby")
    assert view.encoded <= lobby.counters.analysed + len(service.loops)


def test_a_large_frame_is_scaled_to_the_console_width_with_its_boxes() -> None:
    frame = Frame("lobby", np.zeros((1080, 1920, 3), np.uint8), 0, None, 0.0)
    image, boxes = scaled(frame, Detections([[800, 400, 1000, 600]], [0.9], [1]), MAX_WIDTH)
    assert image.shape == (540, 960, 3)
    assert boxes.xyxy.tolist() == [[400, 200, 500, 300]]
    small = Frame("lobby", np.zeros((360, 640, 3), np.uint8), 0, None, 0.0)
    assert scaled(small, Detections(), MAX_WIDTH)[0].shape == (360, 640, 3)
