from pathlib import Path

import numpy as np
import pytest

from gunwatch.metrics.plots import GalleryItem, plot_gallery, plot_image_rates, plot_pr_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1024


@pytest.mark.parametrize(
    ("precision", "recall", "operating", "title"),
    [
        pytest.param([1.0, 1.0, 0.67, 0.5], [0.25, 0.5, 0.75, 1.0], (0.67, 0.75), "val, AP50 = 0.83", id="full"),
        pytest.param(np.r_[np.ones(60), np.full(41, np.nan)], np.linspace(0, 1, 101), None, "", id="coco-nan"),
        pytest.param([], [], None, "", id="empty"),
    ],
)
def test_plot_pr_curve_writes_png(tmp_path, precision, recall, operating, title):
    path = plot_pr_curve(np.array(precision), np.array(recall), tmp_path / "nested" / "pr.png", operating, title)
    assert path == tmp_path / "nested" / "pr.png"
    assert_png(path)


def test_plot_pr_curve_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError):
        plot_pr_curve(np.ones(3), np.ones(2), tmp_path / "pr.png")


@pytest.mark.parametrize(
    ("fpr", "recall", "operating", "marks"),
    [
        pytest.param([0.0, 0.01, 0.02, 0.5, 1.0], [0.4, 0.7, 0.8, 0.95, 1.0], (0.02, 0.8),
                     {0.01: 0.7, 0.02: 0.8, 0.05: 0.8}, id="full"),
        pytest.param([np.nan, np.nan], [0.5, 1.0], (np.nan, 1.0), {0.02: np.nan}, id="no-gun-free-images"),
        pytest.param([], [], None, None, id="empty"),
    ],
)
def test_plot_image_rates_writes_png(tmp_path, fpr, recall, operating, marks):
    assert_png(plot_image_rates(np.array(fpr), np.array(recall), tmp_path / "rates.png", operating, marks, "val"))


def test_plot_image_rates_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError):
        plot_image_rates(np.ones(3), np.ones(2), tmp_path / "rates.png")


def _item(seed: int, gt, pred, scores, title="") -> GalleryItem:
    image = np.random.default_rng(seed).integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    return GalleryItem(
        image, np.array(gt, float).reshape(-1, 4), np.array(pred, float).reshape(-1, 4), np.array(scores, float), title
    )


@pytest.mark.parametrize("columns", [1, 2, 4, 10])
def test_plot_gallery_writes_png(tmp_path, columns):
    items = [
        _item(0, [[10, 10, 40, 40]], [[12, 8, 42, 38]], [0.91], "hit"),
        _item(1, [[5, 5, 20, 30]], [], [], "miss"),
        _item(2, [], [[50, 20, 70, 50], [0, 0, 30, 30]], [0.77, 0.55], "false alarm"),
        _item(3, [], [], [], "quiet"),
        _item(4, [[60, 40, 120, 90]], [[-10, -5, 30, 30]], [0.4], "boxes off the frame"),
    ]
    path = plot_gallery(items, tmp_path / f"gallery_{columns}.png", columns=columns)
    assert_png(path)


def test_plot_gallery_empty_says_nothing_to_show(tmp_path):
    assert_png(plot_gallery([], tmp_path / "empty.png"))
