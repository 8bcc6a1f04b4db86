"""The fixed-shape decode step `gpt_step_static`: one iteration of onnx_tools.decode_loop_batch's Loop
body (sample a code from each row's logits, then one GPT step on it) over S rows whose whole state lives
in tensors of fixed shape that the caller binds as both input `X` and output `X_out` (the same device
buffer), so that onnxruntime's CUDA graph can capture one run and replay it every step.

Dims: L layers, H heads, dh head width, D = H * dh, V audio codes, and three symbolic dims fixed when a
session opens (free-dimension overrides by name): `slots` (S), `max_len` (M, KV columns per row),
`chunk` (N, steps per chunk).

State, input `X` and output `X_out` (same shape and type):
  cache_k, cache_v  float32 [L, S, H, M, dh]  row s's valid columns are [0, length[s])
  logits            float32 [S, V]            what row s samples from at this step
  latent            float32 [S, D]            the latent paired with those logits
  seen              bool    [S, V]            codes row s has emitted (repetition penalty)
  pos               int64   [S]               audio position of the code sampled at this step
  length            int64   [S]               valid KV columns of row s
  done              bool    [S]               row stopped (emitted the stop code) or slot empty
  iter              int64   [1]               the step's index within the chunk
  codes             int64   [S, N]            column iter gets the code sampled at this step, -1 if inactive
  latents           float32 [S, N, D]         column iter gets `latent` as it was before the step
Inputs only: uniforms float32 [S, N] (row s draws uniforms[s, iter]), steps int64 [S], temperature
float32 [S], top_k int64 [S] (1..V), top_p float32 [S], repetition_penalty float32 [S].

A row is active at a step while !done[s], iter < steps[s], and (beyond the shared interface text, see
below) length[s] < M and iter < N. An active row samples token (batch.sample_batch: the same traced
sampler graph as gpt_batch's Loop body), sets codes[s, iter] = token, seen |= onehot(token), runs the
GPT step on (token, pos) attending to columns [0, length[s]) plus its own new K/V, writes its new K/V to
column length[s] of every layer, and takes logits/latent from the step; pos += 1, length += 1, done =
(token == stop code). An inactive row changes nothing: logits, latent, seen, pos, length, done and its
whole KV rows stay bit-identical, and codes[s, iter] = -1. Every step: iter += 1.

Additions to the shared interface (each keeps every case the interface defines unchanged):
  - The stop code is the model's gpt_stop_audio_token, a constant of the graph (no input).
  - A row with length[s] == M (its cache is full) is inactive: it cannot take another position. Its
    codes column gets -1 and its done stays false, so a caller sees a stalled row, not a finished one.
  - A step with iter >= N (past the chunk) makes every row inactive and writes no codes/latents column
    (the writes are clamped to column N - 1 and write back what is there); iter still advances.
  - latents[s, iter] gets `latent` for inactive rows too (their unchanged latent, as the Loop's
    latents do); only codes marks a row inactive.
  - pos is clamped into the position table for the embedding lookup, so an inactive row's pos (an
    empty slot's) can hold anything. length < 0 is invalid (the write column is clamped to 0).
  - The cache's columns past length[s] must hold finite values (a zero-filled buffer, and then K/V
    this graph wrote, keeps it so): they are read, given attention weight exactly 0 (their scores are
    replaced by float32's lowest before the softmax), and 0 * NaN would be NaN.

Attention per row: scores over the M cache columns (a MatMul of the layer's [S, H, M, dh] cache with q
as a column, no transposed copy of the cache) and over the new K, masked to [0, length[s]) plus the
new column, softmax, then the cache part weighted by a MatMul and the new V added. Each layer's cache
is taken with one Gather (a copy of that layer's [S, H, M, dh]).

The KV write: per layer the new K/V stacked into [L, S, H, 1, dh] and written with ScatterElements
(axis 3) at column min(length[s], M - 1); an inactive row's update is the value already in that column
(read with GatherElements before the write), so the write leaves the row bit-identical. Only active
rows, which have length < M, write a new value, and only into column length[s], which no step reads.

In-place safety (data dependencies, not node order): every state output is written after every read
of its input. The KV updates depend on latent_next (so on every layer's cache reads: an always-true
flag, Not(Greater(r, r)) with r = ReduceMax(latent_next), is false for no r, NaN included) and on the
GatherElements of the old column. The codes/latents scatters read their own old column. The other
outputs (logits, latent, seen, pos, length, done, iter) are element-wise updates gated by an
always-true flag made the same way from one element of each of cache_k_out, cache_v_out, codes_out and
latents_out, so they come after those writes and after everything those depend on: the sampler's reads
of logits/seen/uniforms, the embedding's read of pos, the mask's and the write column's reads of
length, the latents scatter's read of latent.

build_static_step holds the interface and all of the state handling above; the GPT layers are its
argument: plain_layers here (the attention described above), static_fused.fused_layers for
gpt_step_static_fused (onnxruntime's fused operators, the same interface)."""
import math
from dataclasses import dataclass
from typing import Callable, List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .onnx_tools import _slice, prefix_graph

