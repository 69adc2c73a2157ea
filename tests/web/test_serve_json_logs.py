"""`gunwatch serve --log-format json`: from start to SIGTERM, every line on stderr is a JSON log record."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

from support.smtp_server import free_port


def test_serve_logs_json_lines_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(f'cameras:\n  lobby: {{url: "{tmp_path / "lobby.mp4"}"}}\n'
                    f'store: {{url: "sqlite:///{tmp_path / "events.db"}"}}\n'
                    f"console: {{listen: '127.0.0.1:{port}'}}\n")
    process = subprocess.Popen([sys.executable, "-m", "gunwatch.cli", "serve", "--config", str(site),
                                "--log-format", "json"], stderr=subprocess.PIPE, text=True)
    guard = threading.Timer(120, process.kill)  # a server that never starts must not hang the suite
    guard.start()
    try:
        assert process.stderr is not None
        lines = []
        for line in process.stderr:  # up to the line that says it listens
            lines.append(line)
            if "console: http://127.0.0.1" in line:
                break
        process.send_signal(signal.SIGTERM)
        lines += process.stderr.readlines()
        assert process.wait() == 0
    finally:
        guard.cancel()
        process.kill()
    records = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert any(record["message"].startswith(f"console: http://127.0.0.1:{port}") for record in records)
