"""The command line, run in-process: JSON on stdout, the human report and errors on stderr."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.cli import app
from gunwatch.data.split import load_split
from gunwatch.evaluation.report import REPORT_KEYS
from gunwatch.inference.quantize import source_metadata
from support.yolox_graph import yolox_graph

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datasets"
NOTEBOOK = FIXTURES / "notebook"
SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "pistol-sample"
SUMMARY_KEYS = ["images", "with_guns", "without_guns", "boxes", "small", "medium", "large", "problems", "by_origin",
                "turned_by_exif"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args: str | Path, env: dict[str, str] | None = None):
    # This click (vendored by typer) keeps stdout and stderr apart on the Result: .stdout / .stderr.
    return CliRunner().invoke(app, [str(arg) for arg in args], env=env)


def test_result_keeps_stdout_and_stderr_apart() -> None:
    result = run("data", "check", NOTEBOOK, "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # stdout is nothing but the JSON
    assert result.stderr.startswith(f"{NOTEBOOK} (notebook layout)\n")
    assert "{" not in result.stderr


def test_data_check_json_of_the_notebook_fixture() -> None:
    result = run("data", "check", NOTEBOOK, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert list(payload) == SUMMARY_KEYS
    assert payload == {
        "images": 4,
        "with_guns": 3,
        "without_guns": 1,
        "boxes": 3,
        "small": 3,  # 32x24 and 24x32 px: 768 px each
        "medium": 0,
        "large": 0,
        "problems": [],
        "by_origin": {"cctv": 2, "web": 2},
        "turned_by_exif": 0,
    }


@pytest.mark.parametrize("layout", ["yolo", "coco", "voc"])
def test_data_check_auto_detects_the_other_fixtures(layout: str) -> None:
    result = run("data", "check", FIXTURES / layout, "--json")
    assert result.exit_code == 0, result.output
    assert f"({layout} layout)" in result.stderr.splitlines()[0]
    payload = json.loads(result.stdout)
    # The same four images; the person box in b.jpg is not a gun box.
    expected = {"images": 4, "with_guns": 3, "without_guns": 1, "boxes": 3, "small": 3, "medium": 0, "large": 0}
    assert {key: payload[key] for key in expected} == expected
    assert (payload["problems"], payload["by_origin"]) == ([], {"unknown": 4})


def test_data_check_without_json_prints_nothing_on_stdout() -> None:
    result = run("data", "check", NOTEBOOK)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert any(line.split() == ["images", "4"] for line in result.stderr.splitlines())


@pytest.fixture
def broken_notebook(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the notebook fixture whose 2.txt has a malformed second line: (data set, bad file)."""
    root = tmp_path / "broken"
    shutil.copytree(NOTEBOOK, root)
    bad = root / "pistol_annotations" / "2.txt"
    bad.write_text("1 0.5 0.5 0.5 0.5\n1 0.5 0.5\n")
    return root, bad


def test_data_check_lists_problems_with_file_and_line(broken_notebook: tuple[Path, Path]) -> None:
    root, bad = broken_notebook
    result = run("data", "check", root, "--json")
    assert result.exit_code == 0, result.output
    message = "malformed line '1 0.5 0.5': expected 'class xc yc w h'"
    assert f"  - {bad}:2: {message}" in result.stderr.splitlines()
    payload = json.loads(result.stdout)
    assert payload["problems"] == [{"path": str(bad), "line": 2, "message": message}]
    assert (payload["images"], payload["with_guns"], payload["by_origin"]) == (3, 2, {"cctv": 2, "web": 1})


