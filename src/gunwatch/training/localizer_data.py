"""Training samples for the localizer: images stretched to the input size once, targets, augmentation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.preprocess import resize_rgb


@dataclass
class LocalizerSamples:
    """All images of a split in memory (uint8, N x 3 x S x S) with one target box each."""

    images: torch.Tensor
    has_gun: torch.Tensor  # N, float 0/1
    boxes: torch.Tensor  # N x 4 normalised xyxy; zeros for gun-free images

    def __len__(self) -> int:
        return len(self.has_gun)


def principal_box(record: ImageRecord) -> np.ndarray:
    """The one box a single-object localizer is taught: the largest gun, normalised xyxy."""
    guns = record.gun_boxes
    if not len(guns):
        return np.zeros(4, np.float32)
    areas = (guns[:, 2] - guns[:, 0]) * (guns[:, 3] - guns[:, 1])
    x1, y1, x2, y2 = guns[int(np.argmax(areas))]
    return np.array([x1 / record.width, y1 / record.height, x2 / record.width, y2 / record.height], np.float32)


def load_samples(records: list[ImageRecord], size: int, desc: str) -> LocalizerSamples:
    images = np.stack([resize_rgb(load_rgb(r.image_path), size) for r in tqdm(records, desc=desc, unit="img")])
    return LocalizerSamples(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        has_gun=torch.tensor([float(r.has_gun) for r in records]),
        boxes=torch.from_numpy(np.stack([principal_box(r) for r in records])),
    )


@dataclass(frozen=True)
class Augment:
    hflip: float
    grayscale: float
    brightness_contrast: float

    def __call__(
        self, images: torch.Tensor, boxes: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """images: N x 3 x S x S float 0..1; boxes normalised xyxy (all-zero for gun-free images)."""
        n = len(images)
        images, boxes = images.clone(), boxes.clone()
        flip = torch.rand(n, generator=generator) < self.hflip
        images[flip] = images[flip].flip(-1)
        has_box = boxes.abs().sum(1) > 0
        swap = flip & has_box
        boxes[swap] = torch.stack((1 - boxes[swap, 2], boxes[swap, 1], 1 - boxes[swap, 0], boxes[swap, 3]), 1)
        grey = torch.rand(n, generator=generator) < self.grayscale
        luma = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]).unsqueeze(1)
        images[grey] = luma[grey].expand(-1, 3, -1, -1)
        jitter = self.brightness_contrast
        contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * jitter
        brightness = (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * jitter * 0.5
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = ((images - mean) * contrast + mean + brightness).clamp(0, 1)
        return images, boxes
