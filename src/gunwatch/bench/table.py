"""`gunwatch bench`: accuracy and speed of each model in one table, against a reference timed in the same run.

Each row is a model at an input size (and tiling mode) on a data set split:
- accuracy from the same code as `gunwatch eval` (mAP, and at the model's operating threshold: image
  recall, image false-positive rate, false positives per gun-free image);
- speed as milliseconds per frame for the whole `detect` call (letterbox, ONNX Runtime, decode, NMS, and
  for tiled rows every tile and the merge), median of `runs` calls on the first frame of the split, on
  1 thread and on all cores;
- the public COCO YOLOX-Nano at the same input size and tiling, timed the same way in the same run, and
  the ratio. Timings on a shared machine drift between runs; ratios within one run do not;
- for an INT8 model or an INT8 verifier (`gunwatch quantize`), also the same pipeline with the FP32 file it
  was made from, timed alongside, and that ratio.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from gunwatch.bench.reference import reference_detector
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.armed_people import PEOPLE_MIN_SCORE, ArmedPeopleSettings, build_armed_people_set
from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import Predictions, predict_guns
from gunwatch.evaluation.selection import default_split_file, select_records
from gunwatch.evaluation.small_guns import build_small_gun_set
from gunwatch.inference.base import Detector
from gunwatch.inference.loading import (
    SHIPPED_DETECTOR,
    SHIPPED_LOCALIZER,
    SHIPPED_VERIFIER,
    load_detector,
    resolve_verifier,
)
from gunwatch.inference.onnx_yolox import OnnxYolox
from gunwatch.inference.quantize import INT8_DETECTOR, INT8_VERIFIER, quantized_from
from gunwatch.inference.second_look import SecondLookDetector
from gunwatch.inference.tiling import TiledDetector, TileMode
from gunwatch.metrics.bootstrap import Interval, recall_intervals
from gunwatch.metrics.intervals import interval_text
from gunwatch.metrics.operating import operating_point, threshold_for_image_fpr
from gunwatch.training.pseudo_labels import person_boxes

WARMUP_CALLS = 3


@dataclass(frozen=True)
class BenchCase:
    model: Path
    input_size: int | None  # None: the model's own
    tiles: TileMode
    data: Path
    split: str | None
    data_label: str
    split_file: Path | None = None
    fp32: Path | None = None  # for an INT8 model: the FP32 file it was made from, timed in the same run
    second_look: bool = False  # the person-guided second look after the first pass
    verifier: str = "none"  # the gun verifier: "none", "auto" (the shipped one) or a file
    max_input: int | None = None  # frame-shaped input up to this side (None: the square input size)


@dataclass(frozen=True)
class BenchRow:
    model: str
    input: str
    data: str
    images: int
    map50: float
    map50_95: float
    recall: float  # share of gun images flagged at the model's threshold
    image_fpr: float  # share of gun-free images flagged
    fp_per_negative_image: float
    threshold: float
    ms_1_thread: float
    ms_all_cores: float
    reference_ms_1_thread: float
    reference_ms_all_cores: float
    fp32_ms_1_thread: float | None = None
    fp32_ms_all_cores: float | None = None
    runs_per_frame: float = 1.0  # model runs per image at the model's input size (tiles and crops count; an input
    # of another size counts by its pixels)
    crops_per_frame: float = 0.0  # gun candidates the verifier judged per image
    recall_at_5: float = float("nan")  # share of gun images found at <= 5 % of the gun-free ones flagged
    # Its 95 % interval (a bootstrap over the images, as `gunwatch eval`'s): a hundred frames of each kind
    # cannot pin it down to the target's hundredths.
    recall_at_5_low: float = float("nan")
    recall_at_5_high: float = float("nan")

    @property
    def ratio_1_thread(self) -> float:
        return self.ms_1_thread / self.reference_ms_1_thread

    @property
    def ratio_all_cores(self) -> float:
        return self.ms_all_cores / self.reference_ms_all_cores

    @property
    def ratio_fp32_1_thread(self) -> float | None:
        return None if self.fp32_ms_1_thread is None else self.ms_1_thread / self.fp32_ms_1_thread

    @property
    def ratio_fp32_all_cores(self) -> float | None:
        return None if self.fp32_ms_all_cores is None else self.ms_all_cores / self.fp32_ms_all_cores

    def to_json_dict(self) -> dict[str, object]:
        return {
            **asdict(self), "ratio_1_thread": self.ratio_1_thread, "ratio_all_cores": self.ratio_all_cores,
            "ratio_fp32_1_thread": self.ratio_fp32_1_thread, "ratio_fp32_all_cores": self.ratio_fp32_all_cores,
        }


def default_cases(models: list[Path] | None, data: Path, sizes: list[int], small_guns: Path,
                  armed_people: Path | None = None, people_model: Path | None = None) -> list[BenchCase]:
    """Each model on the test split (YOLOX ones at every size), then YOLOX on 1080p small guns, tiles off and on,
    and with `armed_people`, on 1080p armed and unarmed people: first pass, tiles and second look.

    Without `models`, the shipped localizer and detector, and the detector's INT8 copy when there is one. An
    INT8 model's rows time the FP32 file it was made from alongside. The small-gun set is built from the
    test split when `small_guns` does not hold it yet, the armed-people set likewise, its people found by
    `people_model` (the COCO YOLOX-Nano, as the training's people are).
    """
    paths = models or [p for p in (SHIPPED_LOCALIZER, SHIPPED_DETECTOR, INT8_DETECTOR) if p.is_file()]
    # The test split where the data set has a split file, else all of it (e.g. the bundled sample).
    label = "test split" if default_split_file(data).exists() else data.name
    cases = []
    for path in paths:
        is_yolox = isinstance(load_detector(path, threads=1), OnnxYolox)
        fp32 = quantized_from(path)
        for size in sizes if is_yolox else [None]:  # the network at each square size
            cases.append(BenchCase(path, size, "off", data, None, label, fp32=fp32))
        if is_yolox:
            # From here on each frame is letterboxed as live (frame-shaped, up to LIVE_MAX_INPUT).
            if not (small_guns / "pistol_images").is_dir():
                build_small_gun_set(select_records(data, "test").records, small_guns)
            for tiles in ("off", "on"):
                cases.append(BenchCase(path, None, tiles, small_guns, "all", "small guns 1080p", fp32=fp32,
                                       max_input=LIVE_MAX_INPUT))
            if fp32 is None:  # the second look's cost and gain beside tiling's (an INT8 copy's is the same)
                # The FP32 verifier by name: "auto" now runs its INT8 copy, which has rows of its own below.
                verifiers = ["none"] + ([str(SHIPPED_VERIFIER)] if resolve_verifier("auto", path) else [])
                live = BenchCase(path, None, "off", data, None, label, second_look=True, max_input=LIVE_MAX_INPUT)
                for verifier in verifiers:  # and the verifier's on top, where this detector has one
                    cases.append(replace(live, verifier=verifier))
                    cases.append(replace(live, data=small_guns, split="all", data_label="small guns 1080p",
                                         verifier=verifier))
                if resolve_verifier("auto", path) and INT8_VERIFIER.is_file():  # the verifier's INT8 copy
                    cases.append(replace(live, verifier=str(INT8_VERIFIER)))
                if armed_people is not None:
                    ensure_armed_people_set(data, armed_people, people_model)
                    armed = replace(live, data=armed_people, split="all", data_label="armed people 1080p")
                    for verifier in verifiers:  # where the second look should pay: people seen from afar
                        for tiles, looked in (("off", False), ("on", False), ("off", True)):
                            cases.append(replace(armed, tiles=tiles, second_look=looked, verifier=verifier))
                    # The live default before frame-shaped input: every frame squeezed into the square 416.
                    cases.append(replace(armed, verifier=verifiers[-1], max_input=None))
                    if resolve_verifier("auto", path) and INT8_VERIFIER.is_file():
                        cases.append(replace(armed, second_look=True, verifier=str(INT8_VERIFIER)))
    return cases


def ensure_armed_people_set(data: Path, out: Path, people_model: Path | None) -> None:
    """Build the 1080p armed-people set from the test split into `out` unless it is there."""
    if (out / "pistol_images").is_dir():
        return
    if people_model is None:
        raise ValueError(f"{out}: no armed-people set there and no person model to build it with")
    build_armed_people_from_split(data, "test", None, people_model, out)


def build_armed_people_from_split(data: Path, split: str, split_file: Path | None, people_model: Path, out: Path,
                                  settings: ArmedPeopleSettings | None = None) -> Path:
    """The armed-people set from a data set's split, its people found by `people_model` (a COCO YOLOX, as the
    training's pseudo-labelled people are)."""
    if not people_model.is_file():
        raise ValueError(f"{people_model}: the person model that finds the armed-people set's people is not there")
    records = select_records(data, split, split_file).records
    people = person_boxes(records, people_model, PEOPLE_MIN_SCORE)
    return build_armed_people_set(records, people, out, settings or ArmedPeopleSettings(), split)


def network_of(detector: Detector) -> Detector:
    """The runtime under the tiling and second-look wrappers (whose runs are what a frame costs)."""
    if isinstance(detector, SecondLookDetector):
        return detector.look.detector
    if isinstance(detector, TiledDetector):
        return detector.detector
    return detector


def input_side(detector: Detector) -> int:
    size = detector.input_size  # type: ignore[attr-defined]
    return max(size) if isinstance(size, tuple) else int(size)


def ms_per_frame(detector: Detector, frame: np.ndarray, runs: int) -> float:
    for _ in range(WARMUP_CALLS):
        detector.detect([frame])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect([frame])
        times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


def bench_case(case: BenchCase, reference: Path, runs: int, progress: bool = True) -> BenchRow:
    cores = os.cpu_count() or 1
    records = select_records(case.data, case.split, case.split_file).records
    detector = load_detector(case.model, threads=cores, input_size=case.input_size, tiles=case.tiles,
                             second_look=case.second_look, verifier=case.verifier, max_input=case.max_input)
    predictions = predict_guns(detector, records, progress=progress)
    report, _ = build_report(records, predictions, detector.threshold, draws=0)
    recall_at_5, _ = recall_at_fpr(records, predictions, 0.05)  # the issue's 1080p operating point
    at_5 = recall_at_5_interval(records, predictions)
    network = network_of(detector)
    runs_per_frame = getattr(network, "work_run", getattr(network, "images_run", len(records))) / max(len(records), 1)
    verifier = getattr(network, "verifier", None)
    crops_per_frame = getattr(verifier, "crops_run", 0) / max(len(records), 1)

    frame = load_rgb(records[0].image_path)
    side = input_side(network)
    verifier_source = quantized_from(Path(case.verifier)) if case.verifier not in ("none", "auto") else None
    timings, fp32_timings = {}, {}
    for threads in (1, cores):
        ours = load_detector(case.model, threads=threads, input_size=case.input_size, tiles=case.tiles,
                             second_look=case.second_look, verifier=case.verifier, max_input=case.max_input)
        theirs: Detector = reference_detector(reference, side, threads)
        if case.tiles != "off":
            theirs = TiledDetector(theirs, side, case.tiles)
        timings[threads] = (ms_per_frame(ours, frame, runs), ms_per_frame(theirs, frame, runs))
        if case.fp32 is not None or verifier_source is not None:  # the same pipeline with the FP32 file(s)
            fp32 = load_detector(case.fp32 or case.model, threads=threads, input_size=case.input_size,
                                 tiles=case.tiles, second_look=case.second_look, max_input=case.max_input,
                                 verifier=str(verifier_source) if verifier_source is not None else case.verifier)
            fp32_timings[threads] = ms_per_frame(fp32, frame, runs)
    tiles = {"off": "", "on": " tiled", "auto": " tiles auto"}[case.tiles] + (" 2nd look" if case.second_look else "")
    tiles += " +verifier" if case.verifier != "none" else ""
    tiles += " int8" if verifier_source is not None else ""
    shaped = f"-{network.max_input_side}" if getattr(network, "max_input_side", None) else ""
    return BenchRow(
        model=case.model.stem, input=f"{side}{shaped}{tiles}", data=case.data_label, images=len(records),
        map50=report.map50, map50_95=report.map50_95, recall=report.image_recall, image_fpr=report.image_fpr,
        fp_per_negative_image=report.fp_per_negative_image, threshold=report.threshold,
        ms_1_thread=timings[1][0], ms_all_cores=timings[cores][0],
        reference_ms_1_thread=timings[1][1], reference_ms_all_cores=timings[cores][1],
        fp32_ms_1_thread=fp32_timings.get(1), fp32_ms_all_cores=fp32_timings.get(cores),
        runs_per_frame=runs_per_frame, crops_per_frame=crops_per_frame, recall_at_5=recall_at_5,
        recall_at_5_low=at_5.low, recall_at_5_high=at_5.high,
    )


def recall_at_5_interval(records: list[ImageRecord], predictions: Predictions) -> Interval:
    """The 95 % interval of the recall at <= 5 % of the gun-free images flagged (NaN without both kinds)."""
    tops = np.array([float(d.scores.max()) if len(d.scores) else -np.inf for d in predictions.detections])
    has_gun = np.array([record.has_gun for record in records], dtype=bool)
    if has_gun.all() or not has_gun.any():
        return Interval(float("nan"), float("nan"))
    return recall_intervals(tops[has_gun], tops[~has_gun], (0.05,))["0.05"]


def recall_at_fpr(records: list[ImageRecord], predictions: Predictions,
                  max_fpr: float) -> tuple[float, float]:
    """(share of gun images flagged, the threshold) at the lowest threshold that flags at most `max_fpr` of the
    gun-free images, as `gunwatch eval` reports it (`metrics.operating`). Without gun-free images every gun
    image with a detection counts (threshold 0)."""
    negatives = [not record.has_gun for record in records]
    threshold = threshold_for_image_fpr(predictions.detections, negatives, max_fpr) if any(negatives) else 0.0
    point = operating_point([record.gun_boxes for record in records], predictions.detections, threshold)
    return point.image_recall, threshold


def format_bench_table(rows: list[BenchRow], reference: str) -> str:
    cores = os.cpu_count() or 1
    header = (
        f"{'model':<22} {'input':<28} {'data':<18} {'mAP50':>6} {'50-95':>6} {'recall':>6} {'imgFPR':>6} "
        f"{'rec@5%':>6} {'95%':>11} "
        f"{'FP/neg':>6} {'runs':>5} {'crops':>5} {'ms 1t':>7} {'x ref':>6} {f'ms {cores}t':>7} {'x ref':>6} "
        f"{'x fp32 1t':>9} {f'x fp32 {cores}t':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        at_5 = interval_text((r.recall_at_5_low, r.recall_at_5_high), missing="-")
        lines.append(
            f"{r.model:<22} {r.input:<28} {r.data:<18} {r.map50:>6.3f} {r.map50_95:>6.3f} {r.recall:>6.3f} "
            f"{r.image_fpr:>6.3f} {r.recall_at_5:>6.3f} {at_5:>11} "
            f"{r.fp_per_negative_image:>6.3f} {r.runs_per_frame:>5.2f} "
            f"{r.crops_per_frame:>5.2f} {r.ms_1_thread:>7.1f} {r.ratio_1_thread:>6.2f} "
            f"{r.ms_all_cores:>7.1f} {r.ratio_all_cores:>6.2f} {_ratio(r.ratio_fp32_1_thread):>9} "
            f"{_ratio(r.ratio_fp32_all_cores):>9}"
        )
    lines.append(
        f"recall and image FPR at each model's own threshold; rec@5% = gun-image recall at <= 5 % of the gun-free "
        f"images flagged, and its 95 % interval (bootstrap over the images); input 416-640 = frame-shaped input "
        f"(images over 720p in a larger input of their aspect, "
        f"up to 640 px; the rest in the square); runs = model runs per image at the model's input size (tiles and "
        f"second-look crops count, a larger input by its pixels); crops = gun candidates the verifier judged per "
        f"image; ms per frame = the whole detect call on the split's first image; x ref = ms / {reference} at "
        f"the same input size and tiling (its first pass only on second-look rows: it has no handgun class), "
        f"timed in this run; "
        f"x fp32 = an INT8 model's ms / the FP32 model it was made from, timed in this run"
    )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
