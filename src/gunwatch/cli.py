"""The gunwatch command line: one typer app, each command a thin call into a module.

Every command with --json writes machine-readable JSON on stdout and progress and the human report on
stderr, so `gunwatch ... --json | jq` works.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from gunwatch import GUN_LABEL
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.layouts import LAYOUTS
from gunwatch.data.layouts.base import ReadOptions
from gunwatch.data.records import DatasetError

if TYPE_CHECKING:
    from gunwatch.config import SiteConfig
    from gunwatch.events.store import EventStore
    from gunwatch.video.reach import ReachResult

app = typer.Typer(help="gunwatch: visual handgun detection for existing security cameras.", no_args_is_help=True)
data_app = typer.Typer(help="Read, check and split gun data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
config_app = typer.Typer(help="Check a site configuration (cameras, detector, store).", no_args_is_help=True)
app.add_typer(config_app, name="config")
event_app = typer.Typer(help="Threat events in the event store.", no_args_is_help=True)
app.add_typer(event_app, name="event")
camera_app = typer.Typer(help="Cameras and their health, as recorded in the event store.", no_args_is_help=True)
app.add_typer(camera_app, name="camera")
alert_app = typer.Typer(help="The site's alert channels: try them before an alert has to get through.",
                        no_args_is_help=True)
app.add_typer(alert_app, name="alert")
cluster_app = typer.Typer(help="Cluster mode (Ray): which node watches which camera.", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
# `gunwatch bench` measures the models; `gunwatch bench pipeline` the live pipeline.
bench_app = typer.Typer()
app.add_typer(bench_app, name="bench")


def _add_retention_commands() -> None:
    # `gunwatch prune`, `gunwatch event hold / unhold` (gunwatch.events.retention.cli).
    from gunwatch.events.retention.cli import event_hold, event_unhold, prune

    app.command("prune")(prune)
    event_app.command("hold")(event_hold)
    event_app.command("unhold")(event_unhold)


_add_retention_commands()


def _add_backup_commands() -> None:
    # `gunwatch backup`, `gunwatch restore` (gunwatch.events.backup.cli).
    from gunwatch.events.backup.cli import backup_command, restore_command

    app.command("backup")(backup_command)
    app.command("restore")(restore_command)


_add_backup_commands()


def _add_reload_command() -> None:
    # `gunwatch reload` (gunwatch.pipeline.reload_cli): the running watch reads its site file again.
    from gunwatch.pipeline.reload_cli import reload_command

    app.command("reload")(reload_command)


_add_reload_command()


def _add_console_commands() -> None:
    # The console's users and API tokens (gunwatch.users.cli): imported here, they pull in only typer.
    from gunwatch.users.cli import token_app, user_app

    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


_add_console_commands()


def _add_service_commands() -> None:
    # `gunwatch service install / status` (gunwatch.ops.cli): the systemd unit.
    from gunwatch.ops.cli import service_app

    app.add_typer(service_app, name="service")


_add_service_commands()

JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout; the human report goes to stderr")]
# Its default is metrics.bootstrap.DRAWS (a test holds them equal; importing it here would load pycocotools for
# every command).
DrawsOption = Annotated[int, typer.Option(min=0, help="bootstrap draws for the 95 % intervals (0: none)")]
LogFormatOption = Annotated[
    str, typer.Option("--log-format", help="text, or json: one JSON object a line on stderr (journald, log shippers)")
]
NoBackupOption = Annotated[
    bool, typer.Option("--no-backup", help="upgrade the store's schema even though no backup holds it (see gunwatch "
                                           "backup)")
]
FormatOption = Annotated[
    str | None, typer.Option("--format", help=f"force the layout: {', '.join(LAYOUTS)} (default: detect)")
]
TilesOption = Annotated[
    str, typer.Option("--tiles", help="auto (tile frames much larger than the model input), on or off")
]
SecondLookOption = Annotated[
    bool, typer.Option("--second-look/--no-second-look",
                       help="look again at each person, cropped from the full-resolution image and zoomed")
]
FlipOption = Annotated[
    bool, typer.Option("--flip/--no-flip", help="also run every image mirrored and merge the two views (twice the "
                                                "model runs)")
]
VerifierOption = Annotated[
    str, typer.Option("--verifier", help="gun verifier judging every gun candidate: auto (the shipped one, when the "
                                         "model is the detector it was calibrated with), none, or a file")
]
def _square_when_zero(max_input: int | None) -> int | None:
    return max_input or None  # 0 on the command line is null in the site file: every image into the square


MaxInputOption = Annotated[
    int | None, typer.Option("--max-input", min=0, max=1280, callback=_square_when_zero,
                             help="frame-shaped input (detector.max_input_size): an image over 720p letterboxed "
                                  "into a larger input of its own aspect, up to this side; 0: every image into "
                                  "the square")
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


def problem_teller(log_format: str) -> Callable[[str, dict[str, object]], None]:
    """How `watch` and `serve` say what stopped them: `error: ...` on stderr, or with --log-format json a log
    record whose fields (file, key, line) a log shipper can read, as every other line of the run."""
    from gunwatch.ops.logs import LOG_FORMATS, configure_logging

    if log_format not in LOG_FORMATS:
        raise fail(f"--log-format {log_format}: choose {' or '.join(LOG_FORMATS)}")
    if log_format == "text":
        return lambda text, _fields: say(f"error: {text}")
    configure_logging("json")
    log = logging.getLogger("gunwatch.cli")
    return lambda text, fields: log.error(text, extra={key: value for key, value in fields.items()
                                                       if key != "message" and value is not None})


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
    group: Annotated[
        list[str] | None,
        typer.Option(help="GROUP=SPLIT (repeatable): whole folders to splits instead of fractions, for frames of "
                          "a few videos (e.g. --group room1=train --group room3=test)"),
    ] = None,
    layout: FormatOption = None,
    gun_class: GunClassOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write a seeded train / val / test split, stratified by gun / no gun and by origin (or by whole groups)."""
    from gunwatch.data.layouts import read_dataset
    from gunwatch.data.split import make_group_split, make_split
    from gunwatch.evaluation.selection import default_split_file

    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise fail(f"--val {val} and --test {test} must be fractions that leave some images for training")
    if group and not all("=" in item for item in group):
        raise fail(f"--group takes GROUP=SPLIT, got {[item for item in group if '=' not in item]}")
    try:
        dataset = read_dataset(path, layout, options=read_options(gun_class))
        split = (make_group_split(dataset.records, dict(item.split("=", 1) for item in group)) if group
                 else make_split(dataset.records, {"train": 1 - val - test, "val": val, "test": test}, seed))
    except (DatasetError, ValueError) as error:
        raise fail(str(error)) from error
    target = out or default_split_file(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(split.to_json(path.resolve().name))
    counts = {name: len(keys) for name, keys in split.keys.items()}
    say(f"wrote {target}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    if as_json:
        typer.echo(json.dumps({"path": str(target), **counts}))


# The COCO YOLOX-Nano and the data set beside the checkout: the references the project measures against.
REFERENCE_MODEL = Path("../shared/weights/yolox_nano_coco.onnx")
DEFAULT_DATA = Path("../shared/datasets/PistolData_merged")
SMALL_GUNS = Path("runs/small-guns-1080p")
ARMED_PEOPLE = Path("runs/armed-people-1080p")


@data_app.command("small-guns")
def data_small_guns(
    data: Annotated[Path, typer.Option("--data", help="data set folder")],
    out: Annotated[Path, typer.Option(help="folder to write the 1080p set to")] = Path("runs/small-guns-1080p"),
    split: Annotated[str, typer.Option(help="split whose images are used (never train)")] = "test",
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    frames: Annotated[int, typer.Option(min=1, help="frames with guns, and as many gun-free ones")] = 100,
    seed: Annotated[int, typer.Option(help="random seed (the set is reproducible)")] = 0,
) -> None:
    """Build 1080p frames with guns 1-2 % of the frame wide (from the split's images) to measure small guns."""
    from gunwatch.evaluation.selection import select_records
    from gunwatch.evaluation.small_guns import SmallGunSettings, build_small_gun_set

    try:
        records = select_records(data, split, split_file).records
        build_small_gun_set(records, out, SmallGunSettings(frames_with_guns=frames, frames_without=frames, seed=seed))
    except (DatasetError, ValueError) as error:
        raise fail(str(error)) from error
    say(f"wrote {2 * frames} frames to {out}")


@data_app.command("armed-people")
def data_armed_people(
    data: Annotated[Path, typer.Option("--data", help="data set folder")],
    out: Annotated[Path, typer.Option(help="folder to write the 1080p set to")] = ARMED_PEOPLE,
    split: Annotated[str, typer.Option(help="split whose images are used: test to measure, train for a training set "
                                            "(its split.json then lists every frame under train)")] = "test",
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    people_model: Annotated[
        Path, typer.Option(help="COCO YOLOX model that finds the people (as the training's pseudo-labels)")
    ] = REFERENCE_MODEL,
    frames: Annotated[int, typer.Option(min=1, help="frames with an armed person, and as many without")] = 100,
    seed: Annotated[int, typer.Option(help="random seed (the set is reproducible)")] = 0,
) -> None:
    """Build 1080p frames of armed and unarmed people seen from afar (guns 1-2 % of the frame wide), cut from
    the split's images, to measure the second look where it should pay."""
    from gunwatch.bench.table import build_armed_people_from_split
    from gunwatch.evaluation.armed_people import ArmedPeopleSettings
    from gunwatch.inference.onnx_session import ModelError

    try:
        settings = ArmedPeopleSettings(frames_with_guns=frames, frames_without=frames, seed=seed)
        build_armed_people_from_split(data, split, split_file, people_model, out, settings)
    except (DatasetError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(f"wrote {2 * frames} frames to {out}")


@data_app.command("pack")
def data_pack(
    data: Annotated[Path, typer.Option("--data", help="data set folder")],
    out: Annotated[Path, typer.Option(help="folder to write the packed copy to (notebook layout)")],
    splits: Annotated[str, typer.Option(help="comma-separated splits to pack")] = "train,val",
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    side: Annotated[int, typer.Option(min=32, help="longest image side (see --enlarge)")] = 512,
    quality: Annotated[int, typer.Option(min=1, max=100, help="JPEG quality")] = 85,
    enlarge: Annotated[bool, typer.Option(help="scale every image to exactly --side, smaller ones up")] = False,
) -> None:
    """Copy some splits, shrunk and re-encoded, to carry to a training machine (the split file still applies)."""
    from gunwatch.data.pack import pack_records
    from gunwatch.evaluation.selection import select_records

    try:
        records = [r for name in splits.split(",") for r in select_records(data, name.strip(), split_file).records]
        summary = pack_records(records, out, side, quality, enlarge)
    except (DatasetError, ValueError) as error:
        raise fail(str(error)) from error
    say(f"wrote {summary.images} images ({summary.guns} guns, {summary.bytes / 2**20:.1f} MiB) to {out}")


@data_app.command("mine-negatives")
def data_mine_negatives(
    data: Annotated[Path, typer.Option("--data", help="data set folder")],
    out: Annotated[Path, typer.Option(help="JSON file for a training config's `hard_negatives`")],
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the shipped model)")] = None,
    split: Annotated[str, typer.Option(help="split whose gun-free images are mined")] = "train",
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    show: Annotated[int, typer.Option(min=0, help="hardest images listed")] = 10,
) -> None:
    """Score every gun-free image of a split with a model: the highest scores are the hard negatives to repeat."""
    from gunwatch.evaluation.selection import select_records
    from gunwatch.inference.loading import default_model_path, load_detector
    from gunwatch.inference.onnx_session import ModelError
    from gunwatch.training.hard_negatives import mine_hard_negatives

    path = model or default_model_path()
    try:
        mined = mine_hard_negatives(load_detector(path), path, select_records(data, split, split_file).records)
    except (DatasetError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    mined.save(out)
    hardest = list(mined.scores.items())[:show]
    say(f"{len(mined.scores)} gun-free images scored by {path.name}; hardest: "
        + ", ".join(f"{key} {score:.2f}" for key, score in hardest) + f"; written to {out}")


@data_app.command("false-alarms")
def data_false_alarms(
    out: Annotated[Path, typer.Option(help="folder to write (or add to): a YOLO-layout data set of gun-free frames")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="site YAML file whose store to read")] = None,
    store: Annotated[str | None, typer.Option(
        "--store", help="database URL (default: the --config file's, else sqlite:///runs/gunwatch.db)")] = None,
    since: Annotated[str | None, typer.Option(help="only events confirmed on or after this day (YYYY-MM-DD, UTC)")]
    = None,
    camera: Annotated[list[str] | None, typer.Option(help="only this camera's events (repeat for more)")] = None,
) -> None:
    """Write the best frames of the events people marked false alarms, as gun-free training images of the
    site's own scenes (a split file puts them in `train`, for a training config's `extra_train`)."""
    from gunwatch.events.false_alarm_frames import export_false_alarms

    start = None
    if since is not None:
        try:
            start = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise fail(f"--since: expected a day as YYYY-MM-DD, got {since!r}") from None
    with open_store_to_read(store, config) as opened:
        if opened is None:
            return
        try:
            summary = export_false_alarms(opened, out, since=start, cameras=camera)
        except (OSError, ValueError) as error:
            raise fail(str(error)) from error
    by_camera = ", ".join(f"{name} {count}" for name, count in sorted(summary.written.items())) or "none new"
    say(f"{sum(summary.written.values())} false-alarm frames written ({by_camera}), {summary.already_there} already "
        f"there; {summary.total} in {out} (split file {out / 'split.json'})")
    for event_id, name, why in summary.missing:
        say(f"skipped event {event_id} of camera {name}: {why}")


@data_app.command("drill")
def data_drill(
    clips: Annotated[list[Path], typer.Argument(help="drill recordings, each with a NAME.json sidecar beside it saying "
                                                     "when the gun is in view (`gunwatch bench alarms`' episodes)")],
    out: Annotated[Path, typer.Option(help="folder to write (or add to): a YOLO-layout data set")],
    camera: Annotated[str | None, typer.Option(help="the camera that recorded them (default: each clip's name)")]
    = None,
    # The defaults are DrillSettings' (a test holds them equal; importing it here would load PyAV for every command).
    fps: Annotated[float, typer.Option(min=0.1, max=30, help="frames sampled a second")] = 2.0,
    margin: Annotated[float, typer.Option(min=0, help="seconds at each episode's edges left out")] = 0.5,
    min_score: Annotated[float, typer.Option(min=0, max=1, help="a gun candidate's score to become a label")] = 0.3,
    guns_per_frame: Annotated[int, typer.Option(min=1, help="labels at most in one frame")] = 1,
    model: Annotated[Path | None, typer.Option(help="ONNX detector (default: the shipped model)")] = None,
    verifier: VerifierOption = "auto",
    max_input: MaxInputOption = LIVE_MAX_INPUT,
) -> None:
    """Label a site's drill recordings (someone carries a replica past the cameras) with the detector: frames
    in the sidecar's episodes get the best gun a person holds, frames outside them are gun-free; a contact sheet
    shows every new label for a person to check (delete a wrong frame's image: it stays out)."""
    import sys

    from tqdm import tqdm

    from gunwatch.bench.alarm_clips import SidecarError, read_clip
    from gunwatch.events.drill_frames import DrillSettings, export_drill
    from gunwatch.inference.loading import load_detector
    from gunwatch.inference.onnx_session import ModelError
    from gunwatch.video.files import SourceError

    settings = DrillSettings(fps, margin, min_score, guns_per_frame)
    try:
        detector = load_detector(model, verifier=verifier, max_input=max_input, second_look=True)
    except ModelError as error:
        raise fail(str(error)) from error
    failed = 0
    for path in clips:
        try:
            clip = read_clip(path, path.stem, overlay=None)
            episodes = [(episode.start, episode.end) for episode in clip.episodes]
            with tqdm(desc=path.name, unit=" s of clip", bar_format="{desc}: {n:.1f}{unit} [{elapsed}]",
                      disable=not sys.stderr.isatty()) as bar:
                summary = export_drill(path, episodes, out, detector, camera, settings,
                                       progress=lambda t, bar=bar: bar.update(t - bar.n))
        except (SidecarError, SourceError, OSError, ValueError) as error:
            say(f"error: {error}")
            failed += 1
            continue
        say(f"{path}: {summary.labelled} frames with a gun labelled, {summary.gun_free} gun-free, "
            f"{summary.unlabelled} in an episode left out (no held gun scored {min_score:g}), "
            f"{summary.already_there} exported before; {summary.total} frames in {out}"
            + (f"; check the labels: {summary.sheet}" if summary.sheet else ""))
    if failed:
        raise fail(f"{failed} of {len(clips)} clips not exported (named above)")


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
    tiles: TilesOption = "off",
    # On, as `detect`, `eval-photos` and `watch` run: a labelled set measures what would run on it.
    second_look: SecondLookOption = True,
    flip: FlipOption = False,
    verifier: VerifierOption = "auto",
    max_input: MaxInputOption = LIVE_MAX_INPUT,
    draws: DrawsOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """Measure a model on a data set split: COCO mAP, operating-point and image-level rates, mean IoU, speed,
    and how far the main numbers could move on another draw of as many images (95 % intervals)."""
    from gunwatch.evaluation.evaluate import evaluate
    from gunwatch.evaluation.report import REPORT_KEYS, format_report
    from gunwatch.evaluation.selection import slug
    from gunwatch.inference.loading import load_detector
    from gunwatch.inference.onnx_session import ModelError

    try:
        detector = load_detector(model, threads=threads, tiles=tile_mode(tiles), second_look=second_look, flip=flip,
                                 verifier=verifier, max_input=max_input)
        folder = out or Path("runs/eval") / f"{detector.name}-{slug(data.resolve().name)}-{split or 'auto'}"
        result = evaluate(detector, data, split, split_file, threshold, folder, layout, read_options(gun_class),
                          draws=draws)
    except (DatasetError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(format_report(result.report, result.description))
    say("plots: " + ", ".join(str(p) for p in result.artifacts))
    if as_json:
        payload = result.report.to_json_dict()
        extra = {key: value for key, value in payload.items() if key not in REPORT_KEYS}
        typer.echo(json.dumps({key: payload[key] for key in REPORT_KEYS} | {"extra": extra}))


@app.command("eval-photos")
def eval_photos_command(
    guns: Annotated[Path, typer.Argument(help="folder of photos each showing a gun (no labels needed)")],
    gun_free: Annotated[Path, typer.Argument(help="folder of photos without a gun")],
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the shipped model)")] = None,
    threshold: Annotated[float | None, typer.Option(help="operating threshold (default: the model's own)")] = None,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads (default: all cores)")] = None,
    tiles: TilesOption = "off",
    second_look: SecondLookOption = True,
    verifier: VerifierOption = "auto",
    max_input: MaxInputOption = LIVE_MAX_INPUT,
    draws: DrawsOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """How many photos with a gun are flagged, and at how many without: at the threshold and at <= 1/2/3/5 %
    of those without flagged, each with its 95 % interval. Two folders, no boxes; the photos to look at are
    listed."""
    from gunwatch.evaluation.photo_sets import PhotoSetError, evaluate_photo_sets, format_photo_report
    from gunwatch.inference.loading import load_detector
    from gunwatch.inference.onnx_session import ModelError

    try:
        detector = load_detector(model, threads=threads, tiles=tile_mode(tiles), second_look=second_look,
                                 verifier=verifier, max_input=max_input)
        report = evaluate_photo_sets(detector, guns, gun_free, threshold, draws=draws)
    except (ModelError, PhotoSetError) as error:
        raise fail(str(error)) from error
    say(format_photo_report(report, f"{detector.name} on {guns} (with a gun) and {gun_free} (without)"))
    if as_json:
        typer.echo(json.dumps(report.to_json_dict()))
    if report.unreadable:
        raise typer.Exit(code=1)  # the numbers stand for the photos read, not for every photo given


@app.command()
def detect(
    source: Annotated[Path, typer.Argument(help="an image, a video file, or a folder of them (subfolders too)")],
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the shipped model)")] = None,
    # Off as in `watch` and `eval`: on large photos tiles add false alarms and cost 6x (README, "Tiling").
    tiles: TilesOption = "off",
    second_look: SecondLookOption = True,
    flip: FlipOption = False,
    verifier: VerifierOption = "auto",
    threshold: Annotated[float | None, typer.Option(help="score threshold (default: the model's own)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for annotated copies (default: runs/detect/<name>)")] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="do not write annotated copies")] = False,
    every: Annotated[int, typer.Option(min=1, help="analyse every Nth video frame")] = 1,
    max_input: MaxInputOption = LIVE_MAX_INPUT,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads (default: all cores)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout, one per image or frame")] = False,
) -> None:
    """Find handguns (and people) in images, video files and folders of them; write annotated copies."""
    from gunwatch.detect import detect_source
    from gunwatch.inference.loading import load_detector
    from gunwatch.inference.onnx_session import ModelError
    from gunwatch.video.files import SourceError

    try:
        detector = load_detector(model, threads=threads, tiles=tile_mode(tiles), second_look=second_look, flip=flip,
                                 verifier=verifier, max_input=max_input)
    except ModelError as error:
        raise fail(str(error)) from error
    folder = None if no_save else out or Path("runs/detect") / source.stem
    frames = with_guns = 0
    unreadable: list[Path] = []  # a folder's images and videos that could not be read: the others are still analysed

    def skipped(reason: str, file: Path | None) -> None:
        say(f"skipped: {reason}")
        if file is not None:
            unreadable.append(file)

    try:
        for result in detect_source(detector, source, folder, threshold, every, skipped):
            frames += 1
            labels = [detector.class_names[c] for c in result.detections.class_ids]
            with_guns += GUN_LABEL in labels
            if as_json:
                typer.echo(json.dumps(result.to_json_dict(detector.class_names)))
            else:
                found = ", ".join(f"{label} {score:.2f}" for label, score in zip(labels, result.detections.scores,
                                                                                   strict=True)) or "nothing"
                shown = result.frame.source.relative_to(source) if source.is_dir() else result.frame.source.name
                say(f"{shown} #{result.frame.index}: {found}")
    except SourceError as error:
        raise fail(str(error)) from error
    say(f"{frames} frame(s), {with_guns} with a handgun" + (f"; annotated copies in {folder}" if folder else "")
        + (f"; {len(unreadable)} file(s) could not be read whole (above)" if unreadable else ""))
    if unreadable:
        raise typer.Exit(code=1)  # the results stand, but not every image or video was looked at


