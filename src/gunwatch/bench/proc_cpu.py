"""CPU time of process groups, read from /proc (Linux): a Ray node, the watch driver, the PostgreSQL server.

    table = read_processes()                      # every process now: pid, parent, session, CPU seconds
    times = group_times(table, root_pid)          # the group's processes -> CPU seconds
    cpu_between(times_before, times_after)        # CPU seconds the group spent in between

A group is the processes of `root_pid`'s session when it leads one (`start_new_session`: a Ray node, the
watch) together with its descendants (a server whose children stay in their parent's session). Processes are
keyed by (pid, start time), so a pid used again is a new process. A process that started in the window counts
from zero; one that ended in it loses what it spent there (its time is gone from /proc): short-lived helpers
are undercounted, the long-lived raylet, workers and server processes are not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
LISTEN = "0A"  # TCP state in /proc/net/tcp

ProcessKey = tuple[int, int]  # (pid, start time in clock ticks after boot)


@dataclass(frozen=True)
class ProcessRow:
    pid: int
    ppid: int
    session: int
    start: int  # clock ticks after boot
    cpu_s: float  # user + system, this process only (children that ended are not added)
    name: str = ""  # the command name (/proc/PID/comm, at most 15 characters: "raylet", "ray::NodeAgent")
    state: str = ""  # R, S, D, ...; Z: ended, not yet reaped by its parent

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")

    @property
    def key(self) -> ProcessKey:
        return self.pid, self.start


def parse_stat(text: str) -> ProcessRow:
    """One /proc/PID/stat line. The command name is in parentheses and may hold spaces and parentheses itself:
    the fields after it start after the last ')'."""
    pid = int(text[: text.index(" ")])
    name = text[text.index("(") + 1: text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): ppid 4, session 6, utime 14, stime 15, starttime 22 (proc(5), 1-based).
    ppid, session = int(fields[1]), int(fields[3])
    utime, stime, start = int(fields[11]), int(fields[12]), int(fields[19])
    return ProcessRow(pid, ppid, session, start, (utime + stime) / TICKS, name, fields[0])


def read_processes(proc: Path = PROC) -> dict[int, ProcessRow]:
    table = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            table[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):  # ended meanwhile
            continue
    return table


def group_members(table: Mapping[int, ProcessRow], root: int) -> set[int]:
    """`root`, the processes of its session when it leads one, and every descendant of these."""
    if root not in table:
        return set()
    members = {root}
    if table[root].session == root:
        members |= {pid for pid, row in table.items() if row.session == root}
    children: dict[int, list[int]] = {}
    for pid, row in table.items():
        children.setdefault(row.ppid, []).append(pid)
    pending = list(members)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in members:
                members.add(child)
                pending.append(child)
    return members


def group_times(table: Mapping[int, ProcessRow], root: int) -> dict[ProcessKey, float]:
    return {table[pid].key: table[pid].cpu_s for pid in group_members(table, root)}


def cpu_between(before: Mapping[ProcessKey, float], after: Mapping[ProcessKey, float]) -> float:
    """CPU seconds the group's processes spent between two readings (see the module's note on ended ones)."""
    return sum(max(0.0, cpu - before.get(key, 0.0)) for key, cpu in after.items())


def cpu_by_name(before: Mapping[ProcessKey, float], after: Mapping[ProcessKey, float],
                names: Mapping[ProcessKey, str]) -> dict[str, float]:
    """`cpu_between`, split by command name (a node: its agent, raylet, Ray's own agents)."""
    spent: dict[str, float] = {}
    for key, cpu in after.items():
        name = names.get(key, "?")
        spent[name] = spent.get(name, 0.0) + max(0.0, cpu - before.get(key, 0.0))
    return spent


def machine_busy(proc: Path = PROC) -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core (/proc/stat's first line)."""
    values = [int(value) for value in (proc / "stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user and nice
    return (total - idle) / TICKS, total / TICKS


def listening_pid(port: int, proc: Path = PROC) -> int | None:
    """The oldest process with a TCP socket listening on `port` on this machine (a PostgreSQL server's
    postmaster), or None (a server elsewhere, or /proc not readable)."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    owners = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                owners.append(int(entry.name))
        except OSError:
            continue
    return min(owners) if owners else None
