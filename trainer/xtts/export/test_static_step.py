"""gpt_step_static (static_step.py), driven one step per run in chunks as a caller does, against the
gpt_batch Loop (onnx_tools.decode_loop_batch) run on each row alone from the same prompt, uniforms and
settings: same codes, latents, final logits/latent/pos/seen and KV cache. Rows of different prompt
lengths and sampling settings, one stopping at its first code, one whose cache fills up, one with
fewer steps, one empty slot; every row that is inactive at a step keeps its state bit for bit. Run
in place (each X_out bound to X's OrtValue) the step gives what it gives with separate buffers, and
with the three dims fixed its optimized graph has no shape computation left.

gpt_step_static_fused (static_fused.py) passes all of the same checks, and against the plain step, step
by step from the same state: the same codes and the same integer and boolean state, the float state
(latents, logits, latent, the KV columns written) within 1e-5."""
import os
import tempfile
import unittest

import numpy as np
import onnx
import torch

from xtts.export.graphs import export_batch, export_static
from xtts.export.static_step import CONTROL, STATE, layered_state
from xtts.export.test_decode_loop import tiny_test_model

M, N, CHUNKS = 48, 4, 2


def _options(dims=None, optimized=None, level=None):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    for k, v in (dims or {}).items():
        opts.add_free_dimension_override_by_name(k, v)
    if optimized:
        opts.optimized_model_filepath = optimized
        opts.graph_optimization_level = level
    return opts


