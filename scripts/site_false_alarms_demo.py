"""Does retraining the verifier with a site's false alarms cut the false alarms its cameras raise later?

    python scripts/site_false_alarms_demo.py --clips ../shared/videos/negatives --export runs/site-demo
    gunwatch train --config configs/verifier-site-demo.yaml
    python scripts/site_false_alarms_demo.py --clips ../shared/videos/negatives \
        --verifier runs/verifier-site-demo/model.onnx

Each gun-free clip stands for one camera of a site, its first half for the weeks before the retraining and its
second half for the weeks after. Every clip plays once through the live pipeline's parts (`gunwatch bench
alarms`' replay: sampling, motion gate, detector, second look, verifier, tracker, confirmation) at a setting
loose enough to raise false alarms (the live one raises none on these clips, so there would be nothing to
learn from). With `--export`, the first halves' events are stored as `gunwatch watch` stores them (a real
event store, the best frame written as evidence), marked false alarms as a guard would, and exported with
`gunwatch data false-alarms`' code into DIR/site-frames. Printed: false alarms per clip in each half, so two
runs (the shipped verifier, the retrained one) compare on the second halves, which no training saw.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from gunwatch.alerts.event_actions import EventActions
from gunwatch.bench import alarm_replay
from gunwatch.bench.alarm_clips import find_clips
from gunwatch.bench.alarm_replay import ConfirmSetting, confirm, play_clip
from gunwatch.bench.alarms import AlarmBenchSettings, bench_site, clip_camera, parse_quicks
from gunwatch.config.sections import LIVE_MAX_INPUT
from gunwatch.events.evidence import write_snapshots
from gunwatch.events.false_alarm_frames import export_false_alarms
from gunwatch.events.model import Evidence
from gunwatch.events.store import EventStore
from gunwatch.inference.detections import Detections
from gunwatch.inference.loading import load_detector
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch_command import input_side, second_look_params
from gunwatch.video.frame import Frame

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--clips", type=Path, required=True)
parser.add_argument("--verifier", default="auto")
parser.add_argument("--thresholds", default="0.5", help="comma-separated; the first is the export's")
parser.add_argument("--window", default="2/3", help="hits/frames")
parser.add_argument("--quick", default="off", help="quick lane as `gunwatch bench alarms --quick`: off, 0.05:2/3")
parser.add_argument("--export", type=Path, help="store the first halves' events as false alarms and export them")
parser.add_argument("--json", type=Path, help="write the counts here")
args = parser.parse_args()
hits, frames = map(int, args.window.split("/"))
thresholds = [float(t) for t in args.thresholds.split(",")]
[quick] = parse_quicks(args.quick)
grid = [ConfirmSetting(t, hits, frames, quick) for t in thresholds]

alarm_replay.PICTURE_WIDTH = 100_000  # keep the best frames whole: they are the evidence a guard would judge
settings = AlarmBenchSettings(clips=(args.clips,), verifier=args.verifier, max_input=LIVE_MAX_INPUT)
detector = load_detector(None, verifier=args.verifier, max_input=LIVE_MAX_INPUT)
gun = detector.class_names.index("handgun")
clips = [clip for clip in find_clips([args.clips]) if clip.gun_free]
store = None
if args.export is not None:
    args.export.mkdir(parents=True, exist_ok=True)
    store = EventStore(f"sqlite:///{args.export / 'store.db'}")
counts = {}
with tempfile.TemporaryDirectory() as temp:
    site = bench_site(Path(temp), settings, clips[0].path)
    analyzer = FrameAnalyzer(detector, input_side(detector), second_look_params(site))
    for clip in clips:
        camera = clip_camera(clip, settings)
        play = play_clip(clip, camera, site, analyzer, gun, min(thresholds))
        middle = (play.start_pts + play.end_pts) / 2
        halves = [dataclasses.replace(play, sampled=[f for f in play.sampled if (f.pts < middle) == first])
                  for first in (True, False)]
        by_setting = [[confirm(half, camera, setting, settings.close_after_s, detector.threshold, gun)
                       for half in halves] for setting in grid]
        halves_counted = [[len(e) for e in events] for events in by_setting]
        counts[clip.name] = {setting.label: n for setting, n in zip(grid, halves_counted, strict=True)}
        said = ", ".join(f"{s.threshold:.2f}: {a} / {b}" for s, (a, b) in zip(grid, halves_counted, strict=True))
        print(f"{clip.name} ({play.duration_s / 2:.1f} s a half): false alarms in the first / second half {said}",
              flush=True)
        events = by_setting[0]
        if store is None:
            continue
        for replayed in events[0]:
            picture = play.pictures[replayed.best_index].image()
            frame = Frame(clip.name, picture, replayed.best_index, replayed.best_pts, replayed.best_pts)
            event = replayed.event
            clean, annotated = write_snapshots(event, frame, Detections([event.best_box], [event.max_score], [gun]),
                                               args.export / "evidence", class_names=detector.class_names)
            store.save_event(dataclasses.replace(event, evidence=Evidence(snapshot=str(clean),
                                                                          annotated=str(annotated))))
            EventActions(store).false_alarm(event.id, "demo:guard", note="gun-free clip")
for setting in grid:
    first = sum(c[setting.label][0] for c in counts.values())
    second = sum(c[setting.label][1] for c in counts.values())
    print(f"total at {setting.label}: {first} false alarms in the first halves, {second} in the second halves "
          f"(verifier {args.verifier})")
if store is not None:
    summary = export_false_alarms(store, args.export / "site-frames")
    print(f"exported {summary.total} frames to {args.export / 'site-frames'}")
    store.close()
if args.json is not None:
    args.json.write_text(json.dumps({"verifier": args.verifier, "clips": counts}, indent=1))
