"""ONNX Runtime sessions and the gunwatch metadata stored in the model file."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


class ModelError(Exception):
    """A model file that cannot be used, with the file named."""


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """CPU options: `threads` for the operators (default: all cores), one thread between them."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def open_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        options = session_options(threads)
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
