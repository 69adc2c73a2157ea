"""Train R-CNN (Girshick et al. 2014) the paper's way, in its three stages, and export it as one ONNX graph.

1. Selective search over the train and val images (cached, see `proposal_cache`).
2. Features: each sampled region warped with context to `warp_size` and run through the frozen ImageNet
   MobileNetV2 (on ONNX Runtime: the trunk is frozen, and it is faster there); kept on disk in chunks
   under `<out>/features/`, so an interrupted run continues where it stopped (`--resume`).
3. A linear SVM (L2-loss, solved in the primal), gun vs background: positives the ground truth (and its
   mirror), negatives proposals of IoU < 0.3, with hard-negative mining (each round adds the pool's
   negatives inside the margin); C chosen on val by average precision; its margin calibrated to a
   probability on val (Platt scaling).
4. Class-specific box regression: ridge on the features of proposals of IoU >= 0.6, targets R-CNN's
   (dx, dy, dw, dh); the ridge penalty chosen on val by the mean IoU of the moved boxes, and no regression at
   all when none beats the proposals as they are.
Writes history.json (per hard-negative round: hinge losses, val AP), curves.png and model.onnx.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gunwatch import GUN_LABEL
from gunwatch.data.images import load_rgb
from gunwatch.data.layouts import read_dataset
from gunwatch.data.records import ImageRecord
from gunwatch.data.split import load_split
from gunwatch.inference.lineage.box_coding import encode
from gunwatch.inference.lineage.rcnn import KIND, PAPER_CONTEXT, warp_regions
from gunwatch.inference.onnx_session import open_session
from gunwatch.inference.proposals import ProposalSettings
from gunwatch.models.lineage.rcnn import Rcnn, RcnnFeatures
from gunwatch.training.curves import plot_training_curves
from gunwatch.training.export import OPSET, write_metadata
from gunwatch.training.lineage.proposal_cache import split_proposals
from gunwatch.training.lineage.proposal_labels import label_proposals
from gunwatch.training.lineage.rcnn.config import RcnnTrainConfig
from gunwatch.training.pretrained import mobilenet_v2_state

log = logging.getLogger(__name__)

# What each sampled region is for.
GT, GT_FLIPPED, NEGATIVE, REGRESSION = 0, 1, 2, 3
CHUNK = 40  # images per feature file


@dataclass
class Samples:
    features: np.ndarray  # (M, 1280) float32
    roles: np.ndarray  # (M,) int8
    boxes: np.ndarray  # (M, 4) float32 the region
    gt: np.ndarray  # (M, 4) float32 its matched gun (zeros for negatives)

    def where(self, *roles: int) -> np.ndarray:
        return np.isin(self.roles, roles)


def train_and_export(config: RcnnTrainConfig, resume: bool) -> Path:
    started = time.monotonic()
    if config.threads:
        torch.set_num_threads(config.threads)
        import cv2

        cv2.setNumThreads(config.threads)
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    dataset, split = read_dataset(config.data), load_split(config.split)
    train = _subset(split.select(dataset, "train"), config.max_train_images, config.sample_train_images, config.seed)
    val = _subset(split.select(dataset, "val"), config.max_val_images, config.sample_val_images, config.seed)
    settings = ProposalSettings(max_side=config.proposal_max_side, mode=config.proposal_mode,
                                limit=config.proposal_limit)
    timings: dict[str, float] = {}
    tick = time.monotonic()
    train_proposals = split_proposals(config.data, config.split, "train", train, settings, config.proposals_folder,
                                      config.threads)
    val_proposals = split_proposals(config.data, config.split, "val", val, settings, config.proposals_folder,
                                    config.threads)
    timings["selective_search_s"] = time.monotonic() - tick

    trunk_path = _export_trunk(config, out / "features.onnx")
    session = open_session(trunk_path, config.threads)
    deadline = started + config.time_limit_minutes * 60 if config.time_limit_minutes else None
    tick = time.monotonic()
    train_samples = _extract(config, session, train, train_proposals, out / "features" / "train", resume,
                             flip=config.flip_positives, deadline=deadline)
    val_samples = _extract(config, session, val, val_proposals, out / "features" / "val", resume, flip=False,
                           deadline=None)
    timings["features_s"] = time.monotonic() - tick
    timings["regions"] = float(len(train_samples.roles) + len(val_samples.roles))

    tick = time.monotonic()
    classifier, history = _fit_classifier(config, train_samples, val_samples)
    regressor, regression = _fit_regressor(config, train_samples, val_samples)
    timings["fit_s"] = time.monotonic() - tick
    summary = {
        "train_images": len(train), "val_images": len(val), **timings, **classifier["summary"], **regression,
        "proposals_per_train_image": float(np.mean([len(b) for b in train_proposals.values()])) if train else 0.0,
        "val_proposal_recall_50": _proposal_recall(val, val_proposals, 0.5),
        "val_proposal_recall_70": _proposal_recall(val, val_proposals, 0.7),
    }
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot_training_curves(history, out / "curves.png", loss_keys=("train_hinge", "val_hinge"),
                         quality_keys=("val_ap",))
    log.info("R-CNN fitted: %s", summary)
    return _export(config, classifier, regressor, out / "model.onnx")


def _subset(records: list[ImageRecord], first: int | None, sample: int | None, seed: int) -> list[ImageRecord]:
    records = records[:first] if first else records
    if sample and sample < len(records):
        chosen = np.sort(np.random.default_rng(seed).choice(len(records), sample, replace=False))
        records = [records[i] for i in chosen]
    return records


def _backbone(config: RcnnTrainConfig) -> RcnnFeatures:
    trunk = RcnnFeatures()
    if config.pretrained != "none":
        explicit = None if config.pretrained == "auto" else Path(config.pretrained)
        state = mobilenet_v2_state(explicit)
        trunk.backbone.load_state_dict(state)
    return trunk.eval()


def _export_trunk(config: RcnnTrainConfig, path: Path) -> Path:
    example = torch.rand(1, 3, config.warp_size, config.warp_size)
    onnx_export(_backbone(config), example, path, ["features"])
    return path


def onnx_export(model: torch.nn.Module, example: torch.Tensor, path: Path, outputs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model.eval(), (example,), str(path), input_names=["crops"], output_names=outputs,
                      dynamic_axes={"crops": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
                      opset_version=OPSET, dynamo=False)


def context_px(config: RcnnTrainConfig) -> float:
    return config.context_px if config.context_px is not None else PAPER_CONTEXT * config.warp_size


def sample_regions(config: RcnnTrainConfig, record: ImageRecord, proposals: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's regions for training: (boxes, roles, matched gun boxes). Ground truth (GT), proposals of
    IoU < negative_iou (NEGATIVE, up to negatives_per_image) and of IoU >= regression_iou (REGRESSION, up to
    regression_per_image); the mirrored ground truth is added at extraction."""
    guns = record.gun_boxes.astype(np.float32)
    guns = guns[(guns[:, 2] - guns[:, 0] >= 2) & (guns[:, 3] - guns[:, 1] >= 2)]
    labelled = label_proposals(proposals, guns, fg_iou=config.regression_iou, bg_lo=0.0, bg_hi=config.negative_iou)
    negatives = np.flatnonzero(labelled.labels == 0)
    negatives = rng.choice(negatives, min(len(negatives), config.negatives_per_image), replace=False)
    close = np.flatnonzero(labelled.labels == 1)
    close = rng.choice(close, min(len(close), config.regression_per_image), replace=False)
    boxes = np.concatenate([guns, proposals[negatives], proposals[close]]).astype(np.float32).reshape(-1, 4)
    roles = np.concatenate([np.full(len(guns), GT), np.full(len(negatives), NEGATIVE),
                            np.full(len(close), REGRESSION)]).astype(np.int8)
    matched = np.zeros_like(boxes)
    matched[: len(guns)] = guns
    if len(close):
        matched[len(guns) + len(negatives) :] = guns[labelled.matched[close]]
    return boxes, roles, matched


