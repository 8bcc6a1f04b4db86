"""What the export tests share: the tiny GPT model, its graphs exported once per test class, and CPU
onnxruntime sessions over them (one thread, so numbers do not depend on the machine's cores)."""
import unittest

import torch

from xtts.export.graphs import export_graphs
from xtts.fixtures.fixture import tiny_gpt_model


class TinyGraphsCase(unittest.TestCase):
    """setUpClass exports `want` of the tiny model (fp32 only): self.s (sizes), self.m (model), self.graphs."""

    want = ("gpt_prefill", "gpt_batch")

    @classmethod
    def setUpClass(cls):
        cls.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        cls.s, cls.m = tiny_gpt_model()
        cls.graphs = export_graphs(cls.m, list(cls.want), fp16=False)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls.threads)

    def _session(self, stem):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        return ort.InferenceSession(self.graphs[stem].SerializeToString(), o, providers=["CPUExecutionProvider"])
