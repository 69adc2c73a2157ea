"""The gun verifier at run time: a second opinion on each gun candidate, and the detector that asks for it.

`VerifiedDetector` wraps any detector (plain, flipped; tiles and the second look wrap it in turn, so their
tiles and crops are verified too). After each call it takes every image's gun candidates (the `top_k`
best scoring at least `floor`), cuts a context crop around each from the image the detector was given
(`inference.context_crops`, as in training), runs all crops of all images through the verifier in one
batch, and scores each candidate `detector ** w * verifier ** (1 - w)`: a gun must look like a gun to
both. Candidates too weak to be judged are dropped; people and other classes pass unchanged.

The combined score has its own thresholds, chosen for this detector and verifier together and stored in
the verifier file with the sha256 of the detector they were measured with: a verifier used with another
detector is refused, since its thresholds would mean nothing there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from gunwatch import GUN_LABEL
from gunwatch.checksums import sha256_of
from gunwatch.inference.alarm_threshold import ALARM_THRESHOLD_KEY
from gunwatch.inference.base import Detector
from gunwatch.inference.context_crops import cut_context_crops
from gunwatch.inference.detections import Detections
from gunwatch.inference.onnx_session import ModelError, gunwatch_metadata, metadata_float, open_session

KIND = "gun-verifier"
MAX_BATCH = 64


def combined_score(detector: np.ndarray, verifier: np.ndarray, detector_weight: float) -> np.ndarray:
    """Weighted geometric mean of the two opinions, in 0..1."""
    detector = np.clip(np.asarray(detector, np.float64), 0.0, 1.0)
    verifier = np.clip(np.asarray(verifier, np.float64), 0.0, 1.0)
    return (detector**detector_weight * verifier ** (1.0 - detector_weight)).astype(np.float32)


def top_candidates(scores: np.ndarray, floor: float, top_k: int) -> np.ndarray:
    """Indices of the candidates a verifier judges: scoring at least `floor`, the `top_k` best, best first."""
    order = np.argsort(-np.asarray(scores), kind="stable")[:top_k]
    return order[scores[order] >= floor]


class OnnxGunVerifier:
    """The verifier network (ONNX): N x 3 x side x side RGB pixel values in, N gun probabilities out."""

    def __init__(self, path: Path, session: ort.InferenceSession):
        metadata = gunwatch_metadata(session)
        if metadata.get("gunwatch.kind") != KIND:
            raise ModelError(f"{path}: not a gun verifier (metadata gunwatch.kind is "
                             f"{metadata.get('gunwatch.kind')!r}, expected {KIND!r})")
        self.path, self.session = path, session
        self.input_name = session.get_inputs()[0].name
        self.side = int(metadata_float(metadata, "gunwatch.input_size", path))
        self.context = metadata_float(metadata, "gunwatch.context", path)
        self.floor = metadata_float(metadata, "gunwatch.floor", path)
        self.top_k = int(metadata_float(metadata, "gunwatch.top_k", path))
        self.detector_weight = metadata_float(metadata, "gunwatch.detector_weight", path)
        self.threshold = metadata_float(metadata, "gunwatch.threshold", path)
        self.alarm_threshold = metadata_float(metadata, ALARM_THRESHOLD_KEY, path, default=self.threshold)
        self.alarm_threshold_measured = ALARM_THRESHOLD_KEY in metadata  # else the image one stands in
        self.detector_sha256 = metadata.get("gunwatch.detector_sha256", "")
        self.crops_run = 0  # crops judged so far (the cost `bench` reports)

    @classmethod
    def load(cls, path: Path | str, threads: int | None = None, spinning: bool = True) -> OnnxGunVerifier:
        path = Path(path)
        return cls(path, open_session(path, threads, spinning))

    def judge(self, crops: np.ndarray) -> np.ndarray:
        """(N, side, side, 3) uint8 RGB crops -> (N,) gun probabilities."""
        out = [np.zeros(0, np.float32)]
        for start in range(0, len(crops), MAX_BATCH):
            batch = np.ascontiguousarray(crops[start : start + MAX_BATCH].transpose(0, 3, 1, 2), dtype=np.float32)
            out.append(self.session.run(None, {self.input_name: batch})[0].reshape(-1).astype(np.float32))
        self.crops_run += len(crops)
        return np.concatenate(out)


class VerifiedDetector:
    """A detector whose gun scores are the combined opinion of the detector and the verifier; otherwise the
    detector it wraps (its session, path and input size)."""

    def __init__(self, inner: Detector, verifier: OnnxGunVerifier, check_pairing: bool = True):
        inner_path = getattr(inner, "path", None)
        if check_pairing and inner_path is not None and sha256_of(Path(inner_path)) != verifier.detector_sha256:
            raise ModelError(f"{verifier.path}: calibrated with another detector (sha256 "
                             f"{verifier.detector_sha256[:12]}...), not {inner_path}: its thresholds do not hold "
                             "for this one; train a verifier for it (`gunwatch train`, model: gun-verifier)")
        self.inner, self.verifier = inner, verifier
        self.name = f"{inner.name}+verifier"
        self.class_names = inner.class_names
        self.gun_id = inner.class_names.index(GUN_LABEL)
        self.threshold = verifier.threshold
        self.live_threshold = verifier.alarm_threshold  # `alarm_threshold()` reads it before the inner file's
        self.live_threshold_measured = verifier.alarm_threshold_measured

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        found = self.inner.detect(images)
        chosen = [top_candidates(np.where(d.class_ids == self.gun_id, d.scores, -1.0), self.verifier.floor,
                                 self.verifier.top_k) for d in found]
        crops = [cut_context_crops(image, d.xyxy[index], self.verifier.context, self.verifier.side)
                 for image, d, index in zip(images, found, chosen, strict=True)]
        opinions = self.verifier.judge(np.concatenate(crops)) if any(len(c) for c in crops) else np.zeros(0)
        results, start = [], 0
        for detections, index in zip(found, chosen, strict=True):
            opinion, start = opinions[start : start + len(index)], start + len(index)
            results.append(self.rescored(detections, index, opinion))
        return results

    def rescored(self, detections: Detections, judged: np.ndarray, opinion: np.ndarray) -> Detections:
        """Other classes as they were; the judged guns with the combined score; unjudged guns dropped."""
        others = np.flatnonzero(detections.class_ids != self.gun_id)
        keep = np.concatenate([others, judged]).astype(np.int64)
        scores = detections.scores.copy()
        scores[judged] = combined_score(scores[judged], opinion, self.verifier.detector_weight)
        return Detections(detections.xyxy[keep], scores[keep], detections.class_ids[keep])