def _signature(config: RcnnTrainConfig) -> str:
    keys = ("data", "split", "seed", "pretrained", "proposal_mode", "proposal_max_side", "proposal_limit",
            "warp_size", "context_px", "negatives_per_image", "negative_iou", "regression_iou", "regression_per_image",
            "flip_positives", "max_train_images", "max_val_images", "sample_train_images", "sample_val_images")
    text = json.dumps({key: str(getattr(config, key)) for key in keys}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _extract(config: RcnnTrainConfig, session, records: list[ImageRecord], proposals: dict[str, np.ndarray],
             folder: Path, resume: bool, flip: bool, deadline: float | None) -> Samples:
    """Features of every image's sampled regions, CHUNK images a file; chunks already on disk (same
    settings) are kept with `resume`, otherwise the folder starts empty."""
    signature = _signature(config)
    marker = folder / "signature.txt"
    if folder.exists() and (not resume or not marker.exists() or marker.read_text() != signature):
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(signature)
    chunks = [records[i : i + CHUNK] for i in range(0, len(records), CHUNK)]
    pad = context_px(config)
    parts: list[dict[str, np.ndarray]] = []
    with tqdm(total=len(records), desc=f"features ({folder.name})", unit="img") as bar:
        for number, chunk in enumerate(chunks):
            path = folder / f"chunk-{number:05d}.npz"
            if path.exists():
                with np.load(path) as data:
                    parts.append({key: data[key] for key in data.files})
                bar.update(len(chunk))
                continue
            if deadline is not None and time.monotonic() > deadline:
                log.warning("time limit: features of %d of %d images", number * CHUNK, len(records))
                break
            part: dict[str, list[np.ndarray]] = {"features": [], "roles": [], "boxes": [], "gt": []}
            for offset, record in enumerate(chunk):
                rng = np.random.default_rng([config.seed, number * CHUNK + offset])
                boxes, roles, matched = sample_regions(config, record, proposals[record.key], rng)
                image = load_rgb(record.image_path)
                crops = warp_regions(image, boxes, config.warp_size, pad)
                if flip and (roles == GT).any():
                    crops = np.concatenate([crops, crops[roles == GT][:, :, ::-1]])
                    boxes = np.concatenate([boxes, boxes[roles == GT]])
                    matched = np.concatenate([matched, matched[roles == GT]])
                    roles = np.concatenate([roles, np.full(int((roles == GT).sum()), GT_FLIPPED, np.int8)])
                part["features"].append(_features(session, crops, config.batch_size))
                part["roles"].append(roles)
                part["boxes"].append(boxes)
                part["gt"].append(matched)
                bar.update(1)
            arrays = {key: np.concatenate(values) for key, values in part.items()}
            arrays["features"] = arrays["features"].astype(np.float16)
            _save_atomic(path, arrays)
            parts.append(arrays)
    if not parts:
        return Samples(np.zeros((0, 1280), np.float32), np.zeros(0, np.int8), np.zeros((0, 4), np.float32),
                       np.zeros((0, 4), np.float32))
    return Samples(np.concatenate([p["features"] for p in parts]).astype(np.float32),
                   np.concatenate([p["roles"] for p in parts]), np.concatenate([p["boxes"] for p in parts]),
                   np.concatenate([p["gt"] for p in parts]))


def _features(session, crops: np.ndarray, batch: int) -> np.ndarray:
    out = [np.zeros((0, 1280), np.float32)]
    for start in range(0, len(crops), batch):
        chunk = np.ascontiguousarray(crops[start : start + batch].transpose(0, 3, 1, 2), dtype=np.float32) / 255.0
        out.append(session.run(None, {"crops": chunk})[0])
    return np.concatenate(out)


def _save_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as file:
        np.savez(file, **arrays)
    os.replace(temporary, path)


def _fit_classifier(config: RcnnTrainConfig, train: Samples,
                    val: Samples) -> tuple[dict, list[dict[str, float]]]:
    """The SVM with hard-negative mining for each C; the C of best val AP, calibrated on val."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import StandardScaler

    x_train, y_train = _svm_set(train)
    x_val, y_val = _val_set(val)
    if y_train.min() == y_train.max():
        raise ValueError("R-CNN needs gun and background regions in the train images")
    scaler = StandardScaler().fit(x_train)
    xs_train, xs_val = scaler.transform(x_train), scaler.transform(x_val)
    positives, negatives = np.flatnonzero(y_train == 1), np.flatnonzero(y_train == 0)
    rng = np.random.default_rng(config.seed)
    best: dict | None = None
    all_history: dict[float, list[dict[str, float]]] = {}
    for c in config.svm_c:
        active = np.concatenate([positives, rng.choice(negatives, max(1, len(negatives) // 4), replace=False)])
        history = []
        for round_ in range(config.hard_negative_rounds + 1):
            svm = fit_linear_svm(xs_train[active], y_train[active], c)
            margins = svm.decision_function(xs_train)
            val_margins = svm.decision_function(xs_val)
            val_ap = float(average_precision_score(y_val, val_margins)) if y_val.min() != y_val.max() else 0.0
            history.append({"epoch": round_, "svm_c": c, "active_negatives": int(len(active) - len(positives)),
                            "train_hinge": _hinge(margins, y_train), "val_hinge": _hinge(val_margins, y_val),
                            "val_ap": val_ap})
            hard = negatives[margins[negatives] > -1.0]
            added = np.setdiff1d(hard, active)
            if round_ == config.hard_negative_rounds or not len(added):
                break
            active = np.concatenate([active, added])
        all_history[c] = history
        if best is None or history[-1]["val_ap"] > best["val_ap"]:
            best = {"svm": svm, "val_ap": history[-1]["val_ap"], "c": c, "val_margins": val_margins}
    assert best is not None
    platt = (1.0, 0.0)
    if y_val.min() != y_val.max():
        calibration = LogisticRegression(C=1e4).fit(best["val_margins"].reshape(-1, 1), y_val)
        platt = (float(calibration.coef_[0, 0]), float(calibration.intercept_[0]))
    # The scaler folded into the SVM: w . (x - mu) / sigma + b = (w / sigma) . x + (b - w . mu / sigma)
    weight = best["svm"].coef_[0] / scaler.scale_
    bias = float(best["svm"].intercept_[0] - np.dot(weight, scaler.mean_))
    history = all_history[best["c"]]
    summary = {"svm_c": best["c"], "val_ap": best["val_ap"], "platt_a": platt[0], "platt_b": platt[1],
               "train_positives": len(positives), "train_negatives": len(negatives),
               "svm_rounds": {str(c): h for c, h in all_history.items()}}
    return {"weight": weight, "bias": bias, "platt": platt, "summary": summary}, history


@dataclass
class LinearSvm:
    coef_: np.ndarray  # (1, D), as scikit-learn's LinearSVC
    intercept_: np.ndarray  # (1,)

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef_[0] + self.intercept_[0]


def fit_linear_svm(x: np.ndarray, y: np.ndarray, c: float, max_iter: int = 500) -> LinearSvm:
    """The L2-loss linear SVM, min 0.5 |w|^2 + C sum max(0, 1 - y (w.x + b))^2 (the bias not penalised),
    solved in the primal by L-BFGS on dense float64 arrays: the problem scikit-learn's LinearSVC solves with
    liblinear, whose sparse copy of 50k x 1280 dense features costs a gigabyte and minutes a fit."""
    from scipy.optimize import minimize

    x = np.asarray(x, np.float64)
    signs = np.where(np.asarray(y) == 1, 1.0, -1.0)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        slack = np.maximum(0.0, 1.0 - signs * (x @ w + b))
        pull = -2.0 * c * signs * slack
        return 0.5 * w @ w + c * slack @ slack, np.concatenate([w + x.T @ pull, [pull.sum()]])

    start = np.zeros(x.shape[1] + 1)
    found = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return LinearSvm(found.x[None, :-1], found.x[-1:])


def _svm_set(samples: Samples) -> tuple[np.ndarray, np.ndarray]:
    chosen = samples.where(GT, GT_FLIPPED, NEGATIVE)
    return samples.features[chosen], samples.where(GT, GT_FLIPPED)[chosen].astype(np.int64)


def _val_set(samples: Samples) -> tuple[np.ndarray, np.ndarray]:
    """Val regions as detection sees them: guns (the ground truth and proposals of IoU >= 0.6) vs negatives."""
    chosen = samples.where(GT, REGRESSION, NEGATIVE)
    return samples.features[chosen], samples.where(GT, REGRESSION)[chosen].astype(np.int64)


def _hinge(margins: np.ndarray, labels: np.ndarray) -> float:
    signs = np.where(labels == 1, 1.0, -1.0)
    return float(np.mean(np.maximum(0.0, 1.0 - signs * margins))) if len(labels) else 0.0


def _fit_regressor(config: RcnnTrainConfig, train: Samples, val: Samples) -> tuple[dict, dict[str, float]]:
    from sklearn.linear_model import Ridge, RidgeCV

    from gunwatch.boxes import box_iou
    from gunwatch.inference.lineage.box_coding import decode

    chosen = train.where(REGRESSION)
    zero = {"weight": np.zeros((4, train.features.shape[1])), "bias": np.zeros(4)}
    if chosen.sum() < 8:
        log.warning("only %d regions for box regression: none fitted", int(chosen.sum()))
        return zero, {"regression_samples": int(chosen.sum())}
    x = train.features[chosen]
    targets = encode(train.boxes[chosen], train.gt[chosen]).astype(np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    held = val.where(REGRESSION)
    if not held.any():  # nothing to choose on: leave-one-out cross-validation on train
        ridge = RidgeCV(alphas=config.ridge_alphas).fit((x - mean) / scale, targets)
        weight = ridge.coef_ / scale
        return ({"weight": weight, "bias": ridge.intercept_ - weight @ mean},
                {"regression_samples": int(chosen.sum()), "ridge_alpha": float(ridge.alpha_)})
    before = float(np.diag(box_iou(val.boxes[held], val.gt[held])).mean())
    result: dict[str, float] = {"regression_samples": int(chosen.sum()), "val_iou_before_regression": before}
    best = (before, 0.0, zero)
    for alpha in config.ridge_alphas:
        ridge = Ridge(alpha=alpha).fit((x - mean) / scale, targets)
        weight = ridge.coef_ / scale
        candidate = {"weight": weight, "bias": ridge.intercept_ - weight @ mean}
        deltas = val.features[held] @ candidate["weight"].T + candidate["bias"]
        after = float(np.diag(box_iou(decode(val.boxes[held], deltas), val.gt[held])).mean())
        result[f"val_iou_alpha_{alpha:g}"] = after
        if after > best[0]:
            best = (after, alpha, candidate)
    result |= {"val_iou_after_regression": best[0], "ridge_alpha": best[1]}  # alpha 0: no regression
    return best[2], result


def _proposal_recall(records: list[ImageRecord], proposals: dict[str, np.ndarray], iou: float) -> float:
    """The share of val guns some proposal covers at `iou`: the ceiling on what R-CNN can find."""
    from gunwatch.boxes import box_iou

    hits, total = 0, 0
    for record in records:
        guns = record.gun_boxes
        if len(guns):
            total += len(guns)
            boxes = proposals[record.key]
            hits += int((box_iou(guns, boxes).max(axis=1) >= iou).sum()) if len(boxes) else 0
    return hits / total if total else 0.0


def _export(config: RcnnTrainConfig, classifier: dict, regressor: dict, path: Path) -> Path:
    model = Rcnn()
    model.features.load_state_dict(_backbone(config).state_dict())
    model.set_heads(classifier["weight"], classifier["bias"], classifier["platt"], regressor["weight"],
                    regressor["bias"])
    onnx_export(model, torch.rand(1, 3, config.warp_size, config.warp_size), path, ["gun_probability", "deltas"])
    write_metadata(path, {
        "gunwatch.kind": KIND, "gunwatch.classes": GUN_LABEL, "gunwatch.input_size": str(config.warp_size),
        "gunwatch.context_px": repr(context_px(config)), "gunwatch.proposal_mode": config.proposal_mode,
        "gunwatch.proposal_max_side": str(config.proposal_max_side),
        "gunwatch.proposal_limit": str(config.test_proposal_limit), "gunwatch.nms_iou": repr(config.nms_iou),
        "gunwatch.max_detections": str(config.max_detections), "gunwatch.batch": str(config.batch_size),
    })
    return path
