"""static_torch.StaticDecoder (a preallocated cache written in place, attention masked to the valid columns)
against the model's own decode_step: the same greedy codes and logits within 1e-5, step after step."""
import unittest

import torch

from xtts.bench.static_torch import StaticDecoder
from xtts.fixtures.fixture import tiny_gpt_model


class StaticTorch(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s, m = tiny_gpt_model()
        cls.gpt = m.gpt

    @torch.inference_mode()
    def test_greedy_steps_match_decode_step(self):
        s, gpt = self.s, self.gpt
        g = torch.Generator().manual_seed(2)
        cond = torch.randn(1, s.perceiver_latents, s.gpt_n_model_channels, generator=g)
        ids = torch.tensor([[s.gpt_start_text_token, 11, 12, 13, 14, s.gpt_stop_text_token]])
        logits, _latent, k, v = gpt.prefill(cond, ids)
        n = 8
        dec = StaticDecoder(gpt, k.shape[3] + n + 3)
        dec.load(logits, k, v)
        want_logits, pos = logits, torch.tensor([1])
        for i in range(n):
            token = want_logits.argmax(-1)
            want_logits, want_latent, k, v = gpt.decode_step(token, pos, k, v)
            pos = pos + 1
            dec.run()
            self.assertEqual(int(dec.token), int(token), f"step {i}: the same greedy code")
            torch.testing.assert_close(dec.logits, want_logits.float(), rtol=0, atol=1e-5, msg=f"step {i} logits")
            torch.testing.assert_close(dec.latent, want_latent, rtol=0, atol=1e-5, msg=f"step {i} latent")
        self.assertEqual(int(dec.length), k.shape[3], "one column a step")
        torch.testing.assert_close(dec.k[:, :, :, : k.shape[3]], k, rtol=0, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
