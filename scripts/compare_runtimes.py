"""The shipped detector on other runtimes and precisions: speed in one run, and val accuracy (issue 11, item 5).

    pip install openvino nncf     # not gunwatch dependencies: this comparison only
    python scripts/compare_runtimes.py [--int8 runs/shipped-int8/gunwatch-nano-int8.onnx] [--threads 1,2] [--accuracy]

Rows: ONNX Runtime FP32 (what gunwatch runs; the reference), ONNX Runtime INT8 (a `gunwatch quantize` copy,
when given), OpenVINO at FP32 and at BF16 (where the CPU has BF16 instructions: OpenVINO's default there), and
OpenVINO INT8 made by NNCF (static, mixed preset, calibrated on 300 training images drawn as `gunwatch
quantize` draws them, through the runtime's own letterbox). Speed: one 416 px image per call, interleaved
rounds of 20 calls, median ms per call and the ratio to ONNX Runtime FP32 timed in the same run. `--accuracy`:
mAP@0.5 and gun-image recall at the model's threshold on the val split, each runtime behind the same
`OnnxYolox` pre- and post-processing.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from gunwatch.bench.interleaved import interleaved_median_ms
from gunwatch.data.images import load_rgb
from gunwatch.evaluation.evaluate import evaluate
from gunwatch.evaluation.int8_build import calibration_images
from gunwatch.inference.loading import SHIPPED_DETECTOR
from gunwatch.inference.onnx_session import gunwatch_metadata, session_options
from gunwatch.inference.onnx_yolox import OnnxYolox

DATA = Path("../shared/datasets/PistolData_merged")
SIDE = 416
CALIBRATION_IMAGES = 300
ROUNDS, CALLS = 10, 20


class OpenVinoSession:
    """An OpenVINO compiled model behind the three calls `OnnxYolox` makes of an ONNX Runtime session."""

    def __init__(self, compiled: Any, metadata: dict[str, str]) -> None:
        self.request, self.metadata = compiled.create_infer_request(), metadata

    def get_inputs(self) -> list[Any]:
        return [argparse.Namespace(name="images", shape=["batch", 3, SIDE, SIDE])]

    def get_modelmeta(self) -> Any:
        return argparse.Namespace(custom_metadata_map=self.metadata)

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [self.request.infer({0: feeds["images"]})[0].copy()]


def onnxruntime_session(path: Path, threads: int) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])


def openvino_networks(model: Path) -> tuple[Any, dict[str, tuple[Any, str]]]:
    """OpenVINO's core and, by row name, each network with its inference precision: FP32, NNCF INT8 (quantised
    once for every thread count) and BF16 where the CPU has it; no rows without openvino and nncf."""
    try:
        import nncf
        import openvino as ov
    except ImportError:
        print("openvino and nncf are not installed: ONNX Runtime rows only (pip install openvino nncf)")
        return None, {}
    core = ov.Core()
    network = core.read_model(str(model))
    network.reshape([-1, 3, SIDE, SIDE])
    int8 = nncf.quantize(network.clone(), nncf.Dataset(calibration_batches(model)),
                         preset=nncf.QuantizationPreset.MIXED, subset_size=CALIBRATION_IMAGES)
    networks = {"OpenVINO FP32": (network, "f32"), "OpenVINO INT8 (NNCF)": (int8, "f32")}
    if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        networks["OpenVINO BF16"] = (network, "bf16")
    return core, networks


def openvino_session(core: Any, network: Any, precision: str, threads: int,
                     metadata: dict[str, str]) -> OpenVinoSession:
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
    return OpenVinoSession(core.compile_model(network, "CPU", config), metadata)


def calibration_batches(model: Path) -> list[np.ndarray]:
    """`gunwatch quantize`'s draw of training images (seed 0), as network inputs."""
    detector = OnnxYolox(model, onnxruntime_session(model, 1))
    paths = calibration_images(DATA, None, CALIBRATION_IMAGES, seed=0)
    return [detector.input_batch([load_rgb(path)])[0] for path in paths]


def median_ms(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median ms per call of each, timed in interleaved rounds of CALLS calls (one round untimed first)."""
    batches = {name: (lambda call=call: [call() for _ in range(CALLS)]) for name, call in calls.items()}
    return {name: ms / CALLS for name, ms in interleaved_median_ms(batches, rounds=ROUNDS, warmup=1).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=SHIPPED_DETECTOR)
    parser.add_argument("--int8", type=Path, help="an ONNX Runtime INT8 copy (gunwatch quantize)")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--accuracy", action="store_true", help="also mAP@0.5 on the val split")
    args = parser.parse_args()
    metadata = gunwatch_metadata(onnxruntime_session(args.model, 1))
    image = np.random.default_rng(0).integers(0, 256, (1, 3, SIDE, SIDE)).astype(np.float32)
    core, networks = openvino_networks(args.model)
    rows: dict[str, dict[str, float]] = {}
    for threads in [int(t) for t in args.threads.split(",")]:
        sessions: dict[str, Any] = {"ONNX Runtime FP32": onnxruntime_session(args.model, threads)}
        if args.int8:
            sessions["ONNX Runtime INT8"] = onnxruntime_session(args.int8, threads)
        for name, (network, precision) in networks.items():
            sessions[name] = openvino_session(core, network, precision, threads, metadata)
        calls = {name: (lambda s=session: s.run(None, {"images": image})) for name, session in sessions.items()}
        for name, ms in median_ms(calls).items():
            rows.setdefault(name, {})[f"ms_{threads}"] = ms
        if args.accuracy and threads == 1:
            for name, session in sessions.items():
                report = evaluate(OnnxYolox(args.model, session), DATA, split="val", progress=False).report
                rows[name].update(map50=report.map50, recall=report.image_recall, image_fpr=report.image_fpr)
    print(json.dumps(rows))
    thread_counts = args.threads.split(",")
    header = ["runtime"] + [f"ms, {t} thread(s) (x ORT FP32)" for t in thread_counts]
    if args.accuracy:
        header += ["val mAP@0.5", "gun-image recall / image FPR"]
    print("| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    reference = rows["ONNX Runtime FP32"]
    for name, row in rows.items():
        cells = [name] + [f"{row[f'ms_{t}']:.2f} ({reference[f'ms_{t}'] / row[f'ms_{t}']:.2f}x)" for t in thread_counts]
        if args.accuracy:
            cells += [f"{row['map50']:.3f}", f"{row['recall']:.3f} / {row['image_fpr']:.3f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
