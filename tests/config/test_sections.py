"""The site-wide sections: defaults that make a one-camera file complete, and their bounds."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from gunwatch.inference.person_crops import SecondLookParams

ONE_CAMERA = "cameras: {lobby: {url: a.mp4}}\n"


def test_defaults(parse) -> None:
    config = parse(ONE_CAMERA)
    assert config.detector.model_dump(exclude={"second_look"}) == {
        "model": None, "threads": None, "parallel": None, "input_size": None, "max_input_size": 640, "max_batch": 8,
        "flip": False, "verifier": "auto"}
    # The site file's defaults are the runtime's own (the runtime has two more, fixed geometry).
    runtime = asdict(SecondLookParams())
    assert config.detector.second_look.model_dump().items() <= runtime.items()
    assert set(runtime) - set(config.detector.second_look.model_dump()) == {"top", "bottom"}
    assert config.confirmation.model_dump() == {"window": 5, "min_hits": 3, "quick_margin": 0.05, "quick_window": 3,
                                                "quick_hits": 2, "close_after_s": 10.0}
    assert config.motion.model_dump() == {"enabled": True, "forced_check_s": 2.0, "gun_hold_score": 0.5}
    assert config.evidence.model_dump() == {
        "folder": Path("runs/evidence"), "pre_roll_s": 5.0, "post_roll_s": 5.0, "alert_wait_s": 0.5}
    assert config.store.url == "sqlite:///runs/gunwatch.db"
    assert config.health.stall_after_s == 10.0
    assert (config.health.reconnect.initial_s, config.health.reconnect.max_s) == (1.0, 30.0)


def test_every_section_set(parse) -> None:
    config = parse(ONE_CAMERA + """
        detector: {model: models/other.onnx, threads: 2, input_size: 320, max_input_size: null, max_batch: 4,
                   second_look: {max_people: 2, unheld_factor: 1}}
        confirmation: {min_hits: 2, window: 2, close_after_s: 3}
        motion: {enabled: false, forced_check_s: 1}
        evidence: {folder: /srv/evidence, pre_roll_s: 0, post_roll_s: 8}
        store: {url: "postgresql+psycopg://gunwatch@db/gunwatch"}
        health: {stall_after_s: 4, reconnect: {initial_s: 0.5, max_s: 0.5}}
    """.replace("\n        ", "\n"))
    assert config.detector.model == Path("models/other.onnx")
    assert (config.detector.threads, config.detector.input_size, config.detector.max_batch) == (2, 320, 4)
    assert config.detector.max_input_size is None  # every frame into the square, as before frame-shaped input
    assert (config.detector.second_look.max_people, config.detector.second_look.unheld_factor) == (2, 1.0)
    assert (config.confirmation.min_hits, config.confirmation.window) == (2, 2)
    assert not config.motion.enabled
    assert config.evidence.folder == Path("/srv/evidence")
    assert config.store.url.startswith("postgresql+psycopg://")
    assert config.health.reconnect.max_s == 0.5


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("confirmation: {min_hits: 6}", "confirmation.min_hits: must be <= window (5), got 6"),
        ("confirmation: {quick_hits: 4}", "confirmation.quick_hits: must be <= quick_window (3), got 4"),
        ("confirmation: {quick_margin: -0.1}", "confirmation.quick_margin: must be >= 0, got -0.1"),
        ("confirmation: {min_hits: 4, window: 3}", "confirmation.min_hits: must be <= window (3), got 4"),
        ("confirmation: {window: 0}", "confirmation.window: must be >= 1, got 0"),
        ("confirmation: {close_after_s: 0}", "confirmation.close_after_s: must be > 0, got 0"),
        ("motion: {forced_check_s: 0}", "motion.forced_check_s: must be > 0, got 0"),
        ("motion: {gun_hold_score: 1.5}", "motion.gun_hold_score: must be <= 1, got 1.5"),
        ("evidence: {pre_roll_s: -1}", "evidence.pre_roll_s: must be >= 0, got -1"),
        ("detector: {threads: 0}", "detector.threads: must be >= 1, got 0"),
        ("detector: {input_size: 400}", "detector.input_size: must be a multiple of 32"),
        ("detector: {max_input_size: 600}", "detector.max_input_size: must be a multiple of 32"),
        ("detector: {max_input_size: 2048}", "detector.max_input_size: must be <= 1280, got 2048"),
        ("detector: {model: [a, b]}", "detector.model: must be a file path"),
        ("detector: {max_batches: 2}", "detector.max_batches: unknown key (did you mean 'max_batch'?)"),
        ("store: {url: mysql://db/g}", "store.url: unsupported database mysql://; accepted: sqlite, postgresql"),
        ("store: {url: postgres://db/g}", "store.url: write postgresql://, not postgres://"),
        ("store: {url: runs/gunwatch.db}", "store.url: must be a database URL such as sqlite:///runs/gunwatch.db"),
        ("health: {reconnect: {initial_s: 5, max_s: 2}}", "health.reconnect.max_s: must be >= initial_s (5), got 2"),
        ("health: {stall_after_s: 0}", "health.stall_after_s: must be > 0, got 0"),
    ],
)
def test_bad_section_settings(problems, section: str, problem: str) -> None:
    [reported] = problems(ONE_CAMERA + section)
    assert reported.startswith(f"site.yaml: {problem}")


def test_a_store_password_stays_out_of_repr(parse) -> None:
    config = parse(ONE_CAMERA + "store: {url: 'postgresql://gunwatch:hunter2@db/gunwatch'}")
    assert "hunter2" not in repr(config)
