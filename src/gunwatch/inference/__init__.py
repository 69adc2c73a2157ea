"""Inference without torch: the detection value type, model loading and ONNX Runtime engines."""
