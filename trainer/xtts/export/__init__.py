"""Model folder -> model package: `python3 -m xtts.export MODEL_DIR OUT_DIR ...` (export.py). The
graphs as wrappers over the model (graphs.py, batch.py, fused.py), their ONNX surgery (onnx_tools.py),
the int8/int4 CPU variants (quantize.py, also `python3 -m xtts.export.quantize`) and the sample inputs
with PyTorch outputs that every exported graph is checked against (cases.py)."""
