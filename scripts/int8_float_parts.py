"""Where a detector's INT8 copy loses accuracy: quantise it with one part of the graph kept in float at a time.

    python scripts/int8_float_parts.py runs/detector-mobilenet-relu/model.onnx

Parts, by the exported node names: the backbone; the backbone's convolutions not followed by a ReLU (for
MobileNetV2, the linear bottlenecks' 1x1 projections) with its residual sums; everything after the backbone
(neck and head). Minmax calibration on 100 seeded train-split images, val mAP@0.5 against the FP32 file.
Used for the model card's "An ImageNet backbone".
"""
import random
import sys
from pathlib import Path

import onnx

from gunwatch.evaluation.report import build_report
from gunwatch.evaluation.runner import predict_guns
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector
from gunwatch.inference.quantize import quantize_yolox

DATA = Path("../shared/datasets/PistolData_merged")
SPLIT = Path("splits/pistoldata_merged.json")
if len(sys.argv) != 2:
    raise SystemExit(__doc__)
source = Path(sys.argv[1])
nodes = onnx.load(str(source)).graph.node
readers: dict[str, list[onnx.NodeProto]] = {}
for node in nodes:
    for name in node.input:
        readers.setdefault(name, []).append(node)
backbone = [n.name for n in nodes if n.name.startswith("/backbone/")]
linear = [n.name for n in nodes if n.name.startswith("/backbone/") and (
    n.op_type == "Add" or (n.op_type == "Conv" and not any(r.op_type == "Relu" for r in readers.get(n.output[0], []))))]
parts = {"all INT8": [], "backbone float": backbone, "linear convs + sums float": linear,
         "neck + head float": [n.name for n in nodes if n.name and not n.name.startswith("/backbone/")]}
train = select_records(DATA, "train", SPLIT).records
random.Random(0).shuffle(train)
calibration = [record.image_path for record in train[:100]]
val = select_records(DATA, "val", SPLIT).records
fp32 = load_detector(source, threads=2)
reference, _ = build_report(val, predict_guns(fp32, val, progress=False), fp32.threshold, draws=0)
print(f"{'FP32':28s} val mAP@0.5 {reference.map50:.3f}", flush=True)
out = Path("runs/int8-float-parts")
for name, kept in parts.items():
    path = quantize_yolox(source, calibration, out / f"{name.replace(' ', '-').replace('+', 'and')}.onnx",
                          method="minmax", keep_float=kept)
    predictions = predict_guns(load_detector(path, threads=2), val, progress=False)
    report, _ = build_report(val, predictions, fp32.threshold, draws=0)
    print(f"{name:28s} val mAP@0.5 {report.map50:.3f} ({report.map50 - reference.map50:+.3f}), "
          f"{len(kept)} nodes in float", flush=True)
