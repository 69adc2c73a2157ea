"""Augmentation for surveillance footage: small, distant guns; grey, dark, blurred, compressed frames.

Geometry first (mosaic or a single image zoomed out or in, flipped, optionally turned), then what a camera does to
a picture (colour shift, grey night mode, low light with sensor noise, focus and motion blur, JPEG artefacts).
Everything runs on uint8 RGB numpy arrays with one seeded `numpy.random.Generator`, so a run repeats.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from gunwatch.data.images import LUMA_WEIGHTS, resize_by, resize_to
from gunwatch.data.orientation import stored_box_to_displayed
from gunwatch.inference.letterbox import PAD_VALUE
from gunwatch.inference.person_crops import SecondLookParams, reach_boxes
from gunwatch.training.detector_data import HANDGUN, PERSON, DetectorSample
from gunwatch.training.paste import PasteBank, paste_held_guns, paste_small_guns

# The second look's geometry (reach, gun-to-person share), so training crops frame people as it does.
CROP_GEOMETRY = SecondLookParams()
HELD_GUN_CROPS = 0.6  # share of person crops placed over a gun the person holds (the rest anywhere in reach)


@dataclass(frozen=True)
class AugmentSettings:
    mosaic: float = 0.5  # probability of a 2x2 mosaic instead of one image
    scale: tuple[float, float] = (0.3, 1.2)  # one image: longest side as a fraction of the input side
    mosaic_scale: tuple[float, float] = (0.5, 1.0)  # mosaic canvas (2x input side) shrunk by this factor
    hflip: float = 0.5
    color: float = 0.5  # probability of brightness / contrast / saturation jitter (up to +-30 %)
    grey: float = 0.2
    low_light: float = 0.15
    blur: float = 0.15
    motion_blur: float = 0.1
    jpeg: float = 0.25
    min_visible: float = 0.4  # a box cut by the frame is kept if at least this share of it is still inside
    small_guns: float = 0.0  # probability of pasting 1-2 small guns (and 0-2 gun-free patches) into the image
    small_gun_px: tuple[float, float] = (10.0, 48.0)  # pasted gun width in input pixels (log-uniform)
    person_crops: float = 0.0  # probability of a zoomed crop around a person instead of the whole image
    person_crop_gun_px: tuple[float, float] = (24.0, 96.0)  # the expected gun's width in that crop (log-uniform)
    # The gun's width when the camera caught it (log-uniform; None: as sharp as the photo): the crop is shrunk
    # to that and enlarged back, as a far person's few pixels come out of the second look's zoom.
    person_crop_capture_px: tuple[float, float] | None = None
    held_guns: float = 0.0  # probability of pasting a gun at a labelled person's hand (training/paste.py)
    held_gun_share: tuple[float, float] = (0.07, 0.15)  # its width as a share of the person's height (log-uniform)
    quarter_turns: float = 0.0  # probability of turning the image a quarter, a half or three quarters round


def paste(canvas: np.ndarray, image: np.ndarray, x0: int, y0: int) -> None:
    """Copy `image` onto `canvas` with its top-left corner at (x0, y0); parts outside the canvas are cut."""
    height, width = image.shape[:2]
    cx1, cy1 = max(x0, 0), max(y0, 0)
    cx2, cy2 = min(x0 + width, canvas.shape[1]), min(y0 + height, canvas.shape[0])
    if cx2 > cx1 and cy2 > cy1:
        canvas[cy1:cy2, cx1:cx2] = image[cy1 - y0 : cy2 - y0, cx1 - x0 : cx2 - x0]


def keep_visible(
    boxes: np.ndarray, classes: np.ndarray, width: int, height: int, min_visible: float
) -> tuple[np.ndarray, np.ndarray]:
    """Clip boxes to the frame; drop those with too little left inside or under 2 px a side."""
    if not len(boxes):
        return boxes.reshape(0, 4), classes
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    sides = clipped[:, 2:] - clipped[:, :2]
    inside = sides[:, 0] * sides[:, 1]
    keep = (sides.min(axis=1) >= 2) & (inside >= min_visible * np.maximum(area, 1e-6))
    return clipped[keep], classes[keep]


def single_image(
    sample: DetectorSample, size: int, settings: AugmentSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image, zoomed so its longest side is a random fraction of `size`, at a random place."""
    height, width = sample.image.shape[:2]
    scale = rng.uniform(*settings.scale) * size / max(height, width)
    image = resize_by(sample.image, scale)
    x0 = int(rng.integers(min(0, size - image.shape[1]), max(0, size - image.shape[1]) + 1))
    y0 = int(rng.integers(min(0, size - image.shape[0]), max(0, size - image.shape[0]) + 1))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    paste(canvas, image, x0, y0)
    boxes = sample.boxes * scale + np.array([x0, y0, x0, y0], np.float32)
    return canvas, *keep_visible(boxes, sample.classes, size, size, settings.min_visible)


