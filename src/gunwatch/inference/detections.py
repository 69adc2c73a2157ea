"""The one value type that crosses every boundary: detections as parallel arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes as absolute xyxy pixels of the analysed image, with a score and a class id each."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        if not len(xyxy) == len(scores) == len(class_ids):
            raise ValueError(f"Detections: {len(xyxy)} boxes, {len(scores)} scores, {len(class_ids)} class ids")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "class_ids", class_ids)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, mask: np.ndarray | slice) -> Detections:
        return Detections(self.xyxy[mask], self.scores[mask], self.class_ids[mask])

    def of_class(self, class_id: int) -> Detections:
        return self[self.class_ids == class_id]

    def above(self, threshold: float) -> Detections:
        return self[self.scores >= threshold]