def test_data_check_strict_stops_at_the_first_problem(broken_notebook: tuple[Path, Path]) -> None:
    root, bad = broken_notebook
    result = run("data", "check", root, "--strict", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {bad}:2: malformed line")


def test_data_check_of_a_missing_folder(tmp_path: Path) -> None:
    result = run("data", "check", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path / 'nowhere'}: no such file or folder\n"


def test_data_split_writes_the_file_and_json(tmp_path: Path) -> None:
    out = tmp_path / "splits" / "nb.json"
    result = run("data", "split", NOTEBOOK, "--out", out, "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    # Strata: web+gun {1, 2}, cctv+gun {4}, cctv without gun {3}; only a stratum of two has a test image.
    assert json.loads(result.stdout) == {"path": str(out), "train": 3, "val": 0, "test": 1}
    assert result.stderr == f"wrote {out}: train 3, val 0, test 1\n"
    split = load_split(out)
    assert split.seed == 3
    assert split.fractions == pytest.approx({"train": 0.7, "val": 0.15, "test": 0.15})
    assert sorted(key for keys in split.keys.values() for key in keys) == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    assert split.keys["test"][0] in {"1.jpg", "2.jpg"}
    assert json.loads(out.read_text())["dataset"] == "notebook"
    # The same seed writes the same file.
    again = tmp_path / "again.json"
    assert run("data", "split", NOTEBOOK, "--out", again, "--seed", "3").exit_code == 0
    assert again.read_text() == out.read_text()


@pytest.mark.parametrize(("val", "test"), [("0.6", "0.5"), ("-0.1", "0.2"), ("0.2", "1.0")])
def test_data_split_rejects_fractions_that_leave_no_training_images(tmp_path: Path, val: str, test: str) -> None:
    out = tmp_path / "split.json"
    result = run("data", "split", NOTEBOOK, "--out", out, "--val", val, "--test", test)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --val {float(val)} and --test {float(test)} must be fractions")
    assert not out.exists()


def test_eval_json_and_artifacts(tiny_localizer_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = run(
        "eval", "--model", tiny_localizer_onnx, "--data", NOTEBOOK, "--split", "all", "--threads", "1",
        "--json", "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert list(payload) == [*REPORT_KEYS, "extra"]
    assert (payload["images"], payload["threshold"]) == (4, 0.25)  # the threshold in the model's metadata
    assert list(payload["extra"]) == ["image_accuracy", "image_fpr_by_origin", "image_recall_at_fpr", "intervals"]
    assert set(payload["extra"]["intervals"]) == {"map50", "image_recall_at_fpr", "image_recall", "image_fpr"}
    assert set(payload["extra"]["image_fpr_by_origin"]) == {"cctv"}  # the only gun-free image is 3.jpg
    for key in ("precision", "recall", "image_fpr", "mean_iou"):
        assert payload[key] is None or 0 <= payload[key] <= 1
    assert payload["ms_per_image"] > 0
    for name in ("pr_curve.png", "image_rates.png", "worst_misses.png", "false_alarms.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    report = json.loads((out / "report.json").read_text())
    assert report["title"] == f"tiny-localizer on all 4 images of {NOTEBOOK}"
    assert {key: report[key] for key in REPORT_KEYS} == {key: payload[key] for key in REPORT_KEYS}
    assert result.stderr.splitlines()[-1] == "plots: " + ", ".join(
        str(out / name) for name in ("pr_curve.png", "image_rates.png", "worst_misses.png", "false_alarms.png")
    )


def test_eval_threshold_option_overrides_the_models(tiny_localizer_onnx: Path, tmp_path: Path) -> None:
    result = run(
        "eval", "--model", tiny_localizer_onnx, "--data", NOTEBOOK, "--split", "all", "--threads", "1",
        "--threshold", "0.999", "--json", "--out", tmp_path / "eval",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    # The untrained model's gun probability is nowhere near 0.999: nothing passes.
    assert (payload["threshold"], payload["precision"], payload["recall"], payload["image_fpr"]) == (
        0.999,
        None,
        0.0,
        0.0,
    )


def test_eval_with_a_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.onnx"
    result = run("eval", "--model", missing, "--data", NOTEBOOK, "--split", "all", "--out", tmp_path / "eval")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {missing}: model file not found\n"
    assert not (tmp_path / "eval").exists()


def test_eval_default_model_comes_from_gunwatch_model(tmp_path: Path) -> None:
    missing = tmp_path / "from-env.onnx"
    result = run("eval", "--data", NOTEBOOK, "--out", tmp_path / "eval", env={"GUNWATCH_MODEL": str(missing)})
    assert result.exit_code == 2
    assert result.stderr == f"error: {missing}: model file not found\n"


def test_eval_named_split_without_a_split_file(tiny_localizer_onnx: Path, tmp_path: Path) -> None:
    missing = tmp_path / "split.json"
    result = run(
        "eval", "--model", tiny_localizer_onnx, "--data", NOTEBOOK, "--split", "test", "--split-file", missing,
        "--out", tmp_path / "eval",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {missing}: no split file for {NOTEBOOK}")


def test_quantize_json_and_report(tmp_path: Path) -> None:
    model, split, out = yolox_graph(tmp_path / "tiny-yolox.onnx"), tmp_path / "split.json", tmp_path / "int8.onnx"
    assert run("data", "split", SAMPLE, "--out", split, "--val", "0.4", "--test", "0.1").exit_code == 0
    result = run("quantize", "--model", model, "--data", SAMPLE, "--split-file", split, "--images", "4",
                 "--method", "minmax", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["path"] == str(out) and payload["method"] == "minmax" and payload["calibration_images"] == 4
    assert [c["method"] for c in payload["candidates"]] == ["minmax"]
    assert out.is_file() and "INT8, minmax" in result.stderr and f"wrote {out}" in result.stderr
    assert payload["alarm_threshold"] is None and "gunwatch.alarm_threshold" not in source_metadata(out)
    # A live alarm threshold measured for the copy (`gunwatch bench alarms`) goes into its file.
    result = run("quantize", "--model", model, "--data", SAMPLE, "--split-file", split, "--images", "4",
                 "--method", "minmax", "--out", out, "--alarm-threshold", "0.7")
    assert result.exit_code == 0, result.output
    assert source_metadata(out)["gunwatch.alarm_threshold"] == "0.7" and "live alarm threshold 0.7" in result.stderr


def test_quantize_rejects_an_unknown_method(tmp_path: Path) -> None:
    result = run("quantize", "--data", SAMPLE, "--method", "mse", "--out", tmp_path / "int8.onnx")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --method must be auto or one of minmax, percentile, entropy")


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        ([], "visual handgun detection"),
        (["data"], "Read, check and split gun data sets"),
        (["data", "check"], "Count images, guns and box sizes"),
        (["data", "split"], "Write a seeded train / val / test split"),
        (["eval"], "Measure a model on a data set split"),
        (["train"], "Train a model from a config file"),
        (["quantize"], "Quantise a YOLOX model or a gun verifier to INT8"),
    ],
)
def test_help(command: list[str], fragment: str) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert fragment in " ".join(result.stdout.split())
