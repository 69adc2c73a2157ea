"""The summary of a valid site file: cameras with redacted URLs, the model and store, and local sources missing."""

from __future__ import annotations

from pathlib import Path

from gunwatch.config.summary import CameraSummary, format_site_summary, summarize_site


def test_summary_of_cameras_and_store(parse, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    config = parse(f"""
        cameras:
          lobby:
            url: rtsp://admin:hunter2@10.0.0.5/s
            zones: {{door: {{polygon: [[0, 0], [1, 0], [0, 1]]}}}}
            masks: [[[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 0], [1, 1]]]
          demo: {{url: "{clip}", detect: {{fps: 2}}, enabled: false}}
        store: {{url: "postgresql://gunwatch:hunter2@db/gunwatch"}}
        detector: {{model: models/other.onnx}}
    """)
    summary = summarize_site(config, "site.yaml")
    assert summary.cameras == [
        CameraSummary("lobby", "rtsp", "rtsp://admin:***@10.0.0.5/s", True, 5.0, 1, 2),
        CameraSummary("demo", "file", str(clip), False, 2.0, 0, 0),
    ]
    assert (summary.model, summary.store, summary.warnings) == (
        "models/other.onnx", "postgresql://gunwatch:***@db/gunwatch", []
    )
    text = format_site_summary(summary)
    assert "hunter2" not in text
    assert text.splitlines() == [
        "site.yaml: valid, 2 cameras, 1 enabled",
        "  lobby  rtsp    rtsp://admin:***@10.0.0.5/s  5 fps  1 zone, 2 masks",
        f"  demo   file    {clip}  2 fps  0 zones, 0 masks  (disabled)",
        "model: models/other.onnx",
        "store: postgresql://gunwatch:***@db/gunwatch",
        "alerts: no channels or protocols (events are stored, not sent)",
    ]


def test_enabled_local_sources_that_are_missing_are_warnings(parse, tmp_path: Path) -> None:
    config = parse(f"""
        cameras:
          gone: {{url: "{tmp_path / 'gone.mp4'}"}}
          unplugged: {{url: /dev/video97}}
          off: {{url: "{tmp_path / 'off.mp4'}", enabled: false}}
          network: {{url: rtsp://cam/s}}
    """)
    summary = summarize_site(config, "site.yaml")
    assert summary.warnings == [
        f"cameras.gone.url: video file {tmp_path / 'gone.mp4'} not found (the camera stays offline until it is)",
        "cameras.unplugged.url: device /dev/video97 not found (the camera stays offline until it is)",
    ]
    assert format_site_summary(summary).splitlines()[-2:] == [f"warning: {w}" for w in summary.warnings]
    assert "model: the shipped model (or $GUNWATCH_MODEL)" in format_site_summary(summary)
