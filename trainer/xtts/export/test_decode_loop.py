"""The decode graph's Loop carries the KV cache one tensor per layer (onnx_tools.decode_loop) behind
the same stacked interface: at tiny width, gpt_decode (fp32, fp16) and the int8 one-graph layout
(quantize.quantize_graph + onnx_tools.share_gpt) decode in several runs, each run fed the previous
run's k_out/v_out, as PyTorch's stacked decode_step does."""
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

from xtts.export.cases import greedy_params, run_decode
from xtts.export.graphs import export_graphs
from xtts.export.onnx_tools import share_gpt
from xtts.fixtures.tiny import TINY_OVERRIDES
from xtts.model.config import XttsSizes
from xtts.model.model import random_model


def _session(model: onnx.ModelProto):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False  # as the engine opens its CPU sessions
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _feeds(state: dict, p: dict, steps: int, kv_dtype=np.float32) -> dict:
    f = {"max_steps": np.array(steps, np.int64), "logits": state["logits"], "latent": state["latent"],
         "pos": state["pos"], "seen": state["seen"], "past_k": state["k"].astype(kv_dtype),
         "past_v": state["v"].astype(kv_dtype)}
    f.update({k: v.numpy() for k, v in p.items()})
    f["uniforms"] = f["uniforms"][:max(steps, 1)]
    return f


def tiny_test_model():
    """The export tests' tiny random GPT: the fixture's sizes with 40 text tokens, seed 3. -> (sizes, model)"""
    s = XttsSizes(**TINY_OVERRIDES)
    s.gpt_number_text_tokens = 40
    return s, random_model(s, 3).eval()


