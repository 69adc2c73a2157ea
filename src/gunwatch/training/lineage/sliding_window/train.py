"""Training the sliding-window detector's window classifier, then exporting it fully convolutional.

Each epoch draws fresh windows from every training image (`windows.sample_windows`): jittered positives
around each gun, negatives elsewhere in gun images and anywhere in the gun-free ones (knives, CCTV frames).
Loss: BCE on every window + `box_weight` x smooth L1 on the positives' box deltas. Validation windows are
drawn once with a fixed seed for the window metrics; the exported checkpoint is the epoch whose detector has
the highest mAP@0.5 on a fixed sample of val images (`detection_map`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gunwatch.data.records import ImageRecord
from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import sample_records
from gunwatch.inference.lineage.sliding_window import OnnxSlidingWindow, pyramid_scales
from gunwatch.models.lineage.sliding_window import WindowClassifier
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.epochs import finite_or_zero, report_epoch, save_epoch, start_run
from gunwatch.training.lineage.records import split_records
from gunwatch.training.lineage.sliding_window.config import SlidingWindowTrainConfig
from gunwatch.training.lineage.sliding_window.export import export_sliding_window
from gunwatch.training.lineage.sliding_window.mining import merge, mine_hard_negatives, runtime_of
from gunwatch.training.lineage.sliding_window.windows import WindowSamples, sample_windows
from gunwatch.training.localizer_data import Augment
from gunwatch.training.optimisation import epochs_within, optimisation_step, warmup_cosine
from gunwatch.training.pretrained import mobilenet_v2_state

CURVES = (("train_loss", "val_loss"), ("val_accuracy", "val_recall", "val_mean_iou", "val_map50", "val_map50_95"))
VAL_SEED_OFFSET = 1_000_003


def build_model(config: SlidingWindowTrainConfig) -> WindowClassifier:
    model = WindowClassifier(config.width_mult, config.trunk_blocks, config.head_kernel, config.hidden, config.dropout)
    if config.pretrained != "none":
        explicit = None if config.pretrained == "auto" else Path(config.pretrained)
        model.load_imagenet(mobilenet_v2_state(explicit))
    for block in model.trunk[: config.freeze_blocks]:
        block.requires_grad_(False)
    return model


def set_train_mode(model: WindowClassifier, freeze_blocks: int) -> None:
    model.train()
    for block in model.trunk[:freeze_blocks]:  # frozen blocks keep their ImageNet batch-norm statistics
        block.eval()


def window_loss(class_logit: torch.Tensor, deltas: torch.Tensor, is_gun: torch.Tensor, target: torch.Tensor,
                box_weight: float) -> dict[str, torch.Tensor]:
    """BCE on every window, smooth L1 on the positives' deltas (0 when a batch has none)."""
    classification = F.binary_cross_entropy_with_logits(class_logit, is_gun)
    positive = is_gun > 0.5
    box = F.smooth_l1_loss(deltas[positive], target[positive], beta=0.1) if positive.any() else deltas.sum() * 0
    return {"loss": classification + box_weight * box, "classification": classification, "box": box}


def pyramid_for(records: list[ImageRecord], config: SlidingWindowTrainConfig, window: int) -> list[float]:
    """Scales from the training guns: windows from the smallest gun the config reaches (`min_gun_px`, or the
    1st percentile of the guns' longer sides when larger) up to the largest training image side."""
    sides = [max(b[2] - b[0], b[3] - b[1]) for r in records for b in r.gun_boxes]
    smallest = max(config.min_gun_px, float(np.percentile(sides, 1))) if sides else config.min_gun_px
    largest = max(max(r.width, r.height) for r in records)
    if sides:
        below = float(np.mean(np.array(sides) < smallest))
        tqdm.write(f"pyramid: windows cover {smallest:.0f} to {largest} px; {below:.1%} of training guns are smaller")
    return pyramid_scales(smallest, max(largest, smallest), window, config.pyramid_step)


