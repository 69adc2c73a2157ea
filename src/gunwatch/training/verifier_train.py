"""Train the gun verifier on the detector's candidates (see training/verifier_data.py), export it to ONNX.

Each epoch: every labelled crop once (an extra training set's `repeats` times; gun and not-gun weighted
to balance), augmented on the fly (mirror, a random zoom and shift of the crop, brightness and contrast,
grey, low resolution, optionally a video camera's degradations). Validation is what the verifier is
for: on the val split's images, each image's highest combined gun score (`inference.verifier.
combined_score`), and the share of gun images found at 1 %, 2 % and 5 % of gun-free images flagged,
for each candidate `detector_weight`; the epoch and weight with the best mean of the three are kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from gunwatch.checksums import sha256_of
from gunwatch.data.layouts import read_dataset
from gunwatch.data.split import load_split
from gunwatch.inference.loading import load_detector
from gunwatch.inference.second_look import SecondLook
from gunwatch.inference.verifier import combined_score
from gunwatch.metrics.operating import threshold_for_image_fpr
from gunwatch.models.gun_verifier import GunVerifier
from gunwatch.training.augment import AugmentSettings, camera_effects
from gunwatch.training.checkpoints import load_checkpoint
from gunwatch.training.ema import ModelEMA
from gunwatch.training.epochs import report_epoch, resume_if_asked, run_state, save_epoch, start_run
from gunwatch.training.export import OPSET, write_metadata
from gunwatch.training.optimisation import optimisation_step, warmup_cosine
from gunwatch.training.pose_balance import holds_unprofiled_gun
from gunwatch.training.pretrained import (
    efficientnet_lite0_weights_path,
    imagenet_state,
    mobilenet_v2_weights_path,
)
from gunwatch.training.run_config import ExtraTrainData
from gunwatch.training.verifier_config import VerifierTrainConfig
from gunwatch.training.verifier_data import CANDIDATE, GUN, IGNORED, CropPlan, VerifierCrops, mine_verifier_crops

VERIFIER_CURVES = (("train_loss", "val_loss"), ("val_recall_1", "val_recall_2", "val_recall_5"))
FPR_POINTS = (0.01, 0.02, 0.05)
# `camera_artifacts`: a camera's degradations, as the detector's training draws them (colour and grey are the
# verifier's own above); JPEG always, since every stream is compressed.
CAMERA_LOOK = AugmentSettings(color=0.0, grey=0.0, low_light=0.3, blur=0.3, motion_blur=0.3, jpeg=1.0)
IMAGENET_WEIGHTS = {"mobilenet_v2": mobilenet_v2_weights_path, "efficientnet_lite0": efficientnet_lite0_weights_path}


def crop_plan(config: VerifierTrainConfig) -> CropPlan:
    return CropPlan(config.input_size, config.context, config.floor, config.top_k, config.positive_iou,
                    config.negative_iou, config.person_negatives)


def split_crops(config: VerifierTrainConfig, split_name: str, extra: ExtraTrainData | None = None) -> VerifierCrops:
    """A split's crops (of the main data set, or of an extra training set), cut once and kept in the run
    folder for this detector and plan."""
    plan = crop_plan(config)
    data, split = (extra.data, extra.split) if extra else (config.data, config.split)
    stamp = {"detector_sha256": sha256_of(config.detector), "plan": plan.__dict__, "split": split_name,
             "second_look": config.second_look, "data": str(data), "split_file": str(split)}
    name = f"{split_name}-{split.stem}" if extra else split_name
    path, stamp_path = config.out / f"crops-{name}.npz", config.out / f"crops-{name}.json"
    if path.exists() and stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp:
        return VerifierCrops.load(path)
    records = load_split(split).select(read_dataset(data), split_name)
    detector = load_detector(config.detector, threads=config.threads)
    look = SecondLook(detector, max(detector.input_size)) if config.second_look else None
    crops = mine_verifier_crops(detector, records, plan, f"cutting {name} crops", second_look=look)
    crops.save(path)
    stamp_path.write_text(json.dumps(stamp, indent=1))
    return crops


def training_pool(config: VerifierTrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The crops an epoch draws from and their labels: the train split's labelled crops (the gun crops of
    images holding a gun not in profile `pose_repeats` times), and each extra set's `repeats` times."""
    main = split_crops(config, "train")
    labelled = np.flatnonzero(main.label != IGNORED)
    drawn = [np.repeat(labelled, pose_crop_repeats(config, main)[labelled])]
    sets = [main]
    for extra in config.extra_train:
        sets.append(split_crops(config, "train", extra))
        drawn.append(np.tile(np.flatnonzero(sets[-1].label != IGNORED), extra.repeats))
    return (np.concatenate([found.crops[index] for found, index in zip(sets, drawn, strict=True)]),
            np.concatenate([found.label[index] for found, index in zip(sets, drawn, strict=True)]))


