"""Phone photos (pixels stored turned, an EXIF tag that turns them back) are measured as the upright photos are.

The shipped detector and verifier on the sample's 32 photos, written once upright and once as a phone writes
them (each photo turned one of three ways, tagged): the same report, to the last digit, since the detector
sees the same pixels and the boxes come back in the same frame.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gunwatch.data.images import load_rgb
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from support.turned_photos import write_turned

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "pistol-sample"
ORIENTATIONS = (6, 8, 3)  # a quarter clockwise, a quarter counter-clockwise, upside down


def copy_sample(out: Path, orientation_of: dict[str, int]) -> Path:
    """The sample in the notebook layout with lossless PNG images, each stored as `orientation_of` says."""
    shutil.copytree(SAMPLE / "pistol_annotations", out / "pistol_annotations")
    shutil.copy(SAMPLE / "manifest.jsonl", out / "manifest.jsonl")
    (out / "pistol_images").mkdir()
    for path in sorted((SAMPLE / "pistol_images").iterdir()):
        write_turned(out / "pistol_images" / f"{path.stem}.png", load_rgb(path), orientation_of.get(path.stem, 1))
    return out


def test_phone_photos_are_measured_as_the_upright_ones(tmp_path: Path) -> None:
    stems = [p.stem for p in sorted((SAMPLE / "pistol_images").iterdir())]
    turned = {stem: ORIENTATIONS[i % len(ORIENTATIONS)] for i, stem in enumerate(stems)}
    detector = load_detector(SHIPPED_DETECTOR, verifier="auto", threads=1)
    upright = evaluate(detector, copy_sample(tmp_path / "upright", {}), split="all", progress=False).report
    phone = evaluate(detector, copy_sample(tmp_path / "phone", turned), split="all", progress=False).report
    assert phone.images == upright.images == 32
    assert upright.image_recall >= 0.5 and upright.map50 >= 0.3  # the detector finds the sample's guns
    assert (phone.map50, phone.map50_95, phone.image_recall, phone.image_fpr) == (
        upright.map50, upright.map50_95, upright.image_recall, upright.image_fpr)
