"""Training Fast R-CNN end to end on selective search proposals: one epoch at a time, checkpoint after each.

A step is the paper's mini-batch: `images_per_batch` (2) images, each scaled (shorter side `min_side`,
longer at most `max_side`) and mirrored at random, with `rois_per_image` (64) RoIs sampled from its cached
proposals plus its ground-truth boxes (`proposal_labels.sample_training_rois`: up to 25 % foreground at IoU
>= 0.5, background at IoU in [0.1, 0.5); every proposal of a gun-free image is background). The images are
padded into one tensor, the trunk runs once, and the RoIs are pooled from it. The loss is the paper's
multi-task loss: cross-entropy over all RoIs plus `box_weight` x smooth L1 of the foreground RoIs' deltas
(targets normalised by `BOX_STDS`), both divided by the number of RoIs.

Batch norm keeps its ImageNet statistics (two images are too few to estimate them; detection practice),
and the first `freeze_blocks` backbone blocks stay frozen, as the paper froze VGG16's conv1-2. The best
epoch is the one of highest val mAP@0.5, measured with the runtime's own decoding on cached proposals.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gunwatch.data.images import load_rgb
from gunwatch.data.records import ImageRecord
from gunwatch.inference.detections import Detections
from gunwatch.inference.lineage.box_coding import encode
from gunwatch.inference.lineage.fast_rcnn import input_scale, postprocess, scale_image
from gunwatch.inference.proposals import ProposalSettings
from gunwatch.metrics.coco_map import coco_map
from gunwatch.models.lineage.fast_rcnn import BOX_STDS, FastRcnn
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.epochs import finite_or_zero, report_epoch, restore_run, save_epoch, start_run
from gunwatch.training.lineage.fast_rcnn.config import FastRcnnTrainConfig
from gunwatch.training.lineage.fast_rcnn.export import build_network, export_fast_rcnn, fast_rcnn_from_checkpoint
from gunwatch.training.lineage.proposal_cache import split_proposals
from gunwatch.training.lineage.proposal_labels import FOREGROUND, sample_training_rois
from gunwatch.training.lineage.records import split_records
from gunwatch.training.optimisation import epochs_within, optimisation_step, warmup_cosine
from gunwatch.training.pretrained import mobilenet_v2_state

LOSS_CURVES = ("train_loss", "train_cls", "train_box", "val_loss", "val_cls", "val_box")
QUALITY_CURVES = ("val_map50", "val_map50_95")


@dataclass(frozen=True)
class TrainingImage:
    """One image as the network sees it, with its sampled RoIs and their targets (input pixels)."""

    image: np.ndarray  # H x W x 3 uint8 RGB, scaled (and maybe mirrored)
    rois: np.ndarray  # (B, 4) float32
    labels: np.ndarray  # (B,) int64: 0 background, 1 handgun
    targets: np.ndarray  # (B, 4) float32 normalised deltas (zeros for background)


def build_model(config: FastRcnnTrainConfig) -> FastRcnn:
    model = build_network(config)
    if config.pretrained != "none":
        explicit = None if config.pretrained == "auto" else Path(config.pretrained)
        state = mobilenet_v2_state(explicit)
        kept = len(model.backbone.features)
        # The ImageNet file has all 19 blocks; the trunk keeps the stride-16 ones.
        model.backbone.load_state_dict({k: v for k, v in state.items() if int(k.split(".")[1]) < kept})
    for block in model.backbone.features[: config.freeze_blocks]:
        block.requires_grad_(False)
    return model


def set_train_mode(model: FastRcnn) -> None:
    model.train()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()  # ImageNet statistics: a batch of two images cannot estimate them


def fast_rcnn_loss(logits: torch.Tensor, deltas: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor,
                   box_weight: float) -> dict[str, torch.Tensor]:
    """The paper's multi-task loss over R RoIs: cross-entropy + box_weight x smooth L1 (beta 1) of the
    foreground RoIs' deltas for their class, both averaged over all R RoIs (the paper's normalisation).

    logits R x (1 + K), deltas R x 4K, labels R (0 background, k >= 1 class k), targets R x 4."""
    classification = F.cross_entropy(logits, labels)
    foreground = torch.nonzero(labels > 0).squeeze(1)
    columns = 4 * (labels[foreground] - 1).unsqueeze(1) + torch.arange(4, device=labels.device)
    predicted = deltas[foreground.unsqueeze(1), columns]
    box = F.smooth_l1_loss(predicted, targets[foreground], beta=1.0, reduction="sum") / max(len(labels), 1)
    return {"loss": classification + box_weight * box, "cls": classification, "box": box}


def training_image(image: np.ndarray, gt_boxes: np.ndarray, proposals: np.ndarray, config: FastRcnnTrainConfig,
                   rng: np.random.Generator, flip: bool) -> TrainingImage:
    """Scale (and mirror) an image with its proposals and guns, then sample its RoIs and their targets."""
    scale = input_scale(image.shape[0], image.shape[1], config.min_side, config.max_side)
    scaled = scale_image(image, scale).copy()  # writable: torch takes it without a copy
    gt = np.asarray(gt_boxes, np.float32).reshape(-1, 4) * np.float32(scale)
    boxes = np.asarray(proposals, np.float32).reshape(-1, 4) * np.float32(scale)
    if flip:
        width = scaled.shape[1]
        scaled = np.ascontiguousarray(scaled[:, ::-1])
        gt, boxes = (np.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], 1) for b in (gt, boxes))
    sampled = sample_training_rois(boxes, gt, config.rois_per_image, config.fg_fraction, rng,
                                   fg_iou=config.fg_iou, bg_lo=config.bg_iou_low, bg_hi=config.fg_iou)
    labels = (sampled.labels == FOREGROUND).astype(np.int64)
    targets = np.zeros((len(labels), 4), np.float32)
    if labels.any():
        targets[labels > 0] = encode(sampled.boxes[labels > 0], sampled.gt_boxes[labels > 0], stds=BOX_STDS)
    return TrainingImage(scaled, sampled.boxes.astype(np.float32), labels, targets)


def batch_loss(model: FastRcnn, batch: list[TrainingImage], box_weight: float) -> dict[str, torch.Tensor]:
    """The images padded (bottom, right) into one tensor, one trunk pass, every image's RoIs pooled from it."""
    height = max(item.image.shape[0] for item in batch)
    width = max(item.image.shape[1] for item in batch)
    device = model.mean.device
    images = torch.zeros(len(batch), 3, height, width)
    for index, item in enumerate(batch):
        images[index, :, : item.image.shape[0], : item.image.shape[1]] = (
            torch.from_numpy(item.image).permute(2, 0, 1).float() / 255)
    features = model.feature_map(images.to(device))
    logits, deltas = model.head(features, [torch.from_numpy(item.rois).to(device) for item in batch])
    labels = torch.from_numpy(np.concatenate([item.labels for item in batch])).to(device)
    targets = torch.from_numpy(np.concatenate([item.targets for item in batch])).to(device)
    return fast_rcnn_loss(logits, deltas, labels, targets, box_weight)


