"""Snapshots of a threat event: clean and annotated JPEGs, named after camera, time and event."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch.events.evidence import evidence_path, picture_to_send, with_fired_box, write_snapshots
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


def drawn_over(clean: Path, annotated: Path) -> np.ndarray:
    """Per pixel, how far the annotated JPEG is from the clean one (summed over the channels)."""
    plain = np.asarray(Image.open(clean).convert("RGB")).astype(int)
    return np.abs(np.asarray(Image.open(annotated).convert("RGB")).astype(int) - plain).sum(axis=2)


def test_the_box_that_fired_is_drawn_with_its_score_even_when_not_among_the_boxes_given(tmp_path: Path) -> None:
    threat = event()  # its best box (100, 80, 300, 240) at 0.9
    frame = Frame("lobby", np.full((360, 480, 3), 128, np.uint8), 7, 1.4, OPENED)
    clean, annotated = write_snapshots(threat, frame, Detections(), tmp_path, class_names=CLASSES)
    difference = drawn_over(clean, annotated)
    assert difference[80:241, 100:102].max(axis=1).min() > 150  # its left edge, all the way down
    assert difference[60:80, 100:140].max() > 150  # the label above it
    assert difference[120:200, 140:260].max() < 30  # inside the box: the picture itself


def test_the_box_that_fired_is_labelled_once_when_it_is_among_the_boxes_given() -> None:
    threat = event()
    shown = Detections([[100, 80, 300, 240], [320, 20, 400, 90]], [0.9, 0.7], [1, 1])
    assert with_fired_box(threat, shown, CLASSES) is shown
    alone = with_fired_box(threat, Detections([[320, 20, 400, 90]], [0.7], [1]), CLASSES)
    assert alone.xyxy.tolist() == [[320, 20, 400, 90], [100, 80, 300, 240]]
    assert alone.scores.tolist() == pytest.approx([0.7, 0.9]) and alone.class_ids.tolist() == [1, 1]


@pytest.mark.parametrize(("evidence", "sent"), [
    (Evidence(snapshot="a.jpg", annotated="a_annotated.jpg"), "a_annotated.jpg"),
    (Evidence(snapshot="a.jpg"), "a.jpg"),  # an event stored before the annotated copy existed
    (Evidence(clip="a.mp4"), None),
])
def test_the_picture_sent_is_the_annotated_one(evidence: Evidence, sent: str | None) -> None:
    assert picture_to_send(evidence) == sent
