"""Fine-tuning YOLOX-Nano from COCO to person + handgun: one epoch at a time, checkpoint after each."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gunwatch.data.layouts import read_dataset
from gunwatch.data.records import ImageRecord
from gunwatch.data.split import load_split
from gunwatch.inference.detections import Detections
from gunwatch.inference.letterbox import letterbox
from gunwatch.inference.onnx_yolox import postprocess
from gunwatch.metrics.coco_map import coco_map
from gunwatch.metrics.operating import operating_point, threshold_for_image_fpr
from gunwatch.models.yolox import YOLOX, coco_person_plus, load_yolox_onnx_weights, yolox_nano
from gunwatch.models.yolox.blocks import set_activation_mix, use_activation
from gunwatch.models.yolox.model import model_width, onnx_activation, onnx_width, state_dict_width, yolox_mobilenet_v2
from gunwatch.models.yolox.onnx_weights import calibrate_folded_batchnorms
from gunwatch.models.yolox.widen import widen_yolox
from gunwatch.training.augment import AugmentSettings
from gunwatch.training.batches import Batch, BatchBuilder, BatchPlan, build_batch, plan_epoch
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.config import DetectorTrainConfig
from gunwatch.training.detector_data import DETECTOR_CLASSES, HANDGUN, DetectorSample, load_detector_samples
from gunwatch.training.distillation import distillation_loss, load_teacher
from gunwatch.training.ema import ModelEMA
from gunwatch.training.epochs import report_epoch, save_epoch
from gunwatch.training.hard_negatives import MinedNegatives, repeats_per_sample
from gunwatch.training.optimisation import epochs_within, optimisation_step, seed_everything, warmup_cosine
from gunwatch.training.paste import PasteBank
from gunwatch.training.pose_balance import pose_repeats_per_sample
from gunwatch.training.pretrained import mobilenet_v2_state
from gunwatch.training.pseudo_labels import person_boxes
from gunwatch.training.quantization_aware import freeze_ranges, observe_ranges, plain_weights, simulate_int8
from gunwatch.training.yolox_loss import Target, yolox_loss

LOSS_CURVES = ("train_loss", "train_box", "train_obj", "train_cls")
QUALITY_CURVES = ("val_map50", "val_map50_95", "val_image_recall")
CALIBRATION_BATCHES = 4


def build_detector(config: DetectorTrainConfig) -> YOLOX:
    """YOLOX-Nano with the COCO weights; classes person (COCO's) and handgun (new)."""
    model = use_activation(yolox_nano(), starting_activation(config))
    if config.coco_weights is not None:
        load_yolox_onnx_weights(model, config.coco_weights)
    return coco_person_plus(model, len(DETECTOR_CLASSES) - 1)


def starting_activation(config: DetectorTrainConfig) -> str:
    """The activation a new run's network starts with: a gradual switch to ReLU starts from the initial weights'
    own SiLU (`SiluToRelu` at mix 0 is SiLU)."""
    return "silu" if config.activation_blend_epochs else config.activation


def detector_at_width(width: float, activation: str = "silu") -> YOLOX:
    """An uninitialised person + handgun network of the Nano layout at `width`, with `activation`."""
    return use_activation(coco_person_plus(yolox_nano(width=width), len(DETECTOR_CLASSES) - 1), activation)


def detector_network(config: DetectorTrainConfig) -> YOLOX:
    """An uninitialised person + handgun network of the configured layout (backbone, width, activation)."""
    if config.backbone == "mobilenet_v2":
        network = yolox_mobilenet_v2(len(DETECTOR_CLASSES), config.frozen_backbone_layers,
                                     relu6=config.backbone_activation == "relu6")
        return use_activation(network, config.activation)
    return detector_at_width(config.width, config.activation)


def initial_mobilenet_detector(config: DetectorTrainConfig) -> YOLOX:
    """ImageNet's MobileNetV2 under an untrained neck and head, or a finished run of that layout."""
    model = detector_network(config)
    if config.init_weights is not None:
        model.load_state_dict(initial_weights(config.init_weights))
    else:
        model.backbone.load_imagenet(mobilenet_v2_state(config.imagenet_weights))
    return model


def initial_detector(config: DetectorTrainConfig, train: list[DetectorSample]) -> YOLOX:
    """The network a new run starts from: COCO, a finished run or a shipped model, widened to `config.width`."""
    if config.backbone == "mobilenet_v2":
        return initial_mobilenet_detector(config)
    activation = starting_activation(config)
    if config.init_weights is not None and config.init_weights.suffix == ".onnx":
        # A shipped model (its checkpoint is not kept): folded like the COCO file, so calibrated the same way.
        model = detector_at_width(onnx_width(config.init_weights), activation)
        load_yolox_onnx_weights(model, config.init_weights, expected_sha256=None)
        calibrate_folded_batchnorms(model, calibration_batches(train, config))
    elif config.init_weights is not None:
        # Fine-tune a finished run further (new data, new augmentation) rather than start from COCO.
        weights = initial_weights(config.init_weights)
        model = detector_at_width(state_dict_width(weights), activation)
        model.load_state_dict(weights)
    else:
        model = build_detector(config)
        if config.coco_weights is not None:
            # The COCO file has its batch norms folded; give them real statistics before they train.
            calibrate_folded_batchnorms(model, calibration_batches(train, config))
    return widened_to(model, config)


def widened_to(model: YOLOX, config: DetectorTrainConfig) -> YOLOX:
    """`model` at the configured width, computing what it computed (issue 11 item 6: does a wider one pay?)."""
    width = model_width(model)
    if math.isclose(width, config.width):
        return model
    if config.width < width:
        raise ValueError(f"width: {config.width} is narrower than the initial weights' {width}")
    return widen_yolox(model, config.width, seed=config.seed)


def to_bgr_tensor(images: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """RGB uint8 HxWx3 images -> N x 3 x H x W float BGR 0..255, what YOLOX takes."""
    batch = np.ascontiguousarray(np.stack(images)[..., ::-1].transpose(0, 3, 1, 2))
    return torch.from_numpy(batch).to(device).float()


def optimizer_for(model: nn.Module, config: DetectorTrainConfig) -> torch.optim.Optimizer:
    # Weight decay on convolution weights only, not on batch-norm parameters or biases (as YOLOX).
    trained = [p for p in model.parameters() if p.requires_grad]  # not a frozen backbone's layers
    decay = [p for p in trained if p.ndim > 1]
    no_decay = [p for p in trained if p.ndim <= 1]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, momentum=config.momentum, nesterov=True,
    )


def augment_settings(config: DetectorTrainConfig) -> AugmentSettings:
    return AugmentSettings(
        mosaic=config.mosaic, scale=config.scale, mosaic_scale=config.mosaic_scale, hflip=config.hflip,
        color=config.color, grey=config.grey, low_light=config.low_light, blur=config.blur,
        motion_blur=config.motion_blur, jpeg=config.jpeg, small_guns=config.small_guns,
        small_gun_px=config.small_gun_px, person_crops=config.person_crops,
        person_crop_gun_px=config.person_crop_gun_px, person_crop_capture_px=config.person_crop_capture_px,
        held_guns=config.held_guns,
        held_gun_share=config.held_gun_share,
        quarter_turns=config.quarter_turns,
    )


def to_device(batch: Batch, device: torch.device) -> tuple[torch.Tensor, list[Target]]:
    """uint8 RGB NHWC -> float BGR NCHW on the device (the channel flip runs there), and the targets."""
    images = torch.from_numpy(batch.images).to(device).permute(0, 3, 1, 2).flip(1).float()
    targets = [
        Target(torch.from_numpy(boxes).to(device), torch.from_numpy(classes).to(device))
        for boxes, classes in zip(batch.boxes, batch.classes, strict=True)
    ]
    return images, targets


def steps_per_epoch(config: DetectorTrainConfig, samples: int) -> int:
    steps = math.ceil(samples / config.batch_size)
    return min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps


def train_one_epoch(
    model: YOLOX, ema: ModelEMA, builder: BatchBuilder, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, config: DetectorTrainConfig, epoch: int,
    writer: SummaryWriter, device: torch.device, repeats: list[int] | None = None, teacher: YOLOX | None = None,
) -> dict[str, float]:
    model.train()
    use_mosaic = epoch <= config.epochs - config.no_mosaic_epochs
    plans = plan_epoch(len(builder.samples), config.batch_size, config.train_sizes, config.seed, epoch, use_mosaic,
                       config.max_steps_per_epoch, repeats)
    sums: dict[str, float] = {}
    progress = tqdm(builder.batches(plans), total=len(plans), desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                    leave=False)
    for step, batch in enumerate(progress):
        if config.activation_blend_epochs:
            mix = activation_mix(config.activation_blend_epochs, epoch, step, len(plans))
            set_activation_mix(model, mix)
            set_activation_mix(ema.model, mix)
        images, targets = to_device(batch, device)
        outputs = model.forward_levels(images)
        losses = yolox_loss(outputs, targets, box_weight=config.box_weight)
        if teacher is not None:
            with torch.no_grad():
                taught = teacher.forward_levels(images)
            losses |= distillation_loss(outputs, taught)
            losses["loss"] = losses["loss"] + config.distill_weight * losses["distill"]
        optimisation_step(losses["loss"], optimizer, scheduler, f"epoch {epoch} step {step}")
        ema.update(model)
        global_step = (epoch - 1) * len(plans) + step
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + value.item()
            writer.add_scalar(f"train/{name}", value.item(), global_step)
        writer.add_scalar("train/lr", scheduler.get_last_lr()[0], global_step)
        progress.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}", size=images.shape[-1])
    return {f"train_{name}": total / max(len(plans), 1) for name, total in sums.items()}


