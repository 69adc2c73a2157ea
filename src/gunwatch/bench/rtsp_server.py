"""A real RTSP server on loopback, for `gunwatch bench soak` and the tests: GStreamer's RTSP server in a separate
process.

    server = RtspServer(clip).start()    # rtsp://127.0.0.1:PORT/cam, the clip's H.264 (or H.265) track, looping
    server.stop(); server.start()        # an outage: the same port and URL again afterwards
    server.freeze(); server.thaw()       # a hung camera: connections stay open, nothing is sent
    server.close()

The server runs `gst_rtsp_serve.py` under Debian's own python3, which has `gi`; the project's virtual
environment need not. Debian packages it needs (CI installs them; without them the tests skip, and the soak
bench says what is missing):

    python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
"""

from __future__ import annotations

import functools
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

SYSTEM_PYTHON = Path("/usr/bin/python3")
SERVE_SCRIPT = Path(__file__).with_name("gst_rtsp_serve.py")  # run by SYSTEM_PYTHON, never imported
APT_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
)
# appsrc/appsink (base), qtdemux, rtph264pay, rtph265pay, rtpbin, udpsink (good), h264parse, h265parse (bad).
NEEDED_ELEMENTS = ("appsrc", "appsink", "filesrc", "qtdemux", "h264parse", "rtph264pay", "h265parse", "rtph265pay",
                   "rtpbin", "udpsink")

_CHECK = f"""
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [name for name in {NEEDED_ELEMENTS!r} if Gst.ElementFactory.find(name) is None]
print(" ".join(missing))
"""


@functools.cache
def gst_rtsp_missing() -> str | None:
    """Why GStreamer's RTSP server cannot run here, or None when it can."""
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} not found"
    try:
        result = subprocess.run(
            [str(SYSTEM_PYTHON), "-c", _CHECK], capture_output=True, text=True, timeout=60, env=_system_env()
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"GStreamer check failed: {error}"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return f"GStreamer's RTSP server is not importable from {SYSTEM_PYTHON} ({last})"
    if result.stdout.strip():
        return f"GStreamer elements missing: {result.stdout.strip()}"
    return None


class RtspServer:
    """Serves `clip` at rtsp://127.0.0.1:PORT/NAME; the port is chosen at the first start and kept.

    The clip should have one slice per frame (`VideoWriter(..., threads=1)`) and frequent key frames: frames
    of several slices reach the client with all but the last slice missing, and a client joining between
    key frames sees garbage until the next one.
    """

    def __init__(self, clip: Path, name: str = "cam", port: int = 0, log: Path | None = None,
                 codec: str = "h264") -> None:
        """`codec`: the clip's video codec, h264 or h265 (HEVC, many cameras' default)."""
        self.clip, self.name, self.port, self.codec = clip, name, port, codec
        self.log = log or clip.with_suffix(".rtsp-server.log")
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server has not started yet")
        return f"rtsp://127.0.0.1:{self.port}/{self.name}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 20.0) -> RtspServer:
        if self.running:
            return self
        self.stop()  # a process that died on its own: release its pipe
        with self.log.open("a") as log:
            self._process = subprocess.Popen(
                [str(SYSTEM_PYTHON), str(SERVE_SCRIPT), str(self.clip), self.name, str(self.port), self.codec],
                stdin=subprocess.PIPE,  # held open: the server ends when this process does
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=_system_env(),
            )
        self.port = self._await_ready(timeout)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ends the server process: its clients' connections close, and the port refuses new ones."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGCONT)  # a frozen server must be able to act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open and the port still accepts, but nothing is sent; a hung camera."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> RtspServer:
        self.stop()
        return self.start()

    close = stop

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None):
        self.stop()

    def _await_ready(self, timeout: float) -> int:
        assert self._process is not None and self._process.stdout is not None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self._process.stdout], [], [], left)
            if not readable:
                break
            line = self._process.stdout.readline()
            if not line:  # the process ended before it was ready
                break
            if line.startswith("ready "):
                return int(line.split()[1])
        self.stop()
        raise RuntimeError(f"the RTSP server did not start within {timeout:g} s; see {self.log}:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]) if self.log.exists() else ""


def _system_env() -> dict[str, str]:
    # The test run's Python settings must not leak into Debian's python3.
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
