"""Image-level evaluation from two folders of photos, one with a gun in every photo and one without: no boxes.

The question a site asks of its own photos, and the one the issue's acceptance asks of held-out ones: how many
of the armed are flagged while at most a few per cent of the unarmed are. Labelling boxes is not needed for it,
so `gunwatch eval-photos GUNS GUN_FREE` takes the two folders as they are. A photo is flagged when the pipeline
(detector, second look and verifier as configured) reports a handgun at or above the threshold anywhere in it,
as `gunwatch eval` counts gun images, so the two agree on a labelled set.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.data.images import IMAGE_SUFFIXES, ImageDecodeError, images_under, load_rgb
from gunwatch.evaluation.report import RECALL_AT_FPRS
from gunwatch.inference.base import Detector
from gunwatch.metrics.bootstrap import DRAWS, Interval, recall_intervals
from gunwatch.metrics.intervals import interval_text, proportion_interval
from gunwatch.metrics.operating import threshold_for_image_fpr


class PhotoSetError(ValueError):
    """A folder that cannot be evaluated (named)."""


@dataclass(frozen=True)
class PhotoSetReport:
    gun_photos: int
    gun_free_photos: int
    threshold: float
    recall: float  # share of the gun photos flagged at the threshold
    flagged: float  # share of the gun-free photos flagged at the threshold
    # Gun photos flagged at the lowest threshold that flags at most this share of the gun-free ones ("0.03": ...).
    recall_at_flagged: dict[str, float]
    # Photos are named by their path below the folder given (subfolders are read too).
    missed: list[str]  # gun photos not flagged, lowest score first
    false_alarms: list[str]  # gun-free photos flagged, highest score first
    unreadable: list[str]  # photos that did not decode (left out of every number)
    ms_per_photo: float
    # 95 % intervals, each [low, high]: "recall" and "flagged" exact binomial, "recall_at_flagged" (per share) a
    # bootstrap over the photos (`gunwatch eval`'s, README "Evaluation report"). Empty with draws 0.
    intervals: dict[str, object] = field(default_factory=dict)
    not_photos: list[str] = field(default_factory=list)  # files in the folders that are not images (left out)

    def to_json_dict(self) -> dict[str, object]:
        return asdict(self)


def photo_scores(detector: Detector, folder: Path, unreadable: list[str], progress: bool = True,
                 desc: str = "", not_photos: list[str] | None = None) -> tuple[list[str], np.ndarray, float]:
    """Each readable photo's name (its path below `folder`: subfolders are read too) and highest handgun score
    (0 when none), and the seconds spent detecting; a photo that does not decode is named in `unreadable` and
    left out, and a file that is not an image in `not_photos`."""
    if not folder.is_dir():
        raise PhotoSetError(f"{folder}: no such folder" if not folder.exists() else f"{folder}: not a folder")
    try:
        photos, others = images_under(folder)
    except OSError as error:
        raise PhotoSetError(f"{folder}: cannot read the folder tree: {error}") from error
    if not_photos is not None:
        not_photos += [str(path) for path in others]
    if not photos:
        raise PhotoSetError(f"{folder}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    gun_class = detector.class_names.index(GUN_LABEL)
    names, scores, seconds = [], [], 0.0
    for path in tqdm(photos, desc=desc, unit="photo", disable=not progress):
        try:
            image = load_rgb(path)
        except (OSError, ImageDecodeError) as error:
            unreadable.append(f"{path}: image does not decode ({error})")
            continue
        start = time.perf_counter()
        (found,) = detector.detect([image])
        seconds += time.perf_counter() - start
        guns = found.of_class(gun_class)
        names.append(path.relative_to(folder).as_posix())
        scores.append(float(guns.scores.max()) if len(guns.scores) else 0.0)
    return names, np.asarray(scores, np.float32), seconds


def evaluate_photo_sets(detector: Detector, guns: Path, gun_free: Path, threshold: float | None = None,
                        progress: bool = True, draws: int = DRAWS) -> PhotoSetReport:
    """The pipeline's image-level rates on two folders of photos (PhotoSetError for a missing or empty one)."""
    chosen = detector.threshold if threshold is None else threshold
    unreadable: list[str] = []
    not_photos: list[str] = []
    gun_names, gun_scores, gun_s = photo_scores(detector, guns, unreadable, progress, "photos with a gun",
                                                not_photos)
    free_names, free_scores, free_s = photo_scores(detector, gun_free, unreadable, progress, "photos without",
                                                   not_photos)
    # The operating points of `gunwatch eval`: one score per photo, the gun-free ones marked.
    per_photo = [(np.zeros((1, 4), np.float32), np.array([score], np.float32))
                 for score in (*gun_scores, *free_scores)]
    negatives = np.array([False] * len(gun_scores) + [True] * len(free_scores))
    recall_at = {f"{rate:g}": float("nan") for rate in RECALL_AT_FPRS}  # NaN: a folder read no photo
    if len(gun_scores) and len(free_scores):
        for rate in RECALL_AT_FPRS:
            recall_at[f"{rate:g}"] = float((gun_scores >= threshold_for_image_fpr(per_photo, negatives, rate)).mean())
    missed = [gun_names[i] for i in np.argsort(gun_scores, kind="stable") if gun_scores[i] < chosen]
    alarms = [free_names[i] for i in np.argsort(-free_scores, kind="stable") if free_scores[i] >= chosen]
    photos = len(gun_scores) + len(free_scores)
    intervals: dict[str, object] = {}
    if draws and len(gun_scores) and len(free_scores):
        intervals = {
            "recall": Interval(*proportion_interval(int((gun_scores >= chosen).sum()), len(gun_scores))).as_list(),
            "flagged": Interval(*proportion_interval(int((free_scores >= chosen).sum()), len(free_scores))).as_list(),
            "recall_at_flagged": {share: interval.as_list() for share, interval in
                                  recall_intervals(gun_scores, free_scores, RECALL_AT_FPRS, draws).items()},
        }
    return PhotoSetReport(
        gun_photos=len(gun_scores),
        gun_free_photos=len(free_scores),
        threshold=chosen,
        recall=float((gun_scores >= chosen).mean()) if len(gun_scores) else float("nan"),
        flagged=float((free_scores >= chosen).mean()) if len(free_scores) else float("nan"),
        recall_at_flagged=recall_at,
        missed=missed,
        false_alarms=alarms,
        unreadable=unreadable,
        ms_per_photo=1000 * (gun_s + free_s) / max(photos, 1),
        intervals=intervals,
        not_photos=not_photos,
    )