class DecodeLoop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        s, cls.m = tiny_test_model()
        cls.s = s
        cls.graphs = export_graphs(cls.m, ["gpt_prefill", "gpt_decode"], fp16=True)
        g = torch.Generator().manual_seed(5)
        cls.cond = torch.randn(1, s.perceiver_latents, s.gpt_n_model_channels, generator=g)
        cls.ids = torch.tensor([[1, 5, 9, 17, 3, 2]])
        with torch.no_grad():
            cls.prefill = cls.m.gpt.prefill(cls.cond, cls.ids)
        seen = torch.zeros(1, s.gpt_num_audio_tokens, dtype=torch.bool)
        seen[0, s.gpt_start_audio_token] = True
        cls.seen = seen
        # Greedy, with a stop code that never comes, so every run has all its steps.
        cls.p = greedy_params(-5, 16)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls.threads)

    def _reference(self, runs):
        """PyTorch's decode over consecutive runs of the given lengths (stacked cache)."""
        logits, latent, k, v = self.prefill
        pos, seen, out = torch.tensor([1]), self.seen, []
        for n in runs:
            r = run_decode(self.m, logits, latent, pos, seen, k, v, self.p, n)
            out.append(r)
            logits, latent, pos, seen, k, v = (r["logits_out"], r["latent_out"], r["pos_out"], r["seen_out"],
                                                r["k_out"], r["v_out"])
        return out

    def _start(self):
        logits, latent, k, v = (t.numpy() for t in self.prefill)
        return {"logits": logits, "latent": latent, "pos": np.array([1], np.int64), "seen": self.seen.numpy(),
                "k": k, "v": v}

    def _decode_runs(self, sess, start: dict, runs, kv_dtype=np.float32, extra=None):
        state, outs = dict(start), []
        for n in runs:
            o = dict(zip([x.name for x in sess.get_outputs()],
                         sess.run(None, {**_feeds(state, self.p, n, kv_dtype), **(extra or {})})))
            outs.append(o)
            state = {"logits": o["logits_out"], "latent": o["latent_out"], "pos": o["pos_out"],
                     "seen": o["seen_out"], "k": o["k_out"], "v": o["v_out"]}
        return outs

    def test_loop_carries_each_layer_and_keeps_the_stacked_interface(self):
        for stem in ("gpt_decode_fp32", "gpt_decode_fp16"):
            g = self.graphs[stem].graph
            loop = next(n for n in g.node if n.op_type == "Loop")
            body = next(a.g for a in loop.attribute if a.name == "body")
            L = self.s.gpt_layers
            cache = [f"past_{kv}_{i}" for kv in "kv" for i in range(L)]
            self.assertEqual([i.name for i in body.input][6:], cache)
            # Per step, per layer, one Concat of the carried part (the run's positions and the new
            # one), and no other node reads it: no Gather, no stack. The given cache, split per layer
            # outside the Loop, is only read by the attention's products, never copied.
            readers = [n for n in body.node if set(n.input) & set(cache)]
            self.assertEqual(sorted(n.op_type for n in readers), ["Concat"] * (2 * L), stem)
            frozen = {f"frozen_{kv}_{i}" for kv in "kv" for i in range(L)}
            made = {o for n in g.node for o in n.output}
            self.assertTrue(frozen <= made, stem)
            readers = {n.op_type for n in body.node if set(n.input) & frozen}
            self.assertTrue(readers and readers <= {"MatMul", "Transpose", "Shape"}, f"{stem}: {readers}")
            self.assertEqual([i.name for i in g.input][:7],
                             ["max_steps", "logits", "latent", "pos", "seen", "past_k", "past_v"])
            shapes = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in g.output}
            dh = self.s.gpt_n_model_channels // self.s.gpt_n_heads
            self.assertEqual(shapes["k_out"], [L, 1, self.s.gpt_n_heads, "total", dh])

    def test_fp32_runs_chain_as_pytorch(self):
        runs = [3, 1, 5]
        ref = self._reference(runs)
        got = self._decode_runs(_session(self.graphs["gpt_decode_fp32"]), self._start(), runs)
        for r, o in zip(ref, got):
            np.testing.assert_array_equal(o["codes"], r["codes"].numpy())
            for name in ("latents", "logits_out", "k_out", "v_out"):
                self.assertEqual(o[name].shape, tuple(r[name].shape), name)
                np.testing.assert_allclose(o[name], r[name].numpy(), atol=2e-5, err_msg=name)
        self.assertEqual(got[-1]["k_out"].shape[3], self.prefill[2].shape[3] + sum(runs))

    def test_fp16_runs_chain_as_pytorch(self):
        runs = [2, 3]
        ref = self._reference(runs)
        got = self._decode_runs(_session(self.graphs["gpt_decode_fp16"]), self._start(), runs, np.float16)
        for r, o in zip(ref, got):
            self.assertEqual(o["k_out"].dtype, np.float16)
            np.testing.assert_array_equal(o["codes"], r["codes"].numpy())
            for name in ("latents", "k_out", "v_out"):
                scale = max(1.0, float(r[name].abs().max()))
                np.testing.assert_allclose(o[name].astype(np.float32), r[name].numpy(), atol=6e-2 * scale, err_msg=name)

    def test_int8_one_graph_prefills_then_decodes_as_its_two_graphs(self):
        from xtts.export.quantize import quantize_graph
        with tempfile.TemporaryDirectory() as d:
            parts = {}
            for g in ("gpt_prefill", "gpt_decode"):
                onnx.save(self.graphs[f"{g}_fp32"], os.path.join(d, f"{g}.onnx"))
                quantize_graph(os.path.join(d, f"{g}.onnx"), os.path.join(d, f"{g}_int8.onnx"))
                parts[g] = onnx.load(os.path.join(d, f"{g}_int8.onnx"))
        merged = share_gpt(parts["gpt_prefill"], parts["gpt_decode"], "gpt_int8")
        onnx.checker.check_model(merged)
        one, pre, dec = _session(merged), _session(parts["gpt_prefill"]), _session(parts["gpt_decode"])
        logits, latent, k, v = pre.run(None, {"cond": self.cond.numpy(), "text_ids": self.ids.numpy()})
        L, H = self.s.gpt_layers, self.s.gpt_n_heads
        empty = np.zeros((L, 1, H, 0, self.s.gpt_n_model_channels // H), np.float32)
        start = {"logits": np.zeros_like(logits), "latent": np.zeros_like(latent), "pos": np.array([1], np.int64),
                 "seen": self.seen.numpy(), "k": empty, "v": empty}
        prompt = {"cond": self.cond.numpy(), "text_ids": self.ids.numpy()}
        (first,) = self._decode_runs(one, start, [1], extra=prompt)
        np.testing.assert_allclose(first["logits_out"], logits, atol=1e-4)
        np.testing.assert_allclose(first["k_out"], k, atol=1e-4)
        np.testing.assert_allclose(first["v_out"], v, atol=1e-4)
        no_prompt = {"cond": np.zeros((1, 0, self.s.gpt_n_model_channels), np.float32),
                     "text_ids": np.zeros((1, 0), np.int64)}
        runs = [4, 3]
        a = self._decode_runs(dec, {**self._start(), "logits": logits, "latent": latent, "k": k, "v": v}, runs)
        b = self._decode_runs(one, {**self._start(), "logits": first["logits_out"], "latent": first["latent_out"],
                                    "k": first["k_out"], "v": first["v_out"]}, runs, extra=no_prompt)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(y["codes"], x["codes"])
            np.testing.assert_allclose(y["latents"], x["latents"], atol=1e-4)
            np.testing.assert_allclose(y["k_out"], x["k_out"], atol=1e-4)
        self.assertEqual(b[-1]["k_out"].shape[3], k.shape[3] + sum(runs))


if __name__ == "__main__":
    unittest.main()
