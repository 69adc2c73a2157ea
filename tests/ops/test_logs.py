"""JSON log lines: one object a record, the call's own fields kept, tracebacks and line breaks inside it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime

from gunwatch.ops.logs import JsonFormatter


def record(message: str, *args: object, extra: dict[str, object] | None = None,
           exc_info: object = None) -> logging.LogRecord:
    made = logging.getLogger("gunwatch.test").makeRecord("gunwatch.test", logging.WARNING, __file__, 1, message,
                                                         args, exc_info, extra=extra)  # type: ignore[arg-type]
    return made


def test_a_record_is_one_line_with_time_level_logger_message_and_its_fields() -> None:
    line = JsonFormatter().format(record("camera %s:\nline two", "lobby", extra={"camera": "lobby", "event": "e1"}))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed == {"time": parsed["time"], "level": "WARNING", "logger": "gunwatch.test",
                      "message": "camera lobby:\nline two", "camera": "lobby", "event": "e1"}
    assert datetime.fromisoformat(parsed["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_a_traceback_and_a_value_json_cannot_hold_stay_in_the_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        made = record("failed", extra={"path": object()}, exc_info=sys.exc_info())
    parsed = json.loads(JsonFormatter().format(made))
    assert parsed["exception"].startswith("Traceback") and "RuntimeError: boom" in parsed["exception"]
    assert parsed["path"].startswith("<object object")


def test_warnings_and_a_thread_that_dies_are_json_lines_too() -> None:
    # A process of its own: the setup replaces the process's hooks.
    code = (
        "import threading, warnings, logging\n"
        "from gunwatch.ops.logs import configure_logging\n"
        "configure_logging('json')\n"
        "logging.getLogger('gunwatch.x').info('hello', extra={'camera': 'lobby'})\n"
        "warnings.warn('old')\n"
        "def die(): raise ValueError('bad frame')\n"
        "thread = threading.Thread(target=die, name='camera-lobby'); thread.start(); thread.join()\n"
        "raise SystemExit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [(line["level"], line["logger"]) for line in lines] == [
        ("INFO", "gunwatch.x"), ("WARNING", "py.warnings"), ("CRITICAL", "gunwatch.ops.logs")]
    assert lines[0]["camera"] == "lobby"
    assert lines[2]["message"] == "thread camera-lobby died: bad frame" and "ValueError" in lines[2]["exception"]
