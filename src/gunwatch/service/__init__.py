"""The one service layer under the CLI, the action links, the console and the REST API: reads and actions,
each checked against a `Principal`, so the four ways in cannot drift apart."""

from __future__ import annotations
