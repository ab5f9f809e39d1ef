"""Segmentation models: the manifest-driven registry, download cache, torch networks and the
ONNX Runtime path. Every backend implements `core.segmentation.SegmentationBackend`."""
