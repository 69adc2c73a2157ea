"""The MQTT channel against a real mosquitto broker on loopback (tests/support/mosquitto.py)."""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.mqtt import MqttChannel, parse_broker_url
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import channel_config
from support.mosquitto import MosquittoBroker, MqttCollector, Received
from support.mosquitto import mosquitto_broker as mosquitto_broker  # the session's broker fixture
from support.silent_server import HANG_GUARD_S, SilentServer

T0 = 1_750_000_000.0
_prefixes = itertools.count()

MakeChannel = Callable[..., MqttChannel]


@pytest.fixture
def make_channel(mosquitto_broker: MosquittoBroker) -> Iterator[MakeChannel]:
    """Channels on the session's broker, closed at the end; `prefix` defaults to one of the test's own, since
    retained messages outlive a test on the shared broker."""
    channels: list[MqttChannel] = []

    def make(prefix: str | None = None, url: str | None = None, **settings: Any) -> MqttChannel:
        prefix = prefix or f"gwtest{next(_prefixes)}"
        config = channel_config(url=url or mosquitto_broker.url, topic_prefix=prefix, **{"timeout_s": 2.0, **settings})
        channels.append(MqttChannel("ops", config))
        return channels[-1]

    yield make
    for channel in channels:
        channel.close()


def alert(kind: str = "alert", camera: str | None = "lobby", key: str | None = None) -> AlertMessage:
    return AlertMessage(
        key=key or f"evt-1:{kind}",
        kind=kind,  # type: ignore[arg-type]
        title=f"{kind} at {camera}",
        body="handgun seen",
        camera=camera,
        event_id="evt-1",
        score=0.91,
        created_at=T0,
    )


def test_the_events_topic_never_carries_action_links(mosquitto_broker: MosquittoBroker,
                                                     make_channel: MakeChannel) -> None:
    """Every subscriber of the broker reads gunwatch/events: a signed false-alarm link there would let any of
    them call off a lockdown."""
    channel = make_channel()
    links = {"false_alarm": "https://gunwatch.example/act/TOKEN.SIG", "resolve": "https://gunwatch.example/act/T.S"}
    with MqttCollector(mosquitto_broker, f"{channel.prefix}/#") as seen:
        channel.send(dataclasses.replace(alert("alert"), links=links), None)
        received = seen.wait_for(2)
    assert {message.topic for message in received} == {f"{channel.prefix}/events", f"{channel.prefix}/lobby/threat"}
    for message in received:
        assert b"/act/" not in message.payload and b"links" not in message.payload


def test_a_user_with_an_empty_password_is_refused() -> None:
    """`${MQTT_PASSWORD:-}` left unset must not log in with no password."""
    for url in ("mqtt://gunwatch:@10.0.0.5:1883", "mqtt://gunwatch@10.0.0.5:1883"):
        with pytest.raises(ValueError, match="empty password"):
            parse_broker_url(url)


def retained(broker: MosquittoBroker, channel: MqttChannel, topic_filter: str) -> list[Received]:
    """What a subscriber connecting now is given: the retained messages, ended by a live marker the channel
    publishes after subscribing (the broker hands out retained messages before it forwards later ones)."""
    marker = f"{channel.prefix}/marker"
    with MqttCollector(broker, [topic_filter, marker]) as late:
        channel.publish(marker, "end")
        return [message for message in late.wait_for_topic(marker) if message.topic != marker]


def test_alert_goes_to_events_and_the_retained_threat_state_follows_it(
    mosquitto_broker: MosquittoBroker, make_channel: MakeChannel
) -> None:
    channel = make_channel(prefix="gunwatch")
    try:
        with MqttCollector(mosquitto_broker, "gunwatch/#") as seen:
            channel.send(alert("alert"), None)
            event, state = seen.wait_for(2)
            assert (event.topic, event.retain) == ("gunwatch/events", False)
            assert event.json()["key"] == "evt-1:alert"
            assert event.json()["kind"] == "alert" and event.json()["camera"] == "lobby"
            assert state.topic == "gunwatch/lobby/threat"
            assert state.json() == {"state": "ON", "event_id": "evt-1", "kind": "alert", "score": 0.91, "at": T0}

            channel.send(alert("cancel"), "ignored-address")
            _, _, event, state = seen.wait_for(4)
            assert event.json()["key"] == "evt-1:cancel"
            assert state.topic == "gunwatch/lobby/threat" and state.json()["state"] == "OFF"

        # A subscriber arriving afterwards is told the current state, and not the past events.
        [late] = retained(mosquitto_broker, channel, "gunwatch/#")
        assert (late.topic, late.retain, late.json()["state"], late.json()["kind"]) == (
            "gunwatch/lobby/threat",
            True,
            "OFF",
            "cancel",
        )
    finally:
        channel.publish("gunwatch/lobby/threat", b"", retain=True)  # an empty retained message clears it


