"""Hard negatives: the gun-free training images a model mistakes most for guns, seen more often in training.

A false alarm's threshold is set by the few gun-free pictures that look most like a gun (a knife in a hand,
a phone, a camera on its bracket, a drill). Drawn once an epoch among thousands, they teach little; mined
with the model itself and repeated, they teach what is not a gun. Mining needs only the runtime (ONNX),
not torch, and writes a small JSON file a training config names (`hard_negatives`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from gunwatch.checksums import sha256_of
from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.runner import predict_guns
from gunwatch.inference.base import Detector


@dataclass(frozen=True)
class MinedNegatives:
    """Every gun-free image's highest gun score under one model, hardest first."""

    model: str  # file name
    model_sha256: str
    scores: dict[str, float]  # record key -> highest handgun score on that gun-free image

    def hardest(self, share: float) -> list[str]:
        """Keys of the top `share` of the images by score (at least one when any was mined and share > 0)."""
        ranked = sorted(self.scores, key=lambda key: (-self.scores[key], key))
        return ranked[: math.ceil(share * len(ranked))]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model": self.model, "model_sha256": self.model_sha256, "scores": self.scores},
                                   indent=1))

    @classmethod
    def load(cls, path: Path) -> MinedNegatives:
        try:
            stored = json.loads(path.read_text())
            return cls(stored["model"], stored["model_sha256"], {k: float(v) for k, v in stored["scores"].items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}: not a hard-negative file written by `gunwatch data mine-negatives`: "
                             f"{error}") from error


def mine_hard_negatives(detector: Detector, model_path: Path, records: list[ImageRecord],
                        progress: bool = True) -> MinedNegatives:
    """Runs the model over the gun-free records and keeps each one's highest gun score."""
    negatives = [record for record in records if not record.has_gun]
    predictions = predict_guns(detector, negatives, progress=progress)
    scores = {record.key: round(float(found.scores.max(initial=0.0)), 4)
              for record, found in zip(negatives, predictions.detections, strict=True)}
    ranked = dict(sorted(scores.items(), key=lambda item: (-item[1], item[0])))
    return MinedNegatives(model_path.name, sha256_of(model_path), ranked)


def repeats_per_sample(keys: list[str], hard: set[str], repeats: int) -> list[int]:
    """How often each training sample is drawn per epoch: `repeats` for the hard negatives, else once."""
    return [repeats if key in hard else 1 for key in keys]
