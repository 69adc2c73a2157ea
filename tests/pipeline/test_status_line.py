"""The live status: a restarts column and the top gun score per camera, and the watchdog's line under the table."""

from __future__ import annotations

from collections import Counter

from gunwatch.pipeline.status_line import status_text, watchdog_text
from gunwatch.pipeline.watch import CameraStatus
from gunwatch.pipeline.watchdog import Liveness


def test_each_camera_shows_the_watchdogs_restarts() -> None:
    rows = [CameraStatus("lobby", "online", "receiving 640x360 frames", 120, 3, 100, 10, 21.5, 1, 2),
            CameraStatus("yard", "stalled", "detector call hung", 50, 0, 40, 0, 30.0, 0)]
    header, lobby, yard = status_text(rows).splitlines()
    assert header.split()[-2:] == ["restarts", "reason"]
    assert lobby.split()[9] == "2" and yard.split()[9] == "0"


def test_each_camera_shows_its_top_gun_score_of_the_last_seconds_beside_its_threshold() -> None:
    rows = [CameraStatus("lobby", "online", "", 120, 3, 100, 10, 21.5, 0, 0, top_score=0.423, threshold=0.5),
            CameraStatus("yard", "online", "", 50, 0, 40, 0, 30.0, 1, 0, top_score=0.91, threshold=0.65)]
    header, lobby, yard = status_text(rows).splitlines()
    column = header.split().index("gun/thr") - 2  # "frames in" and "infer ms" are two words each
    assert (lobby.split()[column], yard.split()[column]) == ("0.42/0.50", "0.91/0.65")


def test_the_watchdog_line_says_whether_the_watch_lives_and_what_it_restarted() -> None:
    assert watchdog_text(Liveness(True), Counter(), Counter()) == "watchdog: ok; restarted: nothing"
    restarts = Counter({"reader": 1, "detector call": 2, "delivery": 3})
    line = watchdog_text(Liveness(False, ("camera yard: its analysis thread has not moved for 70 s",)), restarts,
                         Counter({"email": 3}))
    assert line == ("watchdog: STUCK: camera yard: its analysis thread has not moved for 70 s; restarted: "
                    "detector calls 2, readers 1, deliveries on email 3")
