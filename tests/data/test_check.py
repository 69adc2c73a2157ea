"""summarize: image and gun counts, COCO size bins, problems and origins of a read data set."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from gunwatch import GUN_LABEL
from gunwatch.data.check import format_summary, summarize
from gunwatch.data.records import Dataset, ImageRecord, Problem


def record(
    name: str, boxes: list[list[float]], labels: tuple[str, ...] | None = None, origin: str | None = None
) -> ImageRecord:
    labels = labels if labels is not None else (GUN_LABEL,) * len(boxes)
    return ImageRecord(Path(name), 400, 300, boxes, labels, origin)


def wh_box(w: float, h: float) -> list[float]:
    return [10, 10, 10 + w, 10 + h]


def dataset(records: list[ImageRecord], problems: list[Problem] | None = None) -> Dataset:
    return Dataset(Path("/data/set"), "notebook", records, problems or [])


@pytest.mark.parametrize(
    ("w", "h", "bin_name"),
    [
        pytest.param(31, 33, "small", id="1023-small"),
        pytest.param(32, 32, "medium", id="1024-medium"),
        pytest.param(1, 1023.5, "small", id="1023.5-small"),
        pytest.param(95, 97, "medium", id="9215-medium"),
        pytest.param(96, 96, "large", id="9216-large"),
        pytest.param(1, 9215.5, "medium", id="9215.5-medium"),
        pytest.param(0.5, 2, "small", id="1-small"),
        pytest.param(380, 280, "large", id="106400-large"),
    ],
)
def test_size_bins_at_the_coco_boundaries(w: float, h: float, bin_name: str) -> None:
    # Tall boxes only need a tall image; the record does not check boxes against its size.
    summary = summarize(dataset([record("a.jpg", [wh_box(w, h)])]))
    counts = {"small": summary.small, "medium": summary.medium, "large": summary.large}
    assert counts == {name: int(name == bin_name) for name in counts}


def test_counts_origins_and_problems() -> None:
    records = [
        record("1.jpg", [wh_box(31, 33), wh_box(32, 32)], origin="web"),
        record("2.jpg", [wh_box(95, 97), wh_box(96, 96), wh_box(5, 5)], (GUN_LABEL, GUN_LABEL, "person"), "cctv"),
        record("3.jpg", [], origin="cctv"),
        record("4.jpg", [wh_box(50, 50)], ("person",)),  # no gun: a gun-free image, its box is not counted
        ImageRecord(Path("5.jpg"), 300, 400, [wh_box(10, 10)], (GUN_LABEL,), orientation=6),  # a phone's photo
    ]
    problems = [Problem(Path("/data/set/x.txt"), "malformed line", 3), Problem(Path("/data/set/y.jpg"), "broken")]
    summary = summarize(dataset(records, problems))
    assert asdict(summary) == {
        "images": 5,
        "with_guns": 3,
        "without_guns": 2,
        "boxes": 5,
        "small": 2,
        "medium": 2,
        "large": 1,
        "problems": [
            {"path": "/data/set/x.txt", "line": 3, "message": "malformed line"},
            {"path": "/data/set/y.jpg", "line": None, "message": "broken"},
        ],
        "by_origin": {"cctv": 2, "unknown": 2, "web": 1},
        "turned_by_exif": 1,
    }
    assert list(summary.by_origin) == ["cctv", "unknown", "web"]


def test_empty_dataset() -> None:
    summary = summarize(dataset([]))
    assert (summary.images, summary.with_guns, summary.without_guns, summary.boxes) == (0, 0, 0, 0)
    assert (summary.small, summary.medium, summary.large, summary.problems, summary.by_origin) == (0, 0, 0, [], {})


def test_format_summary_lists_problems_with_file_and_line() -> None:
    problems = [Problem(Path("/d/x.txt"), "malformed line", 3), Problem(Path("/d/y.jpg"), "broken")]
    text = format_summary(summarize(dataset([record("1.jpg", [wh_box(32, 32)], origin="web")], problems)), "title")
    lines = text.splitlines()
    assert lines[0] == "title"
    assert "  - /d/x.txt:3: malformed line" in lines
    assert "  - /d/y.jpg: broken" in lines
    assert any(line.split() == ["origin", "web", "1"] for line in lines)
    assert any(line.split() == ["problems", "(skipped)", "2"] for line in lines)
