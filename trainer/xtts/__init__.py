"""XTTS-v2 in PyTorch, written for this project: modules whose state-dict names match Coqui's
released checkpoints, and the exporter that turns a checkpoint into an ONNX model package."""
