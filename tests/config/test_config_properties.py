"""Property-based checks of the site file (hypothesis): a valid file always loads, and a file with a mistake of
any kind (a wrong type, an unknown or a missing key, a bad URL, a camera named twice, a bad zone, a number out
of range, broken YAML) gives a ConfigError naming the file and the key (or the line), and nothing else.

Valid site files are drawn whole (cameras of every kind of source, zones, every section, channels, recipients,
groups and protocols that refer to each other). A mistake is then put in one place: where, and what it must
be reported as, come from the models themselves (`SiteConfig` and the models under it), so a new setting is
covered without changing this file.
"""

from __future__ import annotations

import tempfile
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gunwatch.config import ConfigError, SiteConfig, load_site_config, parse_site_config
from gunwatch.config.errors import key_path

FILE = "site.yaml"
PASSWORD = "Hunter2pw"  # in every credential drawn: no problem may quote it
CHECKS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- valid site files ---------------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True)
hosts = st.sampled_from(["cam.local", "192.168.1.20", "10.0.0.5", "nvr", "[::1]"])
text = st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="$"), min_size=1,
               max_size=20)


def positive(most: float) -> st.SearchStrategy[float]:
    return st.floats(min_value=0.001, max_value=most, allow_nan=False)


def fraction() -> st.SearchStrategy[float]:
    return st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def rectangle(draw: st.DrawFn) -> list[list[float]]:
    """Four corners enclosing some area (a hundredth of the frame's side at least: narrower, the area of a
    polygon a few 1e-300 wide rounds to 0 and is refused, rightly), in fractions of the frame."""
    x0, y0 = draw(st.floats(0, 0.99)), draw(st.floats(0, 0.99))
    x1, y1 = draw(st.floats(min(1, x0 + 0.01), 1)), draw(st.floats(min(1, y0 + 0.01), 1))
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


@st.composite
def camera_url(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["rtsp", "mjpeg", "hls", "rtmp", "file", "folder", "device"]))
    host = draw(hosts)
    port = draw(st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")))
    login = draw(st.sampled_from(["", f"admin:{PASSWORD}@"]))
    url = {
        "rtsp": f"{draw(st.sampled_from(['rtsp', 'rtsps']))}://{login}{host}{port}/stream1",
        "mjpeg": f"{draw(st.sampled_from(['http', 'https']))}://{login}{host}{port}/video.mjpg",
        "hls": f"https://{host}{port}/live/index.m3u8",
        "rtmp": f"rtmp://{host}{port}/live/cam",
        "file": f"videos/{draw(names)}.mp4",
        "folder": f"snapshots/{draw(names)}/",
        "device": f"/dev/video{draw(st.integers(0, 9))}",
    }[kind]
    return kind, url


@st.composite
def camera(draw: st.DrawFn) -> dict[str, Any]:
    kind, url = draw(camera_url())
    entry: dict[str, Any] = {"url": url}
    if kind == "rtsp" and draw(st.booleans()):
        entry["rtsp_transport"] = draw(st.sampled_from(["tcp", "udp"]))
    if kind in ("file", "folder") and draw(st.booleans()):
        entry["loop"] = draw(st.booleans())
    if draw(st.booleans()):
        entry["enabled"] = draw(st.booleans())
    detect = draw(st.fixed_dictionaries({}, optional={
        "fps": positive(60), "width": st.integers(32, 8192), "height": st.integers(32, 8192),
        "threshold": fraction(), "tiles": st.sampled_from(["auto", "on", "off", True, False]),
        "second_look": st.booleans()}))
    if detect:
        entry["detect"] = detect
    zones = draw(st.dictionaries(names, st.fixed_dictionaries({"polygon": rectangle()},
                                                              optional={"enabled": st.booleans()}), max_size=3))
    if zones:
        entry["zones"] = zones
    masks = draw(st.lists(rectangle(), max_size=2))
    if masks:
        entry["masks"] = masks
    return entry


@st.composite
def site_sections(draw: st.DrawFn) -> dict[str, Any]:
    """The optional site-wide sections, each left out or given some of its settings."""
    window = draw(st.integers(1, 100))
    initial = draw(positive(60))
    optional = {
        "detector": st.fixed_dictionaries({}, optional={
            "model": st.just("models/gunwatch-nano.onnx"), "threads": st.integers(1, 64),
            "parallel": st.integers(1, 16), "input_size": st.integers(2, 40).map(lambda n: n * 32),
            "max_input_size": st.none() | st.integers(2, 40).map(lambda n: n * 32),
            "max_batch": st.integers(1, 64),
            "second_look": st.fixed_dictionaries({}, optional={
                "max_people": st.integers(0, 32), "max_crops_per_person": st.integers(1, 8),
                "person_min_score": fraction(), "max_zoom": st.floats(1, 16), "reach": st.floats(0, 2)})}),
        "confirmation": st.fixed_dictionaries({"window": st.just(window)}, optional={
            "min_hits": st.integers(1, window), "close_after_s": positive(600)}),
        "motion": st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "forced_check_s": positive(60),
                                                       "gun_hold_score": st.none() | fraction()}),
        "evidence": st.fixed_dictionaries({}, optional={
            "folder": st.just("runs/evidence"), "pre_roll_s": st.floats(0, 60), "post_roll_s": st.floats(0, 600)}),
        "store": st.fixed_dictionaries({"url": st.sampled_from([
            "sqlite:///runs/gunwatch.db", f"postgresql://gunwatch:{PASSWORD}@db.local/gunwatch",
            "postgresql+psycopg://db.local:5432/gunwatch"])}),
        "health": st.fixed_dictionaries({}, optional={
            "stall_after_s": positive(120),
            "reconnect": st.fixed_dictionaries({"initial_s": st.just(initial)},
                                               optional={"max_s": st.floats(initial, 600)})}),
    }
    return draw(st.fixed_dictionaries({}, optional=optional))


