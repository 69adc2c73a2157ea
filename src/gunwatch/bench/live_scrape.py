"""Every camera's live counters, read the way a site's monitoring reads them: the watch's own /metrics.

One process and a cluster's head serve the same /metrics (the head asks every node's agent at scrape time), so
both modes are measured through one door. It needs a token: `metrics_token` adds a user and a `cameras:read`
token to the store (a scratch database: the bench's store).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gunwatch.events.store import EventStore

SCRAPE_TIMEOUT_S = 60.0  # one request; a loaded head answers in seconds
# /metrics sample name -> CameraCount field
COUNTERS = {"gunwatch_camera_frames_in_total": "frames_in", "gunwatch_camera_frames_dropped_total": "dropped",
            "gunwatch_camera_frames_analysed_total": "analysed", "gunwatch_camera_frames_still_total": "still",
            "gunwatch_camera_events_total": "events", "gunwatch_camera_inference_ms": "infer_ms"}


@dataclass(frozen=True)
class CameraCount:
    """One camera's counters since its watch started (infer_ms: the recent mean detector time per analysed frame,
    a gauge)."""

    frames_in: int = 0  # decoded
    dropped: int = 0  # decoded, replaced by a newer frame before it was sampled
    analysed: int = 0  # sampled and run through the detector
    still: int = 0  # sampled and skipped by the motion gate
    events: int = 0
    infer_ms: float = 0.0

    @property
    def sampled(self) -> int:
        return self.analysed + self.still


def parse_camera_counts(text: str) -> dict[str, CameraCount]:
    """camera -> its counters, from a /metrics page; a camera without every counter is left out."""
    values: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            field = COUNTERS.get(sample.name)
            if field is not None and "camera" in sample.labels:
                values.setdefault(sample.labels["camera"], {})[field] = sample.value
    return {camera: CameraCount(**{field: (value if field == "infer_ms" else int(value))
                                   for field, value in fields.items()})
            for camera, fields in values.items() if len(fields) == len(COUNTERS)}


def metrics_token(store_url: str) -> str:
    """A new user (operator) and a cameras:read token for it in the store; the token's text."""
    from gunwatch.users.store import UserStore

    name = f"gunwatch-bench-{secrets.token_hex(4)}"
    store = EventStore(store_url)
    try:
        users = UserStore(store)
        users.add_user(name, "operator", secrets.token_urlsafe(24))
        return users.create_token(name, name, ["cameras:read"])
    finally:
        store.close()


class Scraper:
    """GET http://127.0.0.1:PORT/metrics with the token; `cameras` asked again until every named camera is in
    one answer (a cluster agent slow to answer is left out of that scrape)."""

    def __init__(self, port: int, token: str) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.headers = {"Authorization": f"Bearer {token}"}

    def once(self) -> tuple[float, dict[str, CameraCount]]:
        """(when: the request's midpoint, wall clock; the counters)."""
        sent = time.time()
        response = httpx.get(self.url, headers=self.headers, timeout=SCRAPE_TIMEOUT_S)
        response.raise_for_status()
        return (sent + time.time()) / 2, parse_camera_counts(response.text)

    def cameras(self, names: Iterable[str], timeout_s: float) -> tuple[float, dict[str, CameraCount]]:
        wanted, deadline = set(names), time.monotonic() + timeout_s
        while True:
            try:
                at, counts = self.once()
                if wanted <= set(counts):
                    return at, {name: counts[name] for name in sorted(wanted)}
                missing = sorted(wanted - set(counts))
            except httpx.HTTPError as error:
                missing = [f"no answer ({error})"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.url} did not show every camera within {timeout_s:g} s; "
                                   f"missing: {', '.join(missing)}")
            time.sleep(0.5)
