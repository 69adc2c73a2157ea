"""The `retention` section: how long evidence, events and health history are kept, and the disk's floor.

Nothing here is ever pruned from an event that is open, that nobody has called a false alarm or resolved, or
that is under a legal hold (`gunwatch event hold ID`): those are kept whatever the ages, sizes and floor say.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from gunwatch.config.base import Name, StrictModel

GB = 1024**3


class CameraRetention(StrictModel):
    """One camera's ages where they differ from the site's (a camera's key may name one no longer in the
    site file: its old evidence is still on disk)."""

    evidence_days: float | None = Field(None, gt=0, description="days its events' evidence is kept")
    events_days: float | None = Field(None, gt=0, description="days its events are kept (with their evidence)")
    health_days: float | None = Field(None, gt=0, description="days its health history is kept")


class RetentionSettings(StrictModel):
    """What is pruned, oldest first, by `gunwatch watch` (every `every_s`) and `gunwatch prune`."""

    evidence_days: float | None = Field(
        None, gt=0, description="days an event's snapshots and clip are kept after it ended (default: no limit)")
    evidence_max_gb: float | None = Field(
        None, gt=0, description="the evidence folder's most size: beyond it the oldest prunable evidence goes")
    events_days: float | None = Field(
        None, gt=0, description="days an event (its row, deliveries, runs, audit) is kept after it ended; its "
                                "evidence goes with it (default: no limit)")
    health_days: float | None = Field(
        365.0, gt=0, description="days of camera health history kept (each camera's current state always is)")
    min_free_gb: float | None = Field(
        None, gt=0, description="the free-space floor of the evidence disk, in GB: below it the oldest prunable "
                                "evidence goes, and a disk_low health event is recorded")
    min_free_percent: float | None = Field(
        5.0, gt=0, lt=100, description="the floor as a share of the evidence disk (with min_free_gb, the higher "
                                       "of the two counts)")
    every_s: float = Field(60.0, ge=5, le=86400, description="how often `gunwatch watch` prunes and checks the floor")
    cameras: dict[Name, CameraRetention] = Field(default_factory=dict, description="per-camera ages, by name")

    @model_validator(mode="after")
    def _events_outlive_evidence(self) -> RetentionSettings:
        # An event kept for less time than its evidence would take the evidence with it: the shorter age wins,
        # so a larger evidence_days would be a promise the file cannot keep.
        if self.events_days is not None and self.evidence_days is not None and self.events_days < self.evidence_days:
            raise ValueError(f"events_days ({self.events_days:g}) is shorter than evidence_days "
                             f"({self.evidence_days:g}): an event's evidence goes with it")
        return self

    def evidence_days_of(self, camera: str) -> float | None:
        override = self.cameras.get(camera)
        return override.evidence_days if override is not None and override.evidence_days is not None \
            else self.evidence_days

    def events_days_of(self, camera: str) -> float | None:
        override = self.cameras.get(camera)
        return override.events_days if override is not None and override.events_days is not None \
            else self.events_days

    def health_days_of(self, camera: str) -> float | None:
        override = self.cameras.get(camera)
        return override.health_days if override is not None and override.health_days is not None \
            else self.health_days

    def floor_bytes(self, disk_total: int) -> int:
        """The free space the evidence disk must keep, in bytes, for a disk of `disk_total` bytes."""
        floors = [0]
        if self.min_free_gb is not None:
            floors.append(int(self.min_free_gb * GB))
        if self.min_free_percent is not None:
            floors.append(int(disk_total * self.min_free_percent / 100))
        return max(floors)
