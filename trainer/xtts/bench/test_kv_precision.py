"""kv_precision's rounded decode attention: with no rounding it is the model's own decode step to the bit;
kv16 leaves a cache of fp16 values; attn16 also rounds the query and the output; the model's attention is
itself again afterwards. Tiny model; bench:gpu's sentences read from the TypeScript file."""
import unittest

import torch

from xtts.bench.kv_precision import bench_sentences, greedy_codes, rounded_attention
from xtts.fixtures.fixture import tiny_gpt_model
from xtts.model import gpt2


class KvPrecision(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s, m = tiny_gpt_model()
        cls.gpt = m.gpt

    def prompt(self):
        s = self.s
        g = torch.Generator().manual_seed(3)
        cond = torch.randn(1, s.perceiver_latents, s.gpt_n_model_channels, generator=g)
        ids = torch.tensor([[s.gpt_start_text_token, 11, 12, 13, 14, 15, s.gpt_stop_text_token]])
        return self.gpt.prefill(cond, ids)

    def steps(self, mode, logits, k, v, n=6):
        out, pos = [], torch.tensor([1])
        with rounded_attention(mode):
            for _ in range(n):
                token = logits.argmax(-1)
                logits, _latent, k, v = self.gpt.decode_step(token, pos, k, v)
                out.append(logits)
                pos = pos + 1
        return out, k, v

    @torch.inference_mode()
    def test_fp32_is_the_models_own_step_to_the_bit(self):
        logits, _l, k, v = self.prompt()
        want, pos, kk, vv, lg = [], torch.tensor([1]), k, v, logits
        for _ in range(6):
            token = lg.argmax(-1)
            lg, _latent, kk, vv = self.gpt.decode_step(token, pos, kk, vv)
            want.append(lg)
            pos = pos + 1
        got, k2, v2 = self.steps("fp32", logits, k, v)
        for a, b in zip(got, want):
            self.assertTrue(torch.equal(a, b))
        self.assertTrue(torch.equal(k2, kk) and torch.equal(v2, vv))
        self.assertEqual(gpt2.Attention.forward.__qualname__, "Attention.forward", "the patch is undone")

    @torch.inference_mode()
    def test_kv16_keeps_fp16_values_and_attn16_moves_the_logits_a_little(self):
        logits, _l, k, v = self.prompt()
        ref, _k, _v = self.steps("fp32", logits, k, v)
        half_k, half_v = k.half().float(), v.half().float()
        kv16, k16, v16 = self.steps("kv16", logits, half_k, half_v)
        self.assertTrue(torch.equal(k16, k16.half().float()) and torch.equal(v16, v16.half().float()))
        attn16, _k, _v = self.steps("attn16", logits, half_k, half_v)
        for mode, got in (("kv16", kv16), ("attn16", attn16)):
            err = max(float((a - b).abs().max()) for a, b in zip(got, ref))
            scale = max(float(b.abs().max()) for b in ref)
            self.assertGreater(err, 0, f"{mode}: the roundings change something")
            self.assertLess(err, 1e-2 * scale, f"{mode}: {err} against logits up to {scale}")

    @torch.inference_mode()
    def test_greedy_codes_by_mode(self):
        logits, _l, k, v = self.prompt()
        codes, latents = greedy_codes(self.gpt, self.s, logits, k, v, 5, 5.0, "fp32")
        self.assertEqual(len(codes), 5)
        self.assertEqual(tuple(latents.shape), (5, self.s.gpt_n_model_channels))
        again, _ = greedy_codes(self.gpt, self.s, logits, k, v, 5, 5.0, "fp32")
        self.assertEqual(codes, again)

    def test_reads_bench_gpu_sentences(self):
        got = bench_sentences()
        self.assertEqual(len(got), 16)
        self.assertTrue(got[0].startswith("The early train was late again"))
        self.assertTrue(all(60 <= len(t) <= 150 for t in got), got)


if __name__ == "__main__":
    unittest.main()
