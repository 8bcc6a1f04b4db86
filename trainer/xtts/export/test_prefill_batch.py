"""gpt_prefill_batch_fp32 (graphs.PrefillBatch) in onnxruntime against gpt_prefill_fp32 run on each row alone:
rows of different text lengths padded to the longest give each row the batch-1 prefill's logits, latent and
keys and values in its own columns, and finite values in the padding's."""
import unittest

import numpy as np
import torch

from xtts.export.testing import TinyGraphsCase


class PrefillBatch(TinyGraphsCase):
    def test_rows_are_the_batch_1_prefill(self):
        s = self.s
        g = torch.Generator().manual_seed(3)
        start, stop = s.gpt_start_text_token, s.gpt_stop_text_token
        rows = [[start, *torch.randint(5, 60, (n,), generator=g).tolist(), stop] for n in (7, 1, 4, 7)]
        t = max(map(len, rows))
        ids = np.array([r + [stop] * (t - len(r)) for r in rows], np.int64)
        lens = np.array([len(r) for r in rows], np.int64)
        cond = torch.randn(len(rows), s.perceiver_latents, s.gpt_n_model_channels, generator=g).numpy()
        logits, latent, k, v = self._session("gpt_prefill_batch_fp32").run(
            None, {"cond": cond, "text_ids": ids, "text_len": lens})
        self.assertEqual(k.shape[3], s.perceiver_latents + t + 1)
        self.assertTrue(np.isfinite(k).all() and np.isfinite(v).all(), "padding columns finite")
        one = self._session("gpt_prefill_fp32")
        for i, r in enumerate(rows):
            l1, lat1, k1, v1 = one.run(None, {"cond": cond[i:i + 1], "text_ids": np.array([r], np.int64)})
            p = k1.shape[3]
            self.assertEqual(p, s.perceiver_latents + len(r) + 1)
            np.testing.assert_allclose(logits[i], l1[0], rtol=0, atol=1e-5, err_msg=f"row {i} logits")
            np.testing.assert_allclose(latent[i], lat1[0], rtol=0, atol=1e-5, err_msg=f"row {i} latent")
            np.testing.assert_allclose(k[:, i, :, :p], k1[:, 0], rtol=0, atol=1e-5, err_msg=f"row {i} keys")
            np.testing.assert_allclose(v[:, i, :, :p], v1[:, 0], rtol=0, atol=1e-5, err_msg=f"row {i} values")


if __name__ == "__main__":
    unittest.main()
