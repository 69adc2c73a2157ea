"""`gunwatch config check --reach`, cameras: open each enabled camera and decode one frame within a timeout.

Each camera is tried on a thread of its own, all at once, so the check takes about one timeout however many
cameras the site has, and a camera that hangs or fails never stops the others. The camera's reader is the one
`gunwatch watch` runs (`video.sources.READERS`), so what works here works there.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import av

from gunwatch.config.camera import Camera
from gunwatch.config.redact import redact_url
from gunwatch.video.frame import Frame, PictureRules, circle_check, picture_notes
from gunwatch.video.sources.failures import RecordingEnded, StreamFailure, describe
from gunwatch.video.sources.file import FileReader
from gunwatch.video.sources.reader import FrameReader, ReadContext
from gunwatch.video.sources.registry import READERS

REACH_TIMEOUT_S = 10.0
# After the timeout, how long a reader is given to notice the stop before it is left behind (it is a daemon).
_STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class ReachResult:
    """One thing tried: a camera or a channel. `ok` is None where it cannot be checked without sending a
    message (an apprise service). `target` is where it was tried, its password hidden."""

    what: str  # "camera" or "channel"
    name: str
    target: str
    ok: bool | None
    detail: str


def reach_cameras(cameras: dict[str, Camera], timeout_s: float = REACH_TIMEOUT_S) -> list[ReachResult]:
    """Each camera's result, in the order given: every camera tried at once, none waiting on another."""
    results: dict[str, ReachResult] = {}
    threads = [threading.Thread(target=lambda n=name, c=camera: results.__setitem__(n, reach_camera(n, c, timeout_s)),
                                name=f"reach-{name}", daemon=True) for name, camera in cameras.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # reach_camera returns within timeout_s + _STOP_GRACE_S
    return [results[name] for name in cameras]


def reach_camera(name: str, camera: Camera, timeout_s: float = REACH_TIMEOUT_S) -> ReachResult:
    """Open the camera and decode one frame within `timeout_s`; what went wrong in words otherwise."""
    target = redact_url(camera.url)
    began = time.monotonic()
    stop = threading.Event()
    outcome: list[tuple[bool, str, str]] = []
    context = ReadContext(stop, timeout_s, lambda _: None)  # undecodable pictures are skipped, as when watching

    def first_frame() -> None:
        outcome.append(_first_frame(_reader(camera), context, camera))

    reader_thread = threading.Thread(target=first_frame, name=f"reach-{name}-reader", daemon=True)
    reader_thread.start()
    reader_thread.join(timeout_s)
    if reader_thread.is_alive():
        stop.set()
        reader_thread.join(_STOP_GRACE_S)
        return ReachResult("camera", name, target, False, f"no frame within {timeout_s:g} s")
    ok, detail, advice = outcome[0]
    if ok:
        detail = f"{detail} in {time.monotonic() - began:.1f} s" + (f"; {advice}" if advice else "")
    return ReachResult("camera", name, target, ok, detail)


def _reader(camera: Camera) -> FrameReader:
    # A file unpaced: its first frame at once, whatever its timestamps say.
    return FileReader(camera, paced=False) if camera.kind == "file" else READERS[camera.kind](camera)


def _first_frame(reader: FrameReader, context: ReadContext, camera: Camera) -> tuple[bool, str, str]:
    """Whether a frame came, what came or went wrong, and advice on the camera's settings ("" for none)."""
    frames = reader.frames(context)
    try:
        image, _ = next(frames)
    except StopIteration:
        return False, "the stream ended before its first frame", ""
    except StreamFailure as failure:
        return False, failure.reason, ""
    except RecordingEnded:
        return False, "the recording has no frame to decode", ""
    except (av.FFmpegError, OSError) as error:
        return False, describe(error), ""  # never str(error): PyAV's names the URL, password and all
    except Exception as error:  # a reader's bug is this camera's result, not the end of the check
        return False, f"internal error: {type(error).__name__}", ""
    finally:
        frames.close()
    rules = PictureRules.of(camera)
    frame = Frame("reach", image, 0, None, 0.0, rules)  # as the pipeline sees it
    width, height = frame.size
    return True, f"decoded a {width}x{height} frame{picture_notes(frame)}", circle_check(image, rules)
