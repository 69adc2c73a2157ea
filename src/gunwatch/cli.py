"""The gunwatch command line: one typer app, each command a thin call into a module.

Every command with --json writes machine-readable JSON on stdout and progress and the human report on
stderr, so `gunwatch ... --json | jq` works.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from gunwatch.data.layouts import LAYOUTS
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import DatasetError

app = typer.Typer(help="gunwatch: visual handgun detection for existing security cameras.", no_args_is_help=True)
data_app = typer.Typer(help="Read, check and split gun data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout; the human report goes to stderr")]
FormatOption = Annotated[
    str | None, typer.Option("--format", help=f"force the layout: {', '.join(LAYOUTS)} (default: detect)")
]
GunClassOption = Annotated[
    list[str] | None,
    typer.Option("--gun-class", help="class id or name that is a gun (repeatable; default: names like gun/pistol)"),
]


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def say(text: str) -> None:
    typer.echo(text, err=True)


def read_options(gun_class: list[str] | None, verify_images: bool = False) -> ReadOptions:
    return ReadOptions(gun_classes=frozenset(gun_class) if gun_class else None, verify_images=verify_images)


@data_app.command("check")
def data_check(
    path: Annotated[Path, typer.Argument(help="data set folder (or COCO JSON file)")],
    layout: FormatOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="stop with exit code 1 at the first problem")] = False,
    gun_class: GunClassOption = None,
    as_json: JsonOption = False,
) -> None:
    """Count images, guns and box sizes, and report every problem with its file and line."""
    from dataclasses import asdict

    from gunwatch.data.check import format_summary, summarize
    from gunwatch.data.layouts import read_dataset

    try:
        dataset = read_dataset(path, layout, strict=strict, options=read_options(gun_class, verify_images=True))
    except DatasetError as error:
        say(f"error: {error}")
        raise typer.Exit(code=1) from error
    summary = summarize(dataset)
    say(format_summary(summary, f"{path} ({dataset.layout} layout)"))
    if as_json:
        typer.echo(json.dumps(asdict(summary)))


@data_app.command("split")
def data_split(
    path: Annotated[Path, typer.Argument(help="data set folder")],
    out: Annotated[Path | None, typer.Option(help="split file (default: splits/<data set name>.json)")] = None,
    seed: Annotated[int, typer.Option(help="shuffle seed")] = 0,
    val: Annotated[float, typer.Option(help="fraction for validation")] = 0.15,
    test: Annotated[float, typer.Option(help="fraction for test")] = 0.15,
    layout: FormatOption = None,
    gun_class: GunClassOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a seeded train / val / test split, stratified by gun / no gun and by origin."""
    from gunwatch.data.layouts import read_dataset
    from gunwatch.data.split import make_split
    from gunwatch.evaluation.selection import default_split_file

    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise fail(f"--val {val} and --test {test} must be fractions that leave some images for training")
    try:
        dataset = read_dataset(path, layout, options=read_options(gun_class))
    except DatasetError as error:
        raise fail(str(error)) from error
    split = make_split(dataset.records, {"train": 1 - val - test, "val": val, "test": test}, seed)
    target = out or default_split_file(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(split.to_json(path.resolve().name))
    counts = {name: len(keys) for name, keys in split.keys.items()}
    say(f"wrote {target}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    if as_json:
        typer.echo(json.dumps({"path": str(target), **counts}))


@app.command("eval")
def eval_command(
    data: Annotated[Path, typer.Option("--data", help="data set folder")],
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the shipped model)")] = None,
    split: Annotated[
        str | None, typer.Option(help="train, val, test or all (default: test when a split file exists, else all)")
    ] = None,
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    threshold: Annotated[float | None, typer.Option(help="operating threshold (default: the model's own)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for report.json and plots (default: runs/eval/...)")] = None,
    layout: FormatOption = None,
    gun_class: GunClassOption = None,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads (default: all cores)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Measure a model on a data set split: COCO mAP, operating-point and image-level rates, mean IoU, speed."""
    from gunwatch.evaluation.evaluate import evaluate
    from gunwatch.evaluation.report import REPORT_KEYS, format_report
    from gunwatch.evaluation.selection import slug
    from gunwatch.inference.loading import load_detector
    from gunwatch.inference.onnx_session import ModelError

    try:
        detector = load_detector(model, threads=threads)
        folder = out or Path("runs/eval") / f"{detector.name}-{slug(data.resolve().name)}-{split or 'auto'}"
        result = evaluate(detector, data, split, split_file, threshold, folder, layout, read_options(gun_class))
    except (DatasetError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(format_report(result.report, result.description))
    say("plots: " + ", ".join(str(p) for p in result.artifacts))
    if as_json:
        payload = result.report.to_json_dict()
        extra = {key: value for key, value in payload.items() if key not in REPORT_KEYS}
        typer.echo(json.dumps({key: payload[key] for key in REPORT_KEYS} | {"extra": extra}))


# The COCO YOLOX-Nano beside the checkout: the speed reference the project measures against.
REFERENCE_MODEL = Path("../shared/weights/yolox_nano_coco.onnx")


@app.command()
def bench(
    model: Annotated[
        list[Path] | None, typer.Option(help="ONNX model to time (repeatable; default: the shipped one)")
    ] = None,
    reference: Annotated[Path, typer.Option(help="reference ONNX model timed in the same run")] = REFERENCE_MODEL,
    runs: Annotated[int, typer.Option(min=1, help="timed runs per model and thread count")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Time models on this machine at 1 thread and at all cores, as a ratio to a reference model."""
    from dataclasses import asdict

    from gunwatch.bench.speed import format_speed_table, speed_table
    from gunwatch.inference.loading import default_model_path
    from gunwatch.inference.onnx_session import ModelError

    try:
        rows = speed_table(model or [default_model_path()], reference, runs)
    except ModelError as error:
        raise fail(str(error)) from error
    say(format_speed_table(rows, reference.stem))
    if as_json:
        typer.echo(json.dumps([asdict(row) for row in rows]))


@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="training config YAML (see configs/)")],
    resume: Annotated[bool, typer.Option(help="continue from the run folder's last checkpoint")] = False,
    epochs: Annotated[int | None, typer.Option(help="override the config's epochs")] = None,
    out: Annotated[Path | None, typer.Option(help="override the config's run folder")] = None,
) -> None:
    """Train a model from a config file, export it to ONNX and pick its threshold on the validation split."""
    try:
        from gunwatch.training.pipeline import train_from_config  # torch is imported only here
    except ModuleNotFoundError as error:
        raise fail(f"training needs the train extra: pip install -e '.[train]' ({error})") from error
    try:
        model_path = train_from_config(config, resume=resume, overrides={"epochs": epochs, "out": out})
    except (ValueError, FileNotFoundError, DatasetError) as error:
        raise fail(str(error)) from error
    say(f"model: {model_path}")


def main() -> None:
    app()
