"""RayCluster's node kill: every process of the node's session dies, those in process groups of their own too
(as Ray puts its workers)."""

from __future__ import annotations

import os
import subprocess
import sys

from gunwatch.bench.ray_local import kill_session, session_members

# A session leader that starts a child in a process group of its own (as a raylet starts a worker), prints the
# child's pid and waits.
LEADER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], process_group=0)
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_session_is_killed_with_the_processes_in_other_groups() -> None:
    leader = subprocess.Popen([sys.executable, "-c", LEADER], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        assert leader.stdout is not None
        child = int(leader.stdout.readline())
        assert os.getpgid(child) != leader.pid  # a group of its own: killpg(leader) would have missed it
        assert set(session_members(leader.pid)) == {leader.pid, child}
        kill_session(leader.pid)
        assert leader.wait() == -9
        assert session_members(leader.pid) == []  # the child too (a zombie until its parent's parent reaps it)
    finally:
        kill_session(leader.pid)
        leader.wait()


def test_an_ended_session_has_no_members() -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           start_new_session=True, check=True)
    pid = int(ended.stdout)
    assert session_members(pid) == []
    kill_session(pid)  # nothing to kill: returns
