"""ONNX Runtime sessions and the gunwatch metadata stored in the model file."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

# What an INT8 file records of itself (`inference.quantize`): its precision, the FP32 file it was made from (its
# name, looked up beside it, and its sha256) and how.
PRECISION_KEY = "gunwatch.precision"
SOURCE_KEY = "gunwatch.source_model"
SOURCE_SHA_KEY = "gunwatch.source_sha256"
RECIPE_KEY = "gunwatch.quantization"


class ModelError(Exception):
    """A model file that cannot be used, with the file named."""


def session_options(threads: int | None = None, spinning: bool = True) -> ort.SessionOptions:
    """CPU options: `threads` for the operators (default: all cores), one thread between them.

    `spinning=False` lets ONNX Runtime's worker threads sleep between operators instead of busy-waiting
    for the next one. Spinning wins a little latency when inference has the machine to itself (the speed
    benchmark); in the live pipeline the cores are shared with every camera's decoder, and a spinning
    worker burns the time they need.
    """
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def open_session(path: Path, threads: int | None = None, spinning: bool = True) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        options = session_options(threads, spinning)
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"{path}: not a loadable ONNX model ({error})") from error


def gunwatch_metadata(session: ort.InferenceSession) -> dict[str, str]:
    return dict(session.get_modelmeta().custom_metadata_map)


def metadata_float(metadata: dict[str, str], key: str, path: Path, default: float | None = None) -> float:
    if key not in metadata:
        if default is None:
            raise ModelError(f"{path}: metadata key {key!r} missing")
        return default
    try:
        return float(metadata[key])
    except ValueError as error:
        raise ModelError(f"{path}: metadata {key!r} is not a number: {metadata[key]!r}") from error