def person_crop(
    sample: DetectorSample, size: int, settings: AugmentSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A square around one person's reach, zoomed as the second look does; None when nobody is labelled.

    The zoom is drawn so that a gun of the usual share of the person's height comes out a log-uniform
    `person_crop_gun_px` wide, and the square is placed at random over the reach box: the network learns
    held guns at the sizes, blur and framing that the second look's crops present.
    """
    people = sample.boxes[sample.classes == PERSON]
    if not len(people):
        return None
    person = people[int(rng.integers(len(people)))]
    gun_px = float(np.exp(rng.uniform(*np.log(settings.person_crop_gun_px))))
    side = max(CROP_GEOMETRY.gun_to_person * (person[3] - person[1]) * size / gun_px, 8.0)
    reach = reach_boxes(person[None], CROP_GEOMETRY)[0]
    guns = sample.boxes[sample.classes == HANDGUN]
    centres = (guns[:, :2] + guns[:, 2:]) / 2
    held = centres[(centres[:, 0] >= reach[0]) & (centres[:, 0] <= reach[2])
                   & (centres[:, 1] >= reach[1]) & (centres[:, 1] <= reach[3])]
    if len(held) and rng.random() < HELD_GUN_CROPS:
        # A crop with the gun in it (somewhere in its middle part): most of the second look's crops of an
        # armed person hold the gun, since they cover the reach box.
        cx, cy = held[int(rng.integers(len(held)))]
        x0, y0 = cx - side * rng.uniform(0.2, 0.8), cy - side * rng.uniform(0.2, 0.8)
    else:
        x0 = rng.uniform(min(reach[0], reach[2] - side), max(reach[0], reach[2] - side))
        y0 = rng.uniform(min(reach[1], reach[3] - side), max(reach[1], reach[3] - side))
    scale = size / side
    # Shift and scale the whole image so the square lands on the canvas; outside the image is padding.
    image = resize_by(sample.image, scale)
    ox, oy = round(-x0 * scale), round(-y0 * scale)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    paste(canvas, image, ox, oy)
    boxes = sample.boxes * scale + np.array([ox, oy, ox, oy], np.float32)
    if settings.person_crop_capture_px is not None:
        captured = float(np.exp(rng.uniform(*np.log(settings.person_crop_capture_px))))
        if captured < gun_px:
            canvas = resize_to(resize_by(canvas, captured / gun_px), (size, size))
    return canvas, *keep_visible(boxes, sample.classes, size, size, settings.min_visible)


def mosaic(
    samples: list[DetectorSample], size: int, settings: AugmentSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four images around a random centre of a 2x canvas, shrunk and cropped back to `size`."""
    shrink = rng.uniform(*settings.mosaic_scale)
    side = max(size, round(2 * size * shrink))
    canvas = np.full((side, side, 3), PAD_VALUE, np.uint8)
    xc, yc = (int(rng.uniform(0.3 * side, 0.7 * side)) for _ in range(2))
    all_boxes, all_classes = [], []
    for corner, sample in enumerate(samples):
        height, width = sample.image.shape[:2]
        scale = (side / 2) / max(height, width) * rng.uniform(0.6, 1.0)
        image = resize_by(sample.image, scale)
        h, w = image.shape[:2]
        x0 = xc - w if corner in (0, 2) else xc  # corners: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right
        y0 = yc - h if corner in (0, 1) else yc
        paste(canvas, image, x0, y0)
        all_boxes.append(sample.boxes * scale + np.array([x0, y0, x0, y0], np.float32))
        all_classes.append(sample.classes)
    # Boxes of one image that reach into another's quadrant are cut at the quadrant, as the pixels are.
    boxes, classes = np.concatenate(all_boxes).reshape(-1, 4), np.concatenate(all_classes)
    crop_x = int(rng.integers(0, side - size + 1))
    crop_y = int(rng.integers(0, side - size + 1))
    canvas = canvas[crop_y : crop_y + size, crop_x : crop_x + size]
    boxes = boxes - np.array([crop_x, crop_y, crop_x, crop_y], np.float32)
    return np.ascontiguousarray(canvas), *keep_visible(boxes, classes, size, size, settings.min_visible)


def hflip(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = image.shape[1]
    flipped = boxes.copy()
    flipped[:, [0, 2]] = width - boxes[:, [2, 0]]
    return np.ascontiguousarray(image[:, ::-1]), flipped


# np.rot90's k (quarter turns counter-clockwise) as the EXIF orientation whose turn it is.
ORIENTATION_OF_TURNS = {1: 8, 2: 3, 3: 6}


def quarter_turn(image: np.ndarray, boxes: np.ndarray, turns: int) -> tuple[np.ndarray, np.ndarray]:
    """The image turned `turns` quarters counter-clockwise (np.rot90's k), its boxes with it."""
    turns %= 4
    if not turns:
        return image, boxes
    size = (image.shape[1], image.shape[0])
    moved = [stored_box_to_displayed(box.tolist(), size, ORIENTATION_OF_TURNS[turns]) for box in boxes]
    return np.ascontiguousarray(np.rot90(image, turns)), np.asarray(moved, boxes.dtype).reshape(-1, 4)


def camera_effects(image: np.ndarray, settings: AugmentSettings, rng: np.random.Generator) -> np.ndarray:
    """Colour, grey night mode, low light with noise, blur, motion blur, JPEG: each with its probability."""
    pixels = image.astype(np.float32)
    if rng.random() < settings.color:
        mean = pixels.mean()
        pixels = (pixels - mean) * rng.uniform(0.7, 1.3) + mean * rng.uniform(0.7, 1.3)
        grey = pixels.mean(axis=2, keepdims=True)
        pixels = grey + (pixels - grey) * rng.uniform(0.6, 1.4)
    if rng.random() < settings.grey:
        pixels = np.repeat(pixels @ LUMA_WEIGHTS[:, None], 3, axis=2)
    if rng.random() < settings.low_light:
        pixels = 255 * (pixels.clip(0, 255) / 255) ** rng.uniform(1.3, 2.5) * rng.uniform(0.4, 0.9)
        pixels += rng.normal(0, rng.uniform(2, 8), (*pixels.shape[:2], 1)).astype(np.float32)
    image = pixels.clip(0, 255).astype(np.uint8)
    if rng.random() < settings.blur:
        image = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0))))
    if rng.random() < settings.motion_blur:
        image = motion_blur(image, int(rng.integers(3, 10)), int(rng.integers(0, 4)))
    if rng.random() < settings.jpeg:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(rng.integers(15, 61)))
        image = np.asarray(Image.open(buffer).convert("RGB"))
    return image


