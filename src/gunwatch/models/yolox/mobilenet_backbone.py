"""ImageNet MobileNetV2 as a YOLOX backbone (issue 11 item 6: a bigger network where it pays).

Nano's CSPDarknet starts from COCO; the only other weights available offline are ImageNet classifiers, whose
features already tell a revolver from a hair dryer. MobileNetV2 (Sandler et al. 2018) is also made of ReLU6
convolutions, which ONNX Runtime's INT8 kernels fold into the convolution before them, where Nano's SiLU stays
two INT8 operations of its own (models/gunwatch-nano.md, "ReLU instead of SiLU").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gunwatch.models.localizer import IMAGENET_MEAN, IMAGENET_STD
from gunwatch.models.mobilenet_v2 import MobileNetV2Features
from gunwatch.models.yolox.blocks import BaseConv

# MobileNetV2's feature layers end at stride 8, 16 and 32 after these layers (32, 96 and 320 channels);
# layer 18, the 1x1 to 1280 channels, feeds ImageNet's classifier and is left out.
TAPS = (6, 13, 17)
TAP_CHANNELS = (32, 96, 320)
# Projected to Nano's backbone widths, so Nano's neck and head take them unchanged.
OUT_CHANNELS = (64, 128, 256)
# Layers 0-6 run at strides 2-8 on the full input, where backprop costs the most on a CPU; ImageNet's edges and
# textures there serve as they are (measured: a training step 4.5x Nano's with them trained, 1.7x frozen).
DEFAULT_FROZEN_LAYERS = 7


class MobileNetV2Pyramid(nn.Module):
    """BGR pixel values 0..255 (what every YOLOX here takes) -> (stride 8, 16, 32) features of OUT_CHANNELS.

    The first `frozen_layers` feature layers keep their ImageNet weights and batch-norm statistics in training.
    `relu6=False` swaps ImageNet's ReLU6 for ReLU, for a network fine-tuned so: INT8 equalisation
    (inference/equalize.py) may rescale a ReLU's channels but not a ReLU6's, whose ceiling of 6 is one number
    for all of them.
    """

    def __init__(self, frozen_layers: int = DEFAULT_FROZEN_LAYERS, relu6: bool = True):
        super().__init__()
        if not 0 <= frozen_layers <= TAPS[-1] + 1:
            raise ValueError(f"frozen_layers must be 0..{TAPS[-1] + 1}, not {frozen_layers}")
        # ImageNet's normalisation inside the network, so the runtime feeds it as it feeds Nano.
        self.register_buffer("mean", 255 * torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", 255 * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.features = MobileNetV2Features().features[: TAPS[-1] + 1]
        if not relu6:
            replace_relu6(self.features)
        self.laterals = nn.ModuleList(BaseConv(c, out, 1) for c, out in zip(TAP_CHANNELS, OUT_CHANNELS, strict=True))
        self.out_channels = OUT_CHANNELS
        self.frozen_layers = frozen_layers
        for parameter in self.features[:frozen_layers].parameters():
            parameter.requires_grad_(False)

    def load_imagenet(self, state: dict[str, Tensor]) -> None:
        """MobileNetV2Features' ImageNet state dict (keys `features.N.…`); the classifier's layer 18 is skipped."""
        kept = {key: value for key, value in state.items() if int(key.split(".")[1]) <= TAPS[-1]}
        missing, unexpected = self.load_state_dict(kept, strict=False)
        if unexpected or any(key.startswith("features.") for key in missing):
            raise ValueError(f"ImageNet MobileNetV2 weights do not fit: missing {missing}, unexpected {unexpected}")

    def train(self, mode: bool = True) -> MobileNetV2Pyramid:
        super().train(mode)
        self.features[: self.frozen_layers].eval()  # frozen layers keep ImageNet's batch-norm statistics
        return self

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = (images.flip(1) - self.mean) / self.std  # BGR -> RGB, as ImageNet's weights expect
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAPS:
                taps.append(x)
        return tuple(lateral(tap) for lateral, tap in zip(self.laterals, taps, strict=True))


def replace_relu6(module: nn.Module) -> None:
    """Every ReLU6 under `module` becomes a ReLU, in place (the weights stay)."""
    for name, child in module.named_children():
        if isinstance(child, nn.ReLU6):
            setattr(module, name, nn.ReLU(inplace=True))
        else:
            replace_relu6(child)
