"""The allocator settings of long-running commands: at most two malloc arenas however many threads allocate
(each thread would otherwise get one, and keep its high-water mark), and the environment still wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Six threads allocate, one after another, while the others still live; then glibc's malloc_info lists the
# arenas ("<heap nr=...>") and the script prints how many there are.
COUNT_ARENAS = """
import ctypes, sys, tempfile, threading
from gunwatch.ops.memory import tune_malloc
applied = tune_malloc() if sys.argv[1] == "tuned" else None
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
started, done = threading.Barrier(7), threading.Event()
def allocate():
    libc.malloc(1000)  # a thread's first malloc takes it an arena: a new one while the limit allows
    started.wait()
    done.wait()
threads = [threading.Thread(target=allocate) for _ in range(6)]
for thread in threads: thread.start()
started.wait()
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    heaps = open(out.name).read().count("<heap nr=")
done.set()
for thread in threads: thread.join()
print(applied, heaps)
"""


def arenas(mode: str, **environment: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | environment
    run = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, env=env,
                         check=True, timeout=120)
    applied, heaps = run.stdout.split()
    return applied, int(heaps)


@pytest.fixture(autouse=True)
def _glibc() -> None:
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):  # a C library that does not name itself
        version = ""
    if not version.startswith("glibc"):
        pytest.skip("the settings are glibc's")


def test_many_allocating_threads_share_two_arenas() -> None:
    assert arenas("default")[1] > 2  # the default the setting is there for: one arena per allocating thread
    assert arenas("tuned") == ("True", 2)


def test_the_environment_overrides_the_setting() -> None:
    applied, heaps = arenas("tuned", MALLOC_ARENA_MAX="4")
    assert applied == "True" and heaps == 4