@pytest.mark.parametrize(("kind", "state"), [("pre_alert", "ON"), ("escalation", "ON"), ("all_clear", "OFF")])
def test_threat_state_of_each_kind(
    mosquitto_broker: MosquittoBroker, make_channel: MakeChannel, kind: str, state: str
) -> None:
    channel = make_channel()
    channel.send(alert(kind), None)
    [late] = retained(mosquitto_broker, channel, f"{channel.prefix}/#")
    assert (late.topic, late.json()["state"], late.json()["kind"]) == (f"{channel.prefix}/lobby/threat", state, kind)


def test_camera_offline_marks_the_camera_unavailable(mosquitto_broker: MosquittoBroker, make_channel: MakeChannel):
    channel = make_channel()
    with MqttCollector(mosquitto_broker, f"{channel.prefix}/#") as seen:
        channel.send(alert("camera_offline", camera="dock"), None)
        event, availability = seen.wait_for(2)
    assert event.json()["kind"] == "camera_offline"
    assert (availability.topic, availability.payload) == (f"{channel.prefix}/dock/availability", b"offline")
    [late] = retained(mosquitto_broker, channel, f"{channel.prefix}/#")
    assert (late.topic, late.payload, late.retain) == (f"{channel.prefix}/dock/availability", b"offline", True)


def test_message_without_camera_goes_to_events_only(mosquitto_broker: MosquittoBroker, make_channel: MakeChannel):
    channel = make_channel()
    with MqttCollector(mosquitto_broker, f"{channel.prefix}/#") as seen:
        channel.send(alert("alert", camera=None), None)
        channel.publish(f"{channel.prefix}/marker", "end")
        received = seen.wait_for_topic(f"{channel.prefix}/marker")
    assert [message.topic for message in received] == [f"{channel.prefix}/events", f"{channel.prefix}/marker"]


def test_publish_to_a_topic_of_our_own(mosquitto_broker: MosquittoBroker, make_channel: MakeChannel) -> None:
    channel = make_channel()
    with MqttCollector(mosquitto_broker, "site/#") as seen:
        channel.publish("site/siren/set", {"on": True, "pattern": "lockdown"})
        channel.publish("site/lights/set", "RED", retain=True)
        channel.publish("site/pa/play", b"\x00\x01", qos=0)
        siren, lights, pa = seen.wait_for(3)
    assert (siren.topic, siren.json()) == ("site/siren/set", {"on": True, "pattern": "lockdown"})
    assert (lights.topic, lights.payload) == ("site/lights/set", b"RED")
    assert (pa.topic, pa.payload) == ("site/pa/play", b"\x00\x01")
    assert [message.topic for message in retained(mosquitto_broker, channel, "site/#")] == ["site/lights/set"]
    channel.publish("site/lights/set", b"", retain=True)


def test_wildcard_topic_is_not_retried(make_channel: MakeChannel) -> None:
    with pytest.raises(DeliveryError) as raised:
        make_channel().publish("site/+/set", "on")
    assert raised.value.retryable is False


def test_discovery_announces_each_camera_once(mosquitto_broker: MosquittoBroker, make_channel: MakeChannel) -> None:
    channel = make_channel(discovery=True)
    node = f"{channel.prefix}_lobby"
    with MqttCollector(mosquitto_broker, f"homeassistant/binary_sensor/{node}/#") as announced:
        channel.send(alert("alert"), None)
        channel.send(alert("cancel"), None)
        channel.send(alert("alert", camera=None, key="evt-2:alert"), None)
        channel.publish(f"homeassistant/binary_sensor/{node}/marker", "end")
        assert [
            message.topic for message in announced.wait_for_topic(f"homeassistant/binary_sensor/{node}/marker")
        ] == [
            f"homeassistant/binary_sensor/{node}/threat/config",
            f"homeassistant/binary_sensor/{node}/marker",
        ]
    [config] = retained(mosquitto_broker, channel, f"homeassistant/binary_sensor/{node}/threat/config")
    assert config.retain
    assert config.json() | {"device": None} == {
        "name": "lobby threat",
        "unique_id": f"{node}_threat",
        "device_class": "safety",
        "state_topic": f"{channel.prefix}/lobby/threat",
        "value_template": "{{ value_json.state }}",
        "payload_on": "ON",
        "payload_off": "OFF",
        "device": None,
    }
    assert config.json()["device"]["identifiers"] == [node]
    channel.publish(config.topic, b"", retain=True)


