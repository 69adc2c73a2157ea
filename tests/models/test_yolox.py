"""YOLOX-Nano: parity with the COCO ONNX export, shapes, class slicing, weight loading."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from gunwatch.models.yolox import YOLOX, decode_boxes, keep_classes, load_yolox_onnx_weights, yolox_nano  # noqa: E402
from gunwatch.models.yolox.blocks import BaseConv, model_activation, set_activation_mix, use_activation  # noqa: E402
from gunwatch.models.yolox.onnx_weights import (  # noqa: E402
    OnnxConv,
    assign_onnx_convs,
    calibrate_folded_batchnorms,
    convs_in_call_order,
    read_onnx_convs,
)

COCO_ONNX = Path(__file__).resolve().parents[3] / "shared/weights/yolox_nano_coco.onnx"
needs_coco_onnx = pytest.mark.skipif(not COCO_ONNX.is_file(), reason=f"{COCO_ONNX} is absent")
SMALL = 64  # input side for the tests that do not need the real resolution


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def nano() -> YOLOX:
    torch.manual_seed(0)
    return yolox_nano().eval()


def images(size: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 255


def folded_convs(model: YOLOX) -> list[OnnxConv]:
    """The model's convolutions with its eval-mode batch norms folded in, as an export would hold them."""
    bns = {m.conv: m.bn for m in model.modules() if isinstance(m, BaseConv)}
    folded = []
    for name, conv in convs_in_call_order(model):
        weight, bias = conv.weight.detach(), conv.bias.detach() if conv.bias is not None else None
        if conv in bns:
            bn = bns[conv]
            scale = (bn.weight / (bn.running_var + bn.eps).sqrt()).detach()
            weight, bias = weight * scale[:, None, None, None], (bn.bias - bn.running_mean * scale).detach()
        folded.append(OnnxConv(name, f"{name}.weight", weight.numpy().copy(), f"{name}.bias", bias.numpy().copy(),
                               tuple(conv.stride), conv.groups, tuple(conv.padding) * 2))
    return folded


@needs_coco_onnx
def test_matches_onnxruntime_on_the_coco_export() -> None:
    ort = pytest.importorskip("onnxruntime")
    model = yolox_nano()
    load_yolox_onnx_weights(model, COCO_ONNX)
    x = images(416)
    with torch.no_grad():
        ours = model.eval()(x).numpy()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(COCO_ONNX), options, providers=["CPUExecutionProvider"])
    (theirs,) = session.run(None, {"images": x.numpy()})
    assert ours.shape == theirs.shape == (1, 3549, 85)
    assert np.abs(ours - theirs).max() < 1e-3


def test_parameter_count_is_nano_sized(nano: YOLOX) -> None:
    assert 0.88e6 < sum(p.numel() for p in nano.parameters()) < 0.93e6


