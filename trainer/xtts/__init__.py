"""XTTS-v2 in PyTorch, written for this project, and the exporter that turns a checkpoint into an ONNX
model package. Sub-packages, each importing only the ones listed before it:

- model/    the PyTorch modules, with state-dict names that match Coqui's released checkpoints, the
            checkpoint reader and the sampler that runs inside the exported decode graph;
- export/   model folder -> model package: the graphs, their ONNX surgery, the quantized CPU variants
            and the sample cases each graph is checked on (`python3 -m xtts.export`);
- fixtures/ random-weight model folders (`xtts.fixtures.tiny`) and test/fixtures/tiny with its
            reference numbers (`xtts.fixtures.fixture`);
- parity/   this project's side of the comparisons with Coqui's own classes (`xtts.parity.fidelity`,
            `xtts.parity.coqui_parity`);
- bench/    what inference/bench runs in Python: the PyTorch timing baseline and the batched-decode graphs.

The model's numbers, shapes and checkpoint layout, with their sources in Coqui's code, are in
docs/xtts-v2-facts.md."""
