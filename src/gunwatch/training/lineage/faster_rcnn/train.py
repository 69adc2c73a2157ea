"""Training the lineage's Faster R-CNN end to end: one epoch at a time, checkpoint after each, then ONNX.

The four losses of the paper (RPN objectness and box, head classifier and box) are summed with equal
weights, as torchvision and the paper's approximate joint training do, and logged one by one. The first
`freeze_blocks` backbone blocks stay frozen and every backbone batch norm keeps its ImageNet statistics
(CPU speed; batches of a few images). The best epoch is the one with the highest val mAP@0.5, measured
in PyTorch on the val images at their own size, as `gunwatch eval` sees them, with the project's
pycocotools mAP (`gunwatch.metrics.coco_map`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from torchvision.models.detection import FasterRCNN
from tqdm import tqdm

from gunwatch.data.images import load_rgb, shrink_to
from gunwatch.data.records import ImageRecord
from gunwatch.inference.detections import Detections
from gunwatch.metrics.coco_map import coco_map
from gunwatch.metrics.operating import operating_point, threshold_for_image_fpr
from gunwatch.models.lineage.faster_rcnn import (
    HANDGUN_LABEL,
    LOSS_NAMES,
    STRIDE_16_BLOCKS,
    Anchors,
    FasterRcnnSettings,
    anchors_from_boxes,
    build_faster_rcnn,
    freeze_backbone,
    input_scale,
    loss_total,
    set_train_mode,
    settings_from_dict,
    settings_to_dict,
)
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.epochs import report_epoch, restore_run, save_epoch, start_run
from gunwatch.training.lineage.faster_rcnn.config import FasterRcnnTrainConfig
from gunwatch.training.lineage.faster_rcnn.export import (
    export_faster_rcnn,
    faster_rcnn_from_checkpoint,
    parity,
)
from gunwatch.training.lineage.records import split_records
from gunwatch.training.optimisation import epochs_within, optimisation_step, warmup_cosine
from gunwatch.training.pretrained import mobilenet_v2_state

LOSS_CURVES = ("train_loss", *(f"train_{name}" for name in LOSS_NAMES))
QUALITY_CURVES = ("val_map50", "val_map50_95", "val_image_recall")


def train_and_export(config: FasterRcnnTrainConfig, resume: bool) -> Path:
    """Train (or resume), then export the best epoch to `<out>/model.onnx`; returns that path."""
    best = train_faster_rcnn(config, resume)
    model, settings, _ = faster_rcnn_from_checkpoint(best)
    path = export_faster_rcnn(model, settings, config.out / "model.onnx")
    image = torch.rand(3, settings.max_size // 2, settings.max_size // 3, generator=torch.Generator().manual_seed(1))
    differences = parity(model, path, image)
    tqdm.write(f"exported {path}; ONNX Runtime vs PyTorch, largest differences: {differences}")
    return path


def settings_for(config: FasterRcnnTrainConfig, anchors: Anchors) -> FasterRcnnSettings:
    return FasterRcnnSettings(
        anchors=anchors, min_size=config.min_size, max_size=config.max_size,
        representation_size=config.representation_size,
        rpn_pre_nms_top_n_train=config.rpn_pre_nms_top_n_train,
        rpn_post_nms_top_n_train=config.rpn_post_nms_top_n_train,
        rpn_pre_nms_top_n_test=config.rpn_pre_nms_top_n_test,
        rpn_post_nms_top_n_test=config.rpn_post_nms_top_n_test,
        box_batch_size_per_image=config.box_batch_size_per_image,
        box_score_thresh=config.box_score_thresh,
        box_detections_per_img=config.box_detections_per_img,
    )


def training_anchors(records: list[ImageRecord], config: FasterRcnnTrainConfig) -> Anchors:
    """Anchors from the training gun boxes as the network sees them: each image at torchvision's input scale."""
    sides = [
        record.gun_boxes.reshape(-1, 4) * input_scale(record.width, record.height, config.min_size, config.max_size)
        for record in records
    ]
    boxes = np.concatenate(sides) if sides else np.zeros((0, 4), np.float32)
    return anchors_from_boxes(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1], config.anchor_sizes,
                              config.anchor_ratios)


