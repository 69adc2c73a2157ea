"""FileChannel: JSON Lines on disk and the HTML page beside them."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.channels.file_sink import PAGE_MESSAGES, FileChannel, file_path, page_path, write_page
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import channel_config


def sink(url: str) -> FileChannel:
    return FileChannel("local", channel_config(url=url))


def message(number: int = 1, **fields: object) -> AlertMessage:
    values: dict[str, object] = {
        "key": f"evt-{number}:alert",
        "kind": "alert",
        "title": f"GUN DETECTED #{number}",
        "body": "Lockdown now.",
        "camera": "entrance",
        "event_id": f"evt-{number}",
        "created_at": 1_700_000_000.0 + number,
        "links": {"ack": "https://gunwatch.example/ack?t=1"},
    }
    values.update(fields)
    return AlertMessage(**values)  # type: ignore[arg-type]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_appends_one_json_line_per_message(tmp_path: Path) -> None:
    path = tmp_path / "out" / "alerts.jsonl"  # the folder is made on the first send
    channel = sink(path.as_uri())
    first, second = message(1), message(2, kind="cancel", title="CANCELLED: #1")
    channel.send(first, None)
    channel.send(second, "ops-room")

    records = lines(path)
    assert [record["address"] for record in records] == [None, "ops-room"]
    # Everything but the action links: whoever reads the file or its page is no recipient of them.
    assert all("links" not in record for record in records)
    assert AlertMessage.from_json(records[0]) == dataclasses.replace(first, links={})
    assert AlertMessage.from_json(records[1]) == dataclasses.replace(second, links={})
    assert records[0]["created_at_iso"].startswith("2023-11-1")


def test_relative_and_percent_encoded_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    channel = sink("file://demo/my%20alerts.jsonl")  # netloc + path: the relative path demo/my alerts.jsonl
    monkeypatch.chdir("/")  # resolved at startup: later changes of directory do not move it
    channel.send(message(), None)
    assert len(lines(tmp_path / "demo" / "my alerts.jsonl")) == 1
    assert file_path("file:///var/x.jsonl") == Path("/var/x.jsonl")
    for bad in ("file://", "file:///tmp/folder/", "http://host/x.jsonl"):
        with pytest.raises(ValueError):
            file_path(bad)


def test_page_lists_messages_newest_first_escaped(tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    (snapshots / "evt 2.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    path = tmp_path / "sink" / "alerts.jsonl"
    channel = sink(path.as_uri())
    channel.send(message(1, body="<script>alert('x')</script>", links={"ack": "javascript:alert(1)"}), None)
    channel.send(message(2, snapshot=str(snapshots / "evt 2.jpg"), zone="hall & stairs"), "guard@school.example")

    page = page_path(path).read_text(encoding="utf-8")
    assert page_path(path) == tmp_path / "sink" / "alerts.html"
    assert page.index("GUN DETECTED #2") < page.index("GUN DETECTED #1")
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "javascript:" not in page
    assert "gunwatch.example/ack" not in page and "<a " not in page  # no action link: the page is world-readable
    assert '<img src="../snapshots/evt%202.jpg"' in page
    assert "zone hall &amp; stairs" in page and "guard@school.example" in page


def test_page_keeps_the_last_messages_and_skips_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    records = [json.dumps(message(number).to_json()) for number in range(PAGE_MESSAGES + 50)]
    path.write_text("\n".join([*records[:10], "not json", *records[10:]]) + "\n", encoding="utf-8")
    sink(path.as_uri()).send(message(999), None)

    page = page_path(path).read_text(encoding="utf-8")
    assert page.count("<article") == PAGE_MESSAGES
    assert "GUN DETECTED #999" in page and f"GUN DETECTED #{PAGE_MESSAGES + 49}<" in page
    assert "GUN DETECTED #51<" in page and "GUN DETECTED #50<" not in page  # 199 old ones and #999


def test_an_empty_file_gives_a_page_too(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.touch()
    write_page(path, page_path(path))
    assert "No messages yet." in page_path(path).read_text(encoding="utf-8")
    assert page_path(tmp_path / "alerts.html") == tmp_path / "alerts.html.html"  # never the sink itself


def test_two_channels_on_one_file_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    channels = [sink(path.as_uri()), sink(f"file://{path}")]
    long_body = "x" * 20_000  # longer than a pipe buffer: an unlocked append could interleave

    def worker(channel: FileChannel, start: int) -> None:
        for number in range(start, start + 10):
            channel.send(message(number, body=long_body), None)

    threads = [threading.Thread(target=worker, args=(channels[i % 2], i * 100)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({record["key"] for record in lines(path)}) == 40


def test_a_page_that_cannot_be_written_does_not_fail_the_delivery(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    page_path(path).mkdir()  # a folder where the page should go
    sink(path.as_uri()).send(message(), None)
    assert len(lines(path)) == 1
    assert not any(item.name.endswith(".tmp") for item in tmp_path.iterdir())


def test_unwritable_file_is_a_retryable_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(DeliveryError) as failed:
        sink((tmp_path / "blocker" / "alerts.jsonl").as_uri()).send(message(), None)
    assert failed.value.retryable and "'local'" in failed.value.reason