def tile_mode(value: str) -> Literal["auto", "on", "off"]:
    if value not in ("auto", "on", "off"):
        raise fail(f"--tiles must be auto, on or off, not {value!r}")
    return value  # type: ignore[return-value]


@bench_app.callback(invoke_without_command=True)
def bench(
    ctx: typer.Context,
    model: Annotated[
        list[Path] | None, typer.Option(help="ONNX model (repeatable; default: the shipped localizer and detector)")
    ] = None,
    data: Annotated[Path, typer.Option(help="data set whose test split is measured")] = DEFAULT_DATA,
    sizes: Annotated[str, typer.Option(help="input sides for YOLOX models, comma-separated")] = "320,416,640",
    small_guns: Annotated[
        Path, typer.Option(help="1080p small-gun set (built from the test split when missing)")
    ] = SMALL_GUNS,
    armed_people: Annotated[
        Path, typer.Option(help="1080p armed-people set (built from the test split when missing, its people found "
                                "by the reference model)")
    ] = ARMED_PEOPLE,
    reference: Annotated[Path, typer.Option(help="reference ONNX model timed in the same run")] = REFERENCE_MODEL,
    runs: Annotated[int, typer.Option(min=1, help="timed calls per model and thread count")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Accuracy and speed of each model in one table, with the COCO YOLOX-Nano timed alongside as reference.

    `gunwatch bench pipeline`: the live pipeline's latency and how many cameras it keeps up with;
    `gunwatch bench isolation`: whether an expensive camera takes a cheap one's analysis away;
    `gunwatch bench soak`: a long run on RTSP cameras (memory, queues, every gun episode alarmed);
    `gunwatch bench cluster`: cluster mode's per-camera costs on a loopback Ray cluster;
    `gunwatch bench store`: the store's writes per second, the ceiling of docs/scale.md's model.
    """
    if ctx.invoked_subcommand is not None:
        return
    from gunwatch.bench.table import bench_case, default_cases, format_bench_table
    from gunwatch.inference.onnx_session import ModelError

    try:
        cases = default_cases(model, data, [int(s) for s in sizes.split(",")], small_guns, armed_people, reference)
        rows = [bench_case(case, reference, runs) for case in cases]
    except (DatasetError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(format_bench_table(rows, reference.stem))
    if as_json:
        typer.echo(json.dumps([row.to_json_dict() for row in rows]))


@bench_app.command("pipeline")
def bench_pipeline(
    cameras: Annotated[str, typer.Option(help="capacity: camera counts, comma-separated")] = "1,2,4,8,12,16",
    seconds: Annotated[float, typer.Option(min=1, help="capacity: seconds measured per count, gating on and off")] = 10,
    samples: Annotated[int, typer.Option(min=1, help="latency: threat events to collect")] = 20,
    latency_cameras: Annotated[int, typer.Option(min=1, help="latency: cameras looping the gun clip")] = 4,
    walk_every: Annotated[
        float, typer.Option(min=3, help="capacity: a figure crosses each static scene once per this many seconds")
    ] = 10.0,
    tiles: TilesOption = "off",
    verifier: VerifierOption = "auto",
    max_input: MaxInputOption = LIVE_MAX_INPUT,
    resolution: Annotated[str, typer.Option(help="the cameras' resolution, WIDTHxHEIGHT")] = "1280x720",
    as_json: JsonOption = False,
) -> None:
    """The live pipeline: a gun's first frame to its stored event, and how many cameras (720p unless
    --resolution says otherwise) it keeps up with."""
    from gunwatch.bench.pipeline import PipelineBenchSettings, run_pipeline_bench
    from gunwatch.bench.pipeline_clips import ClipFormat
    from gunwatch.bench.pipeline_table import format_capacity_table, format_latency_table
    from gunwatch.inference.onnx_session import ModelError

    if not all(count.strip().isdigit() for count in cameras.split(",")):
        raise fail(f"--cameras must be camera counts separated by commas, not {cameras!r}")
    size = re.fullmatch(r"(\d+)x(\d+)", resolution.strip())
    if size is None or not all(32 <= int(side) <= 4096 and int(side) % 2 == 0 for side in size.groups()):
        raise fail(f"--resolution must be WIDTHxHEIGHT with even sides of 32 to 4096 px (e.g. 1920x1080), "
                   f"not {resolution!r}")
    try:
        counts = tuple(int(count) for count in cameras.split(","))
        settings = PipelineBenchSettings(counts, seconds, samples, latency_cameras, tile_mode(tiles),
                                         walk_every_s=walk_every, verifier=verifier, max_input=max_input,
                                         clip=ClipFormat(int(size[1]), int(size[2])))
        result = run_pipeline_bench(settings, progress=say)
    except (ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(format_latency_table(result) + "\n\n" + format_capacity_table(result))
    if as_json:
        typer.echo(json.dumps(result.to_json_dict()))


@bench_app.command("isolation")
def bench_isolation(
    seconds: Annotated[float, typer.Option(min=1, help="seconds per run (alone, then beside), from the start")] = 20,
    clip: Annotated[
        Path | None, typer.Option(help="the cheap camera's clip (default: ../shared/videos/jpadwor1_range-pistol.mp4 "
                                       "when there, else samples/demo/lobby.mp4)")
    ] = None,
    verifier: VerifierOption = "auto",
    max_input: MaxInputOption = LIVE_MAX_INPUT,
    as_json: JsonOption = False,
) -> None:
    """Cameras isolated: a cheap 640x360 camera alone, then beside a 1080p camera with tiles on."""
    from gunwatch.bench.isolation import IsolationSettings, run_isolation_bench
    from gunwatch.bench.isolation_table import format_isolation_table
    from gunwatch.inference.onnx_session import ModelError

    try:
        result = run_isolation_bench(IsolationSettings(seconds, clip, verifier=verifier, max_input=max_input),
                                     progress=say)
    except (ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(format_isolation_table(result))
    if as_json:
        typer.echo(json.dumps(result.to_json_dict()))


@bench_app.command("console")
def bench_console(
    events: Annotated[int, typer.Option(min=1, help="alerts timed, per way the news travels")] = 30,
    cameras: Annotated[int, typer.Option(min=0, help="cameras on the live wall (0: skip the wall)")] = 16,
    seconds: Annotated[float, typer.Option(min=1, help="seconds without, then with the wall open")] = 30,
    as_json: JsonOption = False,
) -> None:
    """The console in a real browser: event committed -> alert drawn in the banner; the live wall's CPU cost."""
    from dataclasses import asdict

    from gunwatch.bench.browser import BrowserMissing
    from gunwatch.bench.console import console_table, run_console_bench

    try:
        result = run_console_bench(events, cameras, seconds, progress=say)
    except BrowserMissing as error:
        raise fail(str(error)) from error
    say(console_table(result))
    if as_json:
        typer.echo(json.dumps(asdict(result)))


@bench_app.command("soak")
def bench_soak(
    minutes: Annotated[float, typer.Option(min=0.5, help="how long the pipeline runs")] = 60,
    seconds: Annotated[
        float | None, typer.Option(min=20, help="how long, in seconds (overrides --minutes; short checks)")
    ] = None,
    cameras: Annotated[int, typer.Option(min=2, help="RTSP cameras; half of them loop a gun clip")] = 8,
    out: Annotated[Path, typer.Option(help="folder for soak.png (memory and queues over time) and report.json")] = (
        Path("runs/bench-soak")
    ),
    as_json: JsonOption = False,
) -> None:
    """A long run of the live pipeline on RTSP cameras: memory growth after the warm-up (< 5 %), no queue growing,
    every gun episode alarmed. Exit code 1 when a criterion fails."""
    from gunwatch.bench.soak import SoakSettings, run_soak
    from gunwatch.bench.soak_table import format_soak_table, plot_soak
    from gunwatch.inference.onnx_session import ModelError

    try:
        result = run_soak(SoakSettings(seconds if seconds is not None else 60 * minutes, cameras), progress=say)
    except (ModelError, ValueError, RuntimeError) as error:
        raise fail(str(error)) from error
    say(format_soak_table(result))
    report = result.to_json_dict()
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    say(f"plot and report in {plot_soak(result, out / 'soak.png').parent}")
    if as_json:
        typer.echo(json.dumps(report))
    if not result.passed:
        raise typer.Exit(code=1)


@bench_app.command("lineage")
def bench_lineage_command(
    model: Annotated[list[Path], typer.Option(
        help="ONNX model of the lineage or the production detector, in the table's order (repeatable)")],
    second_look: Annotated[list[Path] | None, typer.Option(
        "--second-look", help="a YOLOX model measured again with the person-guided second look (repeatable)")
    ] = None,
    data: Annotated[Path, typer.Option(help="data set whose test split is measured")] = Path(
        "../shared/datasets/PistolData_merged"),
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    limit: Annotated[int | None, typer.Option(
        min=10, help="a fixed, seeded sample of the test split (selective search takes seconds per image)")] = None,
    runs: Annotated[int, typer.Option(min=1, help="timed calls per image and thread count")] = 3,
    out: Annotated[Path | None, typer.Option(help="folder for lineage.json, lineage.md and lineage.png")] = None,
    as_json: JsonOption = False,
) -> None:
    """The course's detectors (sliding window, R-CNN, Fast R-CNN, Faster R-CNN) and the production detector on
    the same gun test split: regions per image, ms per image on 1 thread and all cores, speed-up over R-CNN,
    mAP, gun recall at <= 2 % of gun-free images flagged, training time, the course's VOC numbers beside."""
    from gunwatch.bench.lineage import bench_lineage
    from gunwatch.bench.lineage_table import format_markdown, format_text, plot_speed_accuracy

    models = [(path, False) for path in model] + [(path, True) for path in second_look or []]
    for path, _ in models:
        if not path.is_file():
            raise fail(f"{path}: model file not found")
    rows = bench_lineage(models, data, split_file, limit, runs, progress=say)
    say(format_text(rows))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "lineage.json").write_text(json.dumps([row.to_json_dict() for row in rows], indent=1) + "\n")
        (out / "lineage.md").write_text(format_markdown(rows))
        say(f"table and plot in {out}: lineage.md, {plot_speed_accuracy(rows, out / 'lineage.png').name}")
    if as_json:
        typer.echo(json.dumps([row.to_json_dict() for row in rows]))