def format_photo_report(report: PhotoSetReport, title: str, listed: int = 10) -> str:
    """The human-readable report (stderr): the rates, then the photos a person should look at."""
    at = " / ".join(f"{value:.3f}" for value in report.recall_at_flagged.values())
    shares = " / ".join(f"{float(key) * 100:g}" for key in report.recall_at_flagged)
    spans = report.intervals

    def span(key: str) -> str:
        return f"  ({interval_text(spans[key])})" if key in spans else ""

    rows = [
        ("photos with a gun / without", f"{report.gun_photos} / {report.gun_free_photos}"),
        (f"at threshold {report.threshold:.3f}: with a gun flagged", f"{report.recall:.3f}{span('recall')}"),
        ("  without a gun flagged", f"{report.flagged:.3f}{span('flagged')}"),
        (f"with a gun flagged at <= {shares} % without", at),
    ]
    at_spans = spans.get("recall_at_flagged")
    if isinstance(at_spans, dict):
        rows.append(("  95 % intervals", " / ".join(interval_text(interval) for interval in at_spans.values())))
    rows.append(("ms per photo", f"{report.ms_per_photo:.1f}"))
    width = max(len(name) for name, _ in rows) + 2
    lines = [title, *(f"  {name:<{width}} {value}" for name, value in rows)]
    for what, names in (("missed", report.missed), ("false alarms", report.false_alarms),
                        ("did not decode", report.unreadable), ("not images, left out", report.not_photos)):
        if names:
            more = f" (and {len(names) - listed} more)" if len(names) > listed else ""
            lines.append(f"  {what}: {', '.join(names[:listed])}{more}")
    return "\n".join(lines)
