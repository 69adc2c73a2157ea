"""A camera's settings: its source, detection, zones and masks, and the settings that need a kind of source."""

from __future__ import annotations

import pytest

MINIMAL = """
    cameras:
      lobby:
        url: {url}
"""


def test_defaults(parse) -> None:
    camera = parse(MINIMAL.format(url="rtsp://10.0.0.5/s")).cameras["lobby"]
    assert (camera.kind, camera.rtsp_transport, camera.loop, camera.enabled) == ("rtsp", "tcp", False, True)
    assert (camera.detect.fps, camera.detect.width, camera.detect.height) == (5.0, None, None)
    assert (camera.detect.threshold, camera.detect.tiles) == (None, "off")
    assert camera.detect.second_look
    assert (camera.zones, camera.masks, camera.rotate, camera.deinterlace, camera.aspect) == ({}, [], 0, "auto", "auto")


def test_every_camera_setting(parse) -> None:
    camera = parse("""
        cameras:
          lobby:
            url: rtsp://cam/s
            rtsp_transport: udp
            enabled: false
            detect: {fps: 2.5, width: 1280, height: 720, threshold: 0.6, tiles: on, second_look: false}
            zones:
              door: {polygon: [[0, 0], [0.5, 0], [0.5, 1]], enabled: false}
            masks:
              - [[0.7, 0], [1, 0], [1, 0.3]]
    """).cameras["lobby"]
    assert (camera.rtsp_transport, camera.enabled) == ("udp", False)
    assert camera.detect.model_dump() == {"fps": 2.5, "width": 1280, "height": 720, "threshold": 0.6, "tiles": "on",
                                           "second_look": False}
    assert camera.zones["door"].polygon == [(0, 0), (0.5, 0), (0.5, 1)]
    assert not camera.zones["door"].enabled
    assert camera.masks == [[(0.7, 0), (1, 0), (1, 0.3)]]


@pytest.mark.parametrize(("written", "tiles"), [("off", "off"), ("on", "on"), ("'off'", "off"), ("auto", "auto")])
def test_tiles_off_means_the_word_not_yaml_false(parse, written: str, tiles: str) -> None:
    config = parse(f"cameras: {{lobby: {{url: a.mp4, detect: {{tiles: {written}}}}}}}")
    assert config.cameras["lobby"].detect.tiles == tiles


def test_a_video_file_may_loop(parse) -> None:
    camera = parse("cameras: {demo: {url: samples/demo.mp4, loop: true}}").cameras["demo"]
    assert (camera.kind, camera.loop) == ("file", True)


@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_a_camera_mounted_sideways_or_upside_down_is_turned_upright(parse, degrees: int) -> None:
    assert parse(f"cameras: {{hall: {{url: rtsp://cam/s, rotate: {degrees}}}}}").cameras["hall"].rotate == degrees


@pytest.mark.parametrize("rule", ["auto", "always", "never"])
def test_an_interlaced_cameras_comb_is_taken_out_as_told(parse, rule: str) -> None:
    assert parse(f"cameras: {{dvr: {{url: rtsp://cam/s, deinterlace: {rule}}}}}").cameras["dvr"].deinterlace == rule


@pytest.mark.parametrize("aspect", ["auto", "stored", "16:9", "4:3"])
def test_a_squeezed_cameras_shape_is_given_as_written(parse, aspect: str) -> None:
    assert parse(f"cameras: {{sub: {{url: rtsp://cam/s, aspect: {aspect}}}}}").cameras["sub"].aspect == aspect


def test_a_ceiling_fisheye_needs_only_its_mount(parse) -> None:
    fisheye = parse("cameras: {hall: {url: rtsp://cam/s, fisheye: {mount: ceiling}}}").cameras["hall"].fisheye
    assert fisheye is not None and (fisheye.center, fisheye.radius, fisheye.inner) == ((0.5, 0.5), 0.5, 0.25)
    assert parse("cameras: {hall: {url: rtsp://cam/s}}").cameras["hall"].fisheye is None


def test_the_url_is_left_out_of_repr(parse) -> None:
    config = parse(MINIMAL.format(url="rtsp://admin:hunter2@cam/s"))
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config)


