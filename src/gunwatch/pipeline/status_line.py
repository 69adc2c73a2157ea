"""The live status of a watch: one row per camera, as a table for a terminal or lines for a log."""

from __future__ import annotations

from collections.abc import Mapping

from gunwatch.pipeline.watch import CameraStatus
from gunwatch.pipeline.watchdog import Liveness

# "gun/thr": the top gun score of the last few seconds over the camera's threshold, so an "almost" (a gun
# that scores 0.42 where 0.50 counts) shows before it becomes an alarm, or while it never does.
COLUMNS = ("camera", "state", "frames in", "dropped", "analysed", "still", "infer ms", "gun/thr", "events",
           "restarts", "reason")


def status_rows(statuses: list[CameraStatus]) -> list[tuple[str, ...]]:
    return [
        (s.camera, s.state, str(s.frames_in), str(s.dropped), str(s.analysed), str(s.still), f"{s.infer_ms:.1f}",
         f"{s.top_score:.2f}/{s.threshold:.2f}", str(s.events), str(s.restarts), s.reason)
        for s in statuses
    ]


def status_text(statuses: list[CameraStatus]) -> str:
    """A fixed-width table (for logs, where a live display cannot redraw)."""
    rows = [COLUMNS, *status_rows(statuses)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def watchdog_text(liveness: Liveness, restarts: Mapping[str, int], lane_restarts: Mapping[str, int]) -> str:
    """One line: whether the watch lives, and what the watchdog restarted so far."""
    done = [f"{kind}s {count}" for kind, count in sorted(restarts.items()) if count and kind != "delivery"]
    done += [f"deliveries on {lane} {count}" for lane, count in sorted(lane_restarts.items()) if count]
    state = "ok" if liveness.ok else "STUCK: " + "; ".join(liveness.problems)
    return f"watchdog: {state}; restarted: {', '.join(done) or 'nothing'}"


def status_table(statuses: list[CameraStatus], caption: str | None = None):
    """A rich Table for a live terminal display."""
    from rich.table import Table

    table = Table(title="gunwatch: cameras", title_justify="left", caption=caption, caption_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column not in ("camera", "state", "reason") else "left")
    styles = {"online": "green", "stalled": "yellow", "degraded": "yellow", "offline": "red"}
    for status, row in zip(statuses, status_rows(statuses), strict=True):
        table.add_row(*row, style=styles.get(status.state))
    return table
