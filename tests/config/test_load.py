"""Loading a site file: the minimal file, `${ENV}` references, YAML syntax and every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.config import ConfigError, SiteConfig, load_site_config, load_store_settings, parse_site_config

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "configs" / "site.example.yaml"


def test_a_file_with_one_camera_url_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("cameras:\n  demo:\n    url: samples/demo.mp4\n")
    config = load_site_config(path, environ={})
    assert isinstance(config, SiteConfig)
    assert list(config.cameras) == ["demo"]
    assert config.cameras["demo"].kind == "file"


# The example's secrets: the camera's password and the alert channels' credentials.
EXAMPLE_SECRETS = {"CAMERA_PASSWORD": "hunter2", "SMTP_PASSWORD": "s3cret", "TWILIO_SID": "AC123",
                   "TWILIO_TOKEN": "tok", "WEBHOOK_SECRET": "hook-key", "DOORS_SECRET": "doors-key",
                   "MQTT_PASSWORD": "mqtt-pass"}


def test_the_example_validates_with_its_password_set() -> None:
    config = load_site_config(EXAMPLE, environ=EXAMPLE_SECRETS)
    lobby = config.cameras["lobby"]
    assert lobby.url == "rtsp://admin:hunter2@192.168.1.20:554/Streaming/Channels/101"
    assert (lobby.kind, len(lobby.zones), len(lobby.masks)) == ("rtsp", 2, 1)
    assert config.cameras["range"].loop
    assert config.store.url == "sqlite:///runs/gunwatch.db"
    assert set(config.alerts.protocols) == {"lockdown", "cameras_down"}
    assert config.alerts.channels["ops_webhook"].secret == "hook-key"
    call = config.alerts.protocols["lockdown"].steps[1].call
    assert call is not None and call.secret == "doors-key"  # a key of its own, not the webhook's


def test_the_demo_site_of_make_run_validates_and_its_clip_is_there() -> None:
    config = load_site_config(REPO / "configs" / "demo.yaml", environ={})
    lobby = config.cameras["lobby"]
    assert lobby.kind == "file" and (REPO / lobby.url).is_file()
    assert config.store.url.startswith("sqlite:///")


def test_the_example_names_its_password_variable_when_it_is_unset() -> None:
    with pytest.raises(ConfigError) as caught:
        load_site_config(EXAMPLE, environ={**EXAMPLE_SECRETS, "CAMERA_PASSWORD": None})  # type: ignore[dict-item]
    assert str(caught.value) == (
        f"{EXAMPLE}: cameras.lobby.url: environment variable CAMERA_PASSWORD is not set"
        " (set it, or write ${CAMERA_PASSWORD:-default})"
    )


def test_every_unset_secret_of_the_example_is_named_at_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_site_config(EXAMPLE, environ={})
    keys = [problem.key for problem in caught.value.problems]
    assert keys == ["cameras.lobby.url", "alerts.channels.office_email.url",
                    "alerts.channels.sms.url", "alerts.channels.sms.url",  # its sid and its token
                    "alerts.channels.ops_webhook.secret", "alerts.channels.building.url",  # no empty default
                    "alerts.protocols.lockdown.steps[1].call.secret"]


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNWATCH_TEST_CAMERA", "rtsp://cam/s")
    config = parse_site_config("cameras: {lobby: {url: '${GUNWATCH_TEST_CAMERA}'}}")
    assert config.cameras["lobby"].url == "rtsp://cam/s"


def test_a_default_fills_an_unset_variable_and_numbers_come_through_as_text(parse) -> None:
    config = parse("""
        cameras:
          lobby:
            url: rtsp://${CAM_HOST:-10.0.0.5}/s
            detect: {fps: "${LOBBY_FPS:-2}"}
    """, LOBBY_FPS="7.5")
    assert config.cameras["lobby"].url == "rtsp://10.0.0.5/s"
    assert config.cameras["lobby"].detect.fps == 7.5


def test_an_unset_variable_is_reported_once_with_the_other_problems(problems) -> None:
    # The unresolved URL would also fail validation; only the missing variable is reported for it.
    assert problems("""
        cameras:
          lobby: {url: "${CAMERA_URL}", detect: {fps: 0}}
    """) == [
        "site.yaml: cameras.lobby.url: environment variable CAMERA_URL is not set"
        " (set it, or write ${CAMERA_URL:-default})",
        "site.yaml: cameras.lobby.detect.fps: must be > 0, got 0",
    ]


def test_every_problem_is_listed_at_once(problems) -> None:
    assert problems("""
        cameras:
          lobby:
            url: rtsp://cam/s
            detect: {fsp: 5}
            zones:
              door: {polygon: [[0, 0], [1, 1]]}
          back: {url: "gopher://cam/s"}
        confirmation: {min_hits: 7}
        storage: {url: "sqlite://"}
    """) == [
        "site.yaml: cameras.lobby.detect.fsp: unknown key (did you mean 'fps'?)",
        "site.yaml: cameras.lobby.zones.door.polygon: a polygon needs at least 3 points, got 2",
        "site.yaml: cameras.back.url: unsupported scheme gopher://; accepted: rtsp:// or rtsps://, http(s):// (an MJPEG"
        " stream, or HLS when the path ends in .m3u8), rtmp:// or rtmps://, a video file, a folder of images,"
        " or /dev/videoN",
        "site.yaml: confirmation.min_hits: must be <= window (5), got 7",
        "site.yaml: storage: unknown key (did you mean 'store'?)",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "site.yaml: cameras: required"),
        ("cameras: {}", "site.yaml: cameras: list at least one camera"),
        ("cameras:", "site.yaml: cameras: must be a mapping of keys to values"),
        ("cameras: [rtsp://cam/s]", "site.yaml: cameras: must be a mapping of keys to values"),
        ("- rtsp://cam/s", "site.yaml: must be a mapping of sections (cameras, detector, store, ...)"),
        ("cameras: {lobby: {url: a.mp4}}\nmodel: x.onnx", "site.yaml: model: unknown key (known: cameras, detector,"),
    ],
)
def test_file_level_problems(problems, text: str, problem: str) -> None:
    [reported] = problems(text)
    assert reported.startswith(problem)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cameras:\n  lobby:\n    url: a.mp4\n   detect: {}\n",
         "site.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>' (column 4)"),
        ("cameras:\n  lobby: {url: a.mp4\n\n",
         "site.yaml:4: invalid YAML: expected ',' or '}', but got '<stream end>'"),
        ("cameras:\n  lobby:\n\turl: a.mp4\n", "site.yaml:3: invalid YAML: found character '\\t' that cannot start"),
        ('cameras:\n  lobby: {url: "rtsp://a:b@h}\n',
         "site.yaml:3: invalid YAML: found unexpected end of stream (column 1), while scanning a quoted scalar"
         " that starts on line 2"),
    ],
)
def test_yaml_syntax_errors_name_the_line(problems, text: str, problem: str) -> None:
    [reported] = problems(text)
    assert reported.startswith(problem)


def test_a_repeated_key_is_an_error_not_a_silent_replacement(problems) -> None:
    assert problems("cameras:\n  lobby: {url: a.mp4}\n  lobby: {url: b.mp4}\n") == [
        "site.yaml:3: invalid YAML: duplicate key 'lobby' (column 3)"
    ]


def test_anchors_and_merge_keys_may_share_settings(parse) -> None:
    config = parse("""
        cameras:
          lobby: &indoor {url: rtsp://cam1/s, detect: {fps: 3, tiles: off}}
          hall: {<<: *indoor, url: rtsp://cam2/s}
    """)
    assert config.cameras["hall"].url == "rtsp://cam2/s"
    assert config.cameras["hall"].detect == config.cameras["lobby"].detect


def test_keys_are_the_text_written(parse) -> None:
    # YAML 1.1 would read these camera names as a boolean and a number.
    assert list(parse("cameras: {no: {url: a.mp4}, 2: {url: b.mp4}}").cameras) == ["no", "2"]


def test_a_value_with_a_colon_is_the_text_written(parse) -> None:
    # YAML 1.1 reads 18:00 as 1080 (base 60) and 16:9 as 969; YAML 1.2 and a person read the text.
    config = parse("""
        cameras: {lobby: {url: rtsp://cam/1, aspect: 16:9, detect: {fps: 2.5}}}
        alerts:
          channels: {log: {url: "file:///tmp/alerts.jsonl"}}
          recipients: {desk: {name: Desk}}
          protocols:
            day: {trigger: {schedule: [{from: 07:30, to: 18:00}]}, steps: [{notify: {to: [desk], via: [log]}}]}
    """)
    window = config.alerts.protocols["day"].trigger.schedule[0]
    assert (config.cameras["lobby"].aspect, window.start, window.end) == ("16:9", "07:30", "18:00")
    assert config.cameras["lobby"].detect.fps == 2.5


def test_passwords_stay_out_of_problems(problems) -> None:
    reported = problems("""
        cameras:
          lobby: {url: "rtsp://admin:hunter2@cam:notaport/s"}
          hall: {url: "rtsp://admin:hunter2@cam/s", detect: {fps: "hunter2"}}
        store: {url: "mysql://root:hunter2@db/g"}
    """)
    assert len(reported) == 3
    assert not any("hunter2" in line for line in reported)


def test_a_yaml_error_does_not_quote_the_line(problems) -> None:
    [reported] = problems('cameras:\n  lobby: {url: "rtsp://admin:hunter2@cam/s"]\n')
    assert "hunter2" not in reported


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_site_config(tmp_path / "nowhere.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'nowhere.yaml'}: cannot read the file")


def test_reading_the_store_needs_no_other_secret() -> None:
    assert load_store_settings(EXAMPLE, environ={}).url == "sqlite:///runs/gunwatch.db"


def test_reading_the_store_still_needs_the_stores_own_variable(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("cameras:\n  lobby: {url: 'rtsp://admin:${CAMERA_PASSWORD}@cam/s'}\n"
                    "store:\n  url: 'postgresql://gunwatch:${DB_PASSWORD}@db/events'\n")
    with pytest.raises(ConfigError) as caught:
        load_store_settings(path, environ={})
    assert [(p.key, p.message) for p in caught.value.problems] == [
        ("store.url", "environment variable DB_PASSWORD is not set (set it, or write ${DB_PASSWORD:-default})")]
    assert load_store_settings(path, environ={"DB_PASSWORD": "pw"}).url == "postgresql://gunwatch:pw@db/events"


def test_reading_the_store_tolerates_an_unset_number_but_not_other_mistakes(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("cameras:\n  lobby: {url: rtsp://cam/s}\nalerts:\n  channels:\n    mail:\n"
                    "      url: 'smtp://relay:${SMTP_PORT}'\n      timeout_s: ${MAIL_TIMEOUT}\n"
                                        "store:\n  url: sqlite:///site.db\n")
    with pytest.raises(ConfigError):
        load_site_config(path, environ={})  # the full file: both variables are missing
    assert load_store_settings(path, environ={}).url == "sqlite:///site.db"
    path.write_text(path.read_text().replace("cameras:\n  lobby: {url: rtsp://cam/s}\n", "cameras: {}\n"))
    with pytest.raises(ConfigError) as caught:
        load_store_settings(path, environ={})
    assert [p.key for p in caught.value.problems] == ["cameras"]
