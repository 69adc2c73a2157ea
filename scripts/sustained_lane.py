"""Would a slower confirmation lane at a lower score catch far guns without false alarms?

Far guns (`scripts/far_camera_clips.py`) score 0.2-0.65 after the verifier, under the live alarm threshold
(0.85), but they are in view for seconds. This plays each folder of clips once through the live pipeline
(`gunwatch bench alarms`' own replay: sampling, motion gate, detector, second look, verifier), then replays
only tracking and confirmation for a grid of extra lanes (a lower threshold with a longer window) beside the
live setting. An episode counts as alarmed when the live setting or the lane alarms on it; a lane's false
alarms are those of the lane alone (the live setting's are printed on their own line).

    python scripts/sustained_lane.py ../shared/videos runs/far-clips/h0.5 runs/far-clips/h0.33

Each folder is a table: a lane is worth shipping only if it gains episodes at every size without a false alarm.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gunwatch.bench.alarm_replay import ClipPlay, ConfirmSetting
from gunwatch.bench.alarms import LIVE_CONFIRMATION, LIVE_QUICK, AlarmBenchSettings, SettingRun, replay, run_alarm_bench
from gunwatch.tracking.confirmation import HANDGUN_CLASS_ID

THRESHOLDS = (0.4, 0.5, 0.6, 0.7)
WINDOWS = ((5, 8), (6, 10), (8, 10), (10, 15), (12, 15))


def episodes_alarmed(run: SettingRun) -> list[bool]:
    """Per episode of >= 2 s (in clip order): alarmed or covered by this setting."""
    return [outcome.status != "missed" for clip in run.clips for outcome in clip.match.episodes if not outcome.short]


def false_alarms(run: SettingRun) -> int:
    """Alarms outside every episode, or inside one with the box off the gun."""
    return run.total.false_outside + run.total.off_gun


def sweep(folder: Path, live_threshold: float | None) -> None:
    settings = AlarmBenchSettings(clips=(folder,), thresholds=(min(THRESHOLDS),))  # keeps every frame's guns
    bench, plays = run_alarm_bench(settings, progress=True, say=print)
    threshold = live_threshold or bench.model_threshold
    live_setting = ConfirmSetting(threshold, LIVE_CONFIRMATION.min_hits, LIVE_CONFIRMATION.window, LIVE_QUICK)
    live = lane_run(plays, live_setting, settings, bench.model_threshold)
    live_alarmed = episodes_alarmed(live)
    gun_free_min = sum(p.duration_s for p in plays if p.clip.gun_free) / 60
    print(f"\n{folder}: {len(live_alarmed)} episodes of >= 2 s, {gun_free_min:.1f} gun-free min")
    print(f"live ({live_setting.label}): {sum(live_alarmed)} / {len(live_alarmed)}, {false_alarms(live)} false")
    print(f"{'lane':>20}  {'alone':>7}  {'or live':>7}  false")
    for t in THRESHOLDS:
        for hits, window in WINDOWS:
            run = lane_run(plays, ConfirmSetting(t, hits, window), settings, bench.model_threshold)
            lane = episodes_alarmed(run)
            either = sum(a or b for a, b in zip(live_alarmed, lane, strict=True))
            print(f"{t:>10.2f}, {hits:2d} of {window:2d}  {sum(lane):>3} / {len(lane):<2}  {either:>3} / {len(lane):<2}"
                  f"  {false_alarms(run)}")


def lane_run(plays: list[ClipPlay], setting: ConfirmSetting, settings: AlarmBenchSettings,
             model_threshold: float) -> SettingRun:
    return replay(plays, setting, settings, model_threshold, HANDGUN_CLASS_ID)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of clips with sidecars")
    parser.add_argument("--live-threshold", type=float, default=None, help="default: the model's alarm threshold")
    args = parser.parse_args()
    for folder in args.folders:
        sweep(folder, args.live_threshold)


if __name__ == "__main__":
    main()
