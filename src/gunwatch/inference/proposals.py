"""Region proposals by selective search (Uijlings et al. 2013), the R-CNN family's first stage.

OpenCV contrib's `ximgproc.segmentation` implementation (the `lineage` extra): a maintained one, and the
one the course uses. Selective search is slow by design, which is what Faster R-CNN's proposal network
fixed; it runs on a copy of the image scaled to `max_side`, and the boxes come back in the image's pixels.
OpenCV ranks the regions with the C library's `rand()`, so the order (and which boxes a limit keeps) changes
from call to call; the C generator is seeded before each search so an image always gets the same proposals.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gunwatch.inference.onnx_session import ModelError

SearchMode = Literal["fast", "quality"]


@dataclass(frozen=True)
class ProposalSettings:
    max_side: int = 320  # the side selective search sees: the cost grows with the pixels
    mode: SearchMode = "fast"
    limit: int = 2000  # the paper's ~2k proposals per image; selective search orders them coarse-to-fine
    min_side_px: float = 4.0  # in the scaled image: slivers no classifier can judge


def selective_search(image_rgb: np.ndarray, settings: ProposalSettings = ProposalSettings(),
                     threads: int | None = None) -> np.ndarray:
    """Boxes (N, 4) float32 x1 y1 x2 y2 in `image_rgb`'s pixels, in selective search's own order."""
    cv2 = _opencv_with_contrib()
    if threads:
        cv2.setNumThreads(threads)
    height, width = image_rgb.shape[:2]
    scale = min(1.0, settings.max_side / max(height, width))
    small = image_rgb if scale == 1.0 else cv2.resize(
        image_rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(np.ascontiguousarray(small[:, :, ::-1]))  # OpenCV wants BGR
    if settings.mode == "fast":
        search.switchToSelectiveSearchFast()
    else:
        search.switchToSelectiveSearchQuality()
    _seed_c_rand(0)
    rects = np.asarray(search.process(), dtype=np.float32).reshape(-1, 4)  # x, y, w, h
    rects = rects[(rects[:, 2] >= settings.min_side_px) & (rects[:, 3] >= settings.min_side_px)][: settings.limit]
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1) / scale
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
    return boxes.astype(np.float32)


def _seed_c_rand(seed: int) -> None:
    """srand(seed) of the C library OpenCV links (glibc, musl, the macOS libc); a no-op where none loads."""
    srand = _c_srand()
    if srand is not None:
        srand(seed)


@functools.cache
def _c_srand():  # ctypes function or None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).srand if name else None
    except OSError:
        return None


def _opencv_with_contrib():  # cv2: no type stubs
    try:
        import cv2
    except ImportError as error:
        raise ModelError("selective search needs OpenCV contrib: pip install 'gunwatch[lineage]'") from error
    if not hasattr(cv2, "ximgproc"):
        raise ModelError(
            "selective search needs OpenCV's contrib modules (cv2.ximgproc); another OpenCV wheel "
            "(opencv-python) hides them: pip install --force-reinstall --no-deps opencv-contrib-python-headless"
        )
    return cv2
