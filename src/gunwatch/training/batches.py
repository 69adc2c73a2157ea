"""Augmented training batches, built in the trainer or in a pool of worker processes.

On a GPU the network is quick and the numpy/PIL augmentation is what limits an epoch, so batches can
be built by `workers` forked processes while the GPU trains on the previous ones. Each batch has its
own seed, (run seed, epoch, step), so a run makes the same batches whatever the number of workers.
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from gunwatch.training.augment import AugmentSettings, training_image
from gunwatch.training.detector_data import DetectorSample
from gunwatch.training.paste import PasteBank


@dataclass(frozen=True)
class BatchPlan:
    indices: tuple[int, ...]  # samples the batch is built around
    size: int  # square input side
    use_mosaic: bool
    seed: tuple[int, ...]  # the batch's own random stream


@dataclass(frozen=True)
class Batch:
    images: np.ndarray  # (N, size, size, 3) uint8 RGB
    boxes: list[np.ndarray]  # per image (K, 4) xyxy float32, input pixels
    classes: list[np.ndarray]  # per image (K,) int64


def plan_epoch(
    samples: int, batch_size: int, sizes: list[int], seed: int, epoch: int, use_mosaic: bool,
    max_steps: int | None = None, repeats: list[int] | None = None,
) -> list[BatchPlan]:
    """The epoch's batches: a seeded shuffle cut into batches, each with a drawn input size. `repeats`
    (one count per sample) draws some samples more than once an epoch: the mined hard negatives."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(np.repeat(np.arange(samples), repeats) if repeats is not None else samples)
    chunks = np.array_split(order, math.ceil(len(order) / batch_size))[:max_steps]
    return [
        BatchPlan(tuple(int(i) for i in chunk), int(rng.choice(sizes)), use_mosaic, (seed, epoch, step))
        for step, chunk in enumerate(chunks)
    ]


def build_batch(
    samples: list[DetectorSample], plan: BatchPlan, settings: AugmentSettings, bank: PasteBank | None
) -> Batch:
    rng = np.random.default_rng(list(plan.seed))
    images, boxes, classes = [], [], []
    for index in plan.indices:
        image, image_boxes, image_classes = training_image(
            samples, index, plan.size, settings, rng, plan.use_mosaic, bank
        )
        images.append(image)
        boxes.append(image_boxes)
        classes.append(image_classes)
    return Batch(np.stack(images), boxes, classes)


# What forked workers build from: set in the parent just before the fork, inherited, never pickled.
_WORKER_INPUTS: tuple[list[DetectorSample], AugmentSettings, PasteBank | None] | None = None


def _build_in_worker(plan: BatchPlan) -> Batch:
    assert _WORKER_INPUTS is not None, "worker started without inputs"
    samples, settings, bank = _WORKER_INPUTS
    return build_batch(samples, plan, settings, bank)


class BatchBuilder:
    """Builds planned batches in order, with `workers` processes ahead of the trainer (0: in this process).

    Use as a context manager so the workers end with the run. The pool is forked before the trainer
    touches CUDA, and the workers never do.
    """

    def __init__(self, samples: list[DetectorSample], settings: AugmentSettings, bank: PasteBank | None,
                 workers: int = 0):
        self.samples, self.settings, self.bank = samples, settings, bank
        self.pool = None
        if workers and "fork" not in multiprocessing.get_all_start_methods():
            warnings.warn("no fork on this platform: building batches in the trainer", stacklevel=2)
            workers = 0
        if workers:
            global _WORKER_INPUTS
            _WORKER_INPUTS = (samples, settings, bank)
            self.pool = multiprocessing.get_context("fork").Pool(workers)

    def batches(self, plans: list[BatchPlan]) -> Iterator[Batch]:
        if self.pool is None:
            return (build_batch(self.samples, plan, self.settings, self.bank) for plan in plans)
        return self.pool.imap(_build_in_worker, plans)

    def close(self) -> None:
        global _WORKER_INPUTS
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
        _WORKER_INPUTS = None

    def __enter__(self) -> BatchBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
