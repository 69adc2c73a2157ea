"""The train and val images every method of the lineage learns from: the same split, cut short for tests."""

from __future__ import annotations

from gunwatch.data.layouts import read_dataset
from gunwatch.data.records import ImageRecord
from gunwatch.data.split import load_split
from gunwatch.training.lineage.base_config import LineageTrainConfig


def split_records(config: LineageTrainConfig) -> tuple[list[ImageRecord], list[ImageRecord]]:
    """(train, val) records of the config's split, the first `max_train_images` / `max_val_images` of each."""
    dataset = read_dataset(config.data)
    split = load_split(config.split)
    train = split.select(dataset, "train")[: config.max_train_images]
    val = split.select(dataset, "val")[: config.max_val_images]
    return train, val