def pose_crop_repeats(config: VerifierTrainConfig, found: VerifierCrops) -> np.ndarray:
    """Per crop of the main set, how often an epoch draws it: `pose_repeats` for the gun crops of an image
    holding a gun not in profile, else once."""
    if config.pose_repeats == 1:
        return np.ones(len(found), np.int64)
    records = {record.key: record for record in load_split(config.split).select(read_dataset(config.data), "train")}
    posed = np.array([holds_unprofiled_gun(records[str(key)], config.profile_aspect) for key in found.keys], bool)
    repeats = np.where((found.label == GUN) & posed[found.image], config.pose_repeats, 1)
    tqdm.write(f"guns not in profile: {int((repeats > 1).sum())} gun crops of {int(posed.sum())} images drawn "
               f"{config.pose_repeats}x per epoch")
    return repeats


def augment(crops: np.ndarray, generator: torch.Generator, low_resolution: float = 0.0,
            camera_artifacts: float = 0.0) -> torch.Tensor:
    """uint8 N x S x S x 3 -> float N x 3 x S x S pixel values, mirrored, zoomed and shifted, recoloured, a
    `low_resolution` share of them blurred by shrinking and enlarging back, and a `camera_artifacts` share
    given a video camera's degradations (`camera_look`)."""
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    n, side = len(x), x.shape[-1]
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    flip = rand(n) < 0.5
    x[flip] = x[flip].flip(3)
    # The crop's frame moves as a detector's box would: 0.8-1.15 of the side, shifted up to 1/8 of it.
    scale = 0.8 + 0.35 * rand(n)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = (rand(n, 2) - 0.5) * 0.25
    grid = F.affine_grid(theta, [n, 3, side, side], align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * (0.7 + 0.6 * rand(n, 1, 1, 1)) + mean) * (0.7 + 0.6 * rand(n, 1, 1, 1))
    grey = rand(n) < 0.2
    x[grey] = x[grey].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    for index in torch.nonzero(rand(n) < low_resolution).flatten().tolist():
        small = max(4, round(side / (2 + 4 * rand(1).item())))
        shrunk = F.interpolate(x[index : index + 1], size=(small, small), mode="area")
        x[index : index + 1] = F.interpolate(shrunk, size=(side, side), mode="bilinear", align_corners=False)
    if camera_artifacts > 0:  # no draw when off: the recipes without it keep their random stream
        for index in torch.nonzero(rand(n) < camera_artifacts).flatten().tolist():
            x[index] = camera_look(x[index], generator)
    return x.clamp(0, 255)


def camera_look(image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One float 3 x S x S crop as a surveillance stream shows it: the detector's camera effects (low light with
    sensor noise, focus or motion blur, compression blocks), drawn from the caller's generator."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=generator)))
    pixels = image.clamp(0, 255).round().byte().permute(1, 2, 0).numpy()
    return torch.from_numpy(camera_effects(pixels, CAMERA_LOOK, rng).copy()).permute(2, 0, 1).float()


