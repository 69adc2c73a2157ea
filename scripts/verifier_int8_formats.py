"""Other INT8 weight formats for the gun verifier, timed beside the FP32 file and the shipped copy (issue 11:
INT8 >= 1.6x; README, "INT8").

    python scripts/verifier_int8_formats.py   # writes runs/int8-formats/*.onnx, prints the table

The shipped copy has per-channel 7-bit S8 weights. Tried here, quantised by the same ONNX Runtime quantiser on
the same live crops (the shipped detector's candidates on 40 val images, cut as the runtime cuts them), MinMax
calibration (speed does not depend on it): U8 weights (ORT's u8 x u8 kernels, which cannot saturate, so 8 bits)
and per-tensor 7-bit S8 weights. Timing as scripts/verifier_int8_speed.py: one thread, interleaved rounds,
median of 40 after 5 of warm-up, the ratio FP32 ms / that file's ms.
"""
import contextlib
import sys
import tempfile
from functools import partial
from pathlib import Path

from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from gunwatch.bench.interleaved import interleaved_median_ms
from gunwatch.evaluation.int8_build import live_verifier_crops, paired_detector
from gunwatch.evaluation.selection import select_records
from gunwatch.inference.quantize import CalibrationCrops
from gunwatch.inference.verifier import OnnxGunVerifier

FP32, SHIPPED = Path("models/gunwatch-verifier.onnx"), Path("models/gunwatch-verifier-int8.onnx")
OUT = Path("runs/int8-formats")
FORMATS = {
    "u8-weights": {"weight_type": QuantType.QUInt8, "per_channel": True, "reduce_range": False},
    "per-tensor-7bit": {"weight_type": QuantType.QInt8, "per_channel": False, "reduce_range": True},
}
ROUNDS, WARMUP = 40, 5

val = select_records(Path("../shared/datasets/PistolData_merged"), "val", Path("splits/pistoldata_merged.json"))
crops = live_verifier_crops(paired_detector(FP32), FP32, [r.image_path for r in val.records[:40]], progress=False)
OUT.mkdir(parents=True, exist_ok=True)
input_name = OnnxGunVerifier.load(FP32, 1).input_name
with tempfile.TemporaryDirectory() as temp:
    prepared = Path(temp) / "prepared.onnx"
    quant_pre_process(str(FP32), str(prepared), skip_symbolic_shape=True)
    for name, options in FORMATS.items():
        with contextlib.redirect_stdout(sys.stderr):
            quantize_static(str(prepared), str(OUT / f"{name}.onnx"), CalibrationCrops(input_name, crops),
                            quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                            calibrate_method=CalibrationMethod.MinMax, **options)

files = {"FP32": FP32, "shipped": SHIPPED} | {name: OUT / f"{name}.onnx" for name in FORMATS}
verifiers = {name: OnnxGunVerifier.load(path, 1) for name, path in files.items()}
print(f"{len(crops)} live crops of 40 val images; one thread; ms (x FP32)")
print(f"{'crops a call':>12} " + " ".join(f"{name:>22}" for name in files))
for count in (1, 4, 8, 16):
    batch = crops[:count]
    ms = interleaved_median_ms({name: partial(verifier.judge, batch) for name, verifier in verifiers.items()},
                               ROUNDS, WARMUP)
    print(f"{count:>12} " + " ".join(f"{ms[name]:>13.2f} ({ms['FP32'] / ms[name]:.2f}x)" for name in files))
