"""gpt_prefill_fused_fp32 (fused.fused_prefill: onnxruntime's fused operators) in onnxruntime against the traced
gpt_prefill_fp32: the same logits, latent, keys and values within float rounding for prompts of every length
(the causal attention, the last position's heads), and the same outputs' shapes, in far fewer nodes a layer."""
import unittest

import numpy as np

from xtts.export.fused import fused_prefill
from xtts.export.testing import TinyGraphsCase


class PrefillFused(TinyGraphsCase):
    want = ("gpt_prefill",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.graphs["gpt_prefill_fused_fp32"] = fused_prefill(cls.m.gpt)

    def test_equals_the_traced_prefill(self):
        s = self.s
        fused, trace = self._session("gpt_prefill_fused_fp32"), self._session("gpt_prefill_fp32")
        rng = np.random.default_rng(11)
        for t in (1, 2, 7, 33, s.gpt_max_text_tokens):
            ids = np.concatenate([[s.gpt_start_text_token], rng.integers(5, 60, t - 2 if t > 2 else 0),
                                  [s.gpt_stop_text_token]])[:t].astype(np.int64)[None, :]
            feed = {"cond": rng.standard_normal((1, s.perceiver_latents, s.gpt_n_model_channels)).astype(np.float32),
                    "text_ids": ids}
            got, want = fused.run(None, feed), trace.run(None, feed)
            for name, a, b in zip(["logits", "latent", "present_k", "present_v"], got, want):
                self.assertEqual(a.shape, b.shape, f"{t} tokens: {name}")
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=f"{t} tokens: {name}")

    def test_same_inputs_and_outputs_in_fewer_nodes(self):
        fused, trace = self.graphs["gpt_prefill_fused_fp32"].graph, self.graphs["gpt_prefill_fp32"].graph
        self.assertEqual([i.name for i in fused.input], [i.name for i in trace.input])
        self.assertEqual([o.name for o in fused.output], [o.name for o in trace.output])
        per_layer = (len(fused.node) - 1) / self.s.gpt_layers
        self.assertLess(len(fused.node) * 2, len([n for n in trace.node if n.op_type != "Constant"]))
        self.assertLess(per_layer, 25)


if __name__ == "__main__":
    unittest.main()
