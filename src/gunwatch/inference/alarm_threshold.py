"""The score at which a tracked gun counts toward an alarm, as measured for a model on recorded footage.

A model carries two thresholds. `gunwatch.threshold` is the image-level operating point (`detect`, `eval`:
at most 1 % of gun-free validation photos flagged). `gunwatch.alarm_threshold` is the live pipeline's,
chosen with `gunwatch bench alarms` on clips: confirmation over several frames and the second look already
keep false alarms down, so a gun may count at a lower score per frame. A model without it uses the first.
"""

from __future__ import annotations

from pathlib import Path

from gunwatch.inference.base import Detector
from gunwatch.inference.onnx_session import gunwatch_metadata, metadata_float

ALARM_THRESHOLD_KEY = "gunwatch.alarm_threshold"


def alarm_threshold(detector: Detector) -> float:
    """The model's live alarm threshold; its image threshold when it carries none (or is not an ONNX model).
    A detector whose scores are not its network's own (the gun verifier's combined score) says its own."""
    detector = scoring_detector(detector)
    own = getattr(detector, "live_threshold", None)
    if isinstance(own, float):
        return own
    session = getattr(detector, "session", None)
    if session is None:
        return detector.threshold
    path = Path(getattr(detector, "path", detector.name))
    return metadata_float(gunwatch_metadata(session), ALARM_THRESHOLD_KEY, path, default=detector.threshold)


def alarm_threshold_measured(detector: Detector) -> bool:
    """Whether what runs carries a live alarm threshold measured on footage. False: it alarms at its image
    threshold, chosen on photos (a verifier retrained with a site's false alarms, a model trained here and not
    yet measured with `gunwatch bench alarms`)."""
    detector = scoring_detector(detector)
    own = getattr(detector, "live_threshold_measured", None)
    if isinstance(own, bool):
        return own
    session = getattr(detector, "session", None)
    return session is not None and ALARM_THRESHOLD_KEY in gunwatch_metadata(session)


def scoring_detector(detector: Detector) -> Detector:
    """The detector whose scores come out: through the wrappers that only decide where to look (the second
    look's `first_pass`, tiling's `detector`), which keep its scores but carry neither its file nor its live
    threshold. Without this a verified detector behind the second look reported the image threshold."""
    while getattr(detector, "live_threshold", None) is None and getattr(detector, "session", None) is None:
        inner = getattr(detector, "first_pass", None) or getattr(detector, "detector", None)
        if inner is None:
            return detector
        detector = inner
    return detector
