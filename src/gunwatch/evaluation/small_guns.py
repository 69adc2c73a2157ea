"""A 1080p small-gun test set, built from the test split: guns 1-2 % of the frame wide in gun-free scenes.

Cameras see guns far away: a handgun 25 px wide in a 1920 x 1080 frame. The data set has few such
images, so this set is made from it. Scenes are the test split's gun-free images, scaled to cover
1920 x 1080 and centre-cropped; into half of them, guns cut from the test split's gun images (the box
plus a little context) are pasted at a width drawn between `min_width` and `max_width` of the frame
width. Boxes are exact (the pasted gun's own box, scaled). The other half stay gun-free, so the image
false-positive rate is measured on the same scenes. Only test-split images are used, so a model trained
on the train split has seen none of them. The set is written in the notebook layout, with a manifest
(origin "small-guns" or "scene") and a README, and is readable by `gunwatch eval` as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord

FRAME_SIZE = (1920, 1080)
CONTEXT = 0.1  # share of the gun box added around it when it is cut out


@dataclass(frozen=True)
class SmallGunSettings:
    frames_with_guns: int = 100
    frames_without: int = 100
    guns_per_frame: tuple[int, int] = (1, 2)
    min_width: float = 0.01
    max_width: float = 0.02
    seed: int = 0


def scene_from(image: np.ndarray, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """Scale to cover `size` (width, height) and crop the middle."""
    width, height = size
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = Image.fromarray(image).resize(
        (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale))), Image.BILINEAR
    )
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return np.asarray(resized.crop((left, top, left + width, top + height)))


def cut_gun(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gun with some context around it, and the gun's box within that patch."""
    x1, y1, x2, y2 = box
    pad_x, pad_y = (x2 - x1) * CONTEXT, (y2 - y1) * CONTEXT
    left, top = int(max(0, np.floor(x1 - pad_x))), int(max(0, np.floor(y1 - pad_y)))
    right = int(min(image.shape[1], np.ceil(x2 + pad_x)))
    bottom = int(min(image.shape[0], np.ceil(y2 + pad_y)))
    return image[top:bottom, left:right], np.array([x1 - left, y1 - top, x2 - left, y2 - top], np.float32)


def paste_gun(frame: np.ndarray, patch: np.ndarray, gun_box: np.ndarray, gun_width: float,
              rng: np.random.Generator) -> np.ndarray | None:
    """Paste `patch` scaled so its gun is `gun_width` px wide, at a random place; returns the gun's box."""
    scale = gun_width / max(gun_box[2] - gun_box[0], 1e-6)
    width, height = max(1, round(patch.shape[1] * scale)), max(1, round(patch.shape[0] * scale))
    if width >= frame.shape[1] or height >= frame.shape[0]:
        return None
    resized = np.asarray(Image.fromarray(patch).resize((width, height), Image.LANCZOS))
    x0 = int(rng.integers(0, frame.shape[1] - width))
    y0 = int(rng.integers(0, frame.shape[0] - height))
    frame[y0 : y0 + height, x0 : x0 + width] = resized
    # The box is the gun's own box, scaled with the patch and clipped to the pasted pixels.
    box = gun_box * np.array([width / patch.shape[1], height / patch.shape[0]] * 2, np.float32)
    box = np.clip(box, 0, [width, height, width, height]) + np.array([x0, y0, x0, y0], np.float32)
    return box


def build_small_gun_set(records: list[ImageRecord], out: Path, settings: SmallGunSettings = SmallGunSettings()
                        ) -> Path:
    """Write the set to `out` (notebook layout) from a split's records; returns `out`."""
    rng = np.random.default_rng(settings.seed)
    scenes = [r for r in records if not r.has_gun]
    guns = [(r, box) for r in records for box in r.gun_boxes]
    if not scenes or not guns:
        raise ValueError("the split needs gun-free images (scenes) and gun images to build the small-gun set")
    manifest = []
    total = settings.frames_with_guns + settings.frames_without
    for index in tqdm(range(1, total + 1), desc="building 1080p small-gun frames", unit="frame"):
        scene_record = scenes[int(rng.integers(len(scenes)))]
        frame = scene_from(load_rgb(scene_record.image_path)).copy()
        boxes = []
        if index <= settings.frames_with_guns:
            for _ in range(int(rng.integers(settings.guns_per_frame[0], settings.guns_per_frame[1] + 1))):
                record, box = guns[int(rng.integers(len(guns)))]
                patch, gun_box = cut_gun(load_rgb(record.image_path), box)
                gun_width = rng.uniform(settings.min_width, settings.max_width) * FRAME_SIZE[0]
                pasted = paste_gun(frame, patch, gun_box, gun_width, rng)
                if pasted is not None:
                    boxes.append(pasted)
        write_frame(out, index, frame, boxes)
        manifest.append({"id": index, "origin": "small-guns" if boxes else "scene",
                         "scene": scene_record.key, "guns": len(boxes)})
    return finish_set(out, manifest, _readme(settings))


def write_frame(out: Path, index: int, frame: np.ndarray, boxes: list[np.ndarray]) -> None:
    """One frame of a generated set and its gun boxes, in the notebook layout (no box: the layout's gun-free
    line)."""
    (out / "pistol_images").mkdir(parents=True, exist_ok=True)
    (out / "pistol_annotations").mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(out / "pistol_images" / f"{index}.jpg", quality=90)
    lines = [notebook_line(box) for box in boxes] or ["0 0 0 0 0"]
    (out / "pistol_annotations" / f"{index}.txt").write_text("\n".join(lines) + "\n")


def finish_set(out: Path, manifest: list[dict[str, object]], readme: str) -> Path:
    """A generated set's manifest (one JSON line per frame) and README; returns the set's folder."""
    (out / "manifest.jsonl").write_text("\n".join(json.dumps(m) for m in manifest) + "\n")
    (out / "README.md").write_text(readme)
    return out


def notebook_line(box: np.ndarray) -> str:
    width, height = FRAME_SIZE
    x1, y1, x2, y2 = (float(v) for v in box)
    centre_x, centre_y = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
    return f"1 {centre_x:.6f} {centre_y:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}"


def _readme(settings: SmallGunSettings) -> str:
    return (
        "# 1080p small-gun set (generated)\n\n"
        f"Made by `gunwatch data small-guns` with {settings}.\n"
        "Scenes: the test split's gun-free images scaled to 1920x1080; guns: the test split's gun boxes plus "
        f"{CONTEXT:.0%} context, pasted {settings.min_width:.0%}-{settings.max_width:.0%} of the frame wide. "
        "Frames 1..N hold guns (origin small-guns), the rest are the gun-free scenes (origin scene).\n"
    )
