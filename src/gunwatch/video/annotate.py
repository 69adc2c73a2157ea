"""Detections drawn onto frames: what a person checks first."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from gunwatch import GUN_LABEL
from gunwatch.inference.detections import Detections

GUN_COLOUR = (230, 30, 30)
OTHER_COLOUR = (40, 170, 255)


def draw_detections(image: np.ndarray, detections: Detections, class_names: tuple[str, ...]) -> np.ndarray:
    """A copy of the RGB image with each box and "label score" drawn; guns in red, the rest in blue."""
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(max(image.shape[:2]) / 400))
    # Guns last, so they are drawn over the people holding them.
    order = sorted(range(len(detections)), key=lambda i: class_names[detections.class_ids[i]] == GUN_LABEL)
    for i in order:
        label = class_names[detections.class_ids[i]]
        colour = GUN_COLOUR if label == GUN_LABEL else OTHER_COLOUR
        x1, y1, x2, y2 = (float(v) for v in detections.xyxy[i])
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        text = f"{label} {detections.scores[i]:.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), text)
        lift = bottom - top + 4
        draw.rectangle((x1, y1 - lift, x1 + right - left + 4, y1), fill=colour)
        draw.text((x1 + 2, y1 - lift + 1), text, fill=(255, 255, 255))
    return np.asarray(canvas)
