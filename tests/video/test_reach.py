"""`config check --reach` for cameras: a real RTSP camera and a file give a frame; a missing file, a closed
port and a silent server fail with the reason, the URL's password hidden; one bad camera stops no other."""

from __future__ import annotations

from pathlib import Path

from gunwatch.config.camera import Camera
from gunwatch.video.reach import reach_camera, reach_cameras
from support.rtsp_server import RtspServer, rtsp_server_fixture  # noqa: F401 - provides `rtsp_server`
from support.silent_server import SilentServer
from support.videos import write_video


def test_a_file_camera_gives_a_frame(tmp_path: Path) -> None:
    clip = write_video(tmp_path / "lobby.mp4", frames=5, size=(160, 120))
    result = reach_camera("lobby", Camera(url=str(clip)), timeout_s=10)
    assert (result.what, result.name, result.ok, result.target) == ("camera", "lobby", True, str(clip))
    assert result.detail.startswith("decoded a 160x120 frame in ")


def test_the_frame_size_is_the_upright_pictures(tmp_path: Path) -> None:
    # A phone's portrait clip (stored 120 x 160, shown 160 x 120), on a camera set to turn it a quarter more.
    import numpy as np

    from support.videos import write_phone_clip

    clip = write_phone_clip(tmp_path / "phone.mp4", np.zeros((120, 160, 3), np.uint8), -90, frames=2)
    assert reach_camera("phone", Camera(url=str(clip)), timeout_s=10).detail.startswith("decoded a 160x120 frame")
    turned = reach_camera("phone", Camera(url=str(clip), rotate=90), timeout_s=10)
    assert turned.detail.startswith("decoded a 120x160 frame")


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    result = reach_camera("gate", Camera(url=str(tmp_path / "gone.mp4")), timeout_s=10)
    assert result.ok is False and result.detail == "no such file or directory"


def test_an_rtsp_camera_gives_a_frame(rtsp_server: RtspServer) -> None:
    result = reach_camera("street", Camera(url=rtsp_server.url), timeout_s=10)
    assert result.ok is True and result.detail.startswith("decoded a 320x240 frame")


def test_one_bad_camera_stops_no_other_and_passwords_stay_hidden(
        tmp_path: Path, rtsp_server: RtspServer, refused_port: int) -> None:
    clip = write_video(tmp_path / "lobby.mp4", frames=5)
    cameras = {
        "refused": Camera(url=f"rtsp://admin:hunter2@127.0.0.1:{refused_port}/Streaming/101"),
        "missing": Camera(url=str(tmp_path / "gone.mp4")),
        "street": Camera(url=rtsp_server.url),
        "lobby": Camera(url=str(clip)),
    }
    results = reach_cameras(cameras, timeout_s=30)  # a bound for the good ones on a busy machine, not a wait
    assert [(r.name, r.ok) for r in results] == [("refused", False), ("missing", False), ("street", True),
                                                 ("lobby", True)], results
    refused = results[0]
    assert refused.detail == "connection refused"
    assert "hunter2" not in refused.target and refused.target.startswith("rtsp://admin:***@127.0.0.1:")


def test_a_silent_camera_fails_within_the_timeout_without_its_password() -> None:
    with SilentServer() as silent:
        [result] = reach_cameras({"silent": Camera(url=f"rtsp://admin:hunter2@127.0.0.1:{silent.port}/live")},
                                 timeout_s=1)
    assert result.ok is False and result.detail  # FFmpeg's timeout, or ours: either way a reason, never a hang
    assert "hunter2" not in f"{result.target} {result.detail}"
