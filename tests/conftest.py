"""Fixtures shared across the test folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gunwatch.events.store import EventStore

# The browser fixture, defined once: Playwright's sync API runs once at a time per thread.
from support.browser import browser_fixture  # noqa: F401
from support.ports import refusing_port

# One PostgreSQL server for the whole session: a fixture imported into several conftest files would be
# several fixtures, and each would start a server of its own.
from support.postgres import postgres_server, postgres_url  # noqa: F401

# Store tests run on both backends: a SQLite file and a real PostgreSQL server on loopback.
BACKENDS = ["sqlite", "postgresql"]
TINY_INPUT_SIZE = 64
TINY_THRESHOLD = 0.25


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store: a new SQLite file, or a new database on the session's PostgreSQL server. A test whose
    point is not the database narrows it: `@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)`."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    with EventStore(store_url) as opened:
        yield opened


@pytest.fixture
def one_thread():
    """Torch on one thread: small graphs run no faster on more, and the results do not depend on the count."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


# The full data set and the COCO weights live beside the checkout (../shared); a user's machine may not have them.
SHARED = Path(__file__).resolve().parents[2] / "shared"
PISTOL_DATA = SHARED / "datasets" / "PistolData_merged"
COCO_WEIGHTS = SHARED / "weights" / "yolox_nano_coco.onnx"


@pytest.fixture(scope="session")
def pistol_data() -> Path:
    if not (PISTOL_DATA / "pistol_images").is_dir():
        pytest.skip(f"full data set not found at {PISTOL_DATA}")
    return PISTOL_DATA


@pytest.fixture(scope="session")
def coco_weights() -> Path:
    if not COCO_WEIGHTS.is_file():
        pytest.skip(f"COCO YOLOX-Nano weights not found at {COCO_WEIGHTS}")
    return COCO_WEIGHTS


TINY_DETECTOR_SIDE = 128


@pytest.fixture(scope="session")
def tiny_detector():
    """A seeded, untrained person + handgun YOLOX-Nano with batch-norm statistics from random images.

    Untrained scores sit at the 1 % prior, under the runtime's floor, so its biases are lifted to 0.5:
    every run then produces detections for NMS, tiling and the reports to work on.
    """
    torch = pytest.importorskip("torch")
    from gunwatch.models.yolox import coco_person_plus, yolox_nano
    from gunwatch.models.yolox.onnx_weights import calibrate_folded_batchnorms

    torch.manual_seed(0)
    model = coco_person_plus(yolox_nano(), 1)
    calibrate_folded_batchnorms(model, [torch.rand(4, 3, TINY_DETECTOR_SIDE, TINY_DETECTOR_SIDE) * 255])
    model.head.initialize_biases(prior_prob=0.5)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_detector_onnx(tiny_detector, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tiny_detector` exported with export_yolox: default side 128, free batch and size, threshold 0.4."""
    pytest.importorskip("onnx")
    from gunwatch.training.detector_data import DETECTOR_CLASSES
    from gunwatch.training.export import export_yolox

    path = tmp_path_factory.mktemp("tiny_detector") / "tiny-nano.onnx"
    return export_yolox(tiny_detector, TINY_DETECTOR_SIDE, path, DETECTOR_CLASSES, {"gunwatch.threshold": "0.4"})


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port where connections are refused, held for the test (support/ports.py)."""
    with refusing_port() as port:
        yield port