@bench_app.command("alarms")
def bench_alarms(
    clips: Annotated[
        list[Path], typer.Option(help="folder of video clips, each with its NAME.json sidecar of gun episodes "
                                      "(searched recursively; repeatable)")
    ],
    model: Annotated[Path | None, typer.Option(help="ONNX model (default: the shipped model)")] = None,
    fps: Annotated[
        float | None, typer.Option(min=0.1, max=60, help="frames analysed per second (default: detect.fps's)")
    ] = None,
    second_look: Annotated[
        bool, typer.Option("--second-look/--no-second-look", help="look again at each person (detect.second_look)")
    ] = True,
    tiles: TilesOption = "off",
    flip: FlipOption = False,
    verifier: VerifierOption = "auto",
    max_input: MaxInputOption = LIVE_MAX_INPUT,
    motion: Annotated[bool, typer.Option("--motion/--no-motion", help="the motion gate, as live")] = True,
    gun_hold: Annotated[
        str | None, typer.Option(help="gun score that holds the motion gate open (motion.gun_hold_score), or off "
                                      "(default: live's)")
    ] = None,
    phases: Annotated[
        int, typer.Option(min=1, max=12, help="plays per clip, each sampling from another offset within one period "
                                              "(a live camera's samples fall wherever its frames arrive)")
    ] = 1,
    thresholds: Annotated[
        str | None, typer.Option(help="handgun thresholds to sweep, comma-separated (default: the model's own)")
    ] = None,
    windows: Annotated[
        str | None, typer.Option(help="confirmation rules to sweep, HITS/FRAMES comma-separated, e.g. 3/5,2/4,2/3 "
                                      "(default: the live one)")
    ] = None,
    quick: Annotated[
        str | None, typer.Option(help="quick lanes to sweep, MARGIN:HITS/FRAMES or off, comma-separated, e.g. "
                                      "0.05:2/3,0.1:2/3,off (default: the live one)")
    ] = None,
    close_after: Annotated[
        float | None, typer.Option(min=0.1, help="seconds without the gun before an event closes (default: live's)")
    ] = None,
    boxes: Annotated[
        Path | None, typer.Option(help="folder of sidecar overlays with gun boxes (default: the repository's "
                                       "sidecars/)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="folder for report.json and a contact sheet of every alarm per setting")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Alarms on recorded clips through the live pipeline, in accelerated time: gun episodes alarmed, time from
    an episode's start to its event, false alarms per camera-hour; sweeps thresholds and confirmation windows."""
    import sys

    from gunwatch.bench.alarm_clips import OVERLAY_DIR, SidecarError
    from gunwatch.bench.alarm_replay import ClipError
    from gunwatch.bench.alarm_sheet import write_sheet
    from gunwatch.bench.alarms import (
        AlarmBenchSettings,
        parse_gun_hold,
        parse_quicks,
        parse_thresholds,
        parse_windows,
        run_alarm_bench,
    )
    from gunwatch.bench.alarms_table import format_setting_table, format_sweep_table, legend, settings_line
    from gunwatch.inference.onnx_session import ModelError

    try:
        given = {"fps": fps, "close_after_s": close_after, "windows": parse_windows(windows) if windows else None,
                 "quicks": parse_quicks(quick) if quick else None}
        settings = AlarmBenchSettings(
            tuple(clips), model, second_look=second_look, tiles=tile_mode(tiles), flip=flip, verifier=verifier,
            max_input=max_input, motion=motion, phases=phases,
            thresholds=parse_thresholds(thresholds) if thresholds else None,
            overlay=boxes or OVERLAY_DIR, **{key: value for key, value in given.items() if value is not None},
            **({"gun_hold_score": parse_gun_hold(gun_hold)} if gun_hold is not None else {}),  # off is None
        )
        result, plays = run_alarm_bench(settings, progress=sys.stderr.isatty(), say=say)
    except (SidecarError, ClipError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    say(settings_line(result))
    for run in result.runs:
        say("\n" + format_setting_table(result, run))
    say("\n" + format_sweep_table(result) + "\n" + legend())
    report = result.to_json_dict()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=1))
        by_label = {play.label: play for play in plays}
        for run in result.runs:
            write_sheet(run, by_label, out, settings.rules.box_gap_s)
        say(f"report and contact sheets in {out}")
    if as_json:
        typer.echo(json.dumps(report))
    if result.not_played:
        say(f"{len(result.not_played)} clip(s) not played, left out of every number: "
            + "; ".join(result.not_played))
        raise typer.Exit(code=1)  # the numbers stand for the clips played, not for every clip given


@bench_app.command("store")
def bench_store(
    store: Annotated[
        str | None,
        typer.Option(help="event store URL, e.g. postgresql://... (a scratch database: the bench leaves its synthetic "
                          "cameras, leases and events there); default: a temp SQLite file"),
    ] = None,
    writers: Annotated[str, typer.Option(help="numbers of writers at once, comma-separated (1 to 15)")] = "1,4,12",
    seconds: Annotated[float, typer.Option(min=0.1, help="seconds per row")] = 10.0,
    cameras: Annotated[int, typer.Option(min=1, help="synthetic cameras, shared out among the writers")] = 256,
    as_json: JsonOption = False,
) -> None:
    """The store's ceiling: lease renewals, event versions (plain and lease-fenced) and health changes per second
    by number of writers, beside SELECT 1 round trips measured in the same run (docs/scale.md)."""
    import tempfile

    from gunwatch.bench.store_writes import StoreBenchSettings, format_store_table, run_store_bench
    from gunwatch.events.store import StoreError

    try:
        counts = tuple(int(part) for part in writers.split(","))
    except ValueError:
        raise fail(f"--writers: comma-separated whole numbers, not {writers!r}") from None
    with tempfile.TemporaryDirectory(prefix="gunwatch-bench-store-") as folder:
        url = store or f"sqlite:///{Path(folder) / 'bench.db'}"
        try:
            result = run_store_bench(StoreBenchSettings(url, counts, seconds, cameras), progress=say)
        except (StoreError, ValueError) as error:
            raise fail(str(error)) from error
    say(format_store_table(result))
    if as_json:
        typer.echo(json.dumps(result.to_json_dict()))


@bench_app.command("alerts")
def bench_alerts(
    events: Annotated[int, typer.Option(min=1, help="threat events to submit")] = 30,
    gap: Annotated[float, typer.Option(min=0, help="seconds between events")] = 0.3,
    store: Annotated[
        str | None,
        typer.Option(help="event store URL, e.g. postgresql://... (a scratch database: the bench's outbox workers "
                          "take any pending delivery of their lanes); default: a temp SQLite file"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Alerts: a threat event's opening to its first message at local receivers, per channel (webhook, apprise,
    email, MQTT, file)."""
    from gunwatch.bench.alerts import AlertBenchSettings, run_alert_bench
    from gunwatch.bench.alerts_table import format_alerts_table
    from gunwatch.events.store import StoreError

    try:
        result = run_alert_bench(AlertBenchSettings(events, gap, store), progress=say)
    except (StoreError, ValueError) as error:
        raise fail(str(error)) from error
    say(format_alerts_table(result))
    if as_json:
        typer.echo(json.dumps(result.to_json_dict()))


@bench_app.command("cluster")
def bench_cluster(
    store: Annotated[str, typer.Option(
        help="PostgreSQL URL of a scratch database (cluster mode refuses SQLite; the bench adds a user and token)")],
    clips: Annotated[list[Path] | None, typer.Option(
        help="clip or folder of .mp4 clips served as RTSP cameras (repeatable; default: ../shared/videos/negatives "
             "when there, else samples/demo/lobby.mp4)")] = None,
    cameras: Annotated[str, typer.Option(help="camera counts to measure, comma-separated")] = "2,4,8",
    seconds: Annotated[float, typer.Option(min=1, help="seconds measured per count, after the warm-up")] = 60,
    warmup: Annotated[float, typer.Option(min=0, help="seconds after every camera's first frames")] = 10,
    fps: Annotated[float | None, typer.Option(min=0.1, max=60, help="detect fps per camera (default: the "
                                                                     "product's)")] = None,
    worker_cpus: Annotated[int, typer.Option(min=1, help="CPUs each of the 2 worker nodes advertises")] = 2,
    lease: Annotated[float | None, typer.Option(min=1, help="cluster.lease_s (default: the product's)")] = None,
    reference: Annotated[str | None, typer.Option(
        help="counts also run as one process, comma-separated (default: the smallest of --cameras; none)")] = None,
    evidence: Annotated[bool, typer.Option(
        "--evidence/--no-evidence", help="bytes per gun event: the demo clip as a camera until its events close")
    ] = True,
    alerts: Annotated[int, typer.Option(min=0, help="events for gunwatch bench alerts on the store (0: skip)")] = 30,
    failover: Annotated[bool, typer.Option(
        "--failover", help="after the last count's window, SIGKILL the busiest worker node; time its cameras "
                           "take to be online again")] = False,
    out: Annotated[Path, typer.Option(help="folder for cluster.json and cluster.png")] = Path("runs/bench-cluster"),
    as_json: JsonOption = False,
) -> None:
    """Cluster mode's per-camera costs on a loopback Ray cluster (a head, 2 worker nodes) started here: sampled
    fps, CPU per node, store writes, inference, with one process measured alongside as reference."""
    from gunwatch.bench.cluster_bench import ClusterBenchSettings, default_clips, parse_counts, run_cluster_bench
    from gunwatch.bench.cluster_cameras import find_clips
    from gunwatch.bench.cluster_table import format_cluster_tables, plot_cluster

    try:
        given = {"fps": fps, "lease_s": lease}
        settings = ClusterBenchSettings(
            store, tuple(find_clips(clips or default_clips())), parse_counts(cameras, "--cameras"), seconds, warmup,
            worker_cpus=worker_cpus, evidence=evidence, alerts=alerts, failover=failover,
            reference=parse_counts(reference, "--reference") if reference is not None else None,
            **{key: value for key, value in given.items() if value is not None})
        result = run_cluster_bench(settings, progress=say)
    except (ValueError, RuntimeError) as error:
        raise fail(str(error)) from error
    say(format_cluster_tables(result))
    report = result.to_json_dict()
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster.json").write_text(json.dumps(report, indent=1) + "\n")
    say(f"report and plot in {out}: cluster.json, {plot_cluster(result, out / 'cluster.png').name}")
    if as_json:
        typer.echo(json.dumps(report))


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


@app.command("quantize")
def quantize_command(
    data: Annotated[Path, typer.Option("--data", help="data set: calibration from its train split, choices on val")],
    model: Annotated[Path | None, typer.Option(
        help="FP32 YOLOX model or gun verifier (default: the shipped detector); a verifier is calibrated on the "
             "crops the live pipeline cuts for it and judged with the detector it was calibrated with")] = None,
    out: Annotated[Path | None, typer.Option(help="INT8 model to write (default: <model>-int8.onnx beside it)")] = None,
    split_file: Annotated[Path | None, typer.Option(help="default: splits/<data set name>.json")] = None,
    images: Annotated[int, typer.Option(min=1, help="calibration images, a seeded draw from the train split")] = 200,
    method: Annotated[
        str, typer.Option(help="calibration: minmax, percentile, entropy, or auto (each; keep the best val mAP@0.5)")
    ] = "auto",
    seed: Annotated[int, typer.Option(help="seed of the calibration images' draw")] = 0,
    activations: Annotated[str, typer.Option(help="u8 (what VNNI multiplies natively) or s8")] = "u8",
    alarm_threshold: Annotated[float | None, typer.Option(
        min=0.0, max=1.0, help="the live alarm threshold `gunwatch bench alarms` measured for this INT8 copy "
                               "(default: none; the copy then alarms at its image threshold)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Quantise a YOLOX model or a gun verifier to INT8 (ONNX Runtime, QDQ, per-channel); method and threshold
    chosen on val."""
    from gunwatch.evaluation.int8_build import (
        build_int8_model,
        build_int8_verifier,
        format_int8_build,
        format_verifier_int8_build,
    )
    from gunwatch.inference.alarm_threshold import ALARM_THRESHOLD_KEY
    from gunwatch.inference.loading import SHIPPED_DETECTOR
    from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, open_session
    from gunwatch.inference.quantize import ACTIVATIONS, METHODS, update_metadata
    from gunwatch.inference.verifier import KIND as VERIFIER_KIND

    if method != "auto" and method not in METHODS:
        raise fail(f"--method must be auto or one of {', '.join(METHODS)}, not {method!r}")
    if activations not in ACTIVATIONS:
        raise fail(f"--activations must be one of {', '.join(ACTIVATIONS)}, not {activations!r}")
    source = model or SHIPPED_DETECTOR
    target = out or source.with_name(f"{source.stem}-int8.onnx")
    methods = tuple(METHODS) if method == "auto" else (method,)
    try:
        if gunwatch_metadata(open_session(source, 1)).get("gunwatch.kind") == VERIFIER_KIND:
            built = build_int8_verifier(source, data, target, split_file, images, seed, methods, activations)
            report, payload = format_verifier_int8_build(built), built.to_json_dict()
        else:
            build = build_int8_model(source, data, target, split_file, images, seed, methods, activations)
            report, payload = format_int8_build(build), build.to_json_dict()
    except (DatasetError, ModelError, ValueError) as error:
        raise fail(str(error)) from error
    if alarm_threshold is not None:
        update_metadata(target, {ALARM_THRESHOLD_KEY: repr(float(alarm_threshold))})
        report += f"\nlive alarm threshold {alarm_threshold:g} (as measured with gunwatch bench alarms)"
    say(report)
    if as_json:
        typer.echo(json.dumps({**payload, "alarm_threshold": alarm_threshold}))


@app.command("watch")
def watch_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="site YAML file (see configs/site.example.yaml)")],
    duration: Annotated[float | None, typer.Option(help="stop after this many seconds")] = None,
    until_done: Annotated[
        bool, typer.Option("--until-done", help="stop when every camera's recording has ended (files without loop)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="threat events as JSON Lines on stdout")] = False,
    status_every: Annotated[
        float, typer.Option(help="seconds between status tables when stderr is not a terminal (0: none)")
    ] = 5.0,
    open_console: Annotated[
        bool, typer.Option("--open-console", help="open the console in the desktop's browser once it listens")
    ] = False,
    keep_console: Annotated[
        bool, typer.Option("--keep-console", help="from a terminal: once the cameras are done, keep the console "
                                                  "up until Ctrl-C")
    ] = False,
    log_format: LogFormatOption = "text",
    no_backup: NoBackupOption = False,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="run the site on this Ray cluster (HOST:PORT of its head, or auto); default: the site "
                          "file's cluster section, else one process")] = None,
) -> None:
    """Watch the site's cameras: threat events printed as they happen and stored; a live status per camera."""
    from gunwatch.cluster.checks import ClusterUnreachable
    from gunwatch.config import ConfigError
    from gunwatch.events.store import StoreError
    from gunwatch.inference.onnx_session import ModelError
    from gunwatch.pipeline.watch_command import watch

    tell = problem_teller(log_format)
    try:
        if _watch_on_cluster(config, cluster, duration, status_every, log_format, no_backup):
            return
        watch(config, duration, until_done, as_json, status_every, open_console, keep_console, log_format=log_format,
              no_backup=no_backup)
    except ConfigError as error:
        for problem in error.problems:
            tell(str(problem), problem.to_json_dict())
        raise typer.Exit(code=1) from error
    except (StoreError, ModelError, ClusterUnreachable) as error:
        tell(str(error), {})
        raise typer.Exit(code=2) from error


def _watch_on_cluster(config: Path, address: str | None, duration: float | None, status_every: float,
                      log_format: str, no_backup: bool) -> bool:
    """Cluster mode (gunwatch.cluster.run) when asked for; False: the one-process watch."""
    from gunwatch.cluster.run import cluster_site, watch_cluster
    from gunwatch.ops.logs import configure_logging

    site = cluster_site(config, address)
    if site is None:
        return False
    configure_logging(log_format)  # type: ignore[arg-type]
    watch_cluster(config, site, duration, status_every, no_backup, log_format)
    return True


@app.command("serve")
def serve_command(
    config: Annotated[Path, typer.Option("--config", "-c", help="site YAML file with a console section")],
    log_format: LogFormatOption = "text",
    no_backup: NoBackupOption = False,
) -> None:
    """The console, API and metrics against the site's store, without cameras (a console on another machine)."""
    from gunwatch.config import ConfigError
    from gunwatch.events.store import StoreError
    from gunwatch.web.serve_command import serve

    tell = problem_teller(log_format)
    try:
        serve(config, log_format=log_format, no_backup=no_backup)
    except ConfigError as error:
        for problem in error.problems:
            tell(str(problem), problem.to_json_dict())
        raise typer.Exit(code=1) from error
    except StoreError as error:
        tell(str(error), {})
        raise typer.Exit(code=2) from error


@config_app.command("check")
def config_check(
    path: Annotated[Path, typer.Argument(help="site YAML file (see configs/site.example.yaml)")],
    reach: Annotated[bool, typer.Option(
        "--reach", help="also try each enabled camera (decode one frame) and each channel (connect, send nothing); "
                        "exit 1 when one cannot be reached")] = False,
    timeout: Annotated[float, typer.Option(min=0.1, help="seconds each camera has to give a frame (--reach)")] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Validate a site file: list every problem with its key path (exit 1), or summarise its cameras and store.
    With --reach, try every enabled camera and channel too, and say which cannot be reached and why."""
    from dataclasses import asdict

    from gunwatch.config import ConfigError, load_site_config
    from gunwatch.config.summary import format_site_summary, summarize_site

    try:
        config = load_site_config(path)
    except ConfigError as error:
        for problem in error.problems:
            say(f"error: {problem}")
        if as_json:
            errors = [problem.to_json_dict() for problem in error.problems]
            typer.echo(json.dumps({"valid": False, "file": str(path), "errors": errors}))
        raise typer.Exit(code=1) from error
    from gunwatch.alerts.channels.registry import ChannelSetupError, open_channels

    try:  # building the adapters checks what pydantic cannot: an apprise URL apprise cannot read, say
        for channel in open_channels(config.alerts.channels).values():
            channel.close()
    except ChannelSetupError as error:
        key = f"alerts.channels.{error.channel}"
        say(f"error: {path}: {key}: {error}")
        if as_json:
            typer.echo(json.dumps({"valid": False, "file": str(path), "errors": [
                {"file": str(path), "line": None, "key": key, "message": str(error)}]}))
        raise typer.Exit(code=1) from error
    summary = summarize_site(config, str(path))
    say(format_site_summary(summary))
    reached = _reach_site(config, timeout) if reach else None
    if as_json:
        extra = {} if reached is None else {"reach": [asdict(result) for result in reached]}
        typer.echo(json.dumps({"valid": True, **asdict(summary), **extra}))
    if reached is not None and any(result.ok is False for result in reached):
        raise typer.Exit(code=1)


def _reach_site(config: SiteConfig, timeout_s: float) -> list[ReachResult]:
    """Every enabled camera and every channel tried at once (see `video.reach`, `alerts.channels.reach`); the
    table said on stderr."""
    from concurrent.futures import ThreadPoolExecutor

    from gunwatch.alerts.channels.reach import reach_channels
    from gunwatch.events.store.report import text_table
    from gunwatch.video.reach import reach_cameras

    say(f"trying {len(config.enabled_cameras)} camera(s) and {len(config.alerts.channels)} channel(s)...")
    with ThreadPoolExecutor(2) as pool:
        cameras = pool.submit(reach_cameras, config.enabled_cameras, timeout_s)
        channels = pool.submit(reach_channels, dict(config.alerts.channels))
        results = cameras.result() + channels.result()
    marks = {True: "ok", False: "UNREACHABLE", None: "not checked"}
    rows = [[r.what, r.name, marks[r.ok], r.target, r.detail] for r in results]
    say(text_table([["", "name", "result", "where", "detail"], *rows]))
    failed = [r for r in results if r.ok is False]
    say(f"{len(failed)} of {len(results)} unreachable: {', '.join(f'{r.what} {r.name}' for r in failed)}" if failed
        else f"all {sum(r.ok is True for r in results)} checked reachable")
    return results


def load_site_or_exit(path: Path, as_json: bool = False) -> SiteConfig:
    """The whole site file, or every problem said (and as JSON with --json) and exit 1."""
    from gunwatch.config import ConfigError, load_site_config

    try:
        return load_site_config(path)
    except ConfigError as error:
        for problem in error.problems:
            say(f"error: {problem}")
        if as_json:
            errors = [problem.to_json_dict() for problem in error.problems]
            typer.echo(json.dumps({"valid": False, "file": str(path), "errors": errors}))
        raise typer.Exit(code=1) from error


@alert_app.command("test")
def alert_test(
    config: Annotated[Path, typer.Option("--config", "-c", help="site YAML file whose alerts.channels to try")],
    channel: Annotated[list[str] | None, typer.Option(
        "--channel", help="a channel to try (repeatable; default: every channel)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Send a TEST message through each channel now (every recipient with an address on a per-person channel,
    once on the others) and say per channel whether it was delivered, or the error; exit 1 if any failed."""
    from gunwatch.alerts.channels.registry import ChannelSetupError
    from gunwatch.alerts.trial_messages import send_test_messages

    site = load_site_or_exit(config)
    if not site.alerts.channels:
        raise fail(f"{config}: alerts.channels lists no channel to try")
    try:
        results = send_test_messages(site.alerts, channel)
    except ValueError as error:
        if isinstance(error, ChannelSetupError):
            say(f"error: {config}: alerts.channels.{error.channel}: {error}")
            raise typer.Exit(code=1) from None
        raise fail(str(error)) from None
    from gunwatch.events.store.report import text_table

    rows = [[r.channel, r.recipient or "-", r.address or "-", "delivered" if r.delivered else f"FAILED: {r.error}"]
            for r in results]
    say(text_table([["channel", "to", "address", "result"], *rows]))
    failed = [r for r in results if not r.delivered]
    say(f"{len(results) - len(failed)} of {len(results)} test message(s) delivered"
        + (f"; failed on {', '.join(dict.fromkeys(r.channel for r in failed))}" if failed else ""))
    if as_json:
        typer.echo(json.dumps([{"channel": r.channel, "recipient": r.recipient, "address": r.address,
                                "delivered": r.delivered, "error": r.error} for r in results]))
    if failed:
        raise typer.Exit(code=1)


StoreOption = Annotated[
    str | None, typer.Option("--store", help="database URL (default: the --config file's, else sqlite:///runs/gunwatch.db)")
]
SiteOption = Annotated[Path | None, typer.Option("--config", "-c", help="site YAML file whose store to read")]


@event_app.command("list")
def event_list(
    store: StoreOption = None,
    config: SiteOption = None,
    limit: Annotated[int, typer.Option(min=1, help="show at most this many events")] = 50,
    camera: Annotated[str | None, typer.Option(help="only this camera's events")] = None,
    as_json: JsonOption = False,
) -> None:
    """List threat events, newest first: id, camera, state, what people said, max score, first and last seen,
    evidence."""
    from gunwatch.events.retention.holds import LegalHolds
    from gunwatch.events.store.report import event_json, format_events

    with open_store_to_read(store, config) as opened:
        events = opened.list_events(limit, camera) if opened else []
        said = opened.dispositions([event.id for event in events]) if opened else {}
        held = {hold.event_id for hold in LegalHolds(opened).held()} if opened else set()
        if opened:
            say(format_events(events, opened.url, camera, said, held))
    if as_json:
        typer.echo(json.dumps([event_json(event, said.get(event.id), event.id in held) for event in events]))


@event_app.command("show")
def event_show(
    event_id: Annotated[str | None, typer.Argument(
        help="the event's id, or its first characters (at least 6; default: the newest event)")] = None,
    store: StoreOption = None,
    config: SiteOption = None,
    as_json: JsonOption = False,
) -> None:
    """An event's whole history: its facts, disposition, protocol runs, every delivery and the audit log."""
    from gunwatch.alerts.history import event_history, format_history, history_json

    with open_store_to_read(store, config) as opened:
        if opened is not None and event_id is None:
            newest = opened.list_events(limit=1)
            event_id = newest[0].id if newest else None
        elif opened is not None and event_id is not None:
            event_id = resolve_event(opened, event_id)
        history = event_history(opened, event_id) if opened and event_id else None
    if history is None:
        raise fail(f"no event {event_id}" if event_id else "no events yet")
    say(format_history(history))
    if as_json:
        typer.echo(json.dumps(history_json(history)))


def _event_action(action: str, event_id: str, config: Path | None, store: str | None, by: str | None,
                  note: str | None, wait: float) -> None:
    from gunwatch.alerts.act_command import act, default_actor, deliver_withdrawals, withdrawal_lines
    from gunwatch.alerts.event_actions import ActionRefused

    with open_store_to_read(store, config) as opened:
        if opened is None:
            raise fail(f"no event {event_id}")
        event_id = resolve_event(opened, event_id)
        try:
            result = act(opened, event_id, action, by or default_actor(), note)
        except ActionRefused as error:
            raise fail(str(error)) from None
        verb = result.disposition.replace("_", " ")
        say(f"event {event_id}: {verb}" + ("" if result.changed else " already; nothing new sent"))
        if result.aborted_runs:
            say(f"stopped {result.aborted_runs} protocol run(s): no further steps or escalations")
        if not result.withdrawals:
            return
        if config is None:
            say(f"{len(result.withdrawals)} cancel(s) queued; the running gunwatch watch delivers them "
                "(give --config to deliver them from here)")
            return
        from gunwatch.config import ConfigError, load_site_config

        try:  # the channels' secrets are needed now, to send; recording the action did not need them
            site = load_site_config(config)
        except ConfigError as error:
            for problem in error.problems:
                say(f"error: {problem}")
            say(f"{len(result.withdrawals)} cancel(s) queued; the running gunwatch watch delivers them "
                "(this site file cannot deliver them from here)")
            raise typer.Exit(code=1) from error
        delivered = deliver_withdrawals(opened, site, result.withdrawals, wait)
        say(f"{len(delivered)} cancel(s) to everyone the alert reached:")
        for line in withdrawal_lines(delivered):
            say(line)


ActorOption = Annotated[str | None, typer.Option("--by", help="who is acting (default: cli:USER)")]
NoteOption = Annotated[str | None, typer.Option(help="a note kept in the audit log (never sent to anyone)")]
WaitOption = Annotated[float, typer.Option(min=0, help="seconds to wait for the cancels to be delivered")]
EventArgument = Annotated[str, typer.Argument(
    help="the event's id, or its first characters (at least 6, as `gunwatch watch` prints it)")]


@event_app.command("ack")
def event_ack(event_id: EventArgument, config: SiteOption = None, store: StoreOption = None,
              by: ActorOption = None, note: NoteOption = None) -> None:
    """Acknowledge an event: someone is on it, so the protocol's escalations stop."""
    _event_action("ack", event_id, config, store, by, note, 0.0)


@event_app.command("confirm")
def event_confirm(event_id: EventArgument, config: SiteOption = None, store: StoreOption = None,
                  by: ActorOption = None, note: NoteOption = None) -> None:
    """Confirm a real gun: a protocol waiting for verification goes on at once."""
    _event_action("confirm", event_id, config, store, by, note, 0.0)


@event_app.command("false-alarm")
def event_false_alarm(event_id: EventArgument, config: SiteOption = None, store: StoreOption = None,
                      by: ActorOption = None, note: NoteOption = None, wait: WaitOption = 30.0) -> None:
    """Mark a false alarm: the protocol stops and everyone the alert reached gets a cancel."""
    _event_action("false-alarm", event_id, config, store, by, note, wait)


@event_app.command("resolve")
def event_resolve(event_id: EventArgument, config: SiteOption = None, store: StoreOption = None,
                  by: ActorOption = None, note: NoteOption = None, wait: WaitOption = 30.0) -> None:
    """Resolve an event: the protocol stops and everyone the alert reached gets an all-clear."""
    _event_action("resolve", event_id, config, store, by, note, wait)


@event_app.command("revoke-links")
def event_revoke_links(
    event_id: EventArgument,
    link: Annotated[list[str] | None, typer.Option(
        "--link", help="a link (its URL or token) to revoke; repeat for several (default: every link of the event "
                       "issued until now)")] = None,
    config: SiteOption = None, store: StoreOption = None, by: ActorOption = None,
    reason: Annotated[str | None, typer.Option(help="why, for the audit log")] = None,
) -> None:
    """Revoke an event's action links before they expire (a forwarded or leaked message): every link issued
    until now, or the ones given. Links issued later (an escalation) work."""
    from gunwatch.alerts.act_command import default_actor
    from gunwatch.alerts.link_checks import LinkRevocations
    from gunwatch.alerts.links import LinkError, unverified_claim

    token_ids: list[str] | None = None
    with open_store_to_read(store, config) as opened:
        if opened is None:
            raise fail(f"no event {event_id}")
        event_id = resolve_event(opened, event_id)
        if link:
            try:
                claims = [unverified_claim(text) for text in link]
            except LinkError as error:
                raise fail(f"--link: {error}") from None
            if any(claim.event_id != event_id for claim in claims):
                raise fail(f"--link: a link given is not a link of event {event_id}")
            token_ids = [claim.token_id for claim in claims]
        revoked = LinkRevocations(opened).revoke(event_id, by or default_actor(), token_ids, reason)
    what = "every link issued until now" if token_ids is None else f"{len(revoked)} link(s)"
    say(f"event {event_id}: revoked {what}")


@camera_app.command("status")
def camera_status(
    store: StoreOption = None,
    config: SiteOption = None,
    recent: Annotated[int, typer.Option(min=0, help="health changes shown per camera")] = 5,
    as_json: JsonOption = False,
) -> None:
    """Show each camera's current state (online, offline, stalled, degraded, stopped), its recent health changes
    (the watchdog's restarts among them, saying what hung), and the last run of `gunwatch watch` (running, stopped
    or crashed)."""
    from gunwatch.events.store.report import camera_json, format_camera_status
    from gunwatch.events.store.runs import RunLog

    with open_store_to_read(store, config) as opened:
        cameras = opened.camera_status(recent) if opened else []
        if opened:
            last_run = next(iter(RunLog(opened).latest(1)), None)
            say(format_camera_status(cameras, opened.url, last_run))
            from gunwatch.cluster.status import lease_lines

            for line in lease_lines(opened):  # cluster mode: the node each camera runs on
                say(line)
    if as_json:
        typer.echo(json.dumps([camera_json(camera) for camera in cameras]))


@cluster_app.command("status")
def cluster_status(
    store: StoreOption = None,
    config: SiteOption = None,
    address: Annotated[str | None, typer.Option(
        "--address", help="the Ray cluster (HOST:PORT of its head, or auto); default: the --config file's cluster "
                          "section")] = None,
    as_json: JsonOption = False,
) -> None:
    """Nodes and the cameras on each (the leases in the store), each camera's health, and when the cluster answers
    each agent's detector load and queues."""
    from gunwatch.cluster.status import collect, format_status

    with open_store_to_read(store, config) as opened:
        if opened is None:
            return
        data = collect(opened, config, address)
    say(format_status(data))
    if as_json:
        typer.echo(json.dumps(data))


def resolve_event(store: EventStore, text: str) -> str:
    """The full id of the event `text` names (its id or a unique short id); exit 2 saying why otherwise."""
    from gunwatch.events.store import UnknownEventId

    try:
        return store.resolve_id(text)
    except UnknownEventId as error:
        raise fail(str(error)) from None


@contextmanager
def open_store_to_read(url: str | None, site_file: Path | None) -> Iterator[EventStore | None]:
    """The store, or None (said why) when its SQLite file does not exist yet; errors exit with code 2."""
    from gunwatch.config import ConfigError
    from gunwatch.events.store import EventStore, StoreError, StoreMissing
    from gunwatch.events.store.location import resolve_store_url

    try:
        store = EventStore(resolve_store_url(url, site_file), create=False, upgrade=False)
    except ConfigError as error:
        for problem in error.problems:
            say(f"error: {problem}")
        raise typer.Exit(code=2) from error
    except StoreMissing as error:
        say(f"{error}: nothing recorded yet (gunwatch watch creates it)")
        yield None
        return
    except (StoreError, ValueError) as error:
        raise fail(str(error)) from error
    try:
        yield store
    except StoreError as error:
        raise fail(str(error)) from error
    finally:
        store.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