def steps_per_epoch(records: list[ImageRecord], config: SlidingWindowTrainConfig) -> int:
    """Batches an epoch runs (its schedule's length): the windows expected from the images, with room for a
    round of mined negatives twice over; an epoch stops there (the windows beyond it are a random few)."""
    per_gun_image = 1.15 * (config.positives_per_gun + config.near_negatives_per_gun) + config.negatives_per_gun_image
    expected = sum(per_gun_image if r.has_gun else config.negatives_per_gunfree_image for r in records)
    if config.mining_from_epoch is not None:
        expected += 2 * min(config.mining_images, len(records)) * config.hard_negatives_per_image
    steps = max(1, math.ceil(expected / config.batch_size))
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps


def windows_of(samples: WindowSamples, index: torch.Tensor) -> torch.Tensor:
    return samples.images[index].float() / 255


def train_one_epoch(model: WindowClassifier, samples: WindowSamples, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, config: SlidingWindowTrainConfig,
                    augment: Augment, generator: torch.Generator, epoch: int, writer: SummaryWriter,
                    steps: int) -> float:
    set_train_mode(model, config.freeze_blocks)
    order = torch.randperm(len(samples), generator=generator)
    batches = list(order.split(config.batch_size))[:steps]
    total, seen = 0.0, 0
    progress = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
    for step, index in enumerate(progress):
        images, deltas = augment(windows_of(samples, index), samples.deltas[index], generator)
        class_logit, predicted = model.forward_logits(images)
        losses = window_loss(class_logit[:, 0, 0], predicted[:, :, 0, 0], samples.is_gun[index], deltas,
                             config.box_weight)
        optimisation_step(losses["loss"], optimizer, scheduler, f"epoch {epoch} step {step}")
        total += losses["loss"].item() * len(index)
        seen += len(index)
        progress.set_postfix(loss=f"{total / seen:.4f}")
        global_step = (epoch - 1) * len(batches) + step
        for name, value in losses.items():
            writer.add_scalar(f"train/{name}", value.item(), global_step)
        writer.add_scalar("train/lr", scheduler.get_last_lr()[0], global_step)
    return total / max(seen, 1)


