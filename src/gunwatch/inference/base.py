"""The one small interface every model is measured and run through."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from gunwatch.inference.detections import Detections


class Detector(Protocol):
    """A model that finds objects in RGB images; boxes come back in the pixels of each input image."""

    name: str
    class_names: tuple[str, ...]
    threshold: float  # the operating threshold that travels with the model

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """images: HxWx3 uint8 RGB, any sizes. Returns every detection with its score (no threshold)."""
        ...
