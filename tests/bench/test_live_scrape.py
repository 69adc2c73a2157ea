"""Reading every camera's counters off /metrics as the watch writes it, and the bench's metrics token."""

from __future__ import annotations

from gunwatch.bench.live_scrape import CameraCount, metrics_token, parse_camera_counts
from gunwatch.events.store import EventStore
from gunwatch.service.live import CameraLive
from gunwatch.users.store import UserStore
from gunwatch.web.metrics import metrics_text


class Cameras:
    """A LiveView with fixed rows: what a running watch would show."""

    def __init__(self, rows: list[CameraLive]) -> None:
        self.rows = rows

    def cameras(self) -> list[CameraLive]:
        return self.rows

    def frame_jpeg(self, camera: str) -> tuple[bytes, float] | None:
        return None


def live(camera: str, frames_in: int, analysed: int, still: int, infer_ms: float) -> CameraLive:
    return CameraLive(camera, "online", "", 15.0, 2.0, frames_in, frames_in - analysed - still, analysed, still,
                      infer_ms, 0.1, 0.6, 3, 0)


def test_each_cameras_counters_come_from_the_watchs_own_metrics_page(tmp_path) -> None:
    with EventStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        page = metrics_text(store, Cameras([live("dock", 900, 120, 180, 41.5), live("gate", 450, 0, 150, 0.0)]))
    counts = parse_camera_counts(page.decode())
    assert counts == {"dock": CameraCount(900, 600, 120, 180, 3, 41.5), "gate": CameraCount(450, 300, 0, 150, 3, 0.0)}
    assert counts["dock"].sampled == 300


def test_a_camera_missing_a_counter_is_left_out() -> None:
    page = 'gunwatch_camera_frames_in_total{camera="dock"} 5.0\n'
    assert parse_camera_counts(page) == {}


def test_the_bench_token_reads_cameras(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    token = metrics_token(url)
    with EventStore(url) as store:
        principal = UserStore(store).token_principal(token)
    assert principal is not None and "cameras:read" in principal.scopes
    assert metrics_token(url) != token  # a second run adds its own user and token