def steps_per_epoch(config: FastRcnnTrainConfig, images: int) -> int:
    steps = math.ceil(images / config.images_per_batch)
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps


def train_one_epoch(model: FastRcnn, records: list[ImageRecord], proposals: dict[str, np.ndarray],
                    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                    config: FastRcnnTrainConfig, epoch: int, writer: SummaryWriter) -> dict[str, float]:
    set_train_mode(model)
    rng = np.random.default_rng([config.seed, epoch])  # the epoch's own stream: a resumed run draws the same
    order = rng.permutation(len(records))
    plans = [order[i : i + config.images_per_batch] for i in range(0, len(order), config.images_per_batch)]
    plans = plans[: steps_per_epoch(config, len(records))]
    sums: dict[str, float] = {}
    progress = tqdm(plans, desc=f"epoch {epoch}/{config.epochs}", unit="step", leave=False)
    for step, plan in enumerate(progress):
        batch = [
            training_image(load_rgb(records[i].image_path), records[i].gun_boxes, proposals[records[i].key], config,
                           rng, bool(rng.random() < config.hflip))
            for i in plan
        ]
        losses = batch_loss(model, batch, config.box_weight)
        optimisation_step(losses["loss"], optimizer, scheduler, f"epoch {epoch} step {step}")
        global_step = (epoch - 1) * len(plans) + step
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item()
            writer.add_scalar(f"train/{name}", value.item(), global_step)
        writer.add_scalar("train/lr", scheduler.get_last_lr()[0], global_step)
        progress.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}")
    return {f"train_{name}": total / max(len(plans), 1) for name, total in sums.items()}


@torch.no_grad()
def detect(model: FastRcnn, image: np.ndarray, proposals: np.ndarray, config: FastRcnnTrainConfig) -> Detections:
    """The runtime's path in torch: scale, one forward over every proposal, the runtime's decoding and NMS."""
    model.eval()
    scale = input_scale(image.shape[0], image.shape[1], config.min_side, config.max_side)
    rois = np.asarray(proposals, np.float32).reshape(-1, 4) * np.float32(scale)
    if not len(rois):
        return Detections()
    device = model.mean.device
    tensor = torch.from_numpy(scale_image(image, scale).copy()).permute(2, 0, 1)[None].float() / 255
    probabilities, deltas = model(tensor.to(device), torch.from_numpy(rois).to(device))
    return postprocess(probabilities.cpu().numpy(), deltas.cpu().numpy(), rois, scale, image.shape, BOX_STDS,
                       config.nms_iou, config.max_detections)


