"""Fixtures shared across the test folders."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_INPUT_SIZE = 64
TINY_THRESHOLD = 0.25


@pytest.fixture(scope="session")
def tiny_localizer():
    """A seeded, untrained torch Localizer (width 0.35: small and fast), in eval mode.

    With PyTorch's default initialisation the activations vanish through the ~50 layers and every image
    gets the same output, which would let a broken export or preprocessing pass unnoticed. Its BatchNorm
    statistics are therefore set from a few random batches, so its outputs depend on its input.
    """
    torch = pytest.importorskip("torch")
    from gunwatch.models.localizer import Localizer

    torch.manual_seed(0)
    model = Localizer(width_mult=0.35)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(8, 3, TINY_INPUT_SIZE, TINY_INPUT_SIZE))
    return model.eval()


@pytest.fixture(scope="session")
def tiny_localizer_onnx(tiny_localizer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_localizer` exported with export_localizer: input 64x64, threshold 0.25 in the metadata."""
    pytest.importorskip("onnx")
    from gunwatch.training.export import export_localizer

    path = tmp_path_factory.mktemp("tiny_localizer") / "tiny-localizer.onnx"
    return export_localizer(tiny_localizer, TINY_INPUT_SIZE, path, {"gunwatch.threshold": str(TINY_THRESHOLD)})


# The full data set lives beside the checkout (../shared); a user's machine may not have it.
PISTOL_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "PistolData_merged"


@pytest.fixture(scope="session")
def pistol_data() -> Path:
    if not (PISTOL_DATA / "pistol_images").is_dir():
        pytest.skip(f"full data set not found at {PISTOL_DATA}")
    return PISTOL_DATA
