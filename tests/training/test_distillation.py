"""Distillation: the loss is zero where the student gives the teacher's outputs, and pulls it toward them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from gunwatch.models.yolox import coco_person_plus, yolox_nano  # noqa: E402
from gunwatch.models.yolox.blocks import use_activation  # noqa: E402
from gunwatch.models.yolox.model import onnx_activation  # noqa: E402
from gunwatch.training.distillation import distillation_loss, flat_outputs, load_teacher  # noqa: E402
from gunwatch.training.export import export_yolox  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def levels(seed: int, batch: int = 2, channels: int = 7) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, channels, side, side, generator=generator) * 3 for side in (8, 4, 2)]


def test_the_loss_is_zero_where_the_student_answers_as_the_teacher_and_positive_elsewhere() -> None:
    teacher = levels(0)
    same = distillation_loss(teacher, teacher)
    assert float(same["distill"]) == pytest.approx(0.0, abs=1e-5)
    other = distillation_loss(levels(1), teacher)
    assert float(other["distill_obj"]) > 0 and float(other["distill_cls"]) > 0 and float(other["distill_box"]) > 0
    assert float(other["distill"]) == pytest.approx(
        float(other["distill_obj"] + other["distill_cls"] + other["distill_box"]), rel=1e-5)


def test_gradient_steps_move_the_student_toward_the_teacher() -> None:
    teacher = levels(0)
    student = [level.clone().requires_grad_(True) for level in levels(1)]
    optimizer = torch.optim.SGD(student, lr=20.0)  # the loss is divided by the teacher's object count
    first = None
    for _ in range(100):
        loss = distillation_loss(student, teacher)["distill"]
        first = float(loss) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(distillation_loss(student, teacher)["distill"]) < 0.5 * first
    # Where the teacher sees an object the box follows it; where it sees none, the box is free.
    s, t = flat_outputs([x.detach() for x in student]), flat_outputs(teacher)
    sure = torch.sigmoid(t[..., 4]) > 0.9
    unsure = torch.sigmoid(t[..., 4]) < 0.01
    gap = (s[..., :4] - t[..., :4]).abs().mean(dim=-1)
    assert float(gap[sure].mean()) < float(gap[unsure].mean())


def test_the_teacher_computes_what_its_file_computes(tiny_detector_onnx: Path) -> None:
    import onnxruntime as ort

    assert onnx_activation(tiny_detector_onnx) == "silu"
    teacher = load_teacher(tiny_detector_onnx, coco_person_plus(yolox_nano(), 1))
    assert not any(p.requires_grad for p in teacher.parameters())
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 3, 64, 64)).astype(np.float32)
    (expected,) = ort.InferenceSession(str(tiny_detector_onnx)).run(None, {"images": pixels})
    with torch.no_grad():
        np.testing.assert_allclose(teacher(torch.from_numpy(pixels)).numpy(), expected, atol=2e-4, rtol=1e-3)


def test_a_relu_export_is_told_from_a_silu_one(tmp_path: Path) -> None:
    relu = use_activation(coco_person_plus(yolox_nano(), 1), "relu")
    assert onnx_activation(export_yolox(relu, 64, tmp_path / "relu.onnx", ("person", "handgun"))) == "relu"
