"""What the service layer refuses with, besides `AccessDenied` (gunwatch.users.principal) and the alerts'
`ActionRefused`: every way in (CLI, links, console, API) maps these to its own words or status codes."""

from __future__ import annotations


class NotFound(LookupError):
    """No such event, camera or frame, or one the principal may not see: both read the same, so a camera
    outside someone's access does not even show that it exists."""


class InvalidRequest(ValueError):
    """A request that cannot mean anything: an unknown action, evidence kind or cursor."""
