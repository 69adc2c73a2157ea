"""`gunwatch watch` from the command line: JSON Lines of the demo clip's event, a bad site file refused."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"


def gunwatch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    # A real process: the command installs signal handlers and a logging setup of its own.
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_watch_prints_the_events_as_json_lines_and_stores_them(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        f"cameras:\n  lobby: {{url: \"{DEMO}\"}}\n"
        "confirmation: {close_after_s: 1.5}\n"
        f"evidence: {{folder: \"{tmp_path / 'evidence'}\"}}\n"
        f"store: {{url: \"sqlite:///{tmp_path / 'events.db'}\"}}\n"
    )
    result = gunwatch("watch", "--config", str(site), "--until-done", "--json", "--status-every", "0")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["state"] == "open" and lines[-1]["state"] == "closed"
    assert len({line["id"] for line in lines}) == 1
    assert "camera lobby: online" in result.stderr  # the structured log
    assert "lobby" in result.stderr.splitlines()[-1]  # the final status table

    listed = gunwatch("event", "list", "--config", str(site), "--json")
    assert listed.returncode == 0, listed.stderr
    assert [event["id"] for event in json.loads(listed.stdout)] == [lines[0]["id"]]


def test_watch_refuses_a_bad_site_file_with_the_key_path(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("cameras:\n  lobby: {url: a.mp4, detect: {fps: 0}}\n")
    result = gunwatch("watch", "--config", str(site))
    assert result.returncode == 1
    assert "cameras.lobby.detect.fps" in result.stderr


@pytest.mark.parametrize(("flip", "verifier"), [(False, "auto"), (True, "auto"), (False, "none")])
def test_the_site_files_detector_settings_decide_what_the_analyzer_runs(flip: bool, verifier: str) -> None:
    from gunwatch.config.site import SiteConfig
    from gunwatch.inference.flip import FlippedDetector
    from gunwatch.inference.loading import SHIPPED_VERIFIER
    from gunwatch.inference.verifier import OnnxGunVerifier, VerifiedDetector
    from gunwatch.pipeline.watch_command import build_service

    site = SiteConfig.model_validate({"cameras": {"lobby": {"url": str(DEMO)}},
                                      "detector": {"flip": flip, "verifier": verifier}})
    service = build_service(site, None, None, None)
    try:
        detector = service.analyzer.detector
        verified = isinstance(detector, VerifiedDetector)
        assert verified is (verifier == "auto")  # the shipped verifier pairs with the shipped detector
        assert isinstance(detector.inner if verified else detector, FlippedDetector) is flip
        # The live alarm threshold of what runs: the verifier file's, or the detector file's.
        expected = OnnxGunVerifier.load(SHIPPED_VERIFIER).alarm_threshold if verified else 0.65
        assert service.analyzer.threshold == pytest.approx(expected)
    finally:
        service.close()


@pytest.mark.parametrize("verifier", ["retrained", "auto"])
def test_cameras_that_would_alarm_at_a_threshold_nobody_measured_are_named_at_start(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, verifier: str) -> None:
    """A verifier retrained with a site's false alarms carries no alarm threshold measured on footage: its cameras
    would alarm at its image threshold, chosen on photos. Said once at start, naming them; a camera with its own
    threshold, or a verifier that carries one (the shipped), is not named."""
    from gunwatch.checksums import sha256_of
    from gunwatch.config.site import SiteConfig
    from gunwatch.inference.loading import SHIPPED_DETECTOR
    from gunwatch.pipeline.watch_command import build_service
    from support.verifier_graph import write_redness_verifier

    if verifier == "retrained":
        verifier = str(write_redness_verifier(tmp_path / "site-verifier.onnx", sha256_of(SHIPPED_DETECTOR),
                                              without=("gunwatch.alarm_threshold",)))
    site = SiteConfig.model_validate({"cameras": {"lobby": {"url": str(DEMO)}, "hall": {"url": str(DEMO)},
                                                  "dock": {"url": str(DEMO), "detect": {"threshold": 0.8}}},
                                      "detector": {"verifier": verifier}})
    caplog.set_level(logging.WARNING, logger="gunwatch.pipeline.watch_command")
    build_service(site, None, None, None).close()
    said = [record.getMessage() for record in caplog.records if "no alarm threshold measured" in record.getMessage()]
    if verifier == "auto":
        assert said == []
    else:
        [warning] = said
        assert "lobby, hall alarm at its image threshold 0.400" in warning and "dock" not in warning
