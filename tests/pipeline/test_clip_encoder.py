"""The clip encoder every camera shares: jobs in turn on one thread; a job that hangs is given up and the next
clips go to a new thread; at exit, what is not done fails rather than hang the exit."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from gunwatch.pipeline.clip_encoder import ClipEncoder, EncoderStuck
from support.waiting import wait_until

WAIT_S = 30.0


@dataclass(frozen=True)
class Event:
    """What ClipRecorder hands the encoder first: the event whose clip it is."""

    id: str
    camera: str


def hanging(event: Event, release: threading.Event, began: threading.Event) -> str:
    began.set()
    assert release.wait(WAIT_S), "the test never released the encoder"
    return f"late clip of {event.id}"


def quick(event: Event) -> str:
    return f"clip of {event.id}"


def test_jobs_run_in_turn_and_give_their_results_or_errors() -> None:
    encoder = ClipEncoder()
    try:
        def broken(event: Event) -> str:
            raise OSError("disk full")

        assert encoder.submit(quick, Event("e1", "lobby")).result(WAIT_S) == "clip of e1"
        with pytest.raises(OSError, match="disk full"):
            encoder.submit(broken, Event("e2", "lobby")).result(WAIT_S)
        assert encoder.running() is None
    finally:
        encoder.shutdown()


def test_a_hung_job_given_up_fails_its_clip_and_the_next_clips_are_written_while_it_still_hangs() -> None:
    encoder = ClipEncoder()
    release, began = threading.Event(), threading.Event()
    try:
        hung = encoder.submit(hanging, Event("e1", "lobby"), release, began)
        waiting = encoder.submit(quick, Event("e2", "yard"))
        assert began.wait(WAIT_S)
        running = encoder.running()
        assert running is not None and (running.camera, running.label) == ("lobby", "clip of event e1")
        given_up = encoder.restart("clip hung: 121 s (bound 120 s)")
        assert given_up == running and encoder.restarts == 1
        with pytest.raises(EncoderStuck, match="121 s"):
            hung.result(WAIT_S)
        assert waiting.result(WAIT_S) == "clip of e2"  # on the new thread, the old one still held
        assert encoder.restart("nothing running") is None
        release.set()  # the hung job returns: dropped, its thread ends
        assert encoder.submit(quick, Event("e3", "yard")).result(WAIT_S) == "clip of e3"
        assert wait_until(lambda: sum(t.name == "clips" for t in threading.enumerate()) == 1)
    finally:
        release.set()
        encoder.shutdown()


def test_giving_up_at_exit_fails_the_job_in_progress_the_waiting_ones_and_later_ones() -> None:
    encoder = ClipEncoder()
    release, began = threading.Event(), threading.Event()
    try:
        hung = encoder.submit(hanging, Event("e1", "lobby"), release, began)
        waiting = encoder.submit(quick, Event("e2", "yard"))
        assert began.wait(WAIT_S)
        assert encoder.give_up("not written when the watch stopped") == 2
        for future in (hung, waiting, encoder.submit(quick, Event("e3", "yard"))):
            with pytest.raises(EncoderStuck, match="watch stopped"):
                future.result(WAIT_S)
        encoder.shutdown(wait=True)  # returns: the hung thread is not waited for
    finally:
        release.set()
