"""The live alarm threshold travels in the model file, apart from the image-level one."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from gunwatch.inference.alarm_threshold import ALARM_THRESHOLD_KEY, alarm_threshold, alarm_threshold_measured
from gunwatch.inference.loading import SHIPPED_DETECTOR, load_detector
from gunwatch.inference.onnx_session import ModelError
from gunwatch.pipeline.analysis import FrameAnalyzer


def model_with(tmp_path: Path, value: str | None) -> Path:
    path = tmp_path / "model.onnx"
    model = onnx.load(str(SHIPPED_DETECTOR))
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != ALARM_THRESHOLD_KEY]
    del model.metadata_props[:]
    for key, text in kept + ([(ALARM_THRESHOLD_KEY, value)] if value is not None else []):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, text
    onnx.save(model, str(path))
    return path


def test_a_model_without_one_alarms_at_its_image_threshold(tmp_path: Path) -> None:
    detector = load_detector(model_with(tmp_path, None))
    assert alarm_threshold(detector) == detector.threshold
    assert not alarm_threshold_measured(detector)  # `watch` names the cameras that alarm at it


def test_the_live_pipeline_confirms_at_the_alarm_threshold(tmp_path: Path) -> None:
    detector = load_detector(model_with(tmp_path, "0.55"))
    assert alarm_threshold(detector) == 0.55 != detector.threshold
    assert alarm_threshold_measured(detector)
    assert FrameAnalyzer(detector, 416).threshold == 0.55


def test_the_second_look_and_tiles_keep_the_alarm_threshold(tmp_path: Path) -> None:
    # `detect`, `eval` and `bench` wrap the model in the second look and tiling; neither changes its scores.
    detector = load_detector(model_with(tmp_path, "0.55"), second_look=True, tiles="on")
    assert alarm_threshold(detector) == 0.55 != detector.threshold
    assert alarm_threshold_measured(detector)


def test_a_value_that_is_not_a_number_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model\.onnx: metadata 'gunwatch\.alarm_threshold' is not a number"):
        alarm_threshold(load_detector(model_with(tmp_path, "high")))

