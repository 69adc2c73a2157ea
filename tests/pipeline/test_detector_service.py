"""The shared detector service: frames from many threads, batched, answered each by its own future."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.pipeline.analysis import AnalysisRequest, FrameAnalyzer
from gunwatch.pipeline.detector_service import Analysed, DetectorClosed, DetectorService, DetectorStuck
from support.waiting import wait_until


class Brightness:
    """A stand-in model: one box per picture scored by its brightness, so each answer names its frame. A
    picture of brightness 0 waits for `release` first (a call the test holds); 255 makes the call fail."""

    name, class_names, threshold = "brightness", ("person", "handgun"), 0.5

    def __init__(self) -> None:
        self.release = threading.Event()
        self.held = threading.Event()
        self.calls: list[int] = []  # pictures per call
        self.threads: list[str] = []

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        self.calls.append(len(images))
        self.threads.append(threading.current_thread().name)
        values = [int(image[0, 0, 0]) for image in images]
        if 0 in values:
            self.held.set()
            assert self.release.wait(30), "the test never released the call"
        if 255 in values:
            raise RuntimeError("the runtime failed")
        return [Detections([[1, 1, 5, 5]], [value / 255], [1]) for value in values]


def frame(value: int) -> AnalysisRequest:
    return AnalysisRequest(np.full((24, 32, 3), value, np.uint8), tiles="off")


def score(future: Future[Analysed]) -> float:
    return round(float(future.result(timeout=30).detections.scores[0]) * 255)


def test_frames_waiting_while_the_detector_is_busy_go_in_one_call_and_each_gets_its_own_answer() -> None:
    model = Brightness()
    service = DetectorService(FrameAnalyzer(model, 32), workers=1, max_batch=4).start()
    try:
        first = service.submit("a", frame(0))  # held in the detector
        assert model.held.wait(30)
        futures = {camera: service.submit(camera, frame(value)) for camera, value in (("b", 10), ("c", 20),
                                                                                       ("d", 30), ("e", 40))}
        model.release.set()
        assert {camera: score(f) for camera, f in futures.items()} == {"b": 10, "c": 20, "d": 30, "e": 40}
        assert score(first) == 0
        assert model.calls == [1, 4]  # the four that waited: one call (a full batch)
        answer = futures["b"].result()
        assert answer.batch_size == 4 and answer.share_s == pytest.approx(answer.call_s / 4)
    finally:
        model.release.set()
        service.close()


def test_a_failing_call_fails_only_its_own_frames() -> None:
    model = Brightness()
    service = DetectorService(FrameAnalyzer(model, 32), workers=1, max_batch=1).start()
    try:
        bad = service.submit("a", frame(255))
        with pytest.raises(RuntimeError, match="runtime failed"):
            bad.result(timeout=30)
        assert score(service.submit("b", frame(60))) == 60  # the service goes on
    finally:
        service.close()


def test_closing_fails_the_frames_still_waiting_and_refuses_new_ones() -> None:
    model = Brightness()
    service = DetectorService(FrameAnalyzer(model, 32), workers=1, max_batch=1).start()
    running = service.submit("a", frame(0))
    assert model.held.wait(30)
    waiting = service.submit("b", frame(50))
    closer = threading.Thread(target=service.close)
    closer.start()
    with pytest.raises(DetectorClosed):
        waiting.result(timeout=30)  # failed at once, while the running call is still held
    assert not running.done()
    model.release.set()
    closer.join(30)
    assert score(running) == 0  # a running call finishes
    with pytest.raises(DetectorClosed):
        service.submit("a", frame(70))


def test_the_synchronous_service_answers_on_the_callers_thread() -> None:
    model = Brightness()
    service = DetectorService(FrameAnalyzer(model, 32), workers=0)
    future = service.submit("a", frame(90))
    assert future.done() and score(future) == 90
    assert model.threads == [threading.current_thread().name]
    with pytest.raises(ValueError, match="workers"):
        DetectorService(FrameAnalyzer(model, 32), workers=-1)


def test_a_hung_call_given_up_fails_its_frames_and_a_new_worker_serves_the_next_ones_while_it_still_hangs() -> None:
    model = Brightness()
    service = DetectorService(FrameAnalyzer(model, 32), workers=1, max_batch=1).start()
    try:
        hung = service.submit("a", frame(0))
        assert model.held.wait(30)
        [call] = service.running()
        assert call.cameras == ("a",) and service.running() == [call]
        assert service.abandon(call.id, "detector call hung: 61 s (bound 60 s)")
        with pytest.raises(DetectorStuck, match="61 s"):
            hung.result(timeout=30)
        assert service.running() == [] and service.abandoned == 1
        assert score(service.submit("a", frame(70))) == 70  # its camera goes on, on the new worker
        assert model.threads == ["detect-1", "detect-2"]
        assert not service.abandon(call.id, "again")  # given up once
        model.release.set()  # the hung call returns: its answer is dropped, its thread ends
        assert score(service.submit("b", frame(80))) == 80
        assert service.running() == []
    finally:
        model.release.set()
        service.close(timeout=30)
    # The abandoned worker ended once its call returned (closing did not wait for it).
    assert wait_until(lambda: not any(t.name in ("detect-1", "detect-2") for t in threading.enumerate()))