SAMPLER_IO = ["logits", "seen", "u", "temperature", "top_k", "top_p", "repetition_penalty", "token"]
STATE = ["cache_k", "cache_v", "logits", "latent", "seen", "pos", "length", "done", "iter", "codes", "latents"]
CONTROL = ["uniforms", "steps", "temperature", "top_k", "top_p", "repetition_penalty"]


class GraphBuilder:
    """The nodes and initializers of a graph being built; each node is named after its (first) output."""

    def __init__(self):
        self.inits: List[onnx.TensorProto] = []
        self.nodes: List[onnx.NodeProto] = []

    def init(self, nm: str, a) -> str:
        a = a.detach().cpu().float().numpy() if hasattr(a, "detach") else np.asarray(a)
        self.inits.append(numpy_helper.from_array(np.array(a, copy=True, order="C"), nm))  # keeps 0-d as 0-d
        return nm

    def node(self, op: str, ins, out: str, **kw) -> str:
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **kw))
        return out

    def multi(self, op: str, ins, outs, name: str, **kw) -> List[str]:
        self.nodes.append(helper.make_node(op, ins, outs, name=name, **kw))
        return list(outs)

    def i64c(self, nm: str, vals) -> str:
        return self.init(nm, np.array(vals, np.int64))


@dataclass
class StepParts:
    """What the shared part of the step gives the GPT layers (the `layers` argument of build_static_step):
    the builder, the model, its sizes, the two embedding rows of each row's (token, pos) [S, D], and the
    shared constants and sizes (m_len: the scalar M)."""
    b: GraphBuilder
    gpt: object
    d: int
    n_layers: int
    heads: int
    dh: int
    tok: str
    pos: str
    m_len: str
    one: str
    zero: str
    ax0: str
    ax1: str
    # With a layered cache (build_static_step's `layered`): the rows that step [S] (bool), the KV write
    # column min(length, M - 1) [S] and the row count as a 1-D shape [1]; the layers then write their
    # own new K/V in place (cache_k_<i>_out) and return empty new_k/new_v.
    active: str = ""
    col: str = ""
    sh_s: str = ""


# The GPT step on each row's (token, pos): (parts) -> (latent_next [S, D], logits_next [S, V], and per layer the
# new K and V as [1, S, H, 1, dh]).
Layers = Callable[[StepParts], Tuple[str, str, List[str], List[str]]]


def key_keep(p: StepParts, total: str = "", sfx: str = "") -> str:
    """The key mask [S, T] (bool): the cache's columns [0, length[s]) and the new column (the last). T is
    M + 1 (the cache's columns and the new one), or the scalar `total` (its last column the new one's:
    static_fused's dmmha step, whose operator puts the new K/V at column total - 1); sfx tells its nodes
    apart."""
    b, one, zero, m_len = p.b, p.one, p.zero, p.m_len
    cols = b.node("Range", [zero, total or b.node("Add", [m_len, one], "m/m1"), one], "m/cols" + sfx)
    past = b.node("Less", [b.node("Unsqueeze", [cols, p.ax0], "m/cols2" + sfx),
                           b.node("Unsqueeze", ["length", p.ax1], "m/len2" + sfx)], "m/past" + sfx)
    # The new column: M, or the last of cols (taken from cols, so `total` is read on the host only).
    new = m_len if not total else b.node(
        "Slice", [cols, b.i64c("m/last_s" + sfx, [-1]), b.i64c("m/last_e" + sfx, [np.iinfo(np.int64).max])],
        "m/last" + sfx)
    return b.node("Or", [past, b.node("Equal", [cols, new], "m/new" + sfx)], "m/keep2" + sfx)


