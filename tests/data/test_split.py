"""make_split / Split / load_split: a seeded, stratified, complete split kept in a file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.records import Dataset, DatasetError, ImageRecord
from gunwatch.data.split import Split, load_split, make_group_split, make_split, stratum

FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}
# (origin, has a gun) -> how many images of that stratum.
STRATA = {("web", True): 20, ("web", False): 10, ("cctv", True): 7, ("cctv", False): 3, ("unknown", True): 1}


def record(key: str, origin: str | None, gun: bool) -> ImageRecord:
    boxes = [[1, 1, 5, 5]] if gun else []
    return ImageRecord(Path("/data") / key, 10, 10, boxes, (GUN_LABEL,) * len(boxes), origin)


def make_records(strata: dict[tuple[str, bool], int] = STRATA) -> list[ImageRecord]:
    records = []
    for (origin, gun), count in strata.items():
        for i in range(count):
            key = f"{origin}-{'gun' if gun else 'none'}-{i:02d}.jpg"
            records.append(record(key, None if origin == "unknown" else origin, gun))
    return records


def test_same_seed_gives_the_same_split_and_another_seed_a_different_one() -> None:
    records = make_records()
    first = make_split(records, FRACTIONS, seed=3)
    assert make_split(list(reversed(records)), FRACTIONS, seed=3) == first  # input order does not matter
    other = make_split(records, FRACTIONS, seed=4)
    assert other.keys != first.keys
    # Same sizes though: the cut depends on the stratum sizes only.
    assert {n: len(k) for n, k in other.keys.items()} == {n: len(k) for n, k in first.keys.items()}


@pytest.mark.parametrize("seed", [0, 1, 17])
def test_split_is_disjoint_complete_and_sorted(seed: int) -> None:
    records = make_records()
    split = make_split(records, FRACTIONS, seed)
    assert (split.seed, split.fractions, list(split.keys)) == (seed, FRACTIONS, ["train", "val", "test"])
    every = [key for keys in split.keys.values() for key in keys]
    assert len(every) == len(set(every)) == len(records)
    assert set(every) == {r.key for r in records}
    assert all(keys == sorted(keys) for keys in split.keys.values())


# Per stratum size: (train, val, test). train = round(0.7 n), val = round(0.15 n), test takes the rest.
@pytest.mark.parametrize(
    ("stratum_key", "expected"),
    [
        (("web", True), (14, 3, 3)),
        (("web", False), (7, 2, 1)),  # round(1.5) == 2: banker's rounding, still within one image
        (("cctv", True), (5, 1, 1)),
        (("cctv", False), (2, 0, 1)),
        (("unknown", True), (1, 0, 0)),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_stratum_is_cut_by_the_fractions(seed: int, stratum_key: tuple[str, bool], expected: tuple) -> None:
    records = make_records()
    split = make_split(records, FRACTIONS, seed)
    members = {r.key for r in records if stratum(r) == stratum_key}
    counts = tuple(len(members & set(split.keys[name])) for name in FRACTIONS)
    assert counts == expected
    n = STRATA[stratum_key]
    for count, fraction in zip(counts, FRACTIONS.values(), strict=True):
        assert abs(count - fraction * n) <= 1


def test_fractions_must_add_up_to_one() -> None:
    with pytest.raises(ValueError, match="add up to 1"):
        make_split(make_records(), {"train": 0.7, "val": 0.2, "test": 0.2}, seed=0)


def test_to_json_and_load_split_round_trip(tmp_path: Path) -> None:
    split = make_split(make_records(), FRACTIONS, seed=5)
    path = tmp_path / "split.json"
    path.write_text(split.to_json("PistolData"))
    payload = json.loads(path.read_text())
    assert list(payload) == ["dataset", "seed", "fractions", "train", "val", "test"]
    assert (payload["dataset"], payload["seed"]) == ("PistolData", 5)
    assert load_split(path) == split


def dataset_of(keys: list[str]) -> Dataset:
    return Dataset(Path("/data/set"), "notebook", [record(key, "web", True) for key in keys], [])


def test_select_returns_the_records_of_a_split_in_split_order() -> None:
    split = Split(seed=0, fractions={}, keys={"train": ["c.jpg", "a.jpg"], "test": ["b.jpg"]})
    dataset = dataset_of(["a.jpg", "b.jpg", "c.jpg"])
    assert [r.key for r in split.select(dataset, "train")] == ["c.jpg", "a.jpg"]
    assert [r.key for r in split.select(dataset, "test")] == ["b.jpg"]


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("test", ["2 images of the 'test' split are not in /data/set", "(first: x.jpg)"]),
        ("val", ["unknown split 'val' (have: train, test)"]),
    ],
)
def test_select_raises_when_keys_or_the_split_are_missing(name: str, fragments: list[str]) -> None:
    split = Split(seed=0, fractions={}, keys={"train": ["a.jpg"], "test": ["x.jpg", "b.jpg", "y.jpg"]})
    with pytest.raises(DatasetError) as raised:
        split.select(dataset_of(["a.jpg", "b.jpg"]), name)
    for fragment in fragments:
        assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (None, None, "split file not found"),
        ('{\n "seed": 0,\n "train": ["a.jpg",]\n}\n', 3, "split file is not JSON"),
        ('{"seed": 0, "fractions": {}}\n', None, "split file has none of the keys train, val, test"),
    ],
)
def test_load_split_errors_name_the_file(tmp_path: Path, text: str | None, line: int | None, fragment: str) -> None:
    path = tmp_path / "split.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DatasetError) as raised:
        load_split(path)
    problem = raised.value.problem
    assert (problem.path, problem.line) == (path, line)
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(raised.value).startswith(f"{where}: {fragment}")


def test_load_split_keeps_only_the_splits_present(tmp_path: Path) -> None:
    path = tmp_path / "split.json"
    path.write_text('{"test": ["a.jpg"], "train": ["b.jpg"], "extra": [1]}')
    assert load_split(path) == Split(seed=0, fractions={}, keys={"train": ["b.jpg"], "test": ["a.jpg"]})


@pytest.mark.parametrize(
    "text",
    ['["train"]', "5", '{"train": "a.jpg"}', '{"train": [], "seed": "x"}'],
    ids=["list", "number", "string-keys", "bad-seed"],
)
def test_load_split_rejects_a_payload_of_the_wrong_shape_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "split.json"
    path.write_text(text)
    with pytest.raises(DatasetError) as raised:
        load_split(path)
    assert str(raised.value).startswith(f"{path}: ")


def frames_of(group: str, count: int) -> list[ImageRecord]:
    return [ImageRecord(Path(f"images/{group}/{i}.jpg"), 8, 8, key=f"{group}/{i}.jpg") for i in range(count)]


def test_group_split_keeps_every_video_whole() -> None:
    records = frames_of("room1", 3) + frames_of("room3", 2) + frames_of("gas_station", 1)
    split = make_group_split(records, {"room1": "train", "room3": "test", "gas_station": "test"})
    assert split.keys == {"train": ["room1/0.jpg", "room1/1.jpg", "room1/2.jpg"], "val": [],
                          "test": ["gas_station/0.jpg", "room3/0.jpg", "room3/1.jpg"]}


@pytest.mark.parametrize(
    ("groups", "fragment"),
    [
        ({"room1": "train"}, "not assigned ['room3']"),
        ({"room1": "train", "room3": "test", "hall": "val"}, "not in it ['hall']"),
        ({"room1": "train", "room3": "tset"}, "unknown split names ['tset']"),
    ],
)
def test_group_split_refuses_groups_that_do_not_match(groups: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        make_group_split(frames_of("room1", 2) + frames_of("room3", 1), groups)
