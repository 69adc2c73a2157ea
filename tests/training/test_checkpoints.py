"""Checkpoints load without running code: plain values only, anything else refused on save and on load."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import BaseModel

from gunwatch.training.checkpoints import CheckpointError, load_checkpoint, save_checkpoint


class MakesAFolder:
    """What a hostile checkpoint carries: unpickling it calls os.mkdir (it could as well call os.system)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.target),)


def test_a_checkpoint_carrying_a_pickled_object_is_refused_and_its_code_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    hostile = tmp_path / "shared-run.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "epoch": 3, "extra": MakesAFolder(marker)}, hostile)
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint(hostile)
    assert str(hostile) in str(refused.value) and "mkdir" in str(refused.value)
    assert not marker.exists()


class TrainSettings(BaseModel):
    out: Path
    lr: float


def test_numpy_values_paths_and_configs_are_saved_as_plain_values(tmp_path: Path) -> None:
    network = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    state = {
        "model": network.state_dict(),
        "epoch": np.int64(4),
        "history": [{"epoch": 1, "val_map": np.float64(0.25), "curve": np.arange(3, dtype=np.float32)}],
        "config": TrainSettings(out=tmp_path / "run", lr=0.01),
        "betas": (0.9, np.float32(0.999)),
        "folder": tmp_path,
    }
    save_checkpoint(tmp_path / "last.pt", state)
    loaded = load_checkpoint(tmp_path / "last.pt")
    assert type(loaded["epoch"]) is int and loaded["epoch"] == 4
    assert type(loaded["history"][0]["val_map"]) is float and loaded["history"][0]["val_map"] == 0.25
    assert torch.equal(loaded["history"][0]["curve"], torch.tensor([0.0, 1.0, 2.0]))
    assert loaded["config"] == {"out": str(tmp_path / "run"), "lr": 0.01}
    assert loaded["betas"] == (0.9, pytest.approx(0.999)) and loaded["folder"] == str(tmp_path)
    assert isinstance(loaded["model"], OrderedDict) and loaded["model"]._metadata == network.state_dict()._metadata
    network.load_state_dict(loaded["model"])


def test_a_value_that_cannot_load_safely_is_refused_when_saving(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"checkpoint\['history'\]\[0\]\['note'\]: a MakesAFolder"):
        save_checkpoint(tmp_path / "last.pt", {"history": [{"note": MakesAFolder(tmp_path / "x")}]})
    assert not (tmp_path / "last.pt").exists() and not (tmp_path / "last.partial").exists()