def plain_layers(p: StepParts) -> Tuple[str, str, List[str], List[str]]:
    """The layers from plain ONNX operators (the arithmetic of the traced step, see the module's docstring)."""
    b, gpt, d, heads, dh, ax0 = p.b, p.gpt, p.d, p.heads, p.dh, p.ax0
    node, init, i64c = b.node, b.init, b.i64c
    x = node("Add", [p.tok, p.pos], "x0")  # [S, D]
    keep_mask = node("Unsqueeze", [key_keep(p), p.ax1], "m/keep")  # [S, 1, M + 1]
    lowest = init("m/lowest", np.array(np.finfo(np.float32).min, np.float32))
    scale = init("m/scale", np.array(math.sqrt(dh), np.float32))
    shp_col = i64c("r/q_col", [-1, heads, dh, 1])
    shp_row = i64c("r/kv_row", [-1, heads, 1, dh])
    shp_flat = i64c("r/flat", [0, 0, -1])
    shp_arow = i64c("r/a_row", [0, 0, 1, -1])
    shp_d = i64c("r/d", [-1, d])
    sl_start, sl_end = i64c("r/sl_0", [0]), i64c("r/sl_m1", [-1])
    sl_big, ax2, ax3 = i64c("r/sl_big", [np.iinfo(np.int64).max]), i64c("r/ax2", [2]), i64c("r/ax3", [3])
    split3 = i64c("r/split", [d, d, d])
    g_c = [init(f"g/c{i}", np.array(c, np.float32))
           for i, c in enumerate((0.044715, math.sqrt(2.0 / math.pi), 1.0, 0.5))]

    def ln(nm, inp, mod):
        return node("LayerNormalization", [inp, init(nm + "_g", mod.weight), init(nm + "_b", mod.bias)], nm, axis=-1,
                    epsilon=mod.eps)

    new_k, new_v = [], []
    for i, blk in enumerate(gpt.gpt.h):
        pf = f"h{i}/"
        li = i64c(pf + "layer", i)
        kp = node("Gather", ["cache_k", li], pf + "kp", axis=0)  # [S, H, M, dh]
        vp = node("Gather", ["cache_v", li], pf + "vp", axis=0)
        a_in = ln(pf + "ln1", x, blk.ln_1)
        qkv = node("Add", [node("MatMul", [a_in, init(pf + "w_qkv", blk.attn.c_attn.weight)], pf + "qkv0"),
                           init(pf + "b_qkv", blk.attn.c_attn.bias)], pf + "qkv")
        b.multi("Split", [qkv, split3], [pf + "q", pf + "k", pf + "v"], pf + "split", axis=1)
        qc = node("Reshape", [pf + "q", shp_col], pf + "qc")  # [S, H, dh, 1]
        kn = node("Reshape", [pf + "k", shp_row], pf + "kn")  # [S, H, 1, dh]
        vn = node("Reshape", [pf + "v", shp_row], pf + "vn")
        sc = node("Concat", [node("MatMul", [kp, qc], pf + "s_past"), node("MatMul", [kn, qc], pf + "s_new")],
                  pf + "s_cat", axis=2)  # [S, H, M + 1, 1]
        sc = node("Div", [node("Reshape", [sc, shp_flat], pf + "s_flat"), scale], pf + "s_scaled")  # [S, H, M + 1]
        a = node("Softmax", [node("Where", [keep_mask, sc, lowest], pf + "s_masked")], pf + "a", axis=-1)
        a_past = node("Reshape", [node("Slice", [a, sl_start, sl_end, ax2], pf + "a_past0"), shp_arow], pf + "a_past")
        a_new = node("Unsqueeze", [node("Slice", [a, sl_end, sl_big, ax2], pf + "a_new0"), ax3], pf + "a_new")
        o = node("Add", [node("MatMul", [a_past, vp], pf + "o_past"), node("Mul", [a_new, vn], pf + "o_new")],
                 pf + "o_h")
        o = node("Add", [node("MatMul", [node("Reshape", [o, shp_d], pf + "o_flat"),
                                         init(pf + "w_o", blk.attn.c_proj.weight)], pf + "o0"),
                         init(pf + "b_o", blk.attn.c_proj.bias)], pf + "o")
        x1 = node("Add", [x, o], pf + "x1")
        m_in = ln(pf + "ln2", x1, blk.ln_2)
        fc = node("Add", [node("MatMul", [m_in, init(pf + "w_fc", blk.mlp.c_fc.weight)], pf + "fc0"),
                          init(pf + "b_fc", blk.mlp.c_fc.bias)], pf + "fc")
        # GPT-2's tanh gelu, as the trace computes it: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
        cube = node("Mul", [fc, node("Mul", [fc, fc], pf + "g_sq")], pf + "g_cube")
        inner = node("Add", [fc, node("Mul", [g_c[0], cube], pf + "g_c3")], pf + "g_inner")
        th = node("Tanh", [node("Mul", [g_c[1], inner], pf + "g_arg")], pf + "g_tanh")
        gl = node("Mul", [g_c[3], node("Mul", [fc, node("Add", [g_c[2], th], pf + "g_1p")], pf + "g_x")], pf + "g")
        pr = node("Add", [node("MatMul", [gl, init(pf + "w_pr", blk.mlp.c_proj.weight)], pf + "pr0"),
                          init(pf + "b_pr", blk.mlp.c_proj.bias)], pf + "pr")
        x = node("Add", [x1, pr], pf + "x2")
        new_k.append(node("Unsqueeze", [kn, ax0], pf + "k_col"))  # [1, S, H, 1, dh]
        new_v.append(node("Unsqueeze", [vn, ax0], pf + "v_col"))
    h_last = ln("ln_f", x, gpt.gpt.ln_f)
    latent_next = ln("final_norm", h_last, gpt.final_norm)
    logits_next = node("Add", [node("MatMul", [latent_next, init("w_head", gpt.mel_head.weight.t())], "logits0"),
                               init("b_head", gpt.mel_head.bias)], "logits_next")
    return latent_next, logits_next, new_k, new_v


