"""The cameras of `gunwatch bench cluster`: recorded clips served over RTSP, looping, one server per clip.

Each clip is re-encoded once for streaming (`streamable_copy`: one slice per frame, a key frame every second,
as `rtsp_server` asks; its own size and rate kept, its first `max_s` seconds) and served by GStreamer's RTSP
server (`rtsp_server`); camera i plays clip i mod the number of clips (each client of a server gets its own
stream). What decoding a clip costs is measured apart (`decode_cost`), in this process with PyAV as the
cameras' reader decodes: the cost model's decode term.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from gunwatch.bench.rtsp_server import RtspServer
from gunwatch.video.writer import VideoWriter

DEMO_CLIP = Path(__file__).resolve().parents[3] / "samples" / "demo" / "lobby.mp4"  # a handgun from 3 s to 7 s
ENCODER_OPTIONS = {"preset": "veryfast"}  # as bench pipeline's clips
DECODE_FRAMES = 150  # frames decoded to time a clip


@dataclass(frozen=True)
class Clip:
    name: str
    source: Path  # as given
    path: Path  # the streamable copy
    width: int
    height: int
    fps: float
    seconds: float
    decode_ms: float  # CPU ms to decode one frame (PyAV, this process)

    def to_json_dict(self) -> dict[str, object]:
        return {"name": self.name, "source": str(self.source), "width": self.width, "height": self.height,
                "fps": self.fps, "seconds": self.seconds, "decode_ms_per_frame": self.decode_ms}


def find_clips(folders_or_files: list[Path]) -> list[Path]:
    """The .mp4 files given, or in the folders given (sorted); ValueError naming a path that has none."""
    found: list[Path] = []
    for path in folders_or_files:
        if path.is_dir():
            inside = sorted(path.glob("*.mp4"))
            if not inside:
                raise ValueError(f"{path}: no .mp4 clips in this folder")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise ValueError(f"{path}: no such clip or folder")
    return found


def streamable_copy(source: Path, target: Path, max_s: float) -> tuple[int, int, float, float]:
    """Re-encode `source`'s first `max_s` seconds for the RTSP server; (width, height, fps, seconds) of the copy."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        limit = max(1, round(max_s * fps))
        options = ENCODER_OPTIONS | {"g": str(max(1, round(fps)))}
        frames, size = 0, (0, 0)
        with VideoWriter(target, fps, options, threads=1) as writer:  # threads=1: one slice per frame
            for frame in container.decode(stream):
                image = frame.to_ndarray(format="rgb24")
                writer.write(image)
                size = (image.shape[1] // 2 * 2, image.shape[0] // 2 * 2)
                frames += 1
                if frames >= limit:
                    break
    if not frames:
        raise ValueError(f"{source}: no video frames")
    return size[0], size[1], fps, frames / fps


def decode_cost(path: Path, frames: int = DECODE_FRAMES) -> float:
    """CPU ms per decoded frame (every thread of this process), decoding `path` as a camera's reader does,
    frames converted to RGB as the pipeline does."""
    with av.open(str(path)) as container:
        decoded, started = 0, time.process_time()
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
            decoded += 1
            if decoded >= frames:
                break
        spent = time.process_time() - started
    return 1000 * spent / max(decoded, 1)


def prepare_clip(source: Path, folder: Path, max_s: float) -> Clip:
    target = folder / f"{source.stem}.mp4"
    width, height, fps, seconds = streamable_copy(source, target, max_s)
    return Clip(source.stem, source, target, width, height, fps, seconds, decode_cost(target))


@dataclass
class Cameras:
    """The prepared clips and their RTSP servers."""

    clips: list[Clip] = field(default_factory=list)
    servers: list[RtspServer] = field(default_factory=list)

    def urls(self, count: int, prefix: str = "cam") -> dict[str, str]:
        """`count` cameras (cam01, cam02, ...), camera i on server i mod the servers."""
        return {f"{prefix}{i + 1:02d}": self.servers[i % len(self.servers)].url for i in range(count)}

    def clip_of(self, count: int, prefix: str = "cam") -> dict[str, Clip]:
        return {f"{prefix}{i + 1:02d}": self.clips[i % len(self.clips)] for i in range(count)}

    def close(self) -> None:
        for server in self.servers:
            server.stop()


def serve_clips(sources: list[Path], folder: Path, max_s: float, progress: Callable[[str], None]) -> Cameras:
    """Each source prepared and served; the servers stopped again when one fails to start."""
    cameras = Cameras()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for index, source in enumerate(sources):
            clip = prepare_clip(source, folder, max_s)
            progress(f"clip {index + 1}/{len(sources)} {clip.name}: {clip.width}x{clip.height} at {clip.fps:.3g} fps, "
                     f"{clip.seconds:.0f} s, decode {clip.decode_ms:.2f} ms a frame")
            server = RtspServer(clip.path, f"c{index + 1}", log=folder / f"{clip.name}.rtsp.log").start()
            cameras.clips.append(clip)
            cameras.servers.append(server)
    except BaseException:
        cameras.close()
        raise
    return cameras
