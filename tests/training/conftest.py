"""A handful of synthetic images in the notebook layout: dark pistol-like shapes on a noisy background."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw


def draw_pistol(draw: ImageDraw.ImageDraw, x: int, y: int, size: int) -> tuple[int, int, int, int]:
    """A barrel and a grip; returns the xyxy box around both."""
    barrel_h, grip_w = size // 3, size // 3
    draw.rectangle((x, y, x + size, y + barrel_h), fill=(20, 20, 25))
    draw.rectangle((x + size - grip_w, y, x + size, y + size), fill=(30, 25, 20))
    return x, y, x + size + 1, y + size + 1


def write_synthetic_set(root: Path, guns: int = 6, negatives: int = 2, side: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "pistol_images").mkdir(parents=True)
    (root / "pistol_annotations").mkdir()
    manifest = []
    for index in range(1, guns + negatives + 1):
        pixels = rng.integers(140, 230, (side, side, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        line = "0 0 0 0 0"
        if index <= guns:
            size = int(rng.integers(side // 4, side // 2))
            x, y = (int(v) for v in rng.integers(0, side - size - 1, 2))
            x1, y1, x2, y2 = draw_pistol(ImageDraw.Draw(image), x, y, size)
            line = f"1 {(x1 + x2) / 2 / side} {(y1 + y2) / 2 / side} {(x2 - x1) / side} {(y2 - y1) / side}"
        image.save(root / "pistol_images" / f"{index}.jpg", quality=95)
        (root / "pistol_annotations" / f"{index}.txt").write_text(line + "\n")
        manifest.append(json.dumps({"id": index, "origin": "synthetic"}))
    (root / "manifest.jsonl").write_text("\n".join(manifest) + "\n")
    return root


@pytest.fixture
def synthetic_set():
    """A factory: synthetic_set(root, guns, negatives) writes the set and returns its root."""
    return write_synthetic_set
