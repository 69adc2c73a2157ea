"""Detector files timed in the same run, each against the first (issue 11: INT8 >= 1.6x FP32).

    python scripts/detector_int8_speed.py silu=models/gunwatch-nano.onnx relu=runs/detector-relu/model.onnx \
        relu-int8=runs/detector-relu/model-int8.onnx

One 416 px val photo per call, two ways: the network alone (the ONNX Runtime session on the letterboxed input)
and the whole `detect` call (letterbox, network, decode, NMS), at 1 and 2 threads. Interleaved rounds, one call
of each file per round, median of 40 rounds after 5 of warm-up. Sessions do not spin their idle threads
(`spinning=False`): with several sessions open, spinning threads of one steal the cores of the next.
"""
import sys
import time
from pathlib import Path

import numpy as np

from gunwatch.data.images import load_rgb
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.loading import load_detector

DATA = Path("../shared/datasets/PistolData_merged")
ROUNDS, WARMUP = 40, 5

files = dict(argument.split("=", 1) for argument in sys.argv[1:])
if not files:
    raise SystemExit(__doc__)
image = load_rgb(select_records(DATA, "val", Path("splits/pistoldata_merged.json")).records[0].image_path)
reference = next(iter(files))
print(f"one val photo ({image.shape[1]}x{image.shape[0]}); x = {reference}'s ms / this file's, same run")
print(f"{'threads':>7} {'file':>12} {'network ms':>10} {'x':>5} {'detect ms':>9} {'x':>5}")
for threads in (1, 2):
    detectors = {name: load_detector(Path(path), threads=threads, spinning=False) for name, path in files.items()}
    inputs = {name: d.input_batch([image])[0] for name, d in detectors.items()}
    network: dict[str, list[float]] = {name: [] for name in files}
    whole: dict[str, list[float]] = {name: [] for name in files}
    for round_ in range(WARMUP + ROUNDS):
        for name, detector in detectors.items():
            start = time.perf_counter()
            detector.session.run(None, {detector.input_name: inputs[name]})
            middle = time.perf_counter()
            detector.detect([image])
            end = time.perf_counter()
            if round_ >= WARMUP:
                network[name].append(1000 * (middle - start))
                whole[name].append(1000 * (end - middle))
    for name in files:
        net, det = np.median(network[name]), np.median(whole[name])
        print(f"{threads:>7} {name:>12} {net:>10.2f} {np.median(network[reference]) / net:>5.2f} {det:>9.2f} "
              f"{np.median(whole[reference]) / det:>5.2f}")
