"""The full PistolData_merged set (skipped where ../shared is absent): counts, and the committed split."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gunwatch.cli import app
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split, make_split

SPLIT_FILE = Path(__file__).resolve().parents[2] / "splits" / "pistoldata_merged.json"


def test_data_check_counts_the_whole_set(pistol_data: Path) -> None:
    result = CliRunner().invoke(app, ["data", "check", str(pistol_data), "--json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["images"], summary["with_guns"], summary["without_guns"]) == (3985, 2985, 1000)
    assert summary["boxes"] == 3447
    assert summary["small"] + summary["medium"] + summary["large"] == 3447
    assert summary["problems"] == []
    assert summary["by_origin"] == {"cctv": 319, "granada": 2985, "knife": 681}


def test_committed_split_is_what_the_seed_gives(pistol_data: Path) -> None:
    committed = load_split(SPLIT_FILE)
    remade = make_split(read_dataset(pistol_data).records, committed.fractions, committed.seed)
    assert remade.keys == committed.keys
    sizes = {name: len(keys) for name, keys in committed.keys.items()}
    assert sizes == {"train": 2790, "val": 598, "test": 597}
