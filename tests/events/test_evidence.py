"""Snapshots of a threat event: clean and annotated JPEGs, named after camera, time and event."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from gunwatch.events.evidence import evidence_path, write_snapshots
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.video.frame import Frame

CLASSES = ("person", "handgun")
OPENED = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


def event(camera: str = "lobby") -> ThreatEvent:
    return ThreatEvent(camera, "open", OPENED - 1, OPENED, OPENED, 0.9, (100, 80, 300, 240))


def test_paths_name_camera_time_and_event(tmp_path: Path) -> None:
    threat = event()
    path = evidence_path(tmp_path, threat, ".jpg")
    assert path == tmp_path / "lobby" / f"lobby_20231114T221320Z_{threat.id[:8]}.jpg"
    assert evidence_path(tmp_path, event("../up"), ".mp4").parent == tmp_path / "___up"


def test_snapshots_are_written_decodable_and_the_boxes_drawn(tmp_path: Path) -> None:
    image = np.full((360, 480, 3), 128, np.uint8)
    image[:, :, 1] = np.arange(480, dtype=np.uint8)[None, :] // 4  # some texture for the encoder
    threat = event()
    found = Detections([[100, 80, 300, 240]], [0.9], [1])
    folder = tmp_path / "not" / "yet" / "there"
    best = Frame("lobby", image, 7, 1.4, OPENED)
    clean, annotated = write_snapshots(threat, best, found, folder, class_names=CLASSES)

    assert clean.is_file() and annotated.is_file() and clean != annotated
    assert clean == evidence_path(folder, threat, ".jpg")
    assert annotated == evidence_path(folder, threat, "_annotated.jpg")
    assert threat.evidence == Evidence()  # a value: the caller makes the version that records the paths
    plain = np.asarray(Image.open(clean).convert("RGB")).astype(int)
    drawn = np.asarray(Image.open(annotated).convert("RGB")).astype(int)
    assert plain.shape == drawn.shape == image.shape
    assert np.abs(plain - image).mean() < 3  # the clean copy is the frame
    difference = np.abs(drawn - plain).sum(axis=2)
    assert difference[80:241, 100:301].max() > 150  # the box outline
    assert difference[300:, 350:].max() < 30  # far from the box: the same picture
    assert not list(folder.rglob("*.part"))


def test_a_better_frame_replaces_the_snapshots(tmp_path: Path) -> None:
    threat = event()
    dark, bright = (np.full((60, 80, 3), v, np.uint8) for v in (20, 220))
    first = write_snapshots(threat, Frame("lobby", dark, 1, None, OPENED), Detections(), tmp_path, class_names=CLASSES)
    second = write_snapshots(
        threat, Frame("lobby", bright, 2, None, OPENED + 1), Detections(), tmp_path, class_names=CLASSES
    )
    assert first == second
    assert np.asarray(Image.open(second[0])).mean() > 200
    assert len(list((tmp_path / "lobby").iterdir())) == 2
