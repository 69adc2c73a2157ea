"""Runtimes of the course's detector lineage (issue 15) behind the `Detector` interface, on ONNX Runtime.

One module per method (`sliding_window`, `rcnn`, `fast_rcnn`, `faster_rcnn`); `loading.LINEAGE_RUNTIMES`
maps each model file's `gunwatch.kind` to its class.
"""
