"""Process groups' CPU time from /proc: parsing, membership, deltas on constructed tables; then real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

from gunwatch.bench.proc_cpu import (
    TICKS,
    ProcessRow,
    cpu_between,
    cpu_by_name,
    group_members,
    group_times,
    listening_pid,
    machine_busy,
    parse_stat,
    read_processes,
)
from support.waiting import wait_until


def test_a_stat_line_is_read_after_the_last_parenthesis_of_its_command_name() -> None:
    # The command name may hold spaces and parentheses: "(ray::Agent (x))".
    fields = ["S", "17", "40", "40"] + ["0"] * 7 + [str(3 * TICKS), str(TICKS)] + ["0"] * 6 + ["12345"]
    row = parse_stat(f"42 (ray::Agent (x)) {' '.join(fields)} 0 0")
    assert row == ProcessRow(pid=42, ppid=17, session=40, start=12345, cpu_s=4.0, name="ray::Agent (x)", state="S")
    assert row.alive and not parse_stat(f"42 (ray::Agent (x)) Z {' '.join(fields[1:])} 0 0").alive


def table(*rows: tuple[int, int, int, float]) -> dict[int, ProcessRow]:
    return {pid: ProcessRow(pid, ppid, session, start=pid * 10, cpu_s=cpu) for pid, ppid, session, cpu in rows}


def test_a_group_is_the_leaders_session_and_every_descendant_of_it() -> None:
    processes = table(
        (1, 0, 1, 0.0),  # init
        (100, 1, 100, 1.0),  # `ray start`, leading its session
        (101, 100, 100, 2.0),  # its raylet
        (102, 101, 102, 3.0),  # a worker that left the session (setsid): a descendant still
        (103, 102, 102, 4.0),  # and its child
        (104, 1, 100, 5.0),  # re-parented to init, still in the session
        (200, 1, 200, 9.0),  # another node
    )
    assert group_members(processes, 100) == {100, 101, 102, 103, 104}
    assert group_members(processes, 200) == {200}
    assert group_members(processes, 999) == set()  # gone
    # Not a session leader (a server's postmaster in its parent's session): itself and its descendants only.
    assert group_members(processes, 101) == {101, 102, 103}
    assert sum(group_times(processes, 100).values()) == 15.0


def test_cpu_between_counts_new_processes_from_zero_and_a_reused_pid_as_new() -> None:
    before = {(10, 1): 5.0, (11, 1): 1.0, (12, 1): 2.0}
    after = {(10, 1): 7.5, (11, 9): 0.5, (13, 4): 1.0}  # 11: same pid, another process; 12 ended; 13 new
    assert cpu_between(before, after) == 2.5 + 0.5 + 1.0
    names = {(10, 1): "raylet", (11, 9): "ray::NodeAgent", (13, 4): "ray::NodeAgent"}
    assert cpu_by_name(before, after, names) == {"raylet": 2.5, "ray::NodeAgent": 1.5}


def test_a_real_session_and_its_child_are_summed() -> None:
    burn = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'while True: pass'])\nwhile True: pass\n"
    leader = subprocess.Popen([sys.executable, "-c", burn], start_new_session=True)
    try:
        first = group_times(read_processes(), leader.pid)

        def both_burned() -> bool:
            now = group_times(read_processes(), leader.pid)
            return len(now) == 2 and all(cpu > 0 for cpu in now.values())

        assert wait_until(both_burned, timeout=60)
        later = group_times(read_processes(), leader.pid)
        assert cpu_between(first, later) > 0
        assert {key[0] for key in later} >= {leader.pid}
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()


def test_the_process_listening_on_a_port_is_found() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert listening_pid(server.getsockname()[1]) == os.getpid()
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert listening_pid(port) is None


def test_the_machine_is_busy_for_part_of_its_time() -> None:
    busy, total = machine_busy()
    assert 0 < busy < total
