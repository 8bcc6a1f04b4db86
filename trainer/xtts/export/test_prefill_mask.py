"""The prefill graphs build their causal mask once for every layer (GPT2Stack): onnxruntime places the mask's
index arithmetic on the CPU, so a mask made per layer became a copy from host memory per layer in a CUDA session,
each waiting for the GPU's queued work. Checked here: each prefill graph holds one mask whatever its layers, and
the stack's outputs equal those of every layer making its own mask (the graphs before), in PyTorch and in
onnxruntime, bit for bit."""
import unittest

import numpy as np
import torch

from xtts.export.testing import TinyGraphsCase
from xtts.model import gpt2


def _per_layer_masks(stack, x, past_k=None, past_v=None):
    """GPT2Stack.forward as it was: no mask handed down, so each layer's attention makes its own."""
    causal = past_k is None
    ks, vs = [], []
    for i, block in enumerate(stack.h):
        x, k, v = block(x, None if past_k is None else past_k[i], None if past_v is None else past_v[i], causal)
        ks.append(k)
        vs.append(v)
    return stack.ln_f(x), torch.stack(ks), torch.stack(vs)


class PrefillMask(TinyGraphsCase):
    want = ("gpt_prefill",)

    def test_each_prefill_graph_builds_one_mask(self):
        from xtts.export.graphs import export_prefill_batch, export_prefill_prefix
        self.assertGreater(self.s.gpt_layers, 1)
        graphs = {"gpt_prefill_fp32": self.graphs["gpt_prefill_fp32"], "gpt_prefill_batch_fp32": export_prefill_batch(self.m),
                  "gpt_prefill_prefix_fp32": export_prefill_prefix(self.m)}
        for stem, graph in graphs.items():
            ops = [n.op_type for n in graph.graph.node]
            self.assertEqual(ops.count("LessOrEqual"), 1, stem)
            self.assertEqual(ops.count("Not"), 1, stem)
            # Every layer still applies it.
            self.assertGreaterEqual(ops.count("Where"), self.s.gpt_layers, stem)

    def test_the_stack_equals_a_mask_per_layer(self):
        stack = self.m.gpt.gpt
        g = torch.Generator().manual_seed(7)
        d = self.s.gpt_n_model_channels
        with torch.no_grad():
            for t in (1, 5, 40):
                x = torch.randn(2, t, d, generator=g)
                for a, b in zip(stack(x), _per_layer_masks(stack, x)):
                    self.assertTrue(torch.equal(a, b), f"{t} positions")

    def test_causal_masked(self):
        m = gpt2.causal_masked(2, 4, "cpu")
        # Two new positions after two past ones: the first sees 0..2, the second 0..3.
        self.assertEqual(m.tolist(), [[False, False, False, True], [False, False, False, False]])
        self.assertEqual(gpt2.causal_masked(3, 3, "cpu").tolist(),
                         [[False, True, True], [False, False, True], [False, False, False]])

    def test_graph_equals_the_graph_with_a_mask_per_layer(self):
        from xtts.export.graphs import export_graphs
        original = gpt2.GPT2Stack.forward
        gpt2.GPT2Stack.forward = lambda self, x, past_k=None, past_v=None, causal=None: _per_layer_masks(self, x)
        try:
            before = export_graphs(self.m, ["gpt_prefill"], fp16=False)["gpt_prefill_fp32"]
        finally:
            gpt2.GPT2Stack.forward = original
        ops = [n.op_type for n in before.graph.node]
        self.assertEqual(ops.count("LessOrEqual"), self.s.gpt_layers)
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = 1
        old = ort.InferenceSession(before.SerializeToString(), o, providers=["CPUExecutionProvider"])
        new = self._session("gpt_prefill_fp32")
        rng = np.random.default_rng(3)
        for t in (2, 9, 30):
            feed = {"cond": rng.standard_normal((1, self.s.perceiver_latents, self.s.gpt_n_model_channels)).astype(np.float32),
                    "text_ids": rng.integers(1, 60, (1, t)).astype(np.int64)}
            for name, a, b in zip(["logits", "latent", "present_k", "present_v"], new.run(None, feed), old.run(None, feed)):
                np.testing.assert_array_equal(a, b, err_msg=f"{t} tokens: {name}")


if __name__ == "__main__":
    unittest.main()
