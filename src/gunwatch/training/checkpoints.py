"""Checkpoints are plain dicts: model, optimiser, scheduler, epoch, history, config.

They are loaded with `torch.load(weights_only=True)`: a checkpoint may come from someone else (a shared run,
a download), and a full unpickle runs whatever function the file names. So a checkpoint holds only what
that loader accepts: tensors, numbers, strings, booleans, None, and dicts, lists and tuples of them.
`save_checkpoint` turns numpy scalars and arrays, paths and pydantic configs into those, and refuses
anything else. Checkpoints written before this rule (runs/detector-cameras) hold only such values already
and load and resume as they are.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

_PLAIN = (bool, int, float, str, type(None))


class CheckpointError(ValueError):
    """A checkpoint that cannot be saved or loaded safely; the message names the file or the value."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    # Write then rename, so a run killed mid-save keeps its previous checkpoint.
    partial = path.with_suffix(".partial")
    torch.save(plain(state), partial)
    partial.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's dict; CheckpointError when the file holds anything but plain values (its pickle
    names a function or class to call), which is never run."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        detail = next((line for line in str(error).splitlines() if "GLOBAL" in line), "").strip()
        raise CheckpointError(
            f"{path}: refused: it holds more than tensors, numbers, strings, lists and dicts, and loading it "
            f"would run code it names{f' ({detail})' if detail else ''}. Checkpoints gunwatch writes never do: "
            "make it again with `gunwatch train`"
        ) from None


def plain(value: Any, where: str = "checkpoint") -> Any:
    """`value` as only the types `weights_only` loading accepts; CheckpointError naming the key otherwise."""
    if type(value) in _PLAIN or isinstance(value, torch.Tensor | torch.dtype | torch.device):
        return value
    if isinstance(value, np.generic):  # np.float64 is a float subclass, but pickles as a numpy object
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, OrderedDict):  # a state_dict: kept with its `_metadata` (module versions)
        copy = OrderedDict((key, plain(item, f"{where}[{key!r}]")) for key, item in value.items())
        if hasattr(value, "_metadata"):
            copy._metadata = value._metadata  # type: ignore[attr-defined]
        return copy
    if isinstance(value, dict):
        return {_key(key, where): plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    raise CheckpointError(f"{where}: a {type(value).__name__} cannot go into a checkpoint (tensors, numbers, "
                          "strings, lists and dicts only: they load without running code)")


def _key(key: Any, where: str) -> str | int:
    if type(key) in (str, int):
        return key
    if isinstance(key, np.integer):
        return int(key)
    raise CheckpointError(f"{where}: a key of type {type(key).__name__} ({key!r}); keys are strings or integers")