@torch.no_grad()
def predict(model: YOLOX, images: list[np.ndarray], input_size: int, device: torch.device,
            batch_size: int = 32) -> list[Detections]:
    """The runtime's path in torch: letterbox, forward, the same numpy decode and NMS as ONNX inference."""
    model.eval()
    results: list[Detections] = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        boxed = [letterbox(image, (input_size, input_size)) for image in chunk]
        raw = model(to_bgr_tensor([padded for padded, _ in boxed], device)).cpu().numpy()
        for out, (_, scale), image in zip(raw, boxed, chunk, strict=True):
            results.append(postprocess(out, (input_size, input_size), scale, image.shape))
    return results


def validate(model: YOLOX, val: list[DetectorSample], config: DetectorTrainConfig,
             device: torch.device) -> dict[str, float]:
    """Handgun mAP on val, and gun-image recall at the threshold that flags max_val_image_fpr of gun-free ones."""
    guns = [det.of_class(HANDGUN) for det in predict(model, [s.image for s in val], config.input_size, device)]
    gt = [s.boxes[s.classes == HANDGUN] for s in val]
    sizes = [(s.image.shape[1], s.image.shape[0]) for s in val]
    coco = coco_map(gt, [(d.xyxy, d.scores) for d in guns], sizes)
    threshold = threshold_for_image_fpr(guns, [not len(g) for g in gt], config.max_val_image_fpr)
    point = operating_point(gt, guns, threshold)
    return {"val_map50": coco.map50, "val_map50_95": coco.map50_95, "val_image_recall": point.image_recall,
            "val_threshold": float(threshold)}


