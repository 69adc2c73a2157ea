"""The ImageNet networks a gun verifier can be made from (`models.gun_verifier`), named without importing torch:
training configs name them, and their readers may not have torch."""

from __future__ import annotations

from typing import Literal

Backbone = Literal["mobilenet_v2", "efficientnet_lite0"]