def test_no_discovery_unless_enabled(mosquitto_broker: MosquittoBroker, make_channel: MakeChannel) -> None:
    channel = make_channel()
    channel.send(alert("alert"), None)
    assert retained(mosquitto_broker, channel, f"homeassistant/binary_sensor/{channel.prefix}_lobby/#") == []


def test_broker_down_fails_fast_and_the_next_send_reconnects(
    mosquitto_broker: MosquittoBroker, make_channel: MakeChannel
) -> None:
    url = f"mqtt://ops:s3cret@{mosquitto_broker.host}:{mosquitto_broker.port}"  # credentials the broker ignores
    channel = make_channel(url=url, timeout_s=1.0, discovery=True)
    channel.send(alert("alert"), None)
    try:
        mosquitto_broker.stop()
        for _ in range(2):  # the dropped connection, then a refused one
            with pytest.raises(DeliveryError) as raised:
                channel.send(alert("cancel"), None)
            # No time limit: failing fast shows in the error itself, a refused connection rather than a timeout.
            assert "cannot connect" in str(raised.value) and "Connection refused" in str(raised.value)
            assert raised.value.retryable
            assert "'ops'" in str(raised.value) and "ops:***@" in str(raised.value)
            assert "s3cret" not in str(raised.value)
    finally:
        mosquitto_broker.start()
    with MqttCollector(mosquitto_broker, f"{channel.prefix}/events") as seen:
        channel.send(alert("cancel"), None)
        [event] = seen.wait_for(1)
    assert event.json()["key"] == "evt-1:cancel"
    # The restarted broker (no persistence) forgot the retained discovery config; the reconnect announced it again.
    discovery = f"homeassistant/binary_sensor/{channel.prefix}_lobby/threat/config"
    assert [message.topic for message in retained(mosquitto_broker, channel, discovery)] == [discovery]
    channel.publish(discovery, b"", retain=True)


def test_broker_that_never_answers_times_out(make_channel: MakeChannel) -> None:
    with SilentServer() as silent:  # accepts the TCP connection but never answers: no CONNACK comes
        channel = make_channel(url=f"mqtt://127.0.0.1:{silent.port}", timeout_s=0.5)
        raised: list[BaseException] = []
        started = time.monotonic()

        def send() -> None:
            try:
                channel.send(alert("alert"), None)
            except BaseException as error:  # checked below, on the test's thread
                raised.append(error)

        # On a thread, so a client that never gives up fails the test at the hang guard instead of hanging it.
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        sender.join(HANG_GUARD_S)
        assert not sender.is_alive(), "the send never gave up on a silent broker"
        # Only a lower bound, which no slow machine can break: it waited about the configured 0.5 s at least.
        assert time.monotonic() - started > 0.4
        # No upper bound: the server was still holding the connection unanswered when the client hung up.
        assert silent.client_hung_up_first()
    [error] = raised
    assert isinstance(error, DeliveryError) and error.retryable
    assert "no answer (CONNACK) within 0.5 s" in str(error)


def test_client_id_is_stable_and_names_the_channel(mosquitto_broker: MosquittoBroker, make_channel: MakeChannel):
    channel = make_channel()
    channel.send(alert("alert"), None)
    assert channel.client_id == f"gunwatch-ops-{os.getpid()}"
    assert f"as {channel.client_id} " in mosquitto_broker.log_tail(200)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "username", "password"),
    [
        ("mqtt://broker.local", "broker.local", 1883, False, None, None),
        ("mqtts://broker.local", "broker.local", 8883, True, None, None),
        ("MQTT://10.0.0.5:1884", "10.0.0.5", 1884, False, None, None),
        ("mqtts://ha:p%40ss@broker.local:8884", "broker.local", 8884, True, "ha", "p@ss"),
    ],
)
def test_broker_url(url: str, host: str, port: int, tls: bool, username: str | None, password: str | None) -> None:
    address = parse_broker_url(url)
    assert (address.host, address.port, address.tls, address.username, address.password) == (
        host,
        port,
        tls,
        username,
        password,
    )


@pytest.mark.parametrize("url", ["mqtt://", "http://broker.local", "mqtt://broker.local:notaport", "mqtt://u:pw@:1"])
def test_bad_broker_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        MqttChannel("ops", channel_config(url=url))
    assert "pw@" not in str(raised.value)