@torch.no_grad()
def evaluate(model: WindowClassifier, samples: WindowSamples, config: SlidingWindowTrainConfig) -> dict[str, float]:
    """Validation loss, window accuracy and gun-window recall at 0.5, mean IoU of the refined box on positives."""
    model.eval()
    total, correct, found, iou_sum = 0.0, 0, 0, 0.0
    for index in torch.arange(len(samples)).split(config.batch_size * 2):
        class_logit, predicted = model.forward_logits(windows_of(samples, index))
        class_logit, predicted = class_logit[:, 0, 0], predicted[:, :, 0, 0]
        is_gun, target = samples.is_gun[index], samples.deltas[index]
        total += window_loss(class_logit, predicted, is_gun, target, config.box_weight)["loss"].item() * len(index)
        correct += ((class_logit > 0).float() == is_gun).sum().item()
        found += ((class_logit > 0) & (is_gun > 0.5)).sum().item()
        # Deltas are in window sides, so IoU can be taken in the unit window's coordinates.
        unit = torch.tensor([0.0, 0.0, 1.0, 1.0])
        iou_sum += (paired_iou(unit + predicted, unit + target) * is_gun).sum().item()
    n, guns = len(samples), max(samples.is_gun.sum().item(), 1)
    return {"val_loss": total / n, "val_accuracy": correct / n, "val_recall": found / guns,
            "val_mean_iou": iou_sum / guns}


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    x1, y1 = torch.maximum(a[:, 0], b[:, 0]), torch.maximum(a[:, 1], b[:, 1])
    x2, y2 = torch.minimum(a[:, 2], b[:, 2]), torch.minimum(a[:, 3], b[:, 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    return inter / (area_a + area_b - inter).clamp(min=1e-9)


def detection_map(detector: OnnxSlidingWindow, records: list[ImageRecord]) -> dict[str, float]:
    """mAP of the detector (every window of the pyramid, then NMS) on `records`, by `gunwatch eval`'s code:
    what chooses the best epoch."""
    _, coco = build_report(records, predict_guns(detector, records, progress=False), detector.threshold, draws=0)
    return {"val_map50": finite_or_zero(coco.map50), "val_map50_95": finite_or_zero(coco.map50_95)}


def train_windows(config: SlidingWindowTrainConfig, resume: bool = False) -> Path:
    """Train, checkpointing every epoch; returns the best checkpoint's path."""
    started = time.monotonic()
    generator = start_run(config)
    train_records, val_records = split_records(config)
    model = build_model(config)
    scales = pyramid_for(train_records, config, model.window)
    val = sample_windows(val_records, config, model.window, np.random.default_rng(config.seed + VAL_SEED_OFFSET),
                         "val windows")
    selection = sample_records(val_records, config.selection_images, config.seed)

    last_path, best_path = config.out / "last.pt", config.out / "best.pt"
    state = load_checkpoint(last_path) if resume and last_path.exists() else None
    if state is not None and config.time_limit_minutes:  # a time-limited run may have shortened its plan
        config = config.model_copy(update={"epochs": min(config.epochs, state.get("planned_epochs", config.epochs))})
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                 weight_decay=config.weight_decay)
    steps = steps_per_epoch(train_records, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps * config.epochs))
    history: list[dict[str, float]] = []
    pool: dict[int, list[list[float]]] = {}  # mined hard negatives: train record index -> windows
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        history, start_epoch = state["history"], state["epoch"] + 1
        pool = {int(k): v for k, v in state["hard_negatives"].items()}
        tqdm.write(f"resuming after epoch {state['epoch']} from {last_path}")

    writer = SummaryWriter(log_dir=str(config.out / "tensorboard"))
    augment = Augment(config.hflip, config.grayscale, config.brightness_contrast)
    epoch, epoch_cap = start_epoch, config.epochs
    while epoch <= config.epochs:
        epoch_started = time.monotonic()
        # Fresh windows each epoch, reproducible per epoch (a resumed run draws what it would have drawn).
        train = sample_windows(train_records, config, model.window, np.random.default_rng([config.seed, epoch]),
                               f"windows {epoch}", pool)
        train_loss = train_one_epoch(model, train, optimizer, scheduler, config, augment, generator, epoch, writer,
                                     steps)
        metrics = {"epoch": epoch, "train_loss": train_loss, "train_windows": len(train),
                   **evaluate(model, val, config)}
        detector = runtime_of(model, scales, config, config.out / "epoch.onnx")
        metrics.update(detection_map(detector, selection))
        if config.mining_from_epoch is not None and config.mining_from_epoch <= epoch < config.epochs:
            rng = np.random.default_rng([config.seed, epoch, 1])
            mined = mine_hard_negatives(detector, train_records, config, rng)
            pool = merge(pool, mined, config.mined_per_image_cap)
            metrics["mined_windows"] = sum(len(w) for w in mined.values())
        metrics["seconds"] = time.monotonic() - epoch_started  # the training time `bench lineage` reports
        history.append(metrics)
        report_epoch(metrics, writer)
        if config.time_limit_minutes:
            planned = epochs_within(config.time_limit_minutes * 60, time.monotonic() - started,
                                    time.monotonic() - epoch_started, epoch, epoch_cap)
            if planned != config.epochs:
                tqdm.write(f"time limit {config.time_limit_minutes} min: the schedule now ends after epoch {planned}")
                config = config.model_copy(update={"epochs": planned})
                scheduler.lr_lambdas = [warmup_cosine(steps * planned)] * len(optimizer.param_groups)
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(), "epoch": epoch, "planned_epochs": config.epochs,
            "history": history, "config": config.model_dump(mode="json"), "pyramid_scales": scales,
            "hard_negatives": pool,
        }
        is_best = metrics["val_map50"] >= max(h.get("val_map50", -1.0) for h in history)
        save_epoch(config.out, state, history, is_best, CURVES)
        epoch += 1
    writer.close()
    return best_path


def classifier_from_checkpoint(path: Path) -> tuple[WindowClassifier, SlidingWindowTrainConfig, list[float]]:
    state = load_checkpoint(path)
    config = SlidingWindowTrainConfig.model_validate(state["config"])
    model = WindowClassifier(config.width_mult, config.trunk_blocks, config.head_kernel, config.hidden, config.dropout)
    model.load_state_dict(state["model"])
    return model.eval(), config, [float(s) for s in state["pyramid_scales"]]


def train_and_export(config: SlidingWindowTrainConfig, resume: bool) -> Path:
    best = train_windows(config, resume=resume)
    model, trained, scales = classifier_from_checkpoint(best)
    return export_sliding_window(model, scales, trained, config.out / "model.onnx")