@pytest.mark.parametrize(("size", "points"), [(320, 2100), (640, 8400)])
def test_output_shapes(nano: YOLOX, size: int, points: int) -> None:
    with torch.no_grad():
        levels = nano.forward_levels(images(size))
        out = nano(images(size))
    assert [tuple(level.shape) for level in levels] == [(1, 85, size // s, size // s) for s in (8, 16, 32)]
    assert out.shape == (1, points, 85)
    assert ((out[..., 4:] >= 0) & (out[..., 4:] <= 1)).all()


@pytest.mark.parametrize("class_ids", [[0], [2, 0]])
def test_keep_classes_keeps_those_scores(nano: YOLOX, class_ids: list[int]) -> None:
    x = images(SMALL)
    cut = keep_classes(copy.deepcopy(nano), class_ids)
    with torch.no_grad():
        full, kept = nano(x), cut(x)
    assert kept.shape == (1, full.shape[1], 5 + len(class_ids))
    assert cut.head.num_classes == len(class_ids)
    # equal up to float rounding: a conv with fewer output channels may take another kernel path
    torch.testing.assert_close(kept[..., :5], full[..., :5], rtol=0, atol=1e-6)
    torch.testing.assert_close(kept[..., 5:], full[..., [5 + i for i in class_ids]], rtol=0, atol=1e-6)


@pytest.mark.parametrize("class_ids", [[], [80], [0, 0], [-1]])
def test_keep_classes_rejects_bad_ids(nano: YOLOX, class_ids: list[int]) -> None:
    with pytest.raises(ValueError, match="class_ids"):
        keep_classes(copy.deepcopy(nano), class_ids)


def test_folded_weights_reproduce_the_model(nano: YOLOX) -> None:
    """Load a model's own convolutions, batch norms folded in, into a fresh model: same outputs."""
    original = copy.deepcopy(nano)
    torch.manual_seed(1)
    with torch.no_grad():
        for bn in (m for m in original.modules() if isinstance(m, torch.nn.BatchNorm2d)):  # non-trivial ones
            bn.running_mean.uniform_(-0.1, 0.1), bn.running_var.uniform_(0.5, 2.0), bn.weight.uniform_(0.5, 1.5)
    fresh = yolox_nano()
    assign_onnx_convs(fresh, folded_convs(original))
    with torch.no_grad():
        torch.testing.assert_close(fresh.eval()(images(SMALL)), original(images(SMALL)), rtol=1e-4, atol=1e-4)


def test_wrong_shape_names_the_layer_and_initializer(nano: YOLOX) -> None:
    with pytest.raises(ValueError, match=r"layer 'head\.cls_preds\.0'.*'head\.cls_preds\.0\.weight'.*\(2, 64, 1, 1\)"):
        assign_onnx_convs(yolox_nano(num_classes=2), folded_convs(nano))


@needs_coco_onnx
def test_wrong_shape_names_the_coco_initializer() -> None:
    with pytest.raises(ValueError, match=r"layer 'head\.cls_preds\.0' <- ONNX Conv_314 .*'head\.cls_preds\.0\.weight'"):
        load_yolox_onnx_weights(yolox_nano(num_classes=2), COCO_ONNX)


def test_wrong_layer_count_is_an_error(nano: YOLOX) -> None:
    with pytest.raises(ValueError, match="Conv2d layers"):
        assign_onnx_convs(nano, folded_convs(nano)[:-1])


def test_sha256_mismatch_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "other.onnx"
    path.write_bytes(b"not the export")
    with pytest.raises(ValueError, match="sha256"):
        read_onnx_convs(path, expected_sha256="0" * 64)


def test_calibrated_batchnorms_keep_eval_outputs_and_match_train_mode(nano: YOLOX) -> None:
    model, x = copy.deepcopy(nano), images(SMALL, batch=2)
    with torch.no_grad():
        before = model(x)
        calibrate_folded_batchnorms(model, [x])
        after = model(x)
        in_train_mode = model.train()(x)  # batch statistics of the calibration batch itself
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(in_train_mode, before, rtol=1e-4, atol=1e-4)


def test_decode_boxes_uses_grid_and_stride() -> None:
    points = (SMALL // 8) ** 2 + (SMALL // 16) ** 2 + (SMALL // 32) ** 2
    predictions = torch.zeros(1, points, 6)
    predictions[0, 1, :4] = torch.tensor([0.5, 0.25, np.log(2.0), 0.0])
    boxes = decode_boxes(predictions, (SMALL, SMALL))
    torch.testing.assert_close(boxes[0, 0, :4], torch.tensor([0.0, 0.0, 8.0, 8.0]))
    torch.testing.assert_close(boxes[0, 1, :4], torch.tensor([(1 + 0.5) * 8, 0.25 * 8, 16.0, 8.0]))
    torch.testing.assert_close(boxes[0, -1, :4], torch.tensor([32.0, 32.0, 32.0, 32.0]))  # stride 32, cell (1, 1)
    with pytest.raises(ValueError, match="multiple"):
        decode_boxes(predictions, (SMALL + 8, SMALL))


def test_an_export_whose_equal_tensors_are_stored_once_loads_back(tiny_detector_onnx: Path) -> None:
    # The untrained head's biases are equal on all levels: the exporter keeps one and names the rest by Identity.
    import onnxruntime as ort

    from gunwatch.models.yolox import coco_person_plus

    model = coco_person_plus(yolox_nano(), 1)
    load_yolox_onnx_weights(model, tiny_detector_onnx, expected_sha256=None)
    pixels = images(SMALL).numpy()
    (expected,) = ort.InferenceSession(str(tiny_detector_onnx)).run(None, {"images": pixels})
    with torch.no_grad():
        np.testing.assert_allclose(model.eval()(torch.from_numpy(pixels)).numpy(), expected, atol=2e-5, rtol=1e-4)


def test_a_relu_network_exports_relu_and_runs_the_same_in_onnxruntime(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    import onnx

    from gunwatch.models.yolox import coco_person_plus
    from gunwatch.training.export import export_yolox

    torch.manual_seed(0)
    model = use_activation(coco_person_plus(yolox_nano(), 1), "relu").eval()
    assert model_activation(model) == "relu"
    path = export_yolox(model, SMALL, tmp_path / "relu.onnx", ("person", "handgun"))
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("Relu") == sum(isinstance(m, BaseConv) for m in model.modules())
    assert ops.count("Sigmoid") == 1  # the head's scores only: no SiLU left
    pixels = images(SMALL).numpy()
    (exported,) = ort.InferenceSession(str(path)).run(None, {"images": pixels})
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(pixels)).numpy(), exported, atol=2e-5, rtol=1e-4)
    # The weights load back into a ReLU network as into a SiLU one: the activation holds no weights.
    again = use_activation(coco_person_plus(yolox_nano(), 1), "relu")
    load_yolox_onnx_weights(again, path, expected_sha256=None)
    with torch.no_grad():
        np.testing.assert_allclose(again.eval()(torch.from_numpy(pixels)).numpy(), exported, atol=2e-5, rtol=1e-4)


def test_the_activation_is_one_of_the_known_ones(nano: YOLOX) -> None:
    assert model_activation(nano) == "silu"
    with pytest.raises(ValueError, match="activation must be one of silu, relu, not 'gelu'"):
        use_activation(copy.deepcopy(nano), "gelu")


def test_a_blended_activation_goes_from_silu_to_relu(nano: YOLOX) -> None:
    model = copy.deepcopy(nano)
    pixels = images(SMALL)
    with torch.no_grad():
        silu = model(pixels)
        set_activation_mix(model, 0.0)
        torch.testing.assert_close(model(pixels), silu)  # mix 0: the SiLU network exactly
        assert model_activation(model) == "silu-to-relu"
        relu = use_activation(copy.deepcopy(nano), "relu")(pixels)
        set_activation_mix(model, 1.0)
        torch.testing.assert_close(model(pixels), relu)  # mix 1: the ReLU network exactly
        assert model_activation(model) == "relu"
        set_activation_mix(model, 0.5)
        x = torch.linspace(-4, 4, 9)
        torch.testing.assert_close(model.backbone.stem.conv.act(x), 0.5 * torch.nn.functional.silu(x) + 0.5 * x.relu())
    # The mix is no weight: the state dict is a plain network's.
    assert model.state_dict().keys() == nano.state_dict().keys()
