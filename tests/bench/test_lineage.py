"""The lineage benchmark's own arithmetic (sample, recall at a false-alarm rate, training time, the table) and
one real run of its command on the bundled fixture set with the shipped detector."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gunwatch.bench.lineage import LineageRow, train_minutes
from gunwatch.bench.lineage_table import format_markdown
from gunwatch.cli import app
from gunwatch.inference.loading import SHIPPED_DETECTOR

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "datasets" / "notebook"


def test_training_minutes_from_the_run_history(tmp_path: Path) -> None:
    model = tmp_path / "run" / "model.onnx"
    model.parent.mkdir()
    assert train_minutes(model) is None
    per_epoch = [{"epoch": 1, "seconds": 600}, {"epoch": 2, "epoch_minutes": 5}]
    (model.parent / "history.json").write_text(json.dumps(per_epoch))
    assert train_minutes(model) == 15
    (model.parent / "history.json").write_text(json.dumps([*per_epoch, {"epoch": 3}]))
    assert train_minutes(model) is None  # an epoch without a time: a sum would understate the training
    (model.parent / "history.json").unlink()
    (model.parent / "summary.json").write_text(json.dumps({"selective_search_s": 120, "features_s": 60,
                                                           "fit_s": 60, "svm_c": 0.01}))
    assert train_minutes(model) == 4


def row(kind: str, ms: float) -> LineageRow:
    return LineageRow(model=kind, kind=kind, method=kind, second_look=False, images=10, regions_per_image=2000,
                      ms_1_thread=ms, ms_all_cores=ms / 2, map50=0.5, map50_95=0.25, recall_at_2pct=0.6,
                      score_at_2pct=0.5, train_minutes=None, course_s_per_image=None, course_map50=None)


def test_the_table_gives_each_speed_up_over_rcnn_measured_in_the_same_run() -> None:
    table = format_markdown([row("rcnn", 5000.0), row("fast-rcnn", 500.0), row("yolox", 10.0)])
    lines = table.splitlines()
    assert len(lines) == 5 and lines[2].startswith("| rcnn |")
    assert [line.split(" | ")[4] for line in lines[2:]] == ["1.0x", "10.0x", "500.0x"]


def test_the_command_measures_the_shipped_detector_on_the_fixture_set(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["bench", "lineage", "--model", str(SHIPPED_DETECTOR), "--data", str(FIXTURE),
                                      "--runs", "1", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    (measured,) = json.loads(result.output.splitlines()[-1])
    assert measured["kind"] == "yolox" and measured["method"] == "YOLOX-Nano (production)"
    assert measured["regions_per_image"] == 3549  # 52x52 + 26x26 + 13x13 grid points at 416 px
    assert 0 <= measured["map50"] <= 1 and measured["ms_1_thread"] > 0
    assert {p.name for p in tmp_path.iterdir()} == {"lineage.json", "lineage.md", "lineage.png"}


def test_fast_rcnns_rows_name_their_roi_operation_so_pool_and_align_tell_apart() -> None:
    from gunwatch.bench.lineage import method_name

    assert method_name("fast-rcnn", {"gunwatch.roi_op": "align"}, False) == "Fast R-CNN (RoI align)"
    assert method_name("fast-rcnn", {}, False) == "Fast R-CNN (RoI pool)"
    assert method_name("yolox", {}, True) == "YOLOX-Nano (production) + second look"
    assert method_name("rcnn", {}, False) == "R-CNN"
