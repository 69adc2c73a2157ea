"""Several gun verifiers averaged into one ONNX graph (the mean of their probabilities), for ablations (issue 11).

    python scripts/average_verifiers.py OUT.onnx models/gunwatch-verifier.onnx runs/verifier-seed1/model.onnx

The members must share the crop plan (input size, context, floor, top_k) and the detector (refused
otherwise); the first one's metadata is kept but for its thresholds: the image threshold is measured again on
val with the shipped detector, as `gunwatch train` measures a verifier's (at most 1 % of gun-free val images
flagged), and the live alarm threshold is left out (a member's would be stale; `gunwatch bench alarms` measures
one). Used for the seed ensembles in
README, "Gun verifier" (not shipped).
"""
import sys
from pathlib import Path

import onnx
from onnx import compose, helper

from gunwatch.evaluation.calibrate import calibrate_threshold
from gunwatch.inference.alarm_threshold import ALARM_THRESHOLD_KEY
from gunwatch.training.export import write_metadata

DETECTOR = Path("models/gunwatch-nano.onnx")
DATA = Path("../shared/datasets/PistolData_merged")
SPLIT_FILE = Path("splits/pistoldata_merged.json")
SHARED = ("gunwatch.input_size", "gunwatch.context", "gunwatch.floor", "gunwatch.top_k", "gunwatch.detector_sha256")

out, *paths = (Path(argument) for argument in sys.argv[1:])
loaded = [onnx.load(path) for path in paths]
first = loaded[0]
plans = {path: {prop.key: prop.value for prop in model.metadata_props if prop.key in SHARED}
         for path, model in zip(paths, loaded, strict=True)}
if len({tuple(sorted(plan.items())) for plan in plans.values()}) > 1:
    sys.exit("verifiers with different crop plans or detectors cannot be averaged: "
             + "; ".join(f"{path}: {plan}" for path, plan in plans.items()))
# Prefixes keep the members' tensor names apart; each member reads the shared `crops` input.
members = [compose.add_prefix(model, f"m{i}_") for i, model in enumerate(loaded)]
nodes, initializers = [], []
for i, member in enumerate(members):
    nodes.append(helper.make_node("Identity", ["crops"], [f"m{i}_crops"]))
    nodes.extend(member.graph.node)
    initializers.extend(member.graph.initializer)
nodes.append(helper.make_node("Mean", [f"m{i}_gun_probability" for i in range(len(members))], ["gun_probability"]))
graph = helper.make_graph(nodes, "verifier_mean", [first.graph.input[0]], [first.graph.output[0]], initializers)
merged = helper.make_model(graph, opset_imports=first.opset_import, ir_version=first.ir_version)
for prop in first.metadata_props:
    if prop.key != ALARM_THRESHOLD_KEY:
        merged.metadata_props.add(key=prop.key, value=prop.value)
onnx.checker.check_model(merged)
out.parent.mkdir(parents=True, exist_ok=True)
onnx.save(merged, out)
threshold = calibrate_threshold(DETECTOR, DATA, SPLIT_FILE, "val", 0.01, verifier=out)
write_metadata(out, {"gunwatch.threshold": repr(float(threshold))})
print(f"{out}: {len(paths)} verifiers averaged, threshold {threshold:.4f} (val)")
