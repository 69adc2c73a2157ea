"""PNG figures for evaluation reports: the PR curve and a detection gallery."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: evaluation runs on servers without a display

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import PercentFormatter

from gunwatch.metrics._inputs import as_boxes

GT_COLOR = "lime"
PRED_COLOR = "red"
CELL_INCHES = 4.0
DPI = 100


@dataclass(frozen=True)
class GalleryItem:
    """One gallery cell: an HxWx3 uint8 RGB image with its xyxy pixel boxes."""

    image: np.ndarray
    gt_boxes: np.ndarray
    pred_boxes: np.ndarray
    pred_scores: np.ndarray
    title: str = ""


def _save(fig: Figure, path: Path) -> Path:
    # Always close: pyplot keeps every open figure alive, which leaks memory in long evaluation runs.
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)
    return path


def plot_pr_curve(
    precision: np.ndarray,
    recall: np.ndarray,
    path: Path,
    operating: tuple[float, float] | None = None,
    title: str = "",
) -> Path:
    """Precision against recall; ``title`` (e.g. "val, AP50 = 0.81") labels the curve in the legend.

    ``operating`` is a (precision, recall) pair, in the same order as the arguments, marked with a dot.
    NaN precision (undefined points of a COCO curve) leaves a gap.
    """
    precision = np.asarray(precision, dtype=np.float64).reshape(-1)
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    if len(precision) != len(recall):
        raise ValueError(f"{len(precision)} precision values but {len(recall)} recall values")
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    ax.plot(recall, precision, color="tab:blue", linewidth=2, label=title or "precision-recall")
    if operating is not None:
        op_precision, op_recall = operating
        ax.plot(
            op_recall,
            op_precision,
            "o",
            color="tab:red",
            markersize=9,
            label=f"operating point (P={op_precision:.2f}, R={op_recall:.2f})",
        )
    ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="Recall", ylabel="Precision", title="Handgun precision-recall")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _save(fig, path)


def plot_image_rates(
    fpr: np.ndarray,
    recall: np.ndarray,
    path: Path,
    operating: tuple[float, float] | None = None,
    marks: dict[float, float] | None = None,
    title: str = "",
    max_fpr: float = 0.2,
) -> Path:
    """Gun images flagged against gun-free images flagged, image by image (an alarm per picture, not per box),
    for every threshold: the curve alarms live on, so only its first `max_fpr` of gun-free images flagged.

    ``operating`` is the (image FPR, image recall) at the model's threshold; ``marks`` maps a share of
    gun-free images flagged to the recall there (RECALL_AT_FPRS), drawn as a dotted line with its value.
    """
    fpr = np.asarray(fpr, dtype=np.float64).reshape(-1)
    recall = np.asarray(recall, dtype=np.float64).reshape(-1)
    if len(fpr) != len(recall):
        raise ValueError(f"{len(fpr)} false-positive rates but {len(recall)} recall values")
    fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    # A step from the origin: at a threshold above every score nothing is flagged.
    ax.step(np.r_[0.0, fpr], np.r_[0.0, recall], where="post", color="tab:blue", linewidth=2,
            label=title or "gun images flagged")
    for share, found in (marks or {}).items():
        ax.axvline(share, color="grey", linestyle=":", linewidth=1)
        if not math.isnan(found):
            ax.annotate(f"{found:.2f}", (share, found), textcoords="offset points", xytext=(3, -12), fontsize=8)
    if operating is not None and not any(math.isnan(v) for v in operating):
        op_fpr, op_recall = operating
        ax.plot(op_fpr, op_recall, "o", color="tab:red", markersize=9,
                label=f"at its threshold ({100 * op_fpr:.1f} % flagged, recall {op_recall:.2f})")
    ax.set(xlim=(0, max_fpr), ylim=(0, 1.02), xlabel="Gun-free images flagged", ylabel="Gun images flagged",
           title="Image level: an alarm per picture")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, path)


def _draw_boxes(ax: Axes, boxes: np.ndarray, color: str, scores: np.ndarray | None = None) -> None:
    for k, (x1, y1, x2, y2) in enumerate(as_boxes(boxes)):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=2))
        if scores is not None:
            ax.text(
                x1,
                y1,
                f"{float(scores[k]):.2f}",
                color="white",
                fontsize=8,
                va="bottom",
                clip_on=True,
                bbox={"facecolor": color, "edgecolor": "none", "pad": 1},
            )


def _draw_item(ax: Axes, item: GalleryItem) -> None:
    height, width = item.image.shape[:2]
    ax.imshow(item.image)
    _draw_boxes(ax, item.gt_boxes, GT_COLOR)
    _draw_boxes(ax, item.pred_boxes, PRED_COLOR, np.asarray(item.pred_scores).reshape(-1))
    # Pin the view to the image so a box running off the frame cannot shrink the picture.
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_title(item.title, fontsize=9)


def _message_figure(text: str) -> Figure:
    fig = plt.figure(figsize=(CELL_INCHES, 2))
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=14)
    return fig


def plot_gallery(items: Sequence[GalleryItem], path: Path, columns: int = 4) -> Path:
    """A grid of images with ground truth in green and scored predictions in red."""
    if not items:
        return _save(_message_figure("nothing to show"), path)
    columns = max(1, min(columns, len(items)))
    rows = math.ceil(len(items) / columns)
    # Shape cells like the tallest image so landscape frames do not float in white space.
    aspect = float(np.clip(max(item.image.shape[0] / max(item.image.shape[1], 1) for item in items), 0.5, 2.0))
    figsize = (CELL_INCHES * columns, CELL_INCHES * aspect * rows + 0.8)
    fig, axes = plt.subplots(rows, columns, figsize=figsize, squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, item in zip(axes.flat, items, strict=False):
        _draw_item(ax, item)
    legend = [
        Patch(facecolor="none", edgecolor=GT_COLOR, label="ground truth"),
        Patch(facecolor="none", edgecolor=PRED_COLOR, label="prediction (score)"),
    ]
    fig.legend(handles=legend, loc="outside lower center", ncol=2)
    return _save(fig, path)