def build_model(config: FasterRcnnTrainConfig, settings: FasterRcnnSettings) -> FasterRCNN:
    model = build_faster_rcnn(settings, config.width_mult)
    if config.pretrained != "none":
        explicit = None if config.pretrained == "auto" else Path(config.pretrained)
        state = mobilenet_v2_state(explicit)
        trunk = {k: v for k, v in state.items() if int(k.split(".")[1]) < STRIDE_16_BLOCKS}
        model.backbone.load_state_dict(trunk)
    freeze_backbone(model, config.freeze_blocks)
    return model


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 H x W x 3 -> 3 x H x W float in 0..1, what torchvision's detectors take (and the ONNX graph)."""
    return torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / 255)


def load_sample(record: ImageRecord, longest_side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The image as 3 x H x W float 0..1 (no larger than the network's input: it would shrink it anyway)
    and its gun boxes in those pixels."""
    image, scale = shrink_to(load_rgb(record.image_path), longest_side)
    return to_tensor(image), torch.from_numpy(record.gun_boxes.reshape(-1, 4) * scale).float()


def augment(image: torch.Tensor, boxes: torch.Tensor, config: FasterRcnnTrainConfig,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal flip, and mild brightness, contrast and saturation jitter (each factor in 1 +- color)."""
    draws = torch.rand(4, generator=generator)
    if draws[0] < config.hflip:
        width = image.shape[-1]
        image = image.flip(-1)
        boxes = torch.stack((width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]), dim=1)
    if config.color > 0:
        brightness, contrast, saturation = (1 + config.color * (2 * draws[1:] - 1)).tolist()
        image = image * brightness
        image = (image - image.mean()) * contrast + image.mean()
        grey = image.mean(dim=0, keepdim=True)
        image = (grey + (image - grey) * saturation).clamp(0, 1)
    return image, boxes


def target(boxes: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"boxes": boxes, "labels": torch.full((len(boxes),), HANDGUN_LABEL, dtype=torch.int64, device=boxes.device)}


def steps_per_epoch(config: FasterRcnnTrainConfig, samples: int) -> int:
    steps = math.ceil(samples / config.batch_size)
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps


def schedule(config: FasterRcnnTrainConfig, steps: int):
    """Linear warm-up for `warmup_steps` (at most half the run), then cosine decay to zero at the last epoch."""
    total = max(1, steps * config.epochs)
    return warmup_cosine(total, min(0.5, config.warmup_steps / total))


def train_one_epoch(
    model: FasterRCNN, records: list[ImageRecord], optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, config: FasterRcnnTrainConfig, generator: torch.Generator,
    epoch: int, writer: SummaryWriter, device: torch.device,
) -> dict[str, float]:
    """One pass over the shuffled training images; the mean of each loss and of their sum."""
    set_train_mode(model, keep_imagenet_statistics=config.pretrained != "none")
    order = torch.randperm(len(records), generator=generator)
    batches = list(order.split(config.batch_size))[: config.max_steps_per_epoch]
    sums = dict.fromkeys(("loss", *LOSS_NAMES), 0.0)
    started = time.monotonic()
    progress = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
    for step, index in enumerate(progress):
        pairs = [augment(*load_sample(records[i], config.max_size), config, generator) for i in index.tolist()]
        losses = model([image.to(device) for image, _ in pairs], [target(boxes.to(device)) for _, boxes in pairs])
        loss = loss_total(losses)
        optimisation_step(loss, optimizer, scheduler, f"epoch {epoch} step {step}")
        global_step = (epoch - 1) * len(batches) + step
        for name, value in (("loss", loss), *((name, losses[name]) for name in LOSS_NAMES)):
            sums[name] += value.item()
            writer.add_scalar(f"train/{name}", value.item(), global_step)
        writer.add_scalar("train/lr", scheduler.get_last_lr()[0], global_step)
        progress.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}")
    steps = max(len(batches), 1)
    return {**{f"train_{name}": total / steps for name, total in sums.items()},
            "train_s_per_step": (time.monotonic() - started) / steps}


@torch.no_grad()
def predict(model: FasterRCNN, images: list[np.ndarray]) -> list[Detections]:
    """The exported graph's path in PyTorch: RGB uint8 at its own size in, handgun detections in its pixels out."""
    model.eval()
    device = next(model.parameters()).device
    results = []
    for image in images:
        out = {name: value.cpu() for name, value in model([to_tensor(image).to(device)])[0].items()}
        keep = out["labels"] == HANDGUN_LABEL
        results.append(Detections(out["boxes"][keep].numpy(), out["scores"][keep].numpy(),
                                  np.zeros(int(keep.sum()), np.int64)))
    return results


