"""The live status of a watch: one row per camera, as a table for a terminal or lines for a log."""

from __future__ import annotations

from gunwatch.pipeline.watch import CameraStatus

COLUMNS = ("camera", "state", "frames in", "dropped", "analysed", "still", "infer ms", "events", "reason")


def status_rows(statuses: list[CameraStatus]) -> list[tuple[str, ...]]:
    return [
        (s.camera, s.state, str(s.frames_in), str(s.dropped), str(s.analysed), str(s.still), f"{s.infer_ms:.1f}",
         str(s.events), s.reason)
        for s in statuses
    ]


def status_text(statuses: list[CameraStatus]) -> str:
    """A fixed-width table (for logs, where a live display cannot redraw)."""
    rows = [COLUMNS, *status_rows(statuses)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def status_table(statuses: list[CameraStatus]):
    """A rich Table for a live terminal display."""
    from rich.table import Table

    table = Table(title="gunwatch: cameras", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column not in ("camera", "state", "reason") else "left")
    styles = {"online": "green", "stalled": "yellow", "offline": "red"}
    for status, row in zip(statuses, status_rows(statuses), strict=True):
        table.add_row(*row, style=styles.get(status.state))
    return table
