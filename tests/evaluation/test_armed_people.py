"""The generated 1080p armed-people set: who counts as armed, exact gun boxes at the asked widths, unarmed
people in every gun-free frame, reproducible."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gunwatch import GUN_LABEL
from gunwatch.data.layouts import read_dataset
from gunwatch.data.records import DatasetError, ImageRecord
from gunwatch.data.split import load_split
from gunwatch.evaluation.armed_people import (
    ArmedPeopleSettings,
    build_armed_people_set,
    pasted_person_boxes,
    person_cuts,
)
from gunwatch.evaluation.small_guns import FRAME_SIZE

RED = (255, 0, 0)
PERSON = (40, 60, 200)  # a blue figure: no red in it, so red pixels are the gun


def picture(folder: Path, name: str, size: tuple[int, int], person: tuple[int, int, int, int] | None,
            gun: tuple[int, int, int, int] | None) -> ImageRecord:
    pixels = np.full((size[1], size[0], 3), 128, np.uint8)
    if person:
        x1, y1, x2, y2 = person
        pixels[y1:y2, x1:x2] = PERSON
    boxes, labels = [], ()
    if gun:
        x1, y1, x2, y2 = gun
        pixels[y1:y2, x1:x2] = RED
        boxes, labels = [gun], (GUN_LABEL,)
    Image.fromarray(pixels).save(folder / name)
    return ImageRecord(folder / name, *size, np.array(boxes, np.float32).reshape(-1, 4), labels)


def source(folder: Path) -> tuple[list[ImageRecord], dict[str, np.ndarray]]:
    """An armed person (gun beside the body, 0.1 of the height), a gun far from its person, a gun too big for
    its person (a close-up), two unarmed people and a scene without anyone."""
    folder.mkdir()
    records = [
        picture(folder, "armed.png", (600, 600), (250, 100, 350, 500), (360, 200, 400, 230)),
        picture(folder, "far.png", (800, 400), (20, 50, 80, 350), (700, 100, 740, 130)),
        picture(folder, "closeup.png", (600, 600), (250, 100, 350, 500), (150, 200, 250, 280)),
        picture(folder, "unarmed0.png", (500, 500), (200, 50, 300, 450), None),
        picture(folder, "unarmed1.png", (400, 600), (150, 100, 250, 500), None),
        picture(folder, "scene.png", (640, 360), None, None),
    ]
    people = {"armed.png": [[250, 100, 350, 500]], "far.png": [[20, 50, 80, 350]],
              "closeup.png": [[250, 100, 350, 500]], "unarmed0.png": [[200, 50, 300, 450]],
              "unarmed1.png": [[150, 100, 250, 500]], "scene.png": []}
    return records, {key: np.array(boxes, np.float32).reshape(-1, 4) for key, boxes in people.items()}


def test_only_a_person_holding_a_whole_gun_at_a_person_s_scale_counts_as_armed(tmp_path: Path) -> None:
    records, people = source(tmp_path / "source")
    armed, unarmed = person_cuts(records, people, ArmedPeopleSettings())
    assert [c.record.key for c in armed] == ["armed.png"]  # not the far gun, not the close-up
    assert [c.record.key for c in unarmed] == ["unarmed0.png", "unarmed1.png"]
    (cut,) = armed
    np.testing.assert_allclose(cut.guns, [[360, 200, 400, 230]])
    # The reach: 0.3 of the height beside the body, 0.1 above the head, clipped to the picture.
    np.testing.assert_allclose(cut.region, [130, 60, 470, 500])
    assert cut.person_height == 400


def test_a_gun_cut_by_the_reach_s_edge_makes_no_armed_person(tmp_path: Path) -> None:
    folder = tmp_path / "source"
    folder.mkdir()
    record = picture(folder, "edge.png", (800, 600), (250, 100, 350, 500), (460, 200, 520, 230))
    armed, _ = person_cuts([record], {"edge.png": np.array([[250, 100, 350, 500]], np.float32)},
                           ArmedPeopleSettings())
    assert armed == []  # the reach ends at x 470: half the gun would be pasted, and labelled or not, wrongly


def test_the_set_is_1080p_with_exact_guns_of_the_asked_width_and_people_in_every_frame(tmp_path: Path) -> None:
    records, people = source(tmp_path / "source")
    settings = ArmedPeopleSettings(frames_with_guns=5, frames_without=4, seed=3)
    out = build_armed_people_set(records, people, tmp_path / "set", settings)

    dataset = read_dataset(out)
    assert not dataset.problems and len(dataset.records) == 9
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    for record, entry in zip(sorted(dataset.records, key=lambda r: int(r.image_path.stem)), manifest, strict=True):
        assert (record.width, record.height) == FRAME_SIZE
        pixels = np.asarray(Image.open(record.image_path).convert("RGB")).astype(int)
        red = (pixels[..., 0] > 200) & (pixels[..., 1] < 70) & (pixels[..., 2] < 70)
        assert entry["people"], "every frame shows at least one person"
        if entry["origin"] == "armed-people":
            (box,) = record.gun_boxes
            assert settings.min_width * 1920 - 1 <= box[2] - box[0] <= settings.max_width * 1920 + 1
            ys, xs = np.nonzero(red)
            np.testing.assert_allclose(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], atol=2.0)
            assert entry["people"][0]["armed"] is True
        else:
            assert not record.has_gun and not red.any()
            assert not any(p["armed"] for p in entry["people"])


def test_the_set_is_reproducible(tmp_path: Path) -> None:
    records, people = source(tmp_path / "source")
    settings = ArmedPeopleSettings(frames_with_guns=2, frames_without=2, seed=1)
    first = build_armed_people_set(records, people, tmp_path / "a", settings)
    again = build_armed_people_set(records, people, tmp_path / "b", settings)
    for name in ("1.jpg", "3.jpg"):
        assert (first / "pistol_images" / name).read_bytes() == (again / "pistol_images" / name).read_bytes()
    assert (first / "manifest.jsonl").read_text() == (again / "manifest.jsonl").read_text()


def test_its_split_file_puts_every_frame_in_the_split_its_people_came_from(tmp_path: Path) -> None:
    records, people = source(tmp_path / "source")
    settings = ArmedPeopleSettings(frames_with_guns=2, frames_without=2, seed=1)
    measured = build_armed_people_set(records, people, tmp_path / "test-set", settings)
    dataset = read_dataset(measured)
    assert len(load_split(measured / "split.json").select(dataset, "test")) == 4
    for_training = build_armed_people_set(records, people, tmp_path / "train-set", settings, split_name="train")
    split = load_split(for_training / "split.json")
    assert sorted(r.key for r in split.select(read_dataset(for_training), "train")) == ["1.jpg", "2.jpg", "3.jpg",
                                                                                      "4.jpg"]
    with pytest.raises(DatasetError, match="unknown split 'test'"):
        split.select(read_dataset(for_training), "test")


def test_a_pasted_person_stands_at_the_bottom_centre_of_the_patch() -> None:
    people = [{"patch": [100, 50, 300, 450], "person_height": 360.0}, {"patch": [0, 0, 40, 80], "person_height": 60}]
    np.testing.assert_allclose(pasted_person_boxes(people), [[110, 90, 290, 450], [5, 20, 35, 80]])
    assert pasted_person_boxes([]).shape == (0, 4)


def test_without_armed_people_it_says_what_is_missing(tmp_path: Path) -> None:
    records, people = source(tmp_path / "source")
    unarmed_only = [r for r in records if not r.has_gun]
    with pytest.raises(ValueError, match=r"armed people \(0 found\)"):
        build_armed_people_set(unarmed_only, people, tmp_path / "set", ArmedPeopleSettings())
