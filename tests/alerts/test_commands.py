"""run_command: real programs, real timeouts, real process groups."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from gunwatch.alerts.channels.base import DeliveryError
from gunwatch.alerts.commands import OUTPUT_LIMIT, command_env, run_command, substitute
from support.waiting import wait_until

VARS = {"camera": "entrance", "zone": "hall", "score": "0.91", "event_id": "evt-7"}


def test_espeak_writes_a_wav(tmp_path: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        reason = "espeak-ng not installed (apt-get install espeak-ng)"
        if os.environ.get("GUNWATCH_REQUIRE_ESPEAK") == "1":  # CI: a missing package must not pass unseen
            pytest.fail(f"espeak test required (GUNWATCH_REQUIRE_ESPEAK=1) but {reason}")
        pytest.skip(reason)
    wav = tmp_path / "lockdown.wav"
    result = run_command([espeak, "-w", str(wav), "Lockdown. Gun seen at the {camera}."], 20.0, text_vars=VARS)
    assert result.returncode == 0
    assert result.argv[-1] == "Lockdown. Gun seen at the entrance."
    data = wav.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE" and len(data) > 10_000


def test_placeholders_are_filled_and_unknown_ones_kept() -> None:
    arguments = ["{camera}/{zone}", "{score} {event_id}", "{unknown} {camera:>10}", "{missing:>4}", '{"json": 1}']
    arguments += ["{", "$HOME `id`"]
    script = "import sys; print('|'.join(sys.argv[1:]))"
    result = run_command([sys.executable, "-c", script, *arguments], 10.0, text_vars=VARS)
    assert result.stdout.strip().split("|") == [
        "entrance/hall",
        "0.91 evt-7",
        "{unknown}   entrance",
        "{missing:>4}",
        '{"json": 1}',
        "{",
        "$HOME `id`",  # no shell: nothing expands
    ]


def test_the_program_is_never_substituted() -> None:
    assert substitute(["{camera}", "{camera}"], VARS) == ["{camera}", "entrance"]
    assert substitute(["echo", "{camera}"], None) == ["echo", "{camera}"]


def test_env_is_added_to_the_environment() -> None:
    script = "import os; print(os.environ['GUNWATCH_ZONE'], bool(os.environ.get('PATH')))"
    result = run_command([sys.executable, "-c", script], 10.0, env={"GUNWATCH_ZONE": "hall"})
    assert result.stdout.split() == ["hall", "True"]


PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def test_a_command_does_not_see_gunwatchs_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # gunwatch's environment holds the site's passwords (filled into the site file from ${...}).
    for name, value in [("SMTP_PASSWORD", "hunter2"), ("WEBHOOK_SECRET", "k3y"), ("AWS_SECRET_ACCESS_KEY", "x"),
                        ("GUNWATCH_LINK_SECRET", "links-key-0123456789"), ("LANG", "de_DE.UTF-8"),
                        ("LC_TIME", "de_DE.UTF-8"), ("TZ", "Europe/Berlin"), ("PULSE_SERVER", "unix:/run/pulse")]:
        monkeypatch.setenv(name, value)
    result = run_command([sys.executable, "-c", PRINT_ENV], 10.0, text_vars=VARS)
    seen = json.loads(result.stdout)
    leaked = [value for value in seen.values() if value in ("hunter2", "k3y", "x", "links-key-0123456789")]
    assert leaked == []
    assert seen["PATH"] == os.environ["PATH"] and seen["HOME"] == os.environ["HOME"]
    assert (seen["LANG"], seen["LC_TIME"], seen["TZ"]) == ("de_DE.UTF-8", "de_DE.UTF-8", "Europe/Berlin")
    assert "PULSE_SERVER" not in seen  # not named by the step
    event = {name: value for name, value in seen.items() if name.startswith("GUNWATCH_")}
    assert event == {"GUNWATCH_CAMERA": "entrance", "GUNWATCH_ZONE": "hall", "GUNWATCH_SCORE": "0.91",
                     "GUNWATCH_EVENT_ID": "evt-7"}


def test_a_step_names_the_variables_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_SERVER", "unix:/run/pulse")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    monkeypatch.delenv("ALSA_CARD", raising=False)
    result = run_command([sys.executable, "-c", PRINT_ENV], 10.0, pass_env=["PULSE_SERVER", "ALSA_CARD"])
    seen = json.loads(result.stdout)
    assert seen["PULSE_SERVER"] == "unix:/run/pulse"
    assert "ALSA_CARD" not in seen and "SMTP_PASSWORD" not in seen  # unset stays unset; unnamed stays out


def test_without_path_a_command_still_finds_the_system_programs() -> None:
    assert command_env(environ={})["PATH"] == os.defpath
    assert command_env(["A"], {"B": "2"}, environ={"A": "1", "SECRET": "s", "LC_ALL": "C"}) == {
        "PATH": os.defpath, "A": "1", "B": "2", "LC_ALL": "C"}


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file, finished = tmp_path / "child.pid", tmp_path / "finished"
    with pytest.raises(DeliveryError) as slow:
        # The shell starts a child of its own; killing only the shell would leave `sleep 5` running.
        run_command(["sh", "-c", f"sleep 5 & echo $! > {pid_file}; echo waiting >&2; wait; touch {finished}"], 0.3)
    # No time limit: the shell never got past its `wait`, so the timeout ended it, not the sleep's end.
    assert not finished.exists()
    assert slow.value.retryable
    assert "'sh' timed out after 0.3 s" in slow.value.reason and "waiting" in slow.value.reason
    child = int(pid_file.read_text())
    assert wait_until(lambda: not _alive(child), timeout=2.0)


def test_plain_sleep_times_out() -> None:
    with pytest.raises(DeliveryError) as slow:
        run_command(["sleep", "5"], 0.3)
    # No time limit: a `sleep 5` that ended on its own would have exited 0 and raised nothing.
    assert slow.value.retryable and "'sleep' timed out after 0.3 s and was killed" in slow.value.reason


def test_non_zero_exit_is_retryable_with_code_and_last_stderr_line() -> None:
    script = "import sys; print('first', file=sys.stderr); print('speaker busy', file=sys.stderr); sys.exit(3)"
    with pytest.raises(DeliveryError) as failed:
        run_command([sys.executable, "-c", script], 10.0)
    assert failed.value.retryable
    assert f"{sys.executable!r} exited with code 3: speaker busy" in failed.value.reason


def test_killed_by_a_signal() -> None:
    with pytest.raises(DeliveryError) as killed:
        run_command(["sh", "-c", "kill -TERM $$"], 10.0)
    assert killed.value.retryable and "SIGTERM" in killed.value.reason


def test_missing_program_is_not_retryable(tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as missing:
        run_command(["gunwatch-no-such-program", "x"], 5.0)
    assert not missing.value.retryable
    assert "'gunwatch-no-such-program'" in missing.value.reason and "not found" in missing.value.reason

    not_executable = tmp_path / "script.sh"
    not_executable.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(DeliveryError) as denied:
        run_command([str(not_executable)], 5.0)
    assert not denied.value.retryable

    with pytest.raises(DeliveryError) as empty:
        run_command([], 5.0)
    assert not empty.value.retryable


def test_output_is_captured_and_truncated() -> None:
    script = "import sys; sys.stdout.write('a' * 10000 + 'END'); sys.stderr.write('warning')"
    result = run_command([sys.executable, "-c", script], 10.0)
    assert len(result.stdout) == OUTPUT_LIMIT and result.stdout.endswith("END")
    assert result.stderr == "warning" and result.duration_s > 0


def _alive(pid: int) -> bool:
    # A killed child of a killed shell is reparented; where nobody reaps it, it lingers as a zombie: dead too.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_protocols_run_step_gets_the_event_and_its_env_list_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole path a run step takes: queued as a reference to the site file, rebuilt and run by the executor.
    from gunwatch.alerts.outbox.deliveries import Delivery
    from gunwatch.alerts.outbox.executor import DeliveryExecutor
    from gunwatch.alerts.protocols.steps import RunRef, step_deliveries
    from gunwatch.config.alerts import AlertSettings

    monkeypatch.setenv("PULSE_SERVER", "unix:/run/pulse")
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    out = tmp_path / "env.json"
    script = f"import json, os; open({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))"
    settings = AlertSettings.model_validate({"site_name": "School", "protocols": {"lockdown": {"steps": [
        {"run": {"command": [sys.executable, "-c", script], "timeout_s": 10, "env": ["PULSE_SERVER"]}}]}}})
    run = RunRef(1, "0123abcd", "lockdown", {"camera": "lobby", "zone": "door", "score": 0.9, "event_id": "0123abcd",
                                             "site": "School", "protocol": "lockdown"})
    [queued], _ = step_deliveries(settings, run, 0, settings.protocols["lockdown"].steps[0], "alert", 0.0)
    delivery = Delivery(1, queued.key, queued.kind, queued.action, queued.lane, queued.payload, queued.event_id,
                        queued.run_id, queued.step, None, None, None, "pending", 0, 0.0, None, 0.0, None, None)
    executor = DeliveryExecutor({}, settings)
    try:
        executor.execute(delivery)
    finally:
        executor.close()
    seen = json.loads(out.read_text())
    assert "hunter2" not in seen.values() and seen["PULSE_SERVER"] == "unix:/run/pulse"
    assert {name: value for name, value in seen.items() if name.startswith("GUNWATCH_")} == {
        "GUNWATCH_CAMERA": "lobby", "GUNWATCH_ZONE": "door", "GUNWATCH_SCORE": "0.90",
        "GUNWATCH_EVENT_ID": "0123abcd", "GUNWATCH_SITE": "School"}