def activation_mix(blend_epochs: float, epoch: int, step: int, steps_per_epoch: int) -> float:
    """How far a gradual switch to ReLU has come after `step` (from 0) of `epoch` (from 1): from SiLU (0)
    to ReLU (1), linear in steps over `blend_epochs`."""
    if blend_epochs <= 0:
        return 1.0
    return min(1.0, ((epoch - 1) * steps_per_epoch + step + 1) / (blend_epochs * steps_per_epoch))


def in_final_form(metrics: dict[str, float]) -> bool:
    """Whether an epoch's network is the one its export builds (not halfway from SiLU to ReLU)."""
    return metrics.get("activation_mix", 1.0) >= 1.0


def is_best_epoch(history: list[dict[str, float]]) -> bool:
    """Whether the last epoch of `history` is the best so far. An epoch still between SiLU and ReLU is not the
    network the export builds, so it is never the best."""
    last = history[-1]
    return in_final_form(last) and fitness(last) >= max(fitness(h) for h in history if in_final_form(h))


def fitness(metrics: dict[str, float]) -> float:
    """What "best epoch" means: mAP at 0.5 and at 0.5:0.95, equally weighted."""
    return 0.5 * metrics["val_map50"] + 0.5 * metrics["val_map50_95"]


def pick_device(config: DetectorTrainConfig) -> torch.device:
    device = torch.device(config.device if config.device != "auto" else
                          "cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        # A few input sizes recur all run long: let cuDNN pick the fastest kernels for each.
        torch.backends.cudnn.benchmark = True
    return device


def load_training_data(
    config: DetectorTrainConfig,
) -> tuple[list[DetectorSample], list[DetectorSample], list[int] | None]:
    """Train and val samples, and how often each train sample is drawn an epoch (None: once)."""
    dataset = read_dataset(config.data)
    split = load_split(config.split)
    train_records: list[ImageRecord] = split.select(dataset, "train")
    val_records: list[ImageRecord] = split.select(dataset, "val")[: config.max_val_images]
    extra_repeats: list[int] = []
    for extra in config.extra_train:
        records = load_split(extra.split).select(read_dataset(extra.data), "train")
        train_records += records
        extra_repeats += [extra.repeats] * len(records)
    people = None
    if config.coco_weights is not None:
        cache = config.people_cache or config.out / "people.json"
        people = person_boxes(train_records, config.coco_weights, config.person_min_score, cache)
    train = load_detector_samples(train_records, people, config.cache_side, "loading train")
    # Validation measures handguns only; its images keep their full size, as `gunwatch eval` sees them.
    val = load_detector_samples(val_records, None, max(max(r.width, r.height) for r in val_records), "loading val")
    main = sample_repeats(config, train_records[: len(train_records) - len(extra_repeats)])
    if main is None and not extra_repeats:
        return train, val, None
    return train, val, (main or [1] * (len(train_records) - len(extra_repeats))) + extra_repeats


def sample_repeats(config: DetectorTrainConfig, records: list[ImageRecord]) -> list[int] | None:
    """How often each image of the main set is drawn an epoch: the mined hard negatives, and the images of
    guns not in profile, more than once (None: every image once)."""
    repeats = None
    if config.hard_negatives is not None:
        hard = set(MinedNegatives.load(config.hard_negatives).hardest(config.hard_negative_share))
        repeats = repeats_per_sample([record.key for record in records], hard, config.hard_negative_repeats)
        tqdm.write(f"hard negatives: {sum(r > 1 for r in repeats)} images drawn {config.hard_negative_repeats}x "
                   "per epoch")
    if config.pose_repeats > 1:
        poses = pose_repeats_per_sample(records, config.profile_aspect, config.pose_repeats)
        tqdm.write(f"guns not in profile: {sum(r > 1 for r in poses)} images drawn {config.pose_repeats}x per epoch")
        # An image that is both (none: a hard negative holds no gun) is drawn the larger number of times.
        repeats = poses if repeats is None else [max(a, b) for a, b in zip(repeats, poses, strict=True)]
    return repeats


def calibration_batches(train: list[DetectorSample], config: DetectorTrainConfig) -> list[torch.Tensor]:
    """A few augmented batches (their own seeds, epoch 0) to give the folded COCO batch norms statistics."""
    rng = np.random.default_rng(config.seed)
    plans = [
        BatchPlan(tuple(int(i) for i in rng.integers(0, len(train), config.batch_size)), config.input_size, True,
                  (config.seed, 0, k))
        for k in range(CALIBRATION_BATCHES)
    ]
    settings = augment_settings(config)
    return [to_device(build_batch(train, plan, settings, None), torch.device("cpu"))[0] for plan in plans]


def schedule(config: DetectorTrainConfig, steps: int):
    """Warm-up for `warmup_epochs`, then cosine decay to zero at the end of `config.epochs`."""
    total = steps * config.epochs
    return warmup_cosine(total, min(0.5, config.warmup_epochs * steps / total))


def train_detector(config: DetectorTrainConfig, resume: bool = False) -> Path:
    """Train, checkpointing every epoch; returns the best checkpoint's path."""
    started = time.monotonic()
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    device = pick_device(config)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "config.json").write_text(config.model_dump_json(indent=1))
    train, val, repeats = load_training_data(config)
    bank = PasteBank.from_samples(train) if config.small_guns > 0 or config.held_guns > 0 else None
    # Forked before this process touches CUDA.
    with BatchBuilder(train, augment_settings(config), bank, config.loader_workers) as builder:
        return _train(config, resume, train, val, builder, device, started, repeats)


