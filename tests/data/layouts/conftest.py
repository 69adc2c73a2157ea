"""Small data sets written into tmp_path for the layout reader tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from PIL import Image

# A file's content: text, raw bytes, or (width, height) for a tiny JPEG.
Content = str | bytes | tuple[int, int]
MakeFiles = Callable[[Mapping[str, Content]], Path]

FIXTURE_DATASETS = Path(__file__).resolve().parents[2] / "fixtures" / "datasets"


def write_jpeg(path: Path, width: int, height: int) -> None:
    Image.new("RGB", (width, height), (90, 110, 130)).save(path, "JPEG", quality=50)


@pytest.fixture
def make_files(tmp_path: Path) -> MakeFiles:
    """Writes files relative to tmp_path and returns tmp_path: {"images/a.jpg": (64, 48), "labels/a.txt": "..."}."""

    def make(files: Mapping[str, Content]) -> Path:
        for relative, content in files.items():
            path = tmp_path / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, tuple):
                write_jpeg(path, *content)
            elif isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return tmp_path

    return make


@pytest.fixture
def fixture_datasets() -> Path:
    """The committed example data sets, one folder per layout."""
    return FIXTURE_DATASETS
