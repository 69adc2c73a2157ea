"""The gun verifier alone, FP32 against its INT8 copy, timed in the same run (issue 11: INT8 >= 1.6x).

    python scripts/verifier_int8_speed.py [FP32 [INT8]]   # default: models/gunwatch-verifier.onnx and its -int8

Crops are real: the live crops of 40 val images (the shipped detector's candidates, whole image and second look,
cut as the runtime cuts them). Each setting (threads x crops per call) is timed in interleaved rounds, one call
of each file per round, median of 40 rounds after 5 of warm-up; the ratio is FP32 ms / INT8 ms.
"""
import sys
from functools import partial
from pathlib import Path

from gunwatch.bench.interleaved import interleaved_median_ms
from gunwatch.evaluation.int8_build import live_verifier_crops, paired_detector
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.verifier import OnnxGunVerifier

FP32 = Path(sys.argv[1] if len(sys.argv) > 1 else "models/gunwatch-verifier.onnx")
INT8 = Path(sys.argv[2] if len(sys.argv) > 2 else FP32.with_name(f"{FP32.stem}-int8.onnx"))
DATA = Path("../shared/datasets/PistolData_merged")
ROUNDS, WARMUP = 40, 5

val = select_records(DATA, "val", Path("splits/pistoldata_merged.json")).records[:40]
crops = live_verifier_crops(paired_detector(FP32), FP32, [r.image_path for r in val], progress=False)
print(f"{len(crops)} live crops of {len(val)} val images; {FP32.name} against {INT8.name}")
print(f"{'threads':>7} {'crops a call':>12} {'FP32 ms':>8} {'INT8 ms':>8} {'x':>6}")
for threads in (1, 2):
    fp32, int8 = OnnxGunVerifier.load(FP32, threads), OnnxGunVerifier.load(INT8, threads)
    for count in (1, 4, 8, 16):
        batch = crops[:count]
        ms = interleaved_median_ms({"fp32": partial(fp32.judge, batch), "int8": partial(int8.judge, batch)},
                                   ROUNDS, WARMUP)
        a, b = ms["fp32"], ms["int8"]
        print(f"{threads:>7} {count:>12} {a:>8.2f} {b:>8.2f} {a / b:>6.2f}")
