"""Tracking and confirmation: gun boxes followed across frames, kept to zones, confirmed into threat events.

    confirmer = ThreatConfirmer("lobby", site.cameras["lobby"], site.confirmation, detector.threshold)
    for change in confirmer.update(frame.received, frame.size, detections, frame.pts):
        ...  # a ThreatEvent: "open", "updated" or "closed"
    confirmer.tick(time.time())  # between frames, so an event closes when the camera goes quiet

Modules: `tracker` (ByteTrack-style association, one camera), `zones` (zones and masks on the picture),
`confirmation` (N of M frames, the event's life).
"""

from gunwatch.tracking.confirmation import HANDGUN_CLASS_ID, ThreatConfirmer
from gunwatch.tracking.tracker import GunTracker, Sighting, Track, TrackerSettings
from gunwatch.tracking.zones import CameraZones

__all__ = [
    "HANDGUN_CLASS_ID",
    "CameraZones",
    "GunTracker",
    "Sighting",
    "ThreatConfirmer",
    "Track",
    "TrackerSettings",
]
