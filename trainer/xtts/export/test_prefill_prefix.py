"""gpt_prefill_prefix_fp32 (graphs.PrefillPrefix) in onnxruntime against gpt_prefill_fp32: with no past it is the
prefill; a prompt's text after its voice's conditioning prefix (the first columns of a run over the conditioning
alone, no text) gives the prefill's logits, latent, keys and values within float rounding; and the module itself
(XttsGPT.prefill_after) the same in PyTorch."""
import unittest

import numpy as np
import torch

from xtts.export.testing import TinyGraphsCase


class PrefillPrefix(TinyGraphsCase):
    def _prompt(self, seed, n):
        s = self.s
        g = torch.Generator().manual_seed(seed)
        ids = [s.gpt_start_text_token, *torch.randint(5, 60, (n,), generator=g).tolist(), s.gpt_stop_text_token]
        cond = torch.randn(1, s.perceiver_latents, s.gpt_n_model_channels, generator=g).numpy()
        return cond, np.array([ids], np.int64)

    def _empty(self):
        s = self.s
        kv = np.zeros((s.gpt_layers, 1, s.gpt_n_heads, 0, s.gpt_n_model_channels // s.gpt_n_heads), np.float32)
        return kv, kv.copy()

    def test_without_a_past_it_is_the_prefill(self):
        cond, ids = self._prompt(1, 6)
        pk, pv = self._empty()
        got = self._session("gpt_prefill_prefix_fp32").run(
            None, {"cond": cond, "past_k": pk, "past_v": pv, "text_ids": ids})
        want = self._session("gpt_prefill_fp32").run(None, {"cond": cond, "text_ids": ids})
        for name, a, b in zip(["logits", "latent", "present_k", "present_v"], got, want):
            self.assertEqual(a.shape, b.shape, name)
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=name)

    def test_text_after_the_voice_prefix_is_the_prefill(self):
        prefix_graph = self._session("gpt_prefill_prefix_fp32")
        plain = self._session("gpt_prefill_fp32")
        c = self.s.perceiver_latents
        d = self.s.gpt_n_model_channels
        for seed, n in ((2, 1), (3, 9), (4, 30)):
            cond, ids = self._prompt(seed, n)
            pk, pv = self._empty()
            # The conditioning alone (no text): its first C columns are the voice's prefix.
            _, _, k0, v0 = prefix_graph.run(
                None, {"cond": cond, "past_k": pk, "past_v": pv, "text_ids": np.zeros((1, 0), np.int64)})
            self.assertEqual(k0.shape[3], c + 1)
            k0, v0 = np.ascontiguousarray(k0[:, :, :, :c]), np.ascontiguousarray(v0[:, :, :, :c])
            got = prefix_graph.run(None, {"cond": np.zeros((1, 0, d), np.float32), "past_k": k0, "past_v": v0,
                                          "text_ids": ids})
            want = plain.run(None, {"cond": cond, "text_ids": ids})
            for name, a, b in zip(["logits", "latent", "present_k", "present_v"], got, want):
                self.assertEqual(a.shape, b.shape, f"{n} tokens: {name}")
                np.testing.assert_allclose(a, b, rtol=0, atol=1e-5, err_msg=f"{n} tokens: {name}")

    def test_module_matches_prefill(self):
        gpt = self.m.gpt
        cond, ids = self._prompt(5, 12)
        cond, ids = torch.from_numpy(cond), torch.from_numpy(ids)
        c = self.s.perceiver_latents
        with torch.no_grad():
            want = gpt.prefill(cond, ids)
            _, _, k0, v0 = gpt.prefill_after(cond, None, None, ids[:, :0])
            got = gpt.prefill_after(cond[:, :0], k0[..., :c, :], v0[..., :c, :], ids)
        for name, a, b in zip(["logits", "latent", "present_k", "present_v"], got, want):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=name)


if __name__ == "__main__":
    unittest.main()
