"""One evaluation: pick the images, run the model, compute the report, draw the plots."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gunwatch.data.layouts.base import ReadOptions
from gunwatch.evaluation.artifacts import write_artifacts
from gunwatch.evaluation.report import EvalReport, build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.base import Detector
from gunwatch.metrics.bootstrap import DRAWS


@dataclass(frozen=True)
class Evaluation:
    report: EvalReport
    description: str
    artifacts: list[Path]


def evaluate(
    detector: Detector,
    data: Path,
    split: str | None = None,
    split_file: Path | None = None,
    threshold: float | None = None,
    out: Path | None = None,
    layout: str | None = None,
    options: ReadOptions | None = None,
    progress: bool = True,
    draws: int = DRAWS,
) -> Evaluation:
    selection = select_records(data, split, split_file, layout, options)
    predictions = predict_guns(detector, selection.records, progress=progress)
    chosen = detector.threshold if threshold is None else threshold
    report, coco = build_report(selection.records, predictions, chosen, draws)
    description = f"{detector.name} on {selection.description}"
    artifacts = []
    if out is not None:
        # The PR plot's legend names just the model; report.json carries the full description.
        artifacts = write_artifacts(out, selection.records, predictions.detections, report, coco, detector.name)
        (out / "report.json").write_text(_json(report, description))
    return Evaluation(report, description, artifacts)


def _json(report: EvalReport, title: str) -> str:
    return json.dumps({"title": title, **report.to_json_dict()}, indent=1) + "\n"
