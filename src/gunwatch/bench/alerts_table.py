"""The table of `gunwatch bench alerts`, in the style of the other benches' (bench/pipeline_table.py)."""

from __future__ import annotations

import math

from gunwatch.bench.alert_receivers import FILE_POLL_S
from gunwatch.bench.alerts import TARGET_S, AlertBench, Spread

NAME_WIDTH = 34


def _ms(value: float) -> str:
    return f"{'-':>7}" if math.isnan(value) else f"{1000 * value:>7.1f}"  # NaN: nothing arrived


def _line(name: str, count: str, arrived: Spread, outbox: Spread | None) -> str:
    right = "" if outbox is None else f"   {_ms(outbox.p50):>10} {_ms(outbox.p95)} {_ms(outbox.max)}"
    return f"{name:<{NAME_WIDTH}} {count:>9} {_ms(arrived.p50)} {_ms(arrived.p95)} {_ms(arrived.max)}{right}"


def format_alerts_table(bench: AlertBench) -> str:
    settings, events = bench.settings, bench.settings.events
    header = (f"{'event open -> receiver (ms)':<{NAME_WIDTH}} {'delivered':>9} {'p50':>7} {'p95':>7} {'max':>7}   "
              f"{'outbox p50':>10} {'p95':>7} {'max':>7}")
    lines = [header, "-" * len(header)]
    for row in bench.channels:
        name = f"{row.channel} ({row.kind})"
        lines.append(_line(name, f"{row.arrived.count}/{row.expected}", row.arrived, row.delivered))
    lines.append(_line("first notification (any channel)", f"{bench.first.count}/{events}", bench.first, None))
    lines.append(_line("  protocol run -> outbox (queued)", f"{bench.queued.count}/{events}", bench.queued, None))
    for channel, why in bench.skipped.items():
        lines.append(f"{channel}: left out: {why}")
    odd = [f"{row.channel} {row.messages - row.arrived.count} repeated, {row.rejected} unusable"
           for row in bench.channels if row.rejected or row.messages != row.arrived.count]
    if odd:
        lines.append("receivers also got: " + "; ".join(odd))
    verdict = "meets" if bench.meets_target else "misses"
    lines.append(
        f"{events} events, one every {settings.gap_s:g} s, store {bench.store}; one protocol notifies one recipient "
        f"on every channel{', snapshot (720p JPEG) attached' if settings.snapshot else ''}; event open = the event "
        f"row committed and submitted to the AlertService; delivered = events whose message reached the local "
        f"receiver, percentiles over those (monotonic clock; the file sink polled every {1000 * FILE_POLL_S:g} ms); "
        f"outbox = event open -> delivered_at in the store (wall clock, after the receiver answered); queued = "
        f"event open -> the run's deliveries stored (created_at); first "
        f"notification p95 {1000 * bench.first.p95:.1f} ms {verdict} the {1000 * TARGET_S:g} ms target"
        + ("" if bench.first.count == events else f" ({events - bench.first.count} events notified nowhere)")
    )
    return "\n".join(lines)