def motion_blur(image: np.ndarray, length: int, direction: int) -> np.ndarray:
    """Average of `length` copies shifted along one of four directions (0 -, 1 |, 2 \\, 3 /)."""
    step = ((0, 1), (1, 0), (1, 1), (1, -1))[direction]
    total = np.zeros(image.shape, np.float32)
    for i in range(length):
        offset = i - length // 2
        total += np.roll(image, (offset * step[0], offset * step[1]), axis=(0, 1))
    return (total / length).astype(np.uint8)


def training_image(
    samples: list[DetectorSample], index: int, size: int, settings: AugmentSettings, rng: np.random.Generator,
    use_mosaic: bool = True, bank: PasteBank | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One augmented size x size RGB image with its boxes and classes, built around samples[index].

    Guns are pasted (held by a person, or small anywhere) only when a `bank` of paste sources is given and
    `settings.held_guns` or `settings.small_guns` is above 0.
    """
    if use_mosaic and rng.random() < settings.mosaic:
        others = rng.integers(0, len(samples), 3)
        image, boxes, classes = mosaic([samples[index], *(samples[i] for i in others)], size, settings, rng)
    else:
        cropped = person_crop(samples[index], size, settings, rng) if rng.random() < settings.person_crops else None
        image, boxes, classes = cropped or single_image(samples[index], size, settings, rng)
    if bank is not None and settings.held_guns > 0 and rng.random() < settings.held_guns:
        image, boxes, classes = paste_held_guns(image, boxes, classes, samples, bank, settings.held_gun_share, rng)
    if bank is not None and settings.small_guns > 0 and rng.random() < settings.small_guns:
        guns, distractors = int(rng.integers(1, 3)), int(rng.integers(0, 3))
        image, boxes, classes = paste_small_guns(
            image, boxes, classes, samples, bank, settings.small_gun_px, rng, guns, distractors
        )
    if rng.random() < settings.hflip:
        image, boxes = hflip(image, boxes)
    # Drawn only when turning is on, so that runs without it repeat their augmentations exactly.
    if settings.quarter_turns > 0 and rng.random() < settings.quarter_turns:
        image, boxes = quarter_turn(image, boxes, int(rng.integers(1, 4)))
    return camera_effects(image, settings, rng), boxes, classes