CHANNEL_URLS = {
    "webhook": st.sampled_from(["https://ops.example.org/hooks/gunwatch", "http://127.0.0.1:8080/hook"]),
    "mqtt": st.sampled_from(["mqtt://10.0.0.5:1883", "mqtts://broker.example.org:8883"]),
    "smtp": st.sampled_from(["smtp://mail.example.org:25", "smtps://mail.example.org:465"]),
    "file": st.just("file://runs/alerts.jsonl"),
    "apprise": st.sampled_from(["json://127.0.0.1:9000/apprise", "ntfy://ntfy.example.org/gunwatch"]),
}


@st.composite
def channel(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(sorted(CHANNEL_URLS)))
    entry: dict[str, Any] = {"url": draw(CHANNEL_URLS[kind])}
    if kind == "webhook":
        entry["secret"] = f"{PASSWORD}-signing-key"
    if kind == "mqtt":
        entry |= draw(st.fixed_dictionaries({}, optional={"topic_prefix": names, "discovery": st.booleans()}))
    if kind == "smtp" and draw(st.booleans()):
        entry["sender"] = "alerts@example.org"
    entry |= draw(st.fixed_dictionaries({}, optional={
        "timeout_s": positive(300), "max_per_minute": st.integers(1, 600),
        "retry": st.fixed_dictionaries({}, optional={
            "initial_s": positive(10), "max_s": st.floats(10, 600), "max_attempts": st.integers(1, 100)})}))
    return kind, entry