@pytest.mark.parametrize(
    ("camera", "problem"),
    [
        ("{url: a.mp4, detect: {fps: 0}}", "cameras.lobby.detect.fps: must be > 0, got 0"),
        ("{url: a.mp4, detect: {fps: -2}}", "cameras.lobby.detect.fps: must be > 0, got -2"),
        ("{url: a.mp4, detect: {fps: fast}}", "cameras.lobby.detect.fps: must be a valid number"),
        ("{url: a.mp4, detect: {threshold: 1.5}}", "cameras.lobby.detect.threshold: must be <= 1, got 1.5"),
        ("{url: a.mp4, detect: {width: 8}}", "cameras.lobby.detect.width: must be >= 32, got 8"),
        ("{url: a.mp4, detect: {tiles: always}}", "cameras.lobby.detect.tiles: must be 'auto', 'on' or 'off'"),
        ("{url: rtsp://cam/s, rtsp_transport: quic}", "cameras.lobby.rtsp_transport: must be 'tcp' or 'udp'"),
        ("{url: a.mp4, rtsp_transport: udp}", "cameras.lobby.rtsp_transport: applies only to rtsp:// and rtsps://"),
        ("{url: rtsp://cam/s, loop: true}", "cameras.lobby.loop: applies only to video files and image folders"),
        ("{url: rtsp://cam/s, enabled: maybe}", "cameras.lobby.enabled: must be true or false"),
        ("{url: rtsp://cam/s, rotate: 45}", "cameras.lobby.rotate: must be 0, 90, 180 or 270"),
        ("{url: rtsp://cam/s, rotate: -90}", "cameras.lobby.rotate: must be 0, 90, 180 or 270"),
        ("{url: rtsp://cam/s, deinterlace: off}", "cameras.lobby.deinterlace: must be 'auto', 'always' or 'never'"),
        ("{url: rtsp://cam/s, aspect: wide}",
         "cameras.lobby.aspect: must be auto, stored or a shape such as 16:9 or 4:3, not 'wide'"),
        ("{url: rtsp://cam/s, aspect: 16:0}",
         "cameras.lobby.aspect: must be auto, stored or a shape such as 16:9 or 4:3, not '16:0'"),
        ("{url: rtsp://cam/s, aspect: 1:10}",
         "cameras.lobby.aspect: 1:10 is no camera picture's shape (width / height between 1/4 and 4)"),
        ("{url: rtsp://cam/s, aspect: 1.78}", "cameras.lobby.aspect: must be a valid string"),
        ("{url: rtsp://cam/s, rotate: 90, fisheye: {mount: ceiling}}",
         "cameras.lobby.fisheye: a fisheye's panorama is upright already: leave out `rotate`"),
        ("{url: rtsp://cam/s, fisheye: {mount: wall}}", "cameras.lobby.fisheye.mount: must be 'ceiling'"),
        ("{url: rtsp://cam/s, fisheye: {radius: 0.5}}", "cameras.lobby.fisheye.mount: required"),
        ("{url: rtsp://cam/s, fisheye: {mount: ceiling, inner: 0.9}}",
         "cameras.lobby.fisheye.inner: must be <= 0.8, got 0.9"),
        ("{url: rtsp://cam/s, fisheye: {mount: ceiling, center: [0.5, 1.5]}}",
         "cameras.lobby.fisheye.center[1]: must be between 0 and 1"),
        ("{url: ftp://cam/s}", "cameras.lobby.url: unsupported scheme ftp://; accepted: rtsp:// or rtsps://"),
        ("{detect: {fps: 2}}", "cameras.lobby.url: required"),
        ("{url: a.mp4, zones: {door: {polygon: [[0, 0], [1, 1]]}}}",
         "cameras.lobby.zones.door.polygon: a polygon needs at least 3 points, got 2"),
        ("{url: a.mp4, zones: {door: {polygon: [[0, 0], [1, 0], [0, 1]], on: yes}}}",
         "cameras.lobby.zones.door.on: unknown key (known: polygon, enabled)"),
        ("{url: a.mp4, zones: {front door: {polygon: [[0, 0], [1, 0], [0, 1]]}}}",
         "cameras.lobby.zones.front door: a name may hold only letters, digits, '_' and '-'"),
        ("{url: a.mp4, masks: [[[0, 0], [1920, 0], [0, 1]]]}", "cameras.lobby.masks[0][1][0]: must be between 0 and 1"),
    ],
)
def test_bad_camera_settings(problems, camera: str, problem: str) -> None:
    [reported] = problems(f"cameras: {{lobby: {camera}}}")
    assert reported.startswith(f"site.yaml: {problem}")


def test_a_bad_camera_name(problems) -> None:
    assert problems("cameras: {front door: {url: a.mp4}}") == [
        "site.yaml: cameras.front door: a name may hold only letters, digits, '_' and '-'"
    ]


def test_a_mask_without_its_outer_brackets_is_one_problem_per_point_not_per_number(problems) -> None:
    reported = problems("cameras: {lobby: {url: a.mp4, masks: [[0, 0], [1, 0], [0, 1]]}}")
    assert reported == [
        f"site.yaml: cameras.lobby.masks[{i}]: a polygon is a list of [x, y] points, such as [[0, 0], [1, 0], [0, 1]]"
        for i in range(3)
    ]
