"""Guns not seen side on, drawn more often in training (`pose_repeats` in a detector or verifier config).

A handgun in profile (the photos' usual pose) has a box about one and a half times as wide as it is tall.
Aimed at the camera, held upright or foreshortened, its box comes out square, tall or very long, and the
shipped pair finds such guns far less often at the same size (test split, guns at least 100 px wide, at the
score that flags 2 % of the gun-free images: 0.95 of those in profile, 0.72 of the square and tall ones).
A third of the training guns are not in profile: the pose is harder, not rare. Repeating those images each
epoch, the way mined hard negatives are, measured no gain for either network (both model cards, "Guns not in
profile"); the option stays so that data with more such guns can be weighted the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gunwatch.data.records import ImageRecord


def gun_aspects(record: ImageRecord) -> np.ndarray:
    """Width / height of each labelled gun box of the image."""
    boxes = np.asarray(record.gun_boxes, np.float64).reshape(-1, 4)
    return (boxes[:, 2] - boxes[:, 0]) / np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)


def holds_unprofiled_gun(record: ImageRecord, profile_aspect: tuple[float, float]) -> bool:
    """Whether any labelled gun's box lies outside the profile's aspect range [low, high)."""
    aspects = gun_aspects(record)
    low, high = profile_aspect
    return bool(((aspects < low) | (aspects >= high)).any())


def pose_repeats_per_sample(records: Sequence[ImageRecord], profile_aspect: tuple[float, float],
                            repeats: int) -> list[int]:
    """How often each image is drawn per epoch: `repeats` for one holding a gun not in profile, else once."""
    return [repeats if holds_unprofiled_gun(record, profile_aspect) else 1 for record in records]
