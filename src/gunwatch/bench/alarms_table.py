"""The tables of `gunwatch bench alarms`: one per setting (per clip and total) and the sweep's summary."""

from __future__ import annotations

import math

from gunwatch.bench.alarm_intervals import alarm_intervals, describe
from gunwatch.bench.alarm_matching import AlarmTally
from gunwatch.bench.alarm_replay import QuickLane
from gunwatch.bench.alarms import MAX_FALSE_PER_HOUR, AlarmBench, SettingRun, phase_offsets

NAME_WIDTH = 24  # at least
TARGET_P50_S = 1.0


def _s(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


def _rate(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def _phases(bench: AlarmBench) -> str:
    if bench.settings.phases == 1:
        return ""
    offsets = ", ".join(f"{offset * 1000:.0f}" for offset in phase_offsets(bench.settings))
    return (f"; each clip played {bench.settings.phases} times, sampling from {offsets} ms after its first frame "
            "(counts add over plays)")


def _gate(bench: AlarmBench) -> str:
    hold = bench.settings.gun_hold_score
    held = f", held open while a gun scored >= {hold:g}" if hold is not None else ""
    return f" (forced check every {bench.forced_check_s:g} s{held})"


def settings_line(bench: AlarmBench) -> str:
    s = bench.settings
    rules = s.rules
    return (
        f"model {bench.model} (own threshold {bench.model_threshold:.3f}); detect {s.fps:g} fps, tiles {s.tiles}, "
        f"second look {'on' if s.second_look else 'off'}{'; test-time flip' if s.flip else ''}; "
        f"{f'frame-shaped input up to {s.max_input} px' if s.max_input else 'square input'}; "
        f"motion gate {'on' if s.motion else 'off'}"
        f"{_gate(bench) if s.motion else ''}{_phases(bench)}; "
        f"events close {s.close_after_s:g} s after the gun; frames by their own timestamps, not paced. "
        f"Matching: {rules.grace_s:g} s grace around episodes; episodes under {rules.short_s:g} s apart; boxes "
        f"checked against gun boxes within {rules.box_gap_s:g} s (IoU >= {rules.min_iou:g} or centre inside the gun "
        f"box grown by {rules.box_grow:.0%} each side)"
    )


def _row(name: str, length_s: float, t: AlarmTally, width: int) -> str:
    episodes = f"{t.alarmed + t.covered}/{t.episodes}" if t.episodes else "-"
    short = f"{t.short_alarmed}/{t.short_episodes}" if t.short_episodes else "-"
    return (f"{name:<{width}} {length_s:>7.1f} {episodes:>8} {t.covered:>7} {short:>6} {_s(t.latency_p50):>6} "
            f"{_s(t.latency_p95):>6} {t.true_alarms:>5} {t.unchecked:>9} {t.false_outside:>7} {t.off_gun:>7}")


def format_setting_table(bench: AlarmBench, run: SettingRun) -> str:
    width = max([NAME_WIDTH, len(run.setting.label)] + [len(result.label) for result in run.clips])
    header = (f"{run.setting.label:<{width}} {'length':>7} {'alarmed':>8} {'covered':>7} {'short':>6} "
              f"{'p50 s':>6} {'p95 s':>6} {'true':>5} {'unchecked':>9} {'false':>7} {'off gun':>7}")
    lines = [header, "-" * len(header)]
    lines += [_row(result.label, result.duration_s, result.tally, width) for result in run.clips]
    total = run.total
    lines.append("-" * len(header))
    lines.append(_row(f"total ({total.clips} plays)", total.seconds, total, width))
    gun_free = "no gun-free clips"
    if total.gun_free_s:
        gun_free = (f"{_rate(total.per_hour_gun_free)} per camera-hour on the gun-free clips ({total.false_gun_free} "
                    f"in {_minutes(total.gun_free_s)}: a start, not a full measure)")
    lines.append(f"false alarms: {gun_free}; {_rate(total.per_hour_outside)} per camera-hour of all footage outside "
                 f"episodes ({total.false_outside} in {_minutes(total.outside_s)}); {total.off_gun} more inside "
                 f"episodes with the box off the gun")
    lines.append(describe(alarm_intervals(total, bench.settings.phases, MAX_FALSE_PER_HOUR)))
    return "\n".join(lines)


def legend() -> str:
    return (
        "alarmed = episodes of >= 2 s that raised an alarm on the gun, or found the camera's event already open "
        "(covered; one event per camera); short = episodes under 2 s, alarmed / all; p50, p95 = episode start -> "
        "event (stream time; live processing adds ~0.1 s, see `gunwatch bench pipeline`); quick = the quick lane "
        "(a gun this far over the threshold confirms on hits/frames; off: none); true = alarms on a gun "
        "(unchecked: no gun box near the best frame, a person should look at the contact sheet); false = alarms "
        "confirmed outside every episode; off gun = confirmed in an episode, box not on the gun"
    )


def _quick(quick: QuickLane | None) -> str:
    return f"+{quick.margin:.2f} {quick.hits}/{quick.window}" if quick else "off"


def format_sweep_table(bench: AlarmBench) -> str:
    header = (f"{'threshold':>9} {'window':>7} {'quick':>9} {'alarmed':>8} {'p50 s':>6} {'p95 s':>6} "
              f"{'false gun-free':>14} {'/ cam-h':>7} {'false outside':>13} {'/ cam-h':>7} {'off gun':>7} "
              f"{'unchecked':>9}")
    lines = [header, "-" * len(header)]
    best = bench.recommended()
    for run in bench.runs:
        t, s = run.total, run.setting
        own = " (model)" if math.isclose(s.threshold, bench.model_threshold) else ""
        mark = "  <- recommended" if run is best else ""
        lines.append(
            f"{s.threshold:>9.2f} {f'{s.min_hits}/{s.window}':>7} {_quick(s.quick):>9} "
            f"{f'{t.alarmed + t.covered}/{t.episodes}':>8} "
            f"{_s(t.latency_p50):>6} {_s(t.latency_p95):>6} {t.false_gun_free:>14} {_rate(t.per_hour_gun_free):>7} "
            f"{t.false_outside:>13} {_rate(t.per_hour_outside):>7} {t.off_gun:>7} {t.unchecked:>9}{own}{mark}"
        )
    total = bench.runs[0].total if bench.runs else None
    if total is not None:
        lines.append(
            f"{total.clips} plays ({total.clips // bench.settings.phases} clips x {bench.settings.phases} phases), "
            f"{_minutes(total.seconds)}: {total.episodes} episodes of >= 2 s "
            f"({total.short_episodes} shorter), {_minutes(total.gun_free_s)} gun-free (a start, not a full measure: "
            f"one false alarm there is {_rate(3600 / total.gun_free_s) if total.gun_free_s else '-'} per camera-hour)"
        )
        shown = best or bench.runs[0]
        spans = describe(alarm_intervals(shown.total, bench.settings.phases, MAX_FALSE_PER_HOUR))
        lines.append(f"{'recommended' if best else 'first'} setting, {spans}")
    lines.append(
        f"rule: <= {MAX_FALSE_PER_HOUR:g} false alarms per camera-hour on gun-free footage first, then most episodes "
        f"alarmed, then lowest median latency; "
        + (f"recommended: {best.setting.label}" if best else "no setting meets the false-alarm target")
        + f" (targets: every episode of >= 2 s alarmed, median latency <= {TARGET_P50_S:g} s)"
    )
    return "\n".join(lines)
