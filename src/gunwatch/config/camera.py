"""One camera: where its video comes from, how often and how closely it is analysed, and where guns count."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from gunwatch.config.base import Name, StrictModel
from gunwatch.config.sources import ACCEPTED_SOURCES, SourceKind, source_kind
from gunwatch.config.zones import Point, Polygon, Zone

Deinterlace = Literal["auto", "always", "never"]  # when a camera's pictures have their comb taken out (video/fields.py)
# A camera's picture shape as shown (video/aspect.py): `auto` (the stream's sample aspect ratio), `stored` (the
# pixels as sent), or a display aspect "W:H" such as "16:9" for a sub-stream squeezed without saying so.
ASPECT_WORDS = ("auto", "stored")


def _yaml_switch(value: object) -> object:
    # YAML 1.1 reads a bare on / off as true / false; `tiles: off` means the word.
    return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class DetectSettings(StrictModel):
    """How a camera is analysed."""

    fps: float = Field(5.0, gt=0, le=60, description="frames analysed per second (newer frames replace older ones)")
    width: int | None = Field(
        None, ge=32, le=8192, description="analysis width in pixels (default: the camera's; alone, keeps the aspect)"
    )
    height: int | None = Field(
        None, ge=32, le=8192, description="analysis height in pixels (default: the camera's; alone, keeps the aspect)"
    )
    threshold: float | None = Field(None, ge=0, le=1, description="handgun score threshold (default: the model's)")
    # Off by default: a 720p frame tiles into 8 crops plus the whole frame, 9 model runs, which costs the
    # capacity of many cameras (README, "Benchmarks"); turn it on for wide views where guns are small.
    tiles: Annotated[Literal["auto", "on", "off"], BeforeValidator(_yaml_switch)] = Field(
        "off", description="tiled inference for small guns: off, auto (frames over twice the model input), on"
    )
    # On by default: a gun held by a person at a distance is a few pixels in the whole frame, and a zoomed
    # look at each person (a few model runs) finds it where tiling needs many more (README, "Second look").
    second_look: bool = Field(
        True, description="look again at each person found, cropped from the full-resolution frame and zoomed"
    )


class Fisheye(StrictModel):
    """A ceiling fisheye camera (360 degrees, looking down): its circle is unwrapped into two upright half panoramas
    before anything looks (video/fisheye.py). The detector learnt people standing up; in the circle they lie
    at every angle round its centre."""

    mount: Literal["ceiling"] = Field(description="ceiling: the camera looks straight down")
    center: Point = Field((0.5, 0.5), description="the circle's centre, as fractions of the frame's width and height")
    radius: float = Field(0.5, gt=0, le=1, description="the circle's radius, as a fraction of the frame's shorter side")
    inner: float = Field(
        0.25, ge=0, le=0.8, description="the middle of the circle left out, as a fraction of the radius: straight "
                                        "below the camera people are seen from above, and the panorama would "
                                        "stretch those few pixels widest"
    )


class Camera(StrictModel):
    """A camera of the site. Its name is its key under `cameras`."""

    # repr=False: the URL may hold a password; print `redact_url(camera.url)` instead.
    url: str = Field(repr=False, description=f"where the video comes from: {ACCEPTED_SOURCES}")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTSP transport; TCP survives lossy networks, UDP has less delay"
    )
    loop: bool = Field(False, description="replay a video file or image folder from the start when it ends")
    # The detector learnt upright people; a camera on its side (corridor view) or upside down on a bracket
    # without its own flip setting must be turned before it looks (video/orientation.py).
    rotate: Literal[0, 90, 180, 270] = Field(
        0, description="degrees clockwise that turn the camera's picture upright; zones and masks are drawn "
                       "on the upright picture"
    )
    # Interlaced video (an analogue camera behind a DVR or encoder, 1080i) combs whatever moves; the detector
    # sees the comb taken out (video/fields.py).
    deinterlace: Deinterlace = Field(
        "auto", description="auto: take the comb out of the pictures the stream flags as interlaced; always: of "
                            "every picture (an encoder that wove fields into pictures it calls progressive); never"
    )
    # Many cameras squeeze a 16:9 picture into a 704 x 576 or 640 x 480 sub-stream; the detector learnt people at
    # their true proportions, so the picture is stretched back to its shape before it looks (video/aspect.py).
    aspect: str = Field(
        "auto", description="the picture's shape as shown: auto (as the stream's sample aspect ratio says), stored "
                            "(the pixels as sent), or W:H such as 16:9 (a sub-stream squeezed without saying so)"
    )
    fisheye: Fisheye | None = Field(
        None, description="a ceiling fisheye's circle, unwrapped into upright half panoramas; zones and masks are "
                          "drawn on the panorama"
    )
    enabled: bool = Field(True, description="a disabled camera is kept in the file but not opened")
    detect: DetectSettings = Field(default_factory=DetectSettings)
    zones: dict[Name, Zone] = Field(
        default_factory=dict, description="areas where a gun counts (none enabled: the whole frame counts)"
    )
    masks: list[Polygon] = Field(
        default_factory=list, description="areas ignored even inside a zone (a poster, a television)"
    )

    @field_validator("aspect")
    @classmethod
    def _aspect_words_or_ratio(cls, aspect: str) -> str:
        display_aspect(aspect)
        return aspect

    @field_validator("fisheye")
    @classmethod
    def _fisheye_is_upright_already(cls, fisheye: Fisheye | None, info: ValidationInfo) -> Fisheye | None:
        if fisheye is not None and info.data.get("rotate", 0) != 0:
            raise ValueError("a fisheye's panorama is upright already: leave out `rotate`")
        return fisheye

    @field_validator("url")
    @classmethod
    def _known_source(cls, url: str) -> str:
        source_kind(url)
        return url

    # The two checks below run only for values written in the file (defaults are not validated), so a
    # setting that would silently do nothing for this kind of source is an error, while the default is not.
    @field_validator("rtsp_transport")
    @classmethod
    def _transport_needs_rtsp(cls, transport: str, info: ValidationInfo) -> str:
        if transport != "tcp" and _kind_of(info) not in (None, "rtsp"):
            raise ValueError("applies only to rtsp:// and rtsps:// cameras")
        return transport

    @field_validator("loop")
    @classmethod
    def _loop_needs_recording(cls, loop: bool, info: ValidationInfo) -> bool:
        if loop and _kind_of(info) not in (None, "file", "folder"):
            raise ValueError("applies only to video files and image folders")
        return loop

    @property
    def kind(self) -> SourceKind:
        return source_kind(self.url)


def display_aspect(aspect: str) -> Fraction | None:
    """A camera's `aspect` as a display width / height, None for `auto` and `stored`; ValueError for anything else."""
    if aspect in ASPECT_WORDS:
        return None
    width, colon, height = aspect.partition(":")
    if not (colon and width.strip().isdigit() and height.strip().isdigit() and int(width) and int(height)):
        raise ValueError(f"must be auto, stored or a shape such as 16:9 or 4:3, not {aspect!r}")
    ratio = Fraction(int(width), int(height))
    if not Fraction(1, 4) <= ratio <= 4:
        raise ValueError(f"{aspect} is no camera picture's shape (width / height between 1/4 and 4)")
    return ratio


def _kind_of(info: ValidationInfo) -> SourceKind | None:
    # None when the URL itself was invalid: that error is reported already.
    url = info.data.get("url")
    return source_kind(url) if url is not None else None
