"""The lineage table, as text for the terminal and Markdown for docs/lineage.md and the README, and its plot."""

from __future__ import annotations

import math
from pathlib import Path

from gunwatch.bench.lineage import MAX_IMAGE_FPR, LineageRow
from gunwatch.events.store.report import text_table

HEADER = ["method", "regions / image", "ms / image (1 thread)", "ms / image (all cores)", "speed-up over R-CNN",
          "mAP@0.5", "mAP@0.5:0.95", f"gun recall at <= {MAX_IMAGE_FPR:.0%} flagged", "training (min)",
          "course VOC 2007: s / image", "course mAP@0.5"]


def _number(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def table_rows(rows: list[LineageRow]) -> list[list[str]]:
    rcnn = next((row for row in rows if row.kind == "rcnn"), None)
    cells = []
    for row in rows:
        speedup = None if rcnn is None else rcnn.ms_1_thread / row.ms_1_thread
        cells.append([
            row.method, _number(row.regions_per_image), _number(row.ms_1_thread), _number(row.ms_all_cores),
            "-" if speedup is None else f"{speedup:,.1f}x", _number(row.map50, 3), _number(row.map50_95, 3),
            _number(row.recall_at_2pct, 3), _number(row.train_minutes), _number(row.course_s_per_image, 1),
            _number(row.course_map50, 1),
        ])
    return cells


def format_text(rows: list[LineageRow]) -> str:
    return text_table([HEADER, *table_rows(rows)])


def format_markdown(rows: list[LineageRow]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(rows)]
    return "\n".join(lines) + "\n"


def plot_speed_accuracy(rows: list[LineageRow], path: Path) -> Path:
    """mAP@0.5 against ms per image (1 thread, log scale): the lineage moves left, the production detector
    sits at the far left."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    for index, row in enumerate(rows):
        axis.scatter(row.ms_1_thread, row.map50, s=60)
        # A point close to an earlier one (a detector and its second look) is labelled below it, not over it.
        crowded = any(abs(math.log10(row.ms_1_thread / other.ms_1_thread)) < 0.15 and abs(row.map50 - other.map50)
                      < 0.03 for other in rows[:index])
        axis.annotate(row.method, (row.ms_1_thread, row.map50), textcoords="offset points",
                      xytext=(6, -12) if crowded else (6, 4), fontsize=8)
    axis.set_xscale("log")
    axis.set_xlabel("ms per image, 1 CPU thread (log scale)")
    axis.set_ylabel("mAP@0.5, gun test split")
    axis.set_title("The course's detector lineage on guns")
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