def _train(config: DetectorTrainConfig, resume: bool, train: list[DetectorSample], val: list[DetectorSample],
           builder: BatchBuilder, device: torch.device, started: float, repeats: list[int] | None = None) -> Path:
    last_path, best_path = config.out / "last.pt", config.out / "best.pt"
    state = load_checkpoint(last_path) if resume and last_path.exists() else None
    # A resumed run's weights come from its checkpoint below; only the shape matters here.
    model = initial_detector(config, train) if state is None else detector_network(config)
    if config.quantization_aware:
        simulate_int8(model)
        if state is None:  # a resumed run's ranges come from its checkpoint
            observe_ranges(model, calibration_batches(train, config))
    if state is not None and config.time_limit_minutes:
        # A time-limited run may have shortened its plan; keep to it.
        config = config.model_copy(update={"epochs": min(config.epochs, state.get("planned_epochs", config.epochs))})
    model.to(device)
    teacher = None
    if config.distill_from is not None:
        teacher = load_teacher(config.distill_from, detector_at_width(onnx_width(config.distill_from),
                                                                     onnx_activation(config.distill_from)))
        teacher.to(device)
    ema = ModelEMA(model, config.ema_decay)
    optimizer = optimizer_for(model, config)
    steps = steps_per_epoch(config, sum(repeats) if repeats is not None else len(train))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(config, steps))
    history: list[dict[str, float]] = []
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        ema.model.load_state_dict(state["ema"])
        ema.updates = state["ema_updates"]
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start_epoch = state["history"], state["epoch"] + 1
        tqdm.write(f"resuming after epoch {state['epoch']} from {last_path}")

    writer = SummaryWriter(log_dir=str(config.out / "tensorboard"))
    epoch, epoch_cap = start_epoch, config.epochs
    while epoch <= config.epochs:
        epoch_started = time.monotonic()
        train_metrics = train_one_epoch(model, ema, builder, optimizer, scheduler, config, epoch, writer, device,
                                        repeats, teacher=teacher)
        if config.quantization_aware:
            freeze_ranges(ema.model)  # validated with the averaged ranges, not ranges fitted to val
        metrics = {"epoch": epoch, **train_metrics, **validate(ema.model, val, config, device)}
        if config.activation_blend_epochs:
            metrics["activation_mix"] = activation_mix(config.activation_blend_epochs, epoch, steps - 1, steps)
        history.append(metrics)
        report_epoch(metrics, writer)
        if config.time_limit_minutes:
            # Re-fitted after every epoch: the first one carries one-off costs (warm-up, kernel tuning), so
            # the plan may grow again, never past the configured epochs.
            planned = epochs_within(config.time_limit_minutes * 60, time.monotonic() - started,
                                    time.monotonic() - epoch_started, epoch, epoch_cap)
            # A switch to ReLU needs one epoch after it, or no epoch could be the best.
            planned = min(max(planned, math.ceil(config.activation_blend_epochs) + 1), epoch_cap)
            if planned != config.epochs:
                tqdm.write(f"time limit {config.time_limit_minutes} min: the schedule now ends after epoch {planned}")
                config = config.model_copy(update={"epochs": planned})
                scheduler.lr_lambdas = [schedule(config, steps)] * len(optimizer.param_groups)
        state = {
            "model": model.state_dict(), "ema": ema.model.state_dict(), "ema_updates": ema.updates,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
            "planned_epochs": config.epochs, "history": history, "config": config.model_dump(mode="json"),
        }
        save_epoch(config.out, state, history, is_best_epoch(history), (LOSS_CURVES, QUALITY_CURVES))
        epoch += 1
    writer.close()
    return best_path


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """The EMA weights of a training checkpoint, or a bare state dict (e.g. saved in half precision)."""
    state = load_checkpoint(path)
    weights = plain_weights(state.get("ema", state))
    return {name: value.float() if value.is_floating_point() else value for name, value in weights.items()}


def detector_from_checkpoint(path: Path) -> tuple[YOLOX, DetectorTrainConfig]:
    """The EMA weights of a checkpoint in a fresh network (no COCO file needed)."""
    state = load_checkpoint(path)
    config = DetectorTrainConfig.model_validate(state["config"])
    model = detector_network(config)
    model.load_state_dict(plain_weights(state["ema"]))  # a quantisation-aware run exports its float network
    return model.eval(), config