def validate(model: FasterRCNN, records: list[ImageRecord], config: FasterRcnnTrainConfig) -> dict[str, float]:
    """Handgun mAP on val, and gun-image recall at the threshold that flags max_val_image_fpr of gun-free ones."""
    started = time.monotonic()
    guns = [predict(model, [load_rgb(record.image_path)])[0] for record in tqdm(records, desc="val", leave=False)]
    gt = [record.gun_boxes for record in records]
    coco = coco_map(gt, [(d.xyxy, d.scores) for d in guns], [(r.width, r.height) for r in records])
    threshold = threshold_for_image_fpr(guns, [not len(g) for g in gt], config.max_val_image_fpr)
    point = operating_point(gt, guns, threshold)
    return {"val_map50": coco.map50, "val_map50_95": coco.map50_95, "val_image_recall": point.image_recall,
            "val_threshold": float(threshold), "val_s_per_image": (time.monotonic() - started) / max(len(records), 1)}


def fitness(metrics: dict[str, float]) -> float:
    """What "best epoch" means: val mAP@0.5 (-1 where undefined: a val set without guns)."""
    value = metrics["val_map50"]
    return -1.0 if math.isnan(value) else value


def train_faster_rcnn(config: FasterRcnnTrainConfig, resume: bool = False) -> Path:
    """Train, checkpointing every epoch; returns the best checkpoint's path (highest val mAP@0.5)."""
    started = time.monotonic()
    generator = start_run(config)
    train, val = split_records(config)
    last_path, best_path = config.out / "last.pt", config.out / "best.pt"
    state = load_checkpoint(last_path) if resume and last_path.exists() else None
    if state is not None:
        # The anchors the run started with. The plan is the configured one again, with a fresh time budget: a
        # run whose time limit cut it short (a busy machine, or one paused, whose wall clock ran on) continues
        # on the configured cosine schedule, and the limit re-plans it after each epoch as before.
        settings = settings_from_dict(state["settings"])
    else:
        settings = settings_for(config, training_anchors(train, config))
    tqdm.write(f"anchors: sizes {settings.anchors.sizes} px, ratios (h / w) {settings.anchors.ratios}")

    device = torch.device(config.device if config.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(config, settings).to(device)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                                momentum=config.momentum, weight_decay=config.weight_decay)
    steps = steps_per_epoch(config, len(train))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(config, steps))
    history: list[dict[str, float]] = []
    start_epoch = 1
    if state is not None:
        history, start_epoch = restore_run(state, model, optimizer, scheduler, generator, last_path)

    writer = SummaryWriter(log_dir=str(config.out / "tensorboard"))
    epoch, epoch_cap = start_epoch, config.epochs
    while epoch <= config.epochs:
        epoch_started = time.monotonic()
        train_metrics = train_one_epoch(model, train, optimizer, scheduler, config, generator, epoch, writer, device)
        metrics = {"epoch": epoch, **train_metrics, **validate(model, val, config),
                   "lr": scheduler.get_last_lr()[0], "seconds": time.monotonic() - epoch_started}
        history.append(metrics)
        report_epoch(metrics, writer)
        if config.time_limit_minutes:
            planned = epochs_within(config.time_limit_minutes * 60, time.monotonic() - started,
                                    time.monotonic() - epoch_started, epoch, epoch_cap)
            if planned != config.epochs:
                tqdm.write(f"time limit {config.time_limit_minutes} min: the schedule now ends after epoch {planned}")
                config = config.model_copy(update={"epochs": planned})
                scheduler.lr_lambdas = [schedule(config, steps)] * len(optimizer.param_groups)
        state = {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(), "epoch": epoch, "planned_epochs": config.epochs,
            "history": history, "config": config.model_dump(mode="json"), "settings": settings_to_dict(settings),
        }
        is_best = fitness(metrics) >= max(fitness(h) for h in history)
        save_epoch(config.out, state, history, is_best, (LOSS_CURVES, QUALITY_CURVES))
        epoch += 1
    writer.close()
    return best_path
