"""Serve the H.264 or H.265 track of an MP4 over RTSP, looping, with GStreamer's RTSP server.

Run by Debian's own /usr/bin/python3 (the project's virtual environment has no `gi`), driven by
`rtsp_server.py`:

    /usr/bin/python3 gst_rtsp_serve.py CLIP.mp4 NAME PORT [h264|h265]    # PORT 0: any free port; h264 by default

Prints `ready PORT` once it listens on 127.0.0.1, and serves rtsp://127.0.0.1:PORT/NAME until SIGTERM or
the end of its standard input.
The clip's access units are read into memory once; every client gets its own stream starting at the
first key frame, with timestamps that keep rising from one loop to the next (over TCP or UDP).
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402 - after require_version, as gi demands


@dataclass(frozen=True)
class AccessUnit:
    data: bytes
    pts: int  # nanoseconds
    dts: int  # nanoseconds, or Gst.CLOCK_TIME_NONE
    duration: int  # nanoseconds
    key: bool


CODECS = ("h264", "h265")  # H.265 (HEVC): many cameras' default stream


def read_clip(path: str, codec: str = "h264") -> tuple[Gst.Caps, list[AccessUnit]]:
    """The access units of the clip's video track (parameter sets before every key frame), and their caps."""
    pipeline = Gst.parse_launch(
        f"filesrc name=file ! qtdemux ! {codec}parse config-interval=-1 "
        f"! video/x-{codec},stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    pipeline.get_by_name("file").set_property("location", path)
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    units, caps = [], None
    while (sample := sink.emit("pull-sample")) is not None:
        buffer = sample.get_buffer()
        caps = sample.get_caps()
        key = not buffer.has_flags(Gst.BufferFlags.DELTA_UNIT)
        units.append(AccessUnit(buffer.extract_dup(0, buffer.get_size()), buffer.pts, buffer.dts, buffer.duration, key))
    error = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if error is not None or not units:
        reason = error.parse_error()[0].message if error is not None else f"no {codec} frames"
        raise SystemExit(f"cannot read {path}: {reason}")
    return caps, units


class LoopingClip(GstRtspServer.RTSPMediaFactory):
    """Feeds each client's appsrc the clip's access units on demand, shifted by one clip length per loop
    (the pattern of gst-rtsp-server's examples/test-appsrc.c)."""

    def __init__(self, caps: Gst.Caps, units: list[AccessUnit], codec: str = "h264") -> None:
        super().__init__()
        self.caps, self.units = caps, units
        self.period = sum(unit.duration for unit in units)
        self.set_launch(f"( appsrc name=src format=time ! {codec}parse ! rtp{codec}pay name=pay0 pt=96 "
                        "config-interval=-1 )")
        self.connect("media-configure", self._configure)

    def _configure(self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia) -> None:
        source = media.get_element().get_child_by_name("src")
        source.set_property("caps", self.caps)
        source.connect("need-data", self._feed, {"next": 0})

    def _feed(self, source: Gst.Element, _length: int, position: dict[str, int]) -> None:
        loop, index = divmod(position["next"], len(self.units))
        position["next"] += 1
        unit, shift = self.units[index], loop * self.period
        buffer = Gst.Buffer.new_wrapped(unit.data)
        buffer.pts = unit.pts + shift
        buffer.dts = unit.dts + shift if unit.dts != Gst.CLOCK_TIME_NONE else Gst.CLOCK_TIME_NONE
        buffer.duration = unit.duration
        if not unit.key:
            buffer.set_flags(Gst.BufferFlags.DELTA_UNIT)
        source.emit("push-buffer", buffer)


def main(clip: str, name: str, port: int, codec: str = "h264") -> None:
    Gst.init(None)
    caps, units = read_clip(clip, codec)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    server.get_mount_points().add_factory(f"/{name}", LoopingClip(caps, units, codec))
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    print(f"ready {server.get_bound_port()}", flush=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    # The driver holds our stdin open; its end (the test run killed) ends the server too, no orphan left.
    stdin = GLib.IOChannel.unix_new(sys.stdin.fileno())
    GLib.io_add_watch(stdin, GLib.PRIORITY_DEFAULT, GLib.IOCondition.IN | GLib.IOCondition.HUP, _on_stdin, loop)
    loop.run()


def _on_stdin(_channel: GLib.IOChannel, _condition: GLib.IOCondition, loop: GLib.MainLoop) -> bool:
    if not sys.stdin.buffer.raw.read(4096):
        loop.quit()
        return False
    return True


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5) or (len(sys.argv) == 5 and sys.argv[4] not in CODECS):
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