@st.composite
def alerts(draw: st.DrawFn, cameras: dict[str, Any]) -> dict[str, Any]:
    """Channels, recipients, groups and protocols that name only what exists."""
    channels = dict(draw(st.lists(st.tuples(names, channel()), max_size=4, unique_by=lambda pair: pair[0])))
    if not channels:
        return {}
    section: dict[str, Any] = {"channels": {name: entry for name, (_, entry) in channels.items()}}
    people = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    section["recipients"] = {person: {"addresses": {name: f"{person}@example.org" for name in draw(
        st.lists(st.sampled_from(sorted(channels)), unique=True))}} for person in people}
    groups = draw(st.dictionaries(names, st.lists(st.sampled_from(people), min_size=1, unique=True), max_size=2))
    if groups:
        section["groups"] = groups
    targets = st.sampled_from(people + [f"group:{group}" for group in groups])
    via = st.lists(st.sampled_from(sorted(channels)), min_size=1, max_size=2, unique=True)
    notify = st.fixed_dictionaries({"to": st.lists(targets, min_size=1, max_size=2, unique=True), "via": via})
    steps = [notify.map(lambda step: {"notify": step}),
             st.just({"call": {"url": "https://doors.example.org/api/lockdown", "body": {"camera": "{camera}"},
                               "cancel": {"url": "https://doors.example.org/api/unlock"}}}),
             st.just({"run": {"command": ["espeak-ng", "Lockdown. {camera}"], "timeout_s": 30}}),
             positive(86400).map(lambda s: {"wait_ack": {"timeout_s": s}})]
    brokers = sorted(name for name, (kind, _) in channels.items() if kind == "mqtt")
    if brokers:
        steps.append(st.sampled_from(brokers).map(
            lambda broker: {"publish": {"channel": broker, "topic": "site/siren", "payload": "ON",
                                        "cancel_payload": "OFF"}}))
    watched = draw(st.lists(st.sampled_from(sorted(cameras)), max_size=2, unique=True))
    zones = sorted({zone for name in watched for zone in cameras[name].get("zones", {})})
    trigger = draw(st.fixed_dictionaries({}, optional={
        "on": st.sampled_from(["threat", "camera_offline"]), "min_score": fraction(),
        "schedule": st.just([{"days": ["mon", "fri"], "from": "06:30", "to": "18:00"}])}))
    if watched:
        trigger["cameras"] = watched
        if zones and draw(st.booleans()):
            trigger["zones"] = draw(st.lists(st.sampled_from(zones), min_size=1, unique=True))
    protocol: dict[str, Any] = {"trigger": trigger, "steps": draw(st.lists(st.one_of(steps), min_size=1, max_size=4))}
    if draw(st.booleans()):
        protocol["verify"] = draw(st.fixed_dictionaries({"to": st.lists(targets, min_size=1, max_size=1), "via": via},
                                                        optional={"timeout_s": positive(3600)}))
    section["protocols"] = {draw(names): protocol}
    return section


@st.composite
def site(draw: st.DrawFn) -> dict[str, Any]:
    cameras = draw(st.dictionaries(names, camera(), min_size=1, max_size=3))
    tree: dict[str, Any] = {"cameras": cameras, **draw(site_sections())}
    section = draw(alerts(cameras))
    if section:
        tree["alerts"] = section
    return tree


def dump(tree: dict[str, Any]) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


@given(site())
@CHECKS
def test_a_valid_site_file_always_loads(tree: dict[str, Any]) -> None:
    config = parse_site_config(dump(tree), FILE, environ={})
    assert list(config.cameras) == list(tree["cameras"])
    for name, camera in tree["cameras"].items():
        assert config.cameras[name].url == camera["url"]
        assert list(config.cameras[name].zones) == list(camera.get("zones", {}))


# --- where a mistake can go: read from the models ---------------------------------------------------------

@dataclass(frozen=True)
class Spot:
    """A place in a valid tree: a mapping read by a model, or a value with its declared type and bounds."""

    path: tuple[str | int, ...]
    model: type[BaseModel] | None = None  # set for a mapping read by a model
    kind: Any = None  # a value's type (float, int, bool, str, Path, a Literal), None when it is a mix
    bounds: tuple[Any, ...] = ()  # annotated_types Gt / Ge / Lt / Le of the value


def spots(node: Any, annotation: Any = SiteConfig, path: tuple[str | int, ...] = (),
          bounds: tuple[Any, ...] = ()) -> list[Spot]:
    annotation, more = _unwrap(annotation)
    bounds = bounds + more
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(node, dict):
            return []
        found = [Spot(path, model=annotation)]
        for name, field in annotation.model_fields.items():
            key = field.alias or name
            if key in node:
                found += spots(node[key], field.annotation, (*path, key), tuple(field.metadata))
        return found
    origin = get_origin(annotation)
    if origin is dict and isinstance(node, dict):
        return [spot for key, value in node.items() for spot in spots(value, get_args(annotation)[1], (*path, key))]
    if origin is list and isinstance(node, list):
        return [spot for index, item in enumerate(node) for spot in spots(item, get_args(annotation)[0],
                                                                           (*path, index))]
    if origin in (Union, types.UnionType) or origin is tuple or annotation in (object, Any) \
            or isinstance(node, dict | list):
        return [Spot(path)]  # a mix (str or mapping, a point, anything): only its own checks, below
    return [Spot(path, kind=annotation, bounds=tuple(b for b in bounds if isinstance(
        b, annotated_types.Gt | annotated_types.Ge | annotated_types.Lt | annotated_types.Le)))]


