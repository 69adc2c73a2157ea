"""A model soup: the weights of several detector checkpoints averaged into one network, exported like a run.

    python scripts/weight_soup.py OUT.onnx runs/a/best.pt runs/b/best.pt ... [--threshold-from-val]

Fine-tunes of one starting point often average into a network better than each (Wortsman et al. 2022, "Model
soups"), at no cost when it runs. Every checkpoint's EMA weights are averaged, batch-norm statistics included,
and the average is exported with `export_yolox`. `--threshold-from-val` writes `gunwatch.threshold` as training
does (the lowest score that flags at most 1 % of the val split's gun-free images). The ingredients must share one
starting point (configs/detector-soup-*.yaml): exports of runs that started from a folded file do not average
(model card, "Weight averaging").
"""
import argparse
from pathlib import Path

import torch

from gunwatch.evaluation.calibrate import calibrate_threshold
from gunwatch.models.yolox.model import state_dict_width
from gunwatch.training.detector_data import DETECTOR_CLASSES
from gunwatch.training.detector_train import detector_at_width, initial_weights
from gunwatch.training.export import export_yolox, write_metadata

parser = argparse.ArgumentParser()
parser.add_argument("out", type=Path)
parser.add_argument("checkpoints", type=Path, nargs="+")
parser.add_argument("--input-size", type=int, default=416)
parser.add_argument("--data", type=Path, default=Path("../shared/datasets/PistolData_merged"))
parser.add_argument("--threshold-from-val", action="store_true")
args = parser.parse_args()

ingredients = [initial_weights(path) for path in args.checkpoints]
soup = {}
for name, first in ingredients[0].items():
    if first.is_floating_point():
        soup[name] = torch.stack([weights[name] for weights in ingredients]).mean(dim=0)
    else:
        soup[name] = first  # counters (num_batches_tracked)
model = detector_at_width(state_dict_width(soup))
model.load_state_dict(soup)
export_yolox(model, args.input_size, args.out, DETECTOR_CLASSES)
if args.threshold_from_val:
    threshold = calibrate_threshold(args.out, args.data, Path("splits/pistoldata_merged.json"), "val", 0.01)
    write_metadata(args.out, {"gunwatch.threshold": str(threshold)})
print(f"{args.out}: the mean of {len(ingredients)} checkpoints")
