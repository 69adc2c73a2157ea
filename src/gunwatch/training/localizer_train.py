"""Training the notebook localizer: plain functions, one epoch at a time, checkpoint after each."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split
from gunwatch.models.localizer import Localizer, cxcywh_to_xyxy
from gunwatch.training.config import LocalizerTrainConfig
from gunwatch.training.epochs import report_epoch, resume_if_asked, run_state, save_epoch, start_run
from gunwatch.training.localizer_data import Augment, LocalizerSamples, load_samples
from gunwatch.training.losses import localizer_loss
from gunwatch.training.optimisation import optimisation_step, warmup_cosine
from gunwatch.training.pretrained import mobilenet_v2_state


def build_model(config: LocalizerTrainConfig) -> Localizer:
    model = Localizer(width_mult=config.width_mult)
    if config.pretrained != "none":
        explicit = None if config.pretrained == "auto" else Path(config.pretrained)
        state = mobilenet_v2_state(explicit)
        model.backbone.load_state_dict(state)
    for block in model.backbone.features[: config.freeze_blocks]:
        block.requires_grad_(False)
    return model


def set_train_mode(model: Localizer, freeze_blocks: int) -> None:
    model.train()
    # Frozen blocks keep their ImageNet batch-norm statistics.
    for block in model.backbone.features[:freeze_blocks]:
        block.eval()


def train_one_epoch(
    model: Localizer,
    samples: LocalizerSamples,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: LocalizerTrainConfig,
    augment: Augment,
    generator: torch.Generator,
    epoch: int,
    writer: SummaryWriter,
) -> float:
    set_train_mode(model, config.freeze_blocks)
    order = torch.randperm(len(samples), generator=generator)
    batches = list(order.split(config.batch_size))[: config.max_steps_per_epoch]
    total, seen = 0.0, 0
    progress = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
    for step, index in enumerate(progress):
        images, boxes = augment(samples.images[index].float() / 255, samples.boxes[index], generator)
        class_logit, box_logits = model.forward_logits(images)
        losses = localizer_loss(
            class_logit, box_logits, samples.has_gun[index], boxes, config.box_weight, config.negative_box_target
        )
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
def evaluate(model: Localizer, samples: LocalizerSamples, config: LocalizerTrainConfig) -> dict[str, float]:
    """Validation loss, gun / no-gun accuracy at 0.5, and mean IoU of the box on gun images."""
    model.eval()
    total, correct, iou_sum = 0.0, 0, 0.0
    for index in torch.arange(len(samples)).split(config.batch_size * 2):
        images = samples.images[index].float() / 255
        class_logit, box_logits = model.forward_logits(images)
        has_gun, boxes = samples.has_gun[index], samples.boxes[index]
        losses = localizer_loss(class_logit, box_logits, has_gun, boxes, config.box_weight, config.negative_box_target)
        total += losses["loss"].item() * len(index)
        correct += ((class_logit > 0).float() == has_gun).sum().item()
        predicted_boxes = cxcywh_to_xyxy(torch.sigmoid(box_logits))
        iou_sum += (paired_iou(predicted_boxes, boxes) * has_gun).sum().item()
    n, guns = len(samples), max(samples.has_gun.sum().item(), 1)
    return {"val_loss": total / n, "val_accuracy": correct / n, "val_mean_iou": iou_sum / guns}


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of a[i] with b[i] for xyxy boxes."""
    x1, y1 = torch.maximum(a[:, 0], b[:, 0]), torch.maximum(a[:, 1], b[:, 1])
    x2, y2 = torch.minimum(a[:, 2], b[:, 2]), torch.minimum(a[:, 3], b[:, 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    area = lambda box: (box[:, 2] - box[:, 0]).clamp(min=0) * (box[:, 3] - box[:, 1]).clamp(min=0)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


def train_localizer(config: LocalizerTrainConfig, resume: bool = False) -> Path:
    """Train, checkpointing every epoch; returns the best checkpoint's path."""
    generator = start_run(config)
    dataset = read_dataset(config.data)
    split = load_split(config.split)
    train = load_samples(split.select(dataset, "train"), config.input_size, "loading train")
    val = load_samples(split.select(dataset, "val"), config.input_size, "loading val")

    model = build_model(config)
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps_per_epoch * config.epochs))
    history, start_epoch = resume_if_asked(config.out, resume, model, optimizer, scheduler, generator)

    writer = SummaryWriter(log_dir=str(config.out / "tensorboard"))
    augment = Augment(config.hflip, config.grayscale, config.brightness_contrast)
    for epoch in range(start_epoch, config.epochs + 1):
        train_loss = train_one_epoch(model, train, optimizer, scheduler, config, augment, generator, epoch, writer)
        metrics = {"epoch": epoch, "train_loss": train_loss, **evaluate(model, val, config)}
        history.append(metrics)
        report_epoch(metrics, writer)
        state = run_state(model, optimizer, scheduler, generator, epoch, history, config)
        save_epoch(config.out, state, history, metrics["val_loss"] <= min(h["val_loss"] for h in history))
    writer.close()
    return config.out / "best.pt"
