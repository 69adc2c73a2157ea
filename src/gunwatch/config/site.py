"""The whole site file: its cameras and the site-wide sections."""

from __future__ import annotations

from pydantic import Field, field_validator

from gunwatch.config.base import Name, StrictModel
from gunwatch.config.camera import Camera
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

    @field_validator("cameras")
    @classmethod
    def _at_least_one(cls, cameras: dict[str, Camera]) -> dict[str, Camera]:
        if not cameras:
            raise ValueError("list at least one camera")
        return cameras

    @property
    def enabled_cameras(self) -> dict[str, Camera]:
        return {name: camera for name, camera in self.cameras.items() if camera.enabled}
