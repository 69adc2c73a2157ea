"""`gunwatch bench alerts` for real, with 3 events: every channel's receiver gets every event (a few seconds)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from gunwatch.bench.alert_broker import mqtt_unavailable
from gunwatch.bench.alert_receivers import smtp_unavailable
from gunwatch.cli import app


def test_three_events_reach_every_channel_and_the_table_says_so() -> None:
    result = CliRunner().invoke(app, ["bench", "alerts", "--events", "3", "--gap", "0.1", "--json"])
    assert result.exit_code == 0, result.stderr
    table = result.stderr
    # The bench leaves out email and MQTT where their servers are absent, and says so; so does this test.
    absent = {"email": smtp_unavailable(), "mqtt": mqtt_unavailable()}
    expected = ["webhook", "apprise", "file", *(name for name, why in absent.items() if why is None)]
    rows = {line.split()[0]: line for line in table.splitlines() if line.split() and line.split()[0] in expected}
    assert sorted(rows) == sorted(expected), table
    for name, line in rows.items():
        assert " 3/3 " in line, f"{name}: {line}"
    assert "first notification (any channel)" in table and "3/3" in table.split("first notification")[1]
    assert "target" in table
    for name, why in absent.items():
        if why is not None:
            assert f"{name}: left out" in table

    data = json.loads(result.stdout)
    assert {row["channel"] for row in data["channels"]} == set(expected)
    for row in data["channels"]:
        assert row["arrived"]["count"] == row["delivered"]["count"] == 3 and row["rejected"] == 0
        # No order between the two: an MQTT broker may acknowledge before it passes the message on.
        assert 0 < row["arrived"]["max"] < 10 and 0 < row["delivered"]["max"] < 10
    assert len(data["samples"]) == 3 and all(sample["first_s"] is not None for sample in data["samples"])
    assert isinstance(data["meets_target"], bool)  # the verdict depends on the machine; it must be given