def static_batch_step(gpt, sampler: onnx.ModelProto, name: str = "gpt_step_static") -> onnx.ModelProto:
    """gpt: the model's XttsGPT (fp32 weights). sampler: the traced batch sampler (batch.BatchSampler:
    logits, seen, u, temperature, top_k, top_p, repetition_penalty -> token, seen_next), the same graph
    the gpt_batch Loop body runs; only its token part is used."""
    return build_static_step(gpt, sampler, name, plain_layers)


def layered_state(n_layers: int) -> List[str]:
    """STATE with the cache as one input per layer (cache_k_0 ... cache_k_<L-1>, then cache_v_*)."""
    per = [f"{kv}_{i}" for kv in ("cache_k", "cache_v") for i in range(n_layers)]
    return per + [x for x in STATE if x not in ("cache_k", "cache_v")]


def build_static_step(gpt, sampler: onnx.ModelProto, name: str, layers: Layers,
                      domains: Tuple[str, ...] = (), layered: bool = False,
                      extra_inputs: Tuple = (), extra_outputs: Tuple = (),
                      k_layer_shape: Tuple = (), kv_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
    """The step's interface and state handling (the module's docstring) around `layers`, the GPT step
    on each row's (token, pos). domains: operator domains the layers use besides ONNX's (version 1).
    layered: the cache as one input per layer (layered_state), which `layers` writes itself, layer by
    layer, before that layer's attention reads it (static_fused.fused_inplace_layers).
    extra_inputs / extra_outputs: more graph inputs and outputs the layers use or make (ValueInfoProtos,
    inputs after CONTROL). k_layer_shape: a layered K cache's declared shape when it is not V's. kv_type: a
    layered cache's element type (FLOAT16: stored in half precision, static_fused.xattn_step)."""
    s = gpt.sizes
    d, n_layers, heads = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    dh = d // heads
    v = s.gpt_num_audio_tokens
    f32, i64, b8 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
    b = GraphBuilder()
    inits, nodes, init, node, i64c = b.inits, b.nodes, b.init, b.node, b.i64c

    # Sizes, from the inputs' shapes (constants once the symbolic dims are fixed).
    sh_s = node("Shape", ["length"], "c/shape_s")  # [S]
    # M from V's cache (a layered step's K may be laid out otherwise, static_fused's `ft` layout).
    m_len = node("Gather", [node("Shape", ["cache_v_0" if layered else "cache_v"], "c/shape_k"),
                            i64c("c/three", 2 if layered else 3)], "c/m", axis=0)
    n_chunk = node("Gather", [node("Shape", ["codes"], "c/shape_codes"), i64c("c/one_1d", [1])], "c/n", axis=0)
    one, zero = i64c("c/one", 1), i64c("c/zero", 0)
    ax0, ax1 = i64c("c/ax0", [0]), i64c("c/ax1", [1])

    # Which rows step.
    in_chunk = node("Less", ["iter", n_chunk], "a/in_chunk")  # [1]
    it = node("Max", [node("Min", ["iter", node("Sub", [n_chunk, one], "a/n_last")], "a/it_hi"), zero], "a/it")
    within = node("Less", ["iter", "steps"], "a/within")
    room = node("Less", ["length", m_len], "a/room")
    running = node("And", [node("Not", ["done"], "a/not_done"), within], "a/running")
    active = node("And", [running, node("And", [room, in_chunk], "a/room_chunk")], "a/active")

    # Sample: the traced sampler's nodes up to token.
    sg = onnx.GraphProto()
    sg.CopyFrom(sampler.graph)
    prefix_graph(sg, "s/", SAMPLER_IO)
    keep = _slice(sg, "token")
    used = {x for n in keep for x in n.input}
    node("Gather", ["uniforms", node("Squeeze", [it], "a/it_scalar")], "u", axis=1)
    nodes.extend(keep)
    inits.extend(t for t in sg.initializer if t.name in used)

    # The GPT step on (token, pos).
    p_max = gpt.mel_pos_embedding.emb.weight.shape[0] - 1
    pos_c = node("Max", [node("Min", ["pos", i64c("e/p_max", p_max)], "e/pos_hi"), zero], "e/pos_c")
    tok_emb = node("Gather", [init("mel_embedding", gpt.mel_embedding.weight), "token"], "e/tok", axis=0)
    pos_emb = node("Gather", [init("mel_pos", gpt.mel_pos_embedding.emb.weight), pos_c], "e/pos", axis=0)
    # KV write column min(length, M - 1).
    col = node("Max", [node("Min", ["length", node("Sub", [m_len, one], "w/m_last")], "w/col_hi"), zero], "w/col")
    latent_next, logits_next, new_k, new_v = layers(StepParts(b, gpt, d, n_layers, heads, dh, tok_emb, pos_emb,
                                                              m_len, one, zero, ax0, ax1,
                                                              *((active, col, sh_s) if layered else ())))

    # An always-true flag that depends on every read the step made (see the module's docstring).
    def always(nm, val):
        return node("Not", [node("Greater", [val, val], nm + "/false")], nm)

    step_done = always("w/step_done", node("ReduceMax", [latent_next], "w/step_r", keepdims=0))
    if not layered:  # one cache: every layer's new K/V written at the end, after every read
        kv_shape = node("Concat", [i64c("w/l_dim", [n_layers]), sh_s, i64c("w/hd_dims", [heads, 1, dh])], "w/kv_shape",
                        axis=0)
        kv_idx = node("Expand", [node("Reshape", [col, i64c("w/col5", [1, -1, 1, 1, 1])], "w/col5d"), kv_shape], "w/kv_idx")
        write = node("Reshape", [node("And", [active, step_done], "w/write"), i64c("w/row5", [1, -1, 1, 1, 1])], "w/write5")
        for kv, cols_new in (("k", new_k), ("v", new_v)):
            stacked = node("Concat", cols_new, f"w/{kv}_new", axis=0)  # [L, S, H, 1, dh]
            old = node("GatherElements", [f"cache_{kv}", kv_idx], f"w/{kv}_old", axis=3)
            upd = node("Where", [write, stacked, old], f"w/{kv}_upd")
            node("ScatterElements", [f"cache_{kv}", kv_idx, upd], f"cache_{kv}_out", axis=3)

    # codes[:, iter] and latents[:, iter] (column N - 1, rewritten as it is, when iter >= N).
    c_idx = node("Expand", [node("Reshape", [it, i64c("w/it2", [1, 1])], "w/it2d"),
                            node("Concat", [sh_s, i64c("w/one_dim", [1])], "w/c_shape", axis=0)], "w/c_idx")  # [S, 1]
    code = node("Where", [active, "token", i64c("w/none", -1)], "w/code")
    c_upd = node("Where", [in_chunk, node("Unsqueeze", [code, ax1], "w/code2"),
                           node("GatherElements", ["codes", c_idx], "w/c_old", axis=1)], "w/c_upd")
    node("ScatterElements", ["codes", c_idx, c_upd], "codes_out", axis=1)
    l_idx = node("Expand", [node("Reshape", [it, i64c("w/it3", [1, 1, 1])], "w/it3d"),
                            node("Concat", [sh_s, i64c("w/one_d", [1, d])], "w/l_shape", axis=0)], "w/l_idx")
    l_upd = node("Where", [in_chunk, node("Unsqueeze", ["latent", ax1], "w/latent3"),
                           node("GatherElements", ["latents", l_idx], "w/l_old", axis=1)], "w/l_upd")
    node("ScatterElements", ["latents", l_idx, l_upd], "latents_out", axis=1)

    # The element-wise updates, after the writes above (one element of each written tensor).
    def first(nm, t, rank, cast=False):
        el = node("Slice", [t, i64c(nm + "/s", [0] * rank), i64c(nm + "/e", [1] * rank)], nm + "/el")
        if cast:  # an fp16 cache's element as float (for the comparison below)
            el = node("Cast", [el], nm + "/f32", to=f32)
        return node("Reshape", [el, ax1], nm)  # [1]

    last = n_layers - 1
    half = layered and kv_type != f32
    probes = [first("w/k1", f"cache_k_{last}_out" if layered else "cache_k_out",
                    (len(k_layer_shape) or 4) if layered else 5, half),
              first("w/v1", f"cache_v_{last}_out" if layered else "cache_v_out", 4 if layered else 5, half),
              first("w/c1", "codes_out", 2), first("w/l1", "latents_out", 3)]
    flags = [node("Greater", [pr_, pr_], pr_ + "/false") for pr_ in probes]
    any_false = node("Or", [node("Or", flags[:2], "w/f01"), node("Or", flags[2:], "w/f23")], "w/any_false")
    written = node("Not", [any_false], "w/written")  # [1], true
    if layered:
        # The last layer's write comes before its attention; the late updates also wait for that (and
        # so for every read of length the layers' masks made), through the output it gives.
        written = node("And", [written, node("Reshape", [step_done, ax1], "w/step_done1")], "w/written_all")
    late = node("And", [active, written], "w/late")  # [S]
    late2 = node("Unsqueeze", [late, ax1], "w/late2")
    node("Where", [late2, logits_next, "logits"], "logits_out")
    node("Where", [late2, latent_next, "latent"], "latent_out")
    ids = init("w/ids", np.arange(v, dtype=np.int64)[None, :])
    onehot = node("Equal", [ids, node("Unsqueeze", ["token", ax1], "w/token2")], "w/onehot")
    node("Or", ["seen", node("And", [onehot, late2], "w/seen_add")], "seen_out")
    node("Where", [late, node("Add", ["pos", one], "w/pos1"), "pos"], "pos_out")
    node("Where", [late, node("Add", ["length", one], "w/len1"), "length"], "length_out")
    stopped = node("Equal", ["token", i64c("w/stop", s.gpt_stop_audio_token)], "w/stopped")
    node("Or", ["done", node("And", [late, stopped], "w/stop_now")], "done_out")
    node("Add", ["iter", node("Cast", [written], "w/one_late", to=i64)], "iter_out")

    state = layered_state(n_layers) if layered else STATE
    vi = helper.make_tensor_value_info
    kv = [n_layers, "slots", heads, "max_len", dh]
    kv_layer = ["slots", heads, "max_len", dh]
    types = {**{f"{x}_{i}": (kv_type, list(k_layer_shape) if k_layer_shape and x == "cache_k" else kv_layer)
                for x in ("cache_k", "cache_v") for i in range(n_layers)},
             "cache_k": (f32, kv), "cache_v": (f32, kv), "logits": (f32, ["slots", v]), "latent": (f32, ["slots", d]),
             "seen": (b8, ["slots", v]), "pos": (i64, ["slots"]), "length": (i64, ["slots"]), "done": (b8, ["slots"]),
             "iter": (i64, [1]), "codes": (i64, ["slots", "chunk"]), "latents": (f32, ["slots", "chunk", d]),
             "uniforms": (f32, ["slots", "chunk"]), "steps": (i64, ["slots"]), "temperature": (f32, ["slots"]),
             "top_k": (i64, ["slots"]), "top_p": (f32, ["slots"]), "repetition_penalty": (f32, ["slots"])}
    graph = helper.make_graph(
        nodes, name, [vi(x, *types[x]) for x in state + CONTROL] + list(extra_inputs),
        [vi(x + "_out", *types[x]) for x in state] + list(extra_outputs), initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]
                          + [helper.make_opsetid(dm, 1) for dm in domains])
    m.ir_version = 8
    return m
