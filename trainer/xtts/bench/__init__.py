"""The Python that inference/bench runs: the PyTorch eager baseline (`python3 -m xtts.bench.bench_torch`)
and the GPT graphs of the batched-decode benchmark (`python3 -m xtts.bench.batch_graphs`)."""
