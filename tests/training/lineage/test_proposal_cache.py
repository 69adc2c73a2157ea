"""The proposal cache: keys, resume after an interruption, boxes in the original image's pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from gunwatch.boxes import box_iou
from gunwatch.data.layouts import read_dataset
from gunwatch.data.records import ImageRecord
from gunwatch.inference.proposals import ProposalSettings, selective_search
from gunwatch.training.lineage import proposal_cache
from gunwatch.training.lineage.proposal_cache import ProposalCache, split_proposals

SETTINGS = ProposalSettings(max_side=64, limit=50)


def _records(root: Path) -> list[ImageRecord]:
    return read_dataset(root).records


def test_cache_holds_every_image_by_key_and_matches_selective_search(tmp_path, synthetic_set):
    records = _records(synthetic_set(tmp_path / "set", guns=3, negatives=1))
    cache = ProposalCache.for_split(tmp_path / "set", tmp_path / "split.json", "train", SETTINGS, tmp_path / "c")
    got = cache.compute(records, chunk=3, progress=False)
    assert list(got) == [r.key for r in records]
    assert sorted(cache.load()) == sorted(r.key for r in records)
    from gunwatch.data.images import load_rgb

    for record in records:
        expected = selective_search(load_rgb(record.image_path), SETTINGS, 1)
        assert got[record.key].dtype == np.float32 and got[record.key].shape[1] == 4
        np.testing.assert_array_equal(cache.load([record.key])[record.key], expected)
    with pytest.raises(KeyError):
        cache.load(["nope.jpg"])


def test_an_interrupted_run_keeps_its_chunks_and_the_next_computes_only_the_rest(tmp_path, synthetic_set, monkeypatch):
    records = _records(synthetic_set(tmp_path / "set", guns=4, negatives=1))
    cache = ProposalCache.for_split(tmp_path / "set", tmp_path / "split.json", "val", SETTINGS, tmp_path / "c")
    calls: list[int] = []
    real = proposal_cache.selective_search

    def failing(image, settings, threads):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(image, settings, threads)

    monkeypatch.setattr(proposal_cache, "selective_search", failing)
    with pytest.raises(KeyboardInterrupt):
        cache.compute(records, chunk=2, progress=False)
    assert sorted(cache.load()) == sorted(r.key for r in records[:2])  # the first chunk only
    assert not list(cache.path.parent.glob("*.tmp"))
    calls.clear()
    monkeypatch.setattr(proposal_cache, "selective_search", real)
    done = split_proposals(tmp_path / "set", tmp_path / "split.json", "val", records, SETTINGS, tmp_path / "c",
                           progress=False)
    assert list(done) == [r.key for r in records]
    assert sorted(cache.load()) == sorted(r.key for r in records)


def test_settings_split_and_data_set_name_different_files(tmp_path):
    a = ProposalCache.for_split(tmp_path / "set", tmp_path / "s.json", "train", SETTINGS, tmp_path)
    assert a.path.parent == tmp_path and a.path.name.startswith("set-s-train-fast64-50-")
    wider = ProposalSettings(max_side=65)
    others = [
        ProposalCache.for_split(tmp_path / "set", tmp_path / "s.json", "val", SETTINGS, tmp_path),
        ProposalCache.for_split(tmp_path / "set", tmp_path / "s.json", "train", wider, tmp_path),
        ProposalCache.for_split(tmp_path / "other" / "set", tmp_path / "s.json", "train", SETTINGS, tmp_path),
    ]
    assert len({a.path, *(o.path for o in others)}) == 4


def test_a_file_of_other_settings_is_refused(tmp_path, synthetic_set):
    records = _records(synthetic_set(tmp_path / "set", guns=1, negatives=0))
    cache = ProposalCache.for_split(tmp_path / "set", tmp_path / "s.json", "train", SETTINGS, tmp_path / "c")
    cache.compute(records, progress=False)
    with pytest.raises(ValueError, match="holds proposals made with"):
        ProposalCache(cache.path, ProposalSettings(max_side=99)).load()


def test_proposals_are_in_the_original_pixels_and_cover_a_known_box(tmp_path):
    """A dark block in a 320 x 160 image searched at 80 px: a proposal fits it in the image's own pixels."""
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(170, 220, (160, 320, 3), dtype=np.uint8))
    ImageDraw.Draw(image).rectangle((200, 40, 279, 119), fill=(20, 20, 20))  # covers x 200..280, y 40..120
    image.save(tmp_path / "1.png")
    record = ImageRecord(tmp_path / "1.png", 320, 160)
    settings = ProposalSettings(max_side=80, limit=500)
    boxes = ProposalCache(tmp_path / "c.npz", settings).compute([record], progress=False)["1.png"]
    assert boxes[:, 2].max() > 80 and boxes[:, [0, 2]].max() <= 320 and boxes[:, [1, 3]].max() <= 160
    assert box_iou(np.array([[200, 40, 280, 120]]), boxes).max() > 0.8


def test_two_writers_of_one_file_keep_each_others_images(tmp_path, synthetic_set):
    # R-CNN's and Fast R-CNN's runs fill the same cache at once: a write must not drop what the other
    # process wrote after this one read the file.
    records = _records(synthetic_set(tmp_path / "set", guns=3, negatives=1))
    first = ProposalCache.for_split(tmp_path / "set", tmp_path / "s.json", "train", SETTINGS, tmp_path / "c")
    second = ProposalCache.for_split(tmp_path / "set", tmp_path / "s.json", "train", SETTINGS, tmp_path / "c")
    second.compute(records[2:], progress=False)
    first_view = {records[0].key: np.zeros((1, 4), np.float32)}  # read before `second` wrote
    union = first._merge_and_write(first_view)
    assert sorted(first.load()) == sorted([records[0].key, *(r.key for r in records[2:])]) == sorted(union)
