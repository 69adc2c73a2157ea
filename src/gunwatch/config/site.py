"""The whole site file: its cameras and the site-wide sections."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from gunwatch.config.alerts import AlertSettings
from gunwatch.config.base import Name, StrictModel
from gunwatch.config.camera import Camera
from gunwatch.config.cluster import ClusterSettings
from gunwatch.config.console import ConsoleSettings
from gunwatch.config.errors import ReferenceProblems
from gunwatch.config.retention import RetentionSettings
from gunwatch.config.sections import (
    ConfirmationSettings,
    DetectorSettings,
    EvidenceSettings,
    HealthSettings,
    MotionSettings,
    StoreSettings,
)


class SiteConfig(StrictModel):
    """One site: its cameras, and how they are analysed, confirmed, recorded and stored.

    Every section but `cameras` has defaults, so a file naming one camera URL is complete.
    """

    cameras: dict[Name, Camera] = Field(description="the cameras, by name")
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    confirmation: ConfirmationSettings = Field(default_factory=ConfirmationSettings)
    motion: MotionSettings = Field(default_factory=MotionSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    console: ConsoleSettings | None = Field(None, description="the web console, API and metrics (default: none)")
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    cluster: ClusterSettings | None = Field(None, description="run on a Ray cluster (default: one process)")

    @field_validator("cameras")
    @classmethod
    def _at_least_one(cls, cameras: dict[str, Camera]) -> dict[str, Camera]:
        if not cameras:
            raise ValueError("list at least one camera")
        return cameras

    @model_validator(mode="after")
    def _protocol_cameras_exist(self) -> SiteConfig:
        # A protocol that names a camera the site lacks would never run: say so now, not on the day.
        problems: list[tuple[str, str]] = []
        for name, protocol in self.alerts.protocols.items():
            where = f"alerts.protocols.{name}.trigger"
            cameras = protocol.trigger.cameras
            problems += [(f"{where}.cameras", f"no camera {c!r}") for c in cameras or [] if c not in self.cameras]
            known_zones = {zone for camera in (cameras or self.cameras) if camera in self.cameras
                           for zone in self.cameras[camera].zones}
            problems += [(f"{where}.zones", f"no camera of this trigger has a zone {z!r}")
                         for z in protocol.trigger.zones or [] if z not in known_zones]
        if problems:
            raise ReferenceProblems(problems)
        return self

    @model_validator(mode="after")
    def _links_on_the_console(self) -> SiteConfig:
        # With a console, one server answers the links too: its listen and TLS are the ones that count.
        links = self.alerts.links
        if self.console is None or links.base_url is None:
            return self
        problems = []
        if "listen" in links.model_fields_set and links.listen != self.console.listen:
            problems.append(("alerts.links.listen", f"the console serves the links: remove this, or make it "
                                                    f"console.listen ({self.console.listen})"))
        if links.tls is not None and links.tls != self.console.tls:
            problems.append(("alerts.links.tls", "the console serves the links: give the certificate as console.tls"))
        scheme = links.base_url.split(":", 1)[0].lower()
        if scheme == "http" and not self.console.loopback:
            problems.append(("alerts.links.base_url", "must be https:// when the console listens beyond this machine"))
        if self.console.tls is not None and scheme != "https":
            problems.append(("alerts.links.base_url", "must be https:// when the console serves TLS"))
        if problems:
            raise ReferenceProblems(problems)
        return self

    @property
    def web_listen(self) -> str:
        """Where the one web server listens: the console's address, or the links' without a console."""
        return self.console.listen if self.console is not None else self.alerts.links.listen

    @property
    def enabled_cameras(self) -> dict[str, Camera]:
        return {name: camera for name, camera in self.cameras.items() if camera.enabled}