def _session(model: onnx.ModelProto, dims=None, optimized=None, level=None):
    import onnxruntime as ort
    sess = ort.InferenceSession(model.SerializeToString(), _options(dims, optimized, level),
                                providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return Layered(sess, sum(n.startswith("cache_k_") for n in names)) if "cache_k_0" in names else sess


KV = ("cache_k", "cache_v")


class Layered:
    """A step whose cache is one input per layer (gpt_step_static_inplace), run with the one-cache
    state [L, S, H, M, dh] the tests hold: feeds split by layer, outputs stacked back."""

    def __init__(self, sess, layers: int):
        self.sess, self.layers = sess, layers

    def split(self, feeds: dict) -> dict:
        out = {k: v for k, v in feeds.items() if k not in KV}
        for kv in KV:
            if kv in feeds:
                out.update({f"{kv}_{i}": np.ascontiguousarray(feeds[kv][i]) for i in range(self.layers)})
        return out

    def run(self, names, feeds):
        per = [f"{n[:-4]}_{i}_out" for n in names if n[:-4] in KV for i in range(self.layers)]
        got = dict(zip(per + [n for n in names if n[:-4] not in KV],
                       self.sess.run(per + [n for n in names if n[:-4] not in KV], self.split(feeds))))
        return [np.stack([got[f"{n[:-4]}_{i}_out"] for i in range(self.layers)]) if n[:-4] in KV else got[n]
                for n in names]


class Driver:
    """Runs the static step, either with plain feeds (each output a new array, fed back) or in place
    through IOBinding (each X and X_out bound to one OrtValue)."""

    def __init__(self, sess, state: dict, inplace: bool):
        import onnxruntime as ort
        self.sess, self.inplace = sess, inplace
        self.state = {k: v.copy() for k, v in state.items()}
        if inplace:
            # A layered step's cache: one OrtValue per layer (split), each bound as that layer's X and X_out.
            layered = isinstance(sess, Layered)
            flat = sess.split(self.state) if layered else self.state
            names = [n for n in flat if n not in CONTROL]
            self.values = {k: ort.OrtValue.ortvalue_from_numpy(flat[k]) for k in names}
            inner = sess.sess if layered else sess
            self.binding = inner.io_binding()
            for k, ov in self.values.items():
                self.binding.bind_ortvalue_input(k, ov)
                self.binding.bind_ortvalue_output(k + "_out", ov)

    def _value(self, k: str) -> np.ndarray:
        if k in KV and isinstance(self.sess, Layered):
            return np.stack([self.values[f"{k}_{i}"].numpy() for i in range(self.sess.layers)])
        return self.values[k].numpy().copy()

    def set(self, name: str, a: np.ndarray) -> None:
        """What a caller writes between chunks (state it resets, and the control inputs)."""
        if self.inplace and name in STATE:
            if name in KV and isinstance(self.sess, Layered):
                for i in range(self.sess.layers):
                    self.values[f"{name}_{i}"].update_inplace(np.ascontiguousarray(a[i]))
            else:
                self.values[name].update_inplace(np.ascontiguousarray(a))
        else:
            self.state[name] = a.copy()

    def step(self) -> dict:
        """One run; returns a copy of the state after it."""
        if self.inplace:
            for k in CONTROL:
                self.binding.bind_cpu_input(k, self.state[k])
            (self.sess.sess if isinstance(self.sess, Layered) else self.sess).run_with_iobinding(self.binding)
            return {k: self._value(k) for k in STATE}
        out = self.sess.run([k + "_out" for k in STATE], self.state)
        self.state.update(zip(STATE, out))
        return {k: self.state[k].copy() for k in STATE}

    def get(self) -> dict:
        if self.inplace:
            return {k: self._value(k) for k in STATE}
        return {k: self.state[k].copy() for k in STATE}


class StaticStep(unittest.TestCase):
    STEM = "gpt_step_static_fp32"
    DOMAINS = {""}

    @classmethod
    def setUpClass(cls):
        cls.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        s, cls.m = tiny_test_model()
        cls.s = s
        cls.graphs = export_static(cls.m)
        cls.static = cls.graphs[cls.STEM]
        cls.loop = export_batch(cls.m, fp16=False)["gpt_batch_fp32"]
        L, H, D, V = s.gpt_layers, s.gpt_n_heads, s.gpt_n_model_channels, s.gpt_num_audio_tokens
        dh, stop = D // H, s.gpt_stop_audio_token
        g = torch.Generator().manual_seed(7)
        cond = torch.randn(1, s.perceiver_latents, D, generator=g)
        # Row 0: sampled; 1: greedy, 6 steps; 2: empty slot; 3: its first code is the stop code;
        # 4: its cache fills up after 3 codes (prompt M - 3 positions).
        text_len = [3, 9, 0, 6, M - 3 - s.perceiver_latents - 1]
        cls.total = [8, 6, 0, 8, 8]
        cls.settings = {"temperature": np.array([0.8, 1.0, 0.0, 1.0, 1.2], np.float32),
                        "top_k": np.array([50, 1, 0, 3, V], np.int64),
                        "top_p": np.array([0.9, 1.0, 0.0, 0.5, 0.95], np.float32),
                        "repetition_penalty": np.array([2.0, 1.0, 0.0, 1.3, 1.1], np.float32)}
        S = len(text_len)
        cls.uniforms = torch.rand(S, N * CHUNKS, generator=g).numpy()
        st = {"cache_k": np.zeros((L, S, H, M, dh), np.float32), "cache_v": np.zeros((L, S, H, M, dh), np.float32),
              "logits": np.zeros((S, V), np.float32), "latent": np.zeros((S, D), np.float32),
              "seen": np.zeros((S, V), bool), "pos": np.zeros(S, np.int64), "length": np.zeros(S, np.int64),
              "done": np.zeros(S, bool), "iter": np.zeros(1, np.int64), "codes": np.zeros((S, N), np.int64),
              "latents": np.zeros((S, N, D), np.float32)}
        cls.prompts = {}
        for r, n in enumerate(text_len):
            if r == 2:
                st["done"][r] = True
                st["pos"][r] = 12345  # anything: an empty slot's pos is never looked up for a write
                st["logits"][r] = torch.randn(V, generator=g).numpy()
                continue
            ids = torch.randint(3, 40, (1, n), generator=g)
            with torch.no_grad():
                logits, latent, k, v = (t.numpy() for t in cls.m.gpt.prefill(cond, ids))
            if r == 3:
                logits = logits.copy()
                logits[0, stop] = logits.max() + 50.0
            p = k.shape[3]
            st["cache_k"][:, r, :, :p] = k[:, 0]
            st["cache_v"][:, r, :, :p] = v[:, 0]
            st["logits"][r], st["latent"][r] = logits[0], latent[0]
            st["pos"][r], st["length"][r] = 1, p
            st["seen"][r, s.gpt_start_audio_token] = True
            cls.prompts[r] = (logits, latent, k, v)
        # Leftover columns hold finite values from an earlier use of the slot, as a reused buffer does.
        filler = torch.randn(L, S, H, M, dh, generator=g).numpy()
        for r in range(S):
            p = st["length"][r]
            st["cache_k"][:, r, :, p:] = filler[:, r, :, p:]
            st["cache_v"][:, r, :, p:] = -filler[:, r, :, p:]
        cls.start = st
        cls.dims = {"slots": S, "max_len": M, "chunk": N}
        cls.sess = _session(cls.static, cls.dims)
        cls.plain = cls._drive(False)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls.threads)

    @classmethod
    def _drive(cls, inplace: bool):
        """Both chunks; returns [(state before, state after)] per step, and the codes and latents by chunk."""
        d = Driver(cls.sess, cls.start, inplace)
        for k, v in cls.settings.items():
            d.set(k, v)
        steps, chunks = [], []
        for c in range(CHUNKS):
            d.set("iter", np.zeros(1, np.int64))
            d.set("uniforms", np.ascontiguousarray(cls.uniforms[:, c * N:(c + 1) * N]))
            d.set("steps", np.array([t - c * N for t in cls.total], np.int64))
            for _ in range(N):
                before = d.get()
                steps.append((before, d.step()))
            after = d.get()
            chunks.append((after["codes"], after["latents"]))
        return steps, chunks

    def _reference(self, r: int, n_steps: int) -> dict:
        """The gpt_batch Loop on row r alone."""
        logits, latent, k, v = self.prompts[r]
        seen = self.start["seen"][r:r + 1]
        feeds = {"logits": logits, "latent": latent, "pos": np.array([1], np.int64), "seen": seen, "past_k": k,
                 "past_v": v, "start": np.zeros(1, np.int64), "steps": np.array([n_steps], np.int64),
                 "uniforms": self.uniforms[r:r + 1], "stop_code": np.array([self.s.gpt_stop_audio_token], np.int64),
                 **{key: val[r:r + 1] for key, val in self.settings.items()}}
        sess = _session(self.loop)
        return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))

    def test_rows_decode_as_the_batch_loop(self):
        _steps, chunks = self.plain
        codes = np.concatenate([c for c, _ in chunks], axis=1)
        latents = np.concatenate([lt for _, lt in chunks], axis=1)
        final = self.plain[0][-1][1]
        stop = self.s.gpt_stop_audio_token
        for r in (0, 1, 3, 4):
            room = M - self.start["length"][r]
            ref = self._reference(r, min(self.total[r], room))
            n = int(ref["counts"][0])
            want = np.full(N * CHUNKS, -1, np.int64)
            want[:n] = ref["codes"][0, :n]
            np.testing.assert_array_equal(codes[r], want, err_msg=f"row {r}")
            np.testing.assert_allclose(latents[r, :n], ref["latents"][0, :n], atol=1e-5, err_msg=f"row {r}")
            np.testing.assert_allclose(final["logits"][r], ref["logits_out"][0], atol=1e-5, err_msg=f"row {r}")
            np.testing.assert_allclose(final["latent"][r], ref["latent_out"][0], atol=1e-5, err_msg=f"row {r}")
            np.testing.assert_array_equal(final["seen"][r], ref["seen_out"][0], err_msg=f"row {r}")
            self.assertEqual(final["pos"][r], ref["pos_out"][0], f"row {r}")
            length = self.start["length"][r] + n
            self.assertEqual(final["length"][r], length, f"row {r}")
            for kv in ("k", "v"):
                np.testing.assert_allclose(final[f"cache_{kv}"][:, r, :, :length], ref[f"{kv}_out"][:, 0, :, :length],
                                           atol=1e-5, err_msg=f"row {r} {kv}")
            self.assertEqual(bool(final["done"][r]), n > 0 and want[n - 1] == stop, f"row {r}")
        # What each row was built to do.
        self.assertEqual(codes[3, 0], stop)
        self.assertEqual((codes[3] >= 0).sum(), 1)
        self.assertEqual((codes[4] >= 0).sum(), 3)
        self.assertEqual(final["length"][4], M)
        self.assertFalse(final["done"][4])
        self.assertEqual((codes[1] >= 0).sum(), 6)
        self.assertEqual((codes[0] >= 0).sum(), 8)
        self.assertTrue((codes[2] == -1).all())
        self.assertEqual(final["iter"][0], N)

    def test_inactive_rows_keep_their_state_and_active_rows_write_one_column(self):
        S = len(self.total)
        for i, (before, after) in enumerate(self.plain[0]):
            it = i % N
            self.assertEqual(after["iter"][0], it + 1)
            for r in range(S):
                code = after["codes"][r, it]
                for k in STATE:
                    if k in ("iter", "codes", "latents"):
                        continue
                    b, a = (before[k][:, r], after[k][:, r]) if k.startswith("cache") else (before[k][r], after[k][r])
                    if code == -1:
                        np.testing.assert_array_equal(a, b, err_msg=f"step {i} row {r} {k}")
                    elif k.startswith("cache"):
                        col = before["length"][r]
                        self.assertFalse(np.array_equal(a[:, :, col], b[:, :, col]), f"step {i} row {r} {k}")
                        a, b = a.copy(), b.copy()
                        a[:, :, col] = b[:, :, col] = 0
                        np.testing.assert_array_equal(a, b, err_msg=f"step {i} row {r} {k}: other columns")
                np.testing.assert_array_equal(after["latents"][r, it], before["latent"][r])
                # Columns other than iter of codes and latents stay.
                others = [j for j in range(N) if j != it]
                np.testing.assert_array_equal(after["codes"][r, others], before["codes"][r, others])
                np.testing.assert_array_equal(after["latents"][r, others], before["latents"][r, others])

    def test_in_place_binding_gives_the_same_results(self):
        steps, _chunks = self._drive(True)
        for i, ((_, a), (_, b)) in enumerate(zip(steps, self.plain[0])):
            for k in STATE:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"step {i} {k}")

    def test_every_state_write_depends_on_every_read_of_its_input(self):
        """The in-place rule, on the graph: for each state X, every node that reads X (directly or
        through a view: Reshape, Unsqueeze, Squeeze, Identity) is an ancestor of the node writing X_out,
        or is that node reading X element-wise (or as a Scatter's data). onnxruntime picks its own
        execution order, so only such dependencies guarantee the reads come first."""
        g = self.static.graph
        producer = {o: n for n in g.node for o in n.output}
        views = {"Reshape", "Unsqueeze", "Squeeze", "Identity", "Flatten"}

        def ancestors(n):
            seen, stack = set(), [n]
            while stack:
                for x in stack.pop().input:
                    p = producer.get(x)
                    if p is not None and id(p) not in seen:
                        seen.add(id(p))
                        stack.append(p)
            return seen

        for x in self.state_names():
            writer = producer[x + "_out"]
            before = ancestors(writer)
            names, readers = {x}, []
            frontier = [x]
            while frontier:
                v = frontier.pop()
                for n in g.node:
                    if v in n.input:
                        if n.op_type in views and n.input[0] == v:
                            names.add(n.output[0])
                            frontier.append(n.output[0])
                        else:
                            readers.append((n, v))
            self.assertTrue(readers, x)
            for n, v in readers:
                if n is writer:
                    elementwise = n.op_type in ("Where", "Or", "And", "Add") and v == x
                    self.assertTrue(elementwise or (n.op_type.startswith("Scatter") and n.input[0] == x),
                                    f"{x}_out ({n.op_type}) reads {v}")
                else:
                    self.assertTrue(id(n) in before, f"{x}_out does not depend on {n.name} ({n.op_type}), which reads {v}")

    def test_past_the_chunk_nothing_changes(self):
        d = Driver(self.sess, self.start, False)
        for k, v in self.settings.items():
            d.set(k, v)
        d.set("uniforms", np.ascontiguousarray(self.uniforms[:, :N]))
        d.set("steps", np.full(len(self.total), 100, np.int64))
        d.set("iter", np.array([N], np.int64))
        d.set("codes", np.arange(len(self.total) * N, dtype=np.int64).reshape(-1, N))
        before = d.get()
        after = d.step()
        for k in STATE:
            if k == "iter":
                self.assertEqual(after[k][0], N + 1)
            else:
                np.testing.assert_array_equal(after[k], before[k], err_msg=k)

    def test_fixed_dims_leave_no_shape_computation(self):
        """onnxruntime's constant folding (the basic level, no fused operators) with the dims fixed leaves
        no node that computes a shape, and every value then has a static shape (onnx's shape inference;
        onnxruntime's symbolic one where the graph has its operators, which onnx's does not know)."""
        import onnxruntime as ort
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
        dims = {"slots": 3, "max_len": 10, "chunk": 2}
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "opt.onnx")
            _session(self.static, dims, path, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
            opt = onnx.load(path)
        ops = {n.op_type for n in opt.graph.node}
        self.assertFalse(ops & {"Shape", "Range", "Size", "NonZero", "ConstantOfShape", "Loop", "If"}, ops)
        for vi in list(opt.graph.input) + list(opt.graph.output):
            for dim in vi.type.tensor_type.shape.dim:
                if dim.dim_param:
                    dim.dim_value = dims[dim.dim_param]
        del opt.graph.value_info[:]
        if self.DOMAINS == {""}:
            inferred = onnx.shape_inference.infer_shapes(opt, strict_mode=True)
        else:
            inferred = SymbolicShapeInference.infer_shapes(opt)
        shapes = {vi.name: vi.type.tensor_type.shape for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for name in {o for n in inferred.graph.node for o in n.output if o}:
            self.assertIn(name, shapes, name)
            self.assertTrue(all(dm.HasField("dim_value") for dm in shapes[name].dim), f"{name}: {shapes[name]}")

    def state_names(self):
        """The graph's state inputs (each has an X_out)."""
        return STATE

    def test_interface(self):
        g = self.static.graph
        self.assertEqual([i.name for i in g.input], self.state_names() + CONTROL)
        self.assertEqual([o.name for o in g.output], [k + "_out" for k in self.state_names()])
        s = self.s
        L, H, D = s.gpt_layers, s.gpt_n_heads, s.gpt_n_model_channels
        shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                  for v in list(g.input) + list(g.output)}
        if "cache_k" in shapes:
            self.assertEqual(shapes["cache_k"], [L, "slots", H, "max_len", D // H])
            self.assertEqual(shapes["cache_v_out"], [L, "slots", H, "max_len", D // H])
        else:
            for i in range(L):
                self.assertEqual(shapes[f"cache_k_{i}"], ["slots", H, "max_len", D // H])
                self.assertEqual(shapes[f"cache_v_{i}_out"], ["slots", H, "max_len", D // H])
        self.assertEqual(shapes["latents"], ["slots", "chunk", D])
        self.assertEqual(shapes["iter"], [1])
        self.assertEqual({o.domain for o in self.static.opset_import}, self.DOMAINS)


class StaticFusedStep(StaticStep):
    """Every check above on gpt_step_static_fused, and the comparison with the plain step."""
    STEM = "gpt_step_static_fused_fp32"
    DOMAINS = {"", "com.microsoft"}

    def test_runs_as_the_plain_step(self):
        """Both chunks from the same state: the same codes and integer and boolean state at every step,
        the float state within 1e-5."""
        plain = Driver(_session(self.graphs["gpt_step_static_fp32"], self.dims), self.start, False)
        for k, v in self.settings.items():
            plain.set(k, v)
        steps = iter(self.plain[0])
        for c in range(CHUNKS):
            plain.set("iter", np.zeros(1, np.int64))
            plain.set("uniforms", np.ascontiguousarray(self.uniforms[:, c * N:(c + 1) * N]))
            plain.set("steps", np.array([t - c * N for t in self.total], np.int64))
            for j in range(N):
                want, (_, got) = plain.step(), next(steps)
                for k in STATE:
                    if want[k].dtype == np.float32:
                        np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-5, err_msg=f"{c}/{j} {k}")
                    else:
                        np.testing.assert_array_equal(got[k], want[k], err_msg=f"chunk {c} step {j} {k}")

    def test_each_step_as_the_plain_step(self):
        """Each step on its own, from the state this graph had before it: the plain step's state after it,
        and the KV columns it does not write the input's, bit for bit."""
        plain = _session(self.graphs["gpt_step_static_fp32"], self.dims)
        control = dict(self.settings)
        for i, (before, _after) in enumerate(self.plain[0]):
            c = i // N
            control["uniforms"] = np.ascontiguousarray(self.uniforms[:, c * N:(c + 1) * N])
            control["steps"] = np.array([t - c * N for t in self.total], np.int64)
            feeds = {**before, **control}
            want = dict(zip(STATE, plain.run([k + "_out" for k in STATE], feeds)))
            got = dict(zip(STATE, self.sess.run([k + "_out" for k in STATE], feeds)))
            for k in STATE:
                if want[k].dtype == np.float32:
                    np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-5, err_msg=f"step {i} {k}")
                else:
                    np.testing.assert_array_equal(got[k], want[k], err_msg=f"step {i} {k}")
            written = np.zeros(before["cache_k"].shape, bool)
            for r in np.flatnonzero(got["codes"][:, i % N] >= 0):
                written[:, r, :, before["length"][r]] = True
            for k in ("cache_k", "cache_v"):
                np.testing.assert_array_equal(got[k][~written], before[k][~written], err_msg=f"step {i} {k}")

    def test_fewer_nodes_per_layer(self):
        def per_layer(g):
            return sum(n.name.startswith("h0/") for n in g.graph.node)

        self.assertLess(per_layer(self.static), per_layer(self.graphs["gpt_step_static_fp32"]) / 2)


class StaticInplaceStep(StaticFusedStep):
    """Every check above on gpt_step_static_inplace (the fused layers over a cache of one input per
    layer, written in place before each layer's attention reads it), against the plain step too."""
    STEM = "gpt_step_static_inplace_fp32"

    def state_names(self):
        return layered_state(self.s.gpt_layers)

    def test_no_copy_of_the_cache(self):
        """No node but a layer's GatherElements (its old column) and ScatterElements (the write) reads a
        layer's cache, and the attention takes the written cache itself: no Gather or Concat of it (the
        Shape of the sizes and the one-element Slice of the ordering flag aside)."""
        g = self.static.graph
        for n in g.node:
            for x in n.input:
                if x.startswith("cache_"):
                    ok = n.op_type in ("GatherElements", "ScatterElements", "Shape", "MultiHeadAttention") or (
                        n.op_type == "Slice" and n.name.startswith("w/"))
                    self.assertTrue(ok, f"{n.name} ({n.op_type}) reads {x}")
        att = [n for n in g.node if n.op_type == "MultiHeadAttention"]
        self.assertEqual(len(att), self.s.gpt_layers)
        for i, n in enumerate(att):
            self.assertEqual(list(n.input[1:3]), [f"cache_k_{i}_out", f"cache_v_{i}_out"])



def to_ft(k: np.ndarray) -> np.ndarray:
    """A K cache [..., M, dh] in the CUDA DecoderMaskedMultiHeadAttention layout [..., dh / 4, M, 4]."""
    *lead, m, dh = k.shape
    return np.ascontiguousarray(np.swapaxes(k.reshape(*lead, m, dh // 4, 4), -3, -2))


class StaticDmmhaStep(unittest.TestCase):
    """gpt_step_static_dmmha (static_fused.dmmha_step) against gpt_step_static_inplace, both run in place
    (every X_out, and the dmmha step's present outputs, bound to X's OrtValue) from the same state through
    both chunks, the dmmha step with the bound a caller gives it (kv_past = the longest row that holds a
    sequence at the chunk's start plus the chunk's steps, below M)."""

    STEM = "gpt_step_static_inplace_fp32"
    _drive = StaticStep.__dict__["_drive"]

    @classmethod
    def setUpClass(cls):
        StaticStep.setUpClass.__func__(cls)
        cls.dm = cls.graphs["gpt_step_static_dmmha_fp32"]
        cls.L = cls.s.gpt_layers

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls.threads)

    def _drive_dmmha(self):
        import onnxruntime as ort
        sess = ort.InferenceSession(self.dm.SerializeToString(), _options(self.dims), providers=["CPUExecutionProvider"])
        st = Layered(sess, self.L).split(self.start)
        values = {k: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v)) for k, v in st.items()}
        binding = sess.io_binding()
        for k, ov in values.items():
            binding.bind_ortvalue_input(k, ov)
            binding.bind_ortvalue_output(k + "_out", ov)
            if k.startswith("cache_"):
                binding.bind_ortvalue_output(k + "_present", ov)
        control = dict(self.settings)
        holds = [r for r in range(len(self.total)) if not self.start["done"][r]]
        out = []
        for c in range(CHUNKS):
            values["iter"].update_inplace(np.zeros(1, np.int64))
            control["uniforms"] = np.ascontiguousarray(self.uniforms[:, c * N:(c + 1) * N])
            control["steps"] = np.array([t - c * N for t in self.total], np.int64)
            longest = max(int(values["length"].numpy()[r]) for r in holds)
            p = min(M - 1, longest + N)
            control["kv_past"], control["kv_total"] = np.array([p], np.int32), np.array(p + 1, np.int64)
            for k, v in control.items():
                binding.bind_cpu_input(k, v)
            for _ in range(N):
                sess.run_with_iobinding(binding)
                got = {k: values[k].numpy().copy() for k in values if not k.startswith("cache_")}
                for kv in KV:
                    got[kv] = np.stack([values[f"{kv}_{i}"].numpy() for i in range(self.L)])
                out.append(got)
        return out

    def test_runs_as_the_inplace_step(self):
        """The same codes, integer and boolean state at every step; the float state within 1e-5; each row's
        valid KV columns [0, length) within 1e-5 of the in-place step's, and bit for bit what they were for
        a row the step left inactive (the columns past them are the operator's to write)."""
        got_steps = self._drive_dmmha()
        for i, ((_before, want), got) in enumerate(zip(self.plain[0], got_steps)):
            for k in STATE:
                if k in KV:
                    continue
                if want[k].dtype == np.float32:
                    np.testing.assert_allclose(got[k], want[k], rtol=0, atol=1e-5, err_msg=f"step {i} {k}")
                else:
                    np.testing.assert_array_equal(got[k], want[k], err_msg=f"step {i} {k}")
            prev = got_steps[i - 1] if i else {kv: self.start[kv] for kv in KV}
            for r in range(len(self.total)):
                n = int(want["length"][r])
                if self.start["done"][r] or n >= M:
                    continue  # an empty slot, or a full row (its last column is past the caller's bound)
                for kv in KV:
                    np.testing.assert_allclose(got[kv][:, r, :, :n], want[kv][:, r, :, :n], rtol=0, atol=1e-5,
                                               err_msg=f"step {i} row {r} {kv}")
                    if got["codes"][r, i % N] == -1:
                        np.testing.assert_array_equal(got[kv][:, r, :, :n], prev[kv][:, r, :, :n],
                                                      err_msg=f"step {i} inactive row {r} {kv}")
        codes = np.concatenate([c for c, _ in self.plain[1]], axis=1)
        self.assertGreater((codes >= 0).sum(), 10)

    def test_interface(self):
        g = self.dm.graph
        L, H, D = self.L, self.s.gpt_n_heads, self.s.gpt_n_model_channels
        names = [i.name for i in g.input]
        self.assertEqual(names, layered_state(L) + CONTROL + ["kv_past", "kv_total"])
        outs = [o.name for o in g.output]
        self.assertEqual(outs[:len(layered_state(L))], [k + "_out" for k in layered_state(L)])
        self.assertEqual(outs[len(layered_state(L)):], [f"cache_{kv}_{i}_present" for kv in "kv" for i in range(L)])
        shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
                  for v in list(g.input) + list(g.output)}
        self.assertEqual(shapes["kv_past"], [1])
        self.assertEqual(shapes["kv_total"], [])
        self.assertEqual(shapes["cache_k_0"], ["slots", H, "max_len", D // H])
        att = [n for n in g.node if n.op_type == "DecoderMaskedMultiHeadAttention"]
        self.assertEqual(len(att), L)
        # The bound is read on the host only (the operator's CPU input, Range's limit): nothing copies it
        # to the device, which would keep the step from being captured as a CUDA graph.
        self.assertEqual({n.op_type for n in g.node if "kv_past" in n.input}, {"DecoderMaskedMultiHeadAttention"})
        self.assertEqual({n.op_type for n in g.node if "kv_total" in n.input}, {"Range"})
        self.assertFalse([n for n in g.node if n.op_type == "MultiHeadAttention"])
        for i, n in enumerate(att):
            self.assertEqual(list(n.input[5:8]), [f"cache_k_{i}_out", f"cache_v_{i}_out", "kv_past"])
            self.assertEqual(list(n.output[1:]), [f"cache_k_{i}_present", f"cache_v_{i}_present"])

    def test_ft_layout_writes_the_new_key_where_the_cuda_kernel_reads_it(self):
        """The "ft" graph (K as [S, H, dh/4, M, 4], the CUDA kernel's layout) writes each active row's new
        K at its column in that layout: layer 0's (its K depends on the embeddings only, not on an
        attention, which onnxruntime's CPU kernel would compute from a BNSH reading) equals the "bnsh"
        graph's, moved into the layout; an inactive row writes at column M - 1 (no row's own: the capacity
        is M - 1 positions); every other element of the cache is as it was."""
        from xtts.export.graphs import batch_sampler
        from xtts.export.static_fused import dmmha_step
        ft = dmmha_step(self.m.gpt, batch_sampler(self.s.gpt_num_audio_tokens), "ft")
        self.assertFalse([n for n in ft.graph.node if n.op_type == "Transpose"], "the new K reshaped, not copied")
        k_in = [i for i in ft.graph.input if i.name == "cache_k_0"][0]
        H, dh = self.s.gpt_n_heads, self.s.gpt_n_model_channels // self.s.gpt_n_heads
        self.assertEqual([d.dim_param or d.dim_value for d in k_in.type.tensor_type.shape.dim],
                         ["slots", H, dh // 4, "max_len", 4])
        feeds = Layered(None, self.L).split(self.start)
        feeds.update(self.settings)
        feeds["uniforms"] = np.ascontiguousarray(self.uniforms[:, :N])
        feeds["steps"] = np.array(self.total, np.int64)
        feeds["kv_past"], feeds["kv_total"] = np.array([M - 1], np.int32), np.array(M, np.int64)
        ref = _session(self.dm, self.dims).sess.run(["cache_k_0_out", "codes_out"], feeds)
        for i in range(self.L):
            feeds[f"cache_k_{i}"] = to_ft(feeds[f"cache_k_{i}"])
        import onnxruntime as ort
        sess = ort.InferenceSession(ft.SerializeToString(), _options(self.dims), providers=["CPUExecutionProvider"])
        got, codes = sess.run(["cache_k_0_out", "codes_out"], feeds)
        self.assertTrue((codes[:, 0] >= 0).any())
        np.testing.assert_array_equal(got, to_ft(ref[0]))
        changed = got != feeds["cache_k_0"]
        inactive = 0
        for r in range(len(self.total)):
            col = self.start["length"][r] if codes[r, 0] >= 0 else M - 1
            inactive += codes[r, 0] < 0
            if codes[r, 0] >= 0:
                self.assertTrue(changed[r, :, :, col].any(), f"row {r}")
            changed[r, :, :, col] = False
        self.assertGreater(inactive, 0, "a row the step left inactive")
        self.assertFalse(changed.any())

    def test_inactive_rows_write_only_the_spare_column(self):
        """No GatherElements or Where on a layer's cache: an inactive row's write goes to column M - 1."""
        g = self.dm.graph
        self.assertFalse([n for n in g.node if n.op_type == "GatherElements" and n.input[0].startswith("cache_")])
        scatters = [n for n in g.node if n.op_type == "ScatterElements" and n.input[0].startswith("cache_")]
        self.assertEqual(len(scatters), 2 * self.L)


if __name__ == "__main__":
    unittest.main()


class StaticXattnStep(unittest.TestCase):
    """gpt_step_static_xattn[_kv16] (static_fused.xattn_step): the in-place step's interface, each layer's
    attention one ai.xtts operator. Its arithmetic runs in the addon only (onnxruntime alone has no such
    operator): inference/native/static.test.ts checks both steps against the exported plain step, and
    decode-attention.test.ts the operators against attention computed in JS."""

    @classmethod
    def setUpClass(cls):
        sizes, model = tiny_test_model()
        cls.s = sizes
        graphs = export_static(model)
        cls.inplace = graphs["gpt_step_static_inplace_fp32"]
        cls.steps = {half: graphs["gpt_step_static_xattn_kv16_fp32" if half else "gpt_step_static_xattn_fp32"]
                     for half in (False, True)}

    def test_interface_is_the_in_place_steps_with_the_cache_type(self):
        want_in = {i.name: i.type.tensor_type.elem_type for i in self.inplace.graph.input}
        want_out = {o.name: o.type.tensor_type.elem_type for o in self.inplace.graph.output}
        for half, m in self.steps.items():
            got_in = {i.name: i.type.tensor_type.elem_type for i in m.graph.input}
            got_out = {o.name: o.type.tensor_type.elem_type for o in m.graph.output}
            self.assertEqual(set(got_in), set(want_in))
            self.assertEqual(set(got_out), set(want_out))
            for name, t in {**got_in, **got_out}.items():
                cache = name.startswith("cache_")
                want = onnx.TensorProto.FLOAT16 if half and cache else {**want_in, **want_out}[name]
                self.assertEqual(t, want, f"{name} (half={half})")

    def test_one_operator_per_layer_reading_the_layer_cache_in_place(self):
        for half, m in self.steps.items():
            ops = [n for n in m.graph.node if n.domain == "ai.xtts"]
            self.assertEqual(len(ops), self.s.gpt_layers)
            for i, n in enumerate(ops):
                self.assertEqual(n.op_type, "DecodeAttentionHalfCache" if half else "DecodeAttention")
                self.assertEqual(list(n.input[3:6]), [f"cache_k_{i}", f"cache_v_{i}", "length"])
                self.assertEqual(list(n.output[1:]), [f"cache_k_{i}_out", f"cache_v_{i}_out"])
                attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
                self.assertEqual(attrs["num_heads"], self.s.gpt_n_heads)
                dh = self.s.gpt_n_model_channels // self.s.gpt_n_heads
                self.assertAlmostEqual(attrs["scale"], 1 / np.sqrt(dh), places=6)
            # No attention of onnxruntime's own, and no initializer left unused.
            self.assertFalse({"MultiHeadAttention", "DecoderMaskedMultiHeadAttention"} & {n.op_type for n in m.graph.node})
            used = {x for n in m.graph.node for x in n.input}
            self.assertEqual([t.name for t in m.graph.initializer if t.name not in used], [])
            self.assertIn("ai.xtts", {o.domain for o in m.opset_import})