@torch.no_grad()
def validate(model: FastRcnn, records: list[ImageRecord], proposals: dict[str, np.ndarray],
             config: FastRcnnTrainConfig) -> dict[str, float]:
    """Val losses on RoIs sampled as in training (a fixed stream, no mirroring), and mAP of the detections."""
    rng = np.random.default_rng([config.seed, 0])
    sums: dict[str, float] = {}
    gt, predictions, sizes = [], [], []
    for record in records:
        image = load_rgb(record.image_path)
        model.eval()
        losses = batch_loss(model, [training_image(image, record.gun_boxes, proposals[record.key], config, rng,
                                                   False)], config.box_weight)
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item()
        found = detect(model, image, proposals[record.key], config).of_class(0)
        gt.append(record.gun_boxes)
        predictions.append((found.xyxy, found.scores))
        sizes.append((image.shape[1], image.shape[0]))
    summary = coco_map(gt, predictions, sizes)
    metrics = {f"val_{name}": total / max(len(records), 1) for name, total in sums.items()}
    metrics.update(val_map50=finite_or_zero(summary.map50), val_map50_95=finite_or_zero(summary.map50_95))
    return metrics


def make_optimizer(model: nn.Module, config: FastRcnnTrainConfig) -> torch.optim.Optimizer:
    trainable = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "adam":
        return torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(trainable, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def pick_device(config: FastRcnnTrainConfig) -> torch.device:
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


def load_data(config: FastRcnnTrainConfig) -> tuple[list[ImageRecord], list[ImageRecord], dict[str, np.ndarray]]:
    """Train and val records and their selective search proposals (from the shared cache, computed once)."""
    train, val = split_records(config)
    settings = ProposalSettings(max_side=config.proposal_max_side, mode=config.proposal_mode,
                                limit=config.proposal_limit)
    threads = config.threads or 1
    proposals = split_proposals(config.data, config.split, "train", train, settings, config.proposal_folder, threads)
    proposals.update(split_proposals(config.data, config.split, "val", val, settings, config.proposal_folder,
                                     threads))
    return train, val, proposals


def train_fast_rcnn(config: FastRcnnTrainConfig, resume: bool = False) -> Path:
    """Train, checkpointing every epoch; returns the best checkpoint's path."""
    start_run(config)
    train, val, proposals = load_data(config)
    started = time.monotonic()  # the time limit counts the training loop, not the selective search above

    model = build_model(config).to(pick_device(config))
    last_path, best_path = config.out / "last.pt", config.out / "best.pt"
    state = load_checkpoint(last_path) if resume and last_path.exists() else None
    if state is not None and config.time_limit_minutes:
        # A time-limited run may have shortened its plan; keep to it.
        config = config.model_copy(update={"epochs": min(config.epochs, state.get("planned_epochs", config.epochs))})
    optimizer = make_optimizer(model, config)
    steps = steps_per_epoch(config, len(train))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps * config.epochs))
    history: list[dict[str, float]] = []
    start_epoch = 1
    if state is not None:
        history, start_epoch = restore_run(state, model, optimizer, scheduler, None, last_path)

    writer = SummaryWriter(log_dir=str(config.out / "tensorboard"))
    epoch, epoch_cap = start_epoch, config.epochs
    while epoch <= config.epochs:
        epoch_started = time.monotonic()
        metrics = {"epoch": epoch, **train_one_epoch(model, train, proposals, optimizer, scheduler, config, epoch,
                                                     writer)}
        metrics.update(validate(model, val, proposals, config))
        metrics["seconds"] = time.monotonic() - epoch_started  # the training time `bench lineage` reports
        history.append(metrics)
        report_epoch(metrics, writer)
        if config.time_limit_minutes:
            planned = epochs_within(config.time_limit_minutes * 60, time.monotonic() - started,
                                    time.monotonic() - epoch_started, epoch, epoch_cap)
            if planned != config.epochs:
                tqdm.write(f"time limit {config.time_limit_minutes} min: the schedule now ends after epoch {planned}")
                config = config.model_copy(update={"epochs": planned})
                scheduler.lr_lambdas = [warmup_cosine(steps * config.epochs)] * len(optimizer.param_groups)
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": epoch, "planned_epochs": config.epochs, "history": history,
            "config": config.model_dump(mode="json"),
        }
        is_best = metrics["val_map50"] >= max(h["val_map50"] for h in history)
        save_epoch(config.out, state, history, is_best, (LOSS_CURVES, QUALITY_CURVES))
        epoch += 1
    writer.close()
    return best_path


def train_and_export(config: FastRcnnTrainConfig, resume: bool) -> Path:
    """`gunwatch train` for model: fast-rcnn: train, then export the best epoch to `<out>/model.onnx`."""
    best = train_fast_rcnn(config, resume=resume)
    model, _ = fast_rcnn_from_checkpoint(best)
    return export_fast_rcnn(model, config, config.out / "model.onnx")
