"""People and integrations who use the console and the API: users with roles and camera access, their
sessions, API tokens, and the `Principal` every request and command acts as."""

from __future__ import annotations