def _unwrap(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """Annotated[X, ...] -> X (with its metadata), X | None -> X."""
    metadata: tuple[Any, ...] = ()
    while True:
        if get_origin(annotation) is Annotated:
            metadata += tuple(annotation.__metadata__)
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation, metadata
            annotation = options[0]
        else:
            return annotation, metadata


# --- mistakes ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mistake:
    what: str  # for the failure message
    text: str  # the broken site file
    key: str | None  # a problem's key must start with this (None: broken YAML, some problem has a line or key)


def replaced(tree: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """A copy of `tree` with the value at `path` replaced; `...` removes it."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        copy = dict(tree)
        if not rest:
            if value is ...:
                del copy[head]
            else:
                copy[head] = value
        else:
            copy[head] = replaced(tree[head], rest, value)
        return copy
    copy_list = list(tree)
    copy_list[head] = replaced(tree[head], rest, value)  # type: ignore[index]
    return copy_list


def value_at(tree: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def wrong_types(kind: Any) -> list[Any]:
    if kind is bool:
        return ["maybe", 2, [True]]
    if kind in (int, float):
        return ["fast", [1, 2], {"value": 1}] + ([2.5] if kind is int else [])
    if get_origin(kind) is Literal:
        return ["none-of-these", 7, [get_args(kind)[0]]]
    return [[f"{PASSWORD}"], {"value": PASSWORD}]  # str, Path: a password in the wrong place stays unquoted


NOT_FINITE = [float("inf"), float("-inf"), float("nan"), "1e999"]


def beyond(kind: Any, bound: Any) -> list[Any]:
    """Values on the wrong side of one bound."""
    step = 1 if kind is int else 0.5
    if isinstance(bound, annotated_types.Gt):
        return [bound.gt, bound.gt - step]
    if isinstance(bound, annotated_types.Ge):
        return [bound.ge - step]
    if isinstance(bound, annotated_types.Lt):
        return [bound.lt, bound.lt + step]
    return [bound.le + step]


BAD_CAMERA_URLS = ["", "   ", "ftp://cam.local/stream", "rtsp://", "rtsp:///stream", f"rtsp://a:{PASSWORD}@cam:port/s",
                   "rtsp://cam.local:99999/s", "/dev/videos", "C:\\videos\\door.mp4://x", "gopher://cam/s"]
BAD_CHANNEL_URLS = ["", "ops.example.org/hook", "mailbox"]
BAD_STORE_URLS = ["", "mysql://db/gunwatch", f"postgres://u:{PASSWORD}@db/g", "runs/gunwatch.db"]
BAD_POLYGONS: list[Any] = [
    [[0, 0], [1, 1]], [[0, 0], [0.5, 0.5], [1, 1]], [[0, 0], [640, 0], [640, 480]], [[0, 0, 0], [1, 0], [0, 1]],
    [0, 0, 1, 0, 0, 1], "everywhere", [], None, [[0, 0], [1, 0], ["a", 1]], [[-0.1, 0], [1, 0], [0, 1]],
]
BAD_YAML_LINES = [
    "broken: [1, 2", "\tindented: with a tab", 'quoted: "never closed', "  - a: [b}", "x: y: z",
    "binary: \x00\x07", "loop: &loop {again: *loop}", "deep: " + "[" * 200 + "]" * 200, "big: 1" + "0" * 5000,
]


@st.composite
def mistake(draw: st.DrawFn) -> Mistake:
    tree = draw(site())
    found = spots(tree)
    kinds = ["wrong type", "unknown key", "missing key", "bad url", "duplicate camera", "bad zone",
             "out of range", "yaml syntax"]
    kind = draw(st.sampled_from(kinds))

    if kind == "wrong type":
        # A value of another type, or a section, a camera, a step... that is not a mapping.
        places = [spot for spot in found if (spot.kind is not None or spot.model is not None) and spot.path]
        spot = draw(st.sampled_from(places))
        value = draw(st.sampled_from(wrong_types(spot.kind) if spot.model is None else ["fast", 5, ["a"]]))
        return Mistake(f"{key_path(spot.path)} = {value!r}", dump(replaced(tree, spot.path, value)),
                       key_path(spot.path))
    if kind == "unknown key":
        spot = draw(st.sampled_from([spot for spot in found if spot.model is not None]))
        assert spot.model is not None
        known = {field.alias or name for name, field in spot.model.model_fields.items()}
        extra = draw(names.filter(lambda name: name not in known))
        node = {**value_at(tree, spot.path), extra: draw(st.sampled_from([1, "on", [1], {"a": 1}]))}
        return Mistake(f"unknown {extra} in {key_path(spot.path)}", dump(replaced(tree, spot.path, node)),
                       key_path((*spot.path, extra)))
    if kind == "missing key":
        holders = [(spot, name) for spot in found if spot.model is not None
                   for name, field in spot.model.model_fields.items()
                   if field.is_required() and (field.alias or name) in value_at(tree, spot.path)]
        spot, name = draw(st.sampled_from(holders))
        path = (*spot.path, name)
        return Mistake(f"no {key_path(path)}", dump(replaced(tree, path, ...)), key_path(path))
    if kind == "bad url":
        places = [(("cameras", name, "url"), BAD_CAMERA_URLS) for name in tree["cameras"]]
        places += [(("alerts", "channels", name, "url"), BAD_CHANNEL_URLS)
                   for name in tree.get("alerts", {}).get("channels", {})]
        places.append((("store", "url"), BAD_STORE_URLS))
        path, bad = draw(st.sampled_from(places))
        url = draw(st.sampled_from(bad))
        broken = replaced(tree, path, url) if path[0] != "store" else {**tree, "store": {"url": url}}
        return Mistake(f"{key_path(path)} = {url!r}", dump(broken), key_path(path))
    if kind == "duplicate camera":
        name = draw(st.sampled_from(sorted(tree["cameras"])))
        lines = dump(tree).splitlines()
        start = lines.index("cameras:") + 1
        block = yaml.safe_dump({name: tree["cameras"][name]}, sort_keys=False).splitlines()
        lines[start:start] = ["  " + line for line in block]  # the camera again, first under cameras
        return Mistake(f"camera {name} twice", "\n".join(lines) + "\n", None)
    if kind == "bad zone":
        zoned = [(name, zone) for name, camera in tree["cameras"].items() for zone in camera.get("zones", {})]
        name = draw(st.sampled_from(sorted(tree["cameras"])))
        choice = draw(st.sampled_from(["polygon", "zone name", "zones not a mapping", "mask"]))
        if choice == "polygon" and zoned:
            name, zone = draw(st.sampled_from(zoned))
            path: tuple[str | int, ...] = ("cameras", name, "zones", zone, "polygon")
            polygon = draw(st.sampled_from(BAD_POLYGONS))
            return Mistake(f"{key_path(path)} = {polygon!r}", dump(replaced(tree, path, polygon)), key_path(path))
        if choice == "zone name":
            zones = {**tree["cameras"][name].get("zones", {}), "front door": {"polygon": [[0, 0], [1, 0], [0, 1]]}}
            path = ("cameras", name, "zones")
            return Mistake(f"zone 'front door' on {name}", dump(replaced(tree, path, zones)), key_path(path))
        if choice == "zones not a mapping":
            path = ("cameras", name, "zones")
            return Mistake(f"zones of {name} as a list", dump(replaced(tree, path, [[[0, 0], [1, 0], [0, 1]]])),
                           key_path(path))
        path = ("cameras", name, "masks")
        polygon = draw(st.sampled_from(BAD_POLYGONS[:6]))
        return Mistake(f"mask {polygon!r} on {name}", dump(replaced(tree, path, [polygon])), key_path(path))
    if kind == "out of range":
        bounded = [spot for spot in found if spot.kind is float or (spot.bounds and spot.kind is int)]
        if bounded:
            spot = draw(st.sampled_from(bounded))
            values = [v for bound in spot.bounds for v in beyond(spot.kind, bound)]
            value = draw(st.sampled_from(values + (NOT_FINITE if spot.kind is float else [])))
            return Mistake(f"{key_path(spot.path)} = {value!r}", dump(replaced(tree, spot.path, value)),
                           key_path(spot.path))
    lines = dump(tree).splitlines()
    at = draw(st.integers(0, len(lines)))
    lines.insert(at, draw(st.sampled_from(BAD_YAML_LINES)))
    return Mistake("broken YAML", "\n".join(lines) + "\n", None)


@given(mistake())
@CHECKS
def test_a_mistake_gives_a_config_error_naming_the_file_and_key(mistake: Mistake) -> None:
    try:
        parse_site_config(mistake.text, FILE, environ={})
    except ConfigError as error:
        problems = error.problems
    else:
        raise AssertionError(f"{mistake.what}: loaded without a problem:\n{mistake.text}")
    assert problems, mistake.what
    for problem in problems:
        assert problem.file == FILE and problem.message.strip(), (mistake.what, problem)
        assert problem.key or problem.line, f"{mistake.what}: a problem with neither key nor line: {problem}"
        assert PASSWORD not in str(problem), f"{mistake.what}: a problem quotes a password: {problem}"
        assert "pydantic" not in problem.message and "errors.pydantic.dev" not in problem.message, problem
    if mistake.key is not None:  # (a line pasted into the YAML may still parse: then it is a key's problem)
        assert any(problem.key and _within(problem.key, mistake.key) for problem in problems), (
            f"{mistake.what}: no problem at {mistake.key}: {[str(p) for p in problems]}")


def _within(key: str, place: str) -> bool:
    return key == place or key.startswith((f"{place}.", f"{place}["))


@given(mistake())
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_site_file_on_disk_is_named_in_its_problems(mistake: Mistake) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site.yaml"
        path.write_text(mistake.text)
        try:
            load_site_config(path, environ={})
        except ConfigError as error:
            assert all(problem.file == str(path) for problem in error.problems)
            assert all(str(problem).startswith(f"{path}") for problem in error.problems)
        else:
            raise AssertionError(f"{mistake.what}: loaded without a problem")


# --- what the properties found, pinned --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "line", "message"), [
    # Each ended in a RecursionError or a ValueError, not a ConfigError.
    ("cameras: &all {lobby: {url: a.mp4}, again: [*all]}\n", 1, "the alias *all is inside the &all it refers to"),
    ("cameras:\n  lobby: {url: a.mp4, masks: &m [*m]}\n", 2, "the alias *m is inside the &m it refers to"),
    ("cameras: {lobby: {url: a.mp4}}\nmasks: " + "[" * 3000 + "]" * 3000 + "\n", 2, "nested more than 64 levels"),
    ("cameras: {lobby: {url: a.mp4, detect: {width: 1" + "0" * 5000 + "}}}\n", 1, "a number with too many digits"),
    # Named neither line nor key, and quoted PyYAML's "in <unicode string>".
    ("cameras:\n  lobby: {url: a.mp4}\n\x00\n", 3, "unacceptable character #x0000 (column 1)"),
])
def test_yaml_that_broke_the_loader_is_a_config_error_with_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_site_config(text, FILE, environ={})
    [problem] = caught.value.problems
    assert (problem.file, problem.line) == (FILE, line) and message in problem.message, problem


@pytest.mark.parametrize(("section", "key"), [
    # Unbounded above, these took .inf: a camera whose FFmpeg options then failed, an event never closed.
    ("health: {stall_after_s: .inf}", "health.stall_after_s"),
    ("confirmation: {close_after_s: 1e999}", "confirmation.close_after_s"),
    ("health: {reconnect: {max_s: .inf}}", "health.reconnect.max_s"),
])
def test_numbers_must_be_finite(section: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_site_config(f"cameras: {{lobby: {{url: a.mp4}}}}\n{section}\n", FILE, environ={})
    assert [(p.key, p.message) for p in caught.value.problems] == [(key, "must be a finite number")]


def test_a_retry_whose_longest_wait_is_below_its_first_is_refused() -> None:
    """It loaded, and every wait was initial_s: max_s silently did nothing (health.reconnect refuses it)."""
    text = ("cameras: {lobby: {url: a.mp4}}\n"
            "alerts: {channels: {log: {url: 'file://runs/alerts.jsonl', retry: {initial_s: 100, max_s: 1}}}}\n")
    with pytest.raises(ConfigError) as caught:
        parse_site_config(text, FILE, environ={})
    assert [str(p) for p in caught.value.problems] == [
        f"{FILE}: alerts.channels.log.retry.max_s: must be >= initial_s (100), got 1"]