def as_input(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float()


@torch.no_grad()
def judge(model: GunVerifier, crops: np.ndarray, batch_size: int) -> np.ndarray:
    model.eval()
    return np.concatenate([model(as_input(crops[i : i + batch_size])).numpy()
                           for i in range(0, len(crops), batch_size)] or [np.zeros(0)])


def image_recalls(crops: VerifierCrops, scores: np.ndarray) -> dict[float, float]:
    """Share of gun images whose best candidate's score beats every gun-free image but the allowed share."""
    candidate = crops.source == CANDIDATE
    best = np.zeros(len(crops.keys))
    np.maximum.at(best, crops.image[candidate], scores[candidate])
    if not crops.has_gun.any():  # nothing to find: counted as nothing found, as a NaN mAP is
        return dict.fromkeys(FPR_POINTS, 0.0)
    per_image = [(np.zeros((1, 4)), np.array([score])) for score in best]
    recalls = {}
    for fpr in FPR_POINTS:
        # Without gun-free images every score is allowed.
        threshold = threshold_for_image_fpr(per_image, ~crops.has_gun, fpr) if not crops.has_gun.all() else 0.0
        recalls[fpr] = float((best[crops.has_gun] >= threshold).mean())
    return recalls


def validate(model: GunVerifier, val: VerifierCrops, config: VerifierTrainConfig) -> dict[str, float]:
    opinion = judge(model, val.crops, config.batch_size * 2)
    labelled = val.label != IGNORED
    target = torch.from_numpy((val.label[labelled] == GUN).astype(np.float32))
    probability = torch.from_numpy(opinion[labelled]).clamp(1e-6, 1 - 1e-6)
    metrics: dict[str, float] = {"val_loss": F.binary_cross_entropy(probability, target).item()}
    best_weight, best_mean = config.detector_weights[0], -1.0
    for weight in config.detector_weights:
        recalls = image_recalls(val, combined_score(val.score, opinion, weight))
        mean = float(np.mean(list(recalls.values())))
        if mean > best_mean:
            best_weight, best_mean = weight, mean
            metrics.update({f"val_recall_{round(100 * f)}": r for f, r in recalls.items()})
    detector_alone = image_recalls(val, val.score)
    metrics.update({"val_recall_mean": best_mean, "detector_weight": best_weight,
                    "detector_alone_recall_mean": float(np.mean(list(detector_alone.values())))})
    return metrics


def build_model(config: VerifierTrainConfig) -> GunVerifier:
    model = GunVerifier(config.backbone)
    if config.pretrained != "none":
        explicit = None if config.pretrained == "auto" else Path(config.pretrained)
        model.backbone.load_imagenet(imagenet_state(IMAGENET_WEIGHTS[config.backbone](explicit)))
    return model


def train_verifier(config: VerifierTrainConfig, resume: bool = False) -> Path:
    """Train, checkpointing every epoch; returns the best checkpoint's path."""
    generator = start_run(config)
    train_crops, train_labels = training_pool(config)
    val = split_crops(config, "val")
    is_gun = torch.from_numpy((train_labels == GUN).astype(np.float32))
    gun_share = float(is_gun.mean())
    tqdm.write(f"verifier crops: train {len(train_labels)} ({int(is_gun.sum())} guns), val {len(val)}")

    model = build_model(config)
    # The average starts from the ImageNet weights; a resumed run continues its own (below).
    ema = ModelEMA(model, config.ema_decay, config.ema_ramp) if config.ema_decay else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(train_labels) // config.batch_size)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(steps_per_epoch * config.epochs, 0.1))
    history, start_epoch = resume_if_asked(config.out, resume, model, optimizer, scheduler, generator)
    if ema is not None and start_epoch > 1:
        last = load_checkpoint(config.out / "last.pt")
        ema.model.load_state_dict(last["ema"])
        ema.updates = last["ema_updates"]

    # Not-gun crops outnumber gun crops on real footage; weighted so both count alike in the loss.
    pos_weight = torch.tensor((1 - gun_share) / max(gun_share, 1e-6))
    writer = SummaryWriter(log_dir=str(config.out / "tensorboard"))
    for epoch in range(start_epoch, config.epochs + 1):
        model.train()
        order = torch.randperm(len(train_labels), generator=generator)
        batches = list(order.split(config.batch_size))[:steps_per_epoch]
        total = 0.0
        progress = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False)
        for step, index in enumerate(progress):
            logits = model.logits(augment(train_crops[index.numpy()], generator, config.low_resolution,
                                         config.camera_artifacts))
            loss = F.binary_cross_entropy_with_logits(logits, is_gun[index], pos_weight=pos_weight)
            optimisation_step(loss, optimizer, scheduler, f"epoch {epoch} step {step}")
            if ema is not None:
                ema.update(model)
            total += loss.item()
            progress.set_postfix(loss=f"{total / (step + 1):.4f}")
        judged = ema.model if ema is not None else model  # what is validated is what would be exported
        metrics = {"epoch": epoch, "train_loss": total / max(len(batches), 1), **validate(judged, val, config)}
        history.append(metrics)
        report_epoch(metrics, writer)
        state = run_state(model, optimizer, scheduler, generator, epoch, history, config)
        if ema is not None:
            state.update(ema=ema.model.state_dict(), ema_updates=ema.updates)
        is_best = metrics["val_recall_mean"] >= max(h["val_recall_mean"] for h in history)
        save_epoch(config.out, state, history, is_best, VERIFIER_CURVES)
    writer.close()
    return config.out / "best.pt"


def verifier_from_checkpoint(path: Path) -> tuple[GunVerifier, dict[str, float]]:
    """The network and the validation metrics of the epoch it was saved at."""
    state = load_checkpoint(path)
    model = GunVerifier(state["config"].get("backbone", "mobilenet_v2"))  # checkpoints from before the choice
    model.load_state_dict(state.get("ema", state["model"]))  # the average where the run kept one
    return model.eval(), state["history"][-1]


def export_verifier(model: GunVerifier, config: VerifierTrainConfig, detector_weight: float, path: Path) -> Path:
    """ONNX graph: `crops` N x 3 x S x S RGB 0..255 -> `gun_probability` N; the crop plan in the metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, config.input_size, config.input_size) * 255
    torch.onnx.export(model.eval(), (example,), str(path), input_names=["crops"], output_names=["gun_probability"],
                      dynamic_axes={"crops": {0: "batch"}, "gun_probability": {0: "batch"}}, opset_version=OPSET,
                      dynamo=False)
    write_metadata(path, {
        "gunwatch.kind": "gun-verifier", "gunwatch.input_size": str(config.input_size),
        "gunwatch.context": repr(config.context), "gunwatch.floor": repr(config.floor),
        "gunwatch.top_k": str(config.top_k), "gunwatch.detector_weight": repr(float(detector_weight)),
        "gunwatch.detector": config.detector.name, "gunwatch.detector_sha256": sha256_of(config.detector),
        # Replaced by `gunwatch train` with the threshold measured through the runtime on val.
        "gunwatch.threshold": "0.5",
    })
    return path


def train_and_export_verifier(config: VerifierTrainConfig, resume: bool) -> Path:
    best = train_verifier(config, resume=resume)
    model, metrics = verifier_from_checkpoint(best)
    return export_verifier(model, config, metrics["detector_weight"], config.out / "model.onnx")
