"""The batched decode step built from onnxruntime's fused operators instead of a trace: com.microsoft
MultiHeadAttention (past/present K/V, a key padding mask for the left-padded rows, the QKV bias fused),
FastGelu (GPT-2's tanh gelu with its bias) and LayerNormalization, with the model's own weights.

Same interface as the traced batch.BatchStep, so onnx_tools.decode_loop_batch wraps it unchanged:
token [B], pos [B], past_k/v [L, B, H, P, dh], start [B] -> logits_next [B, V], latent_next [B, D],
present_k/v [L, B, H, P + 1, dh]. The arithmetic is the same as the trace's up to rounding (the
attention's scaling and softmax, and FastGelu's tanh, are onnxruntime's own kernels)."""
import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper


class _Graph:
    """Initializers and nodes of a graph being built, in order."""

    def __init__(self):
        self.inits, self.nodes = [], []

    def init(self, name, t):
        a = t.detach().cpu().float().numpy() if hasattr(t, "detach") else np.asarray(t)
        self.inits.append(numpy_helper.from_array(np.array(a, copy=True, order="C"), name))  # keeps 0-d as 0-d
        return name

    def node(self, op, ins, outs, domain="", **kw):
        self.nodes.append(helper.make_node(op, ins, outs, domain=domain, **kw))
        return outs[0]


def _block(g: _Graph, i: int, blk, x: str, d: int, heads: int, attention_inputs, **attention) -> str:
    """GPT-2 block i on x [B, S, D]: LayerNormalization, the QKV MatMul, MultiHeadAttention (its QKV bias fused;
    `attention_inputs` after the bias, `attention` its attributes), the output projection, the residual, then
    LayerNormalization, MatMul with FastGelu and its bias, MatMul, the residual. Leaves the layer's present keys
    and values as h{i}/pk_out and h{i}/pv_out ([1, B, H, S, dh]); returns the block's output."""
    p = f"h{i}/"
    a_in = g.node("LayerNormalization", [x, g.init(p + "ln1_g", blk.ln_1.weight), g.init(p + "ln1_b", blk.ln_1.bias)],
                  [p + "a_in"], axis=-1, epsilon=blk.ln_1.eps)
    qkv = g.node("MatMul", [a_in, g.init(p + "w_qkv", blk.attn.c_attn.weight)], [p + "qkv"])
    g.init(p + "split", np.array([d, d, d], np.int64))
    g.nodes.append(helper.make_node("Split", [qkv, p + "split"], [p + "q", p + "k", p + "v"], axis=2))
    g.node("MultiHeadAttention", [p + "q", p + "k", p + "v", g.init(p + "b_qkv", blk.attn.c_attn.bias), *attention_inputs],
           [p + "att", p + "present_k", p + "present_v"], domain="com.microsoft", num_heads=heads, **attention)
    o = g.node("Add", [g.node("MatMul", [p + "att", g.init(p + "w_o", blk.attn.c_proj.weight)], [p + "o0"]),
                       g.init(p + "b_o", blk.attn.c_proj.bias)], [p + "o"])
    x1 = g.node("Add", [x, o], [p + "x1"])
    m_in = g.node("LayerNormalization", [x1, g.init(p + "ln2_g", blk.ln_2.weight), g.init(p + "ln2_b", blk.ln_2.bias)],
                  [p + "m_in"], axis=-1, epsilon=blk.ln_2.eps)
    fc = g.node("MatMul", [m_in, g.init(p + "w_fc", blk.mlp.c_fc.weight)], [p + "fc"])
    gelu = g.node("FastGelu", [fc, g.init(p + "b_fc", blk.mlp.c_fc.bias)], [p + "g"], domain="com.microsoft")
    pr = g.node("Add", [g.node("MatMul", [gelu, g.init(p + "w_pr", blk.mlp.c_proj.weight)], [p + "pr0"]),
                        g.init(p + "b_pr", blk.mlp.c_proj.bias)], [p + "pr"])
    x2 = g.node("Add", [x1, pr], [p + "x2"])
    g.node("Unsqueeze", [p + "present_k", "c/ax0"], [p + "pk_out"])
    g.node("Unsqueeze", [p + "present_v", "c/ax0"], [p + "pv_out"])
    return x2


def _heads(g: _Graph, gpt, h_last: str, latent: str, logits: str) -> None:
    """ln_f, then final_norm (the latent) and mel_head (the logits) on the last position's [B, D]."""
    lnf, fn = gpt.gpt.ln_f, gpt.final_norm
    h = g.node("LayerNormalization", [h_last, g.init("ln_f_g", lnf.weight), g.init("ln_f_b", lnf.bias)], ["h_last"],
               axis=-1, epsilon=lnf.eps)
    g.node("LayerNormalization", [h, g.init("final_g", fn.weight), g.init("final_b", fn.bias)], [latent],
           axis=-1, epsilon=fn.eps)
    g.node("Add", [g.node("MatMul", [latent, g.init("w_head", gpt.mel_head.weight.t())], ["logits0"]),
                   g.init("b_head", gpt.mel_head.bias)], [logits])


def _model(g: _Graph, name: str, inputs, outputs) -> onnx.ModelProto:
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def fused_batch_step(gpt) -> onnx.ModelProto:
    """gpt: the model's XttsGPT (fp32 weights)."""
    s = gpt.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    dh = d // H
    v = s.gpt_num_audio_tokens
    g = _Graph()
    g.init("c/zero", np.array(0, np.int64))
    g.init("c/one", np.array(1, np.int64))
    g.init("c/three", np.array(3, np.int64))
    g.init("c/ax0", np.array([0], np.int64))
    g.init("c/ax1", np.array([1], np.int64))
    emb = g.node("Gather", [g.init("mel_embedding", gpt.mel_embedding.weight), "token"], ["e/tok"], axis=0)
    pe = g.node("Gather", [g.init("mel_pos", gpt.mel_pos_embedding.emb.weight), "pos"], ["e/pos"], axis=0)
    x = g.node("Unsqueeze", [g.node("Add", [emb, pe], ["e/sum"]), "c/ax1"], ["x0"])  # [B, 1, D]
    # Key padding mask [B, P + 1]: row b sees columns >= start[b] (the new position is the last column).
    past = g.node("Gather", [g.node("Shape", ["past_k"], ["m/kshape"]), "c/three"], ["m/past"], axis=0)
    total = g.node("Add", [past, "c/one"], ["m/total"])
    cols = g.node("Unsqueeze", [g.node("Range", ["c/zero", total, "c/one"], ["m/cols"]), "c/ax0"], ["m/cols2"])
    keep = g.node("GreaterOrEqual", [cols, g.node("Unsqueeze", ["start", "c/ax1"], ["m/start2"])], ["m/keep"])
    mask = g.node("Cast", [keep], ["m/mask"], to=TensorProto.INT32)
    for i, blk in enumerate(gpt.gpt.h):
        p = f"h{i}/"
        g.init(p + "idx", np.array(i, np.int64))
        pk = g.node("Gather", ["past_k", p + "idx"], [p + "pk"], axis=0)
        pv = g.node("Gather", ["past_v", p + "idx"], [p + "pv"], axis=0)
        x = _block(g, i, blk, x, d, H, [mask, "", pk, pv])
    g.node("Concat", [f"h{i}/pk_out" for i in range(L)], ["present_k"], axis=0)
    g.node("Concat", [f"h{i}/pv_out" for i in range(L)], ["present_v"], axis=0)
    _heads(g, gpt, g.node("Squeeze", [x, "c/ax1"], ["h_last0"]), "latent_next", "logits_next")
    vi = helper.make_tensor_value_info
    kv_in = [L, "batch", H, "past", dh]
    kv_out = [L, "batch", H, "total", dh]
    return _model(
        g, "gpt_batch_step_fused",
        [vi("token", TensorProto.INT64, ["batch"]), vi("pos", TensorProto.INT64, ["batch"]),
         vi("past_k", TensorProto.FLOAT, kv_in), vi("past_v", TensorProto.FLOAT, kv_in),
         vi("start", TensorProto.INT64, ["batch"])],
        [vi("logits_next", TensorProto.FLOAT, ["batch", v]), vi("latent_next", TensorProto.FLOAT, ["batch", d]),
         vi("present_k", TensorProto.FLOAT, kv_out), vi("present_v", TensorProto.FLOAT, kv_out)])


def fused_prefill(gpt) -> onnx.ModelProto:
    """The prefill (XttsGPT.prefill) built from onnxruntime's fused operators instead of a trace: per layer
    LayerNormalization, one QKV MatMul, com.microsoft MultiHeadAttention (causal: unidirectional, its QKV bias
    fused), FastGelu with its bias, and the MatMuls; about 16 nodes a layer where the trace has about 50, each
    of which costs its own launch and bookkeeping in a run (a full-size prefill at batch 1 took about 12 ms on
    an H200 whatever the prompt's length). Same interface as gpt_prefill_<precision>: cond [1, C, D],
    text_ids [1, T] ([START] ... [STOP]) -> logits [1, V], latent [1, D], present_k / present_v
    [L, 1, H, C + T + 1, dh]. The arithmetic is the trace's up to rounding (the attention's scaling and
    softmax, and FastGelu's tanh, are onnxruntime's own kernels)."""
    s = gpt.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    dh = d // H
    v = s.gpt_num_audio_tokens
    g = _Graph()
    g.init("c/zero", np.array(0, np.int64))
    g.init("c/one", np.array(1, np.int64))
    g.init("c/ax0", np.array([0], np.int64))
    g.init("c/ax1", np.array([1], np.int64))
    g.init("c/last", np.array([-1], np.int64))
    g.init("c/end", np.array([np.iinfo(np.int64).max], np.int64))
    # Text: token embedding plus its position's, then the audio start token at audio position 0.
    t = g.node("Gather", [g.node("Shape", ["text_ids"], ["e/shape"]), "c/one"], ["e/t"], axis=0)
    pos = g.node("Range", ["c/zero", t, "c/one"], ["e/pos"])
    tok = g.node("Gather", [g.init("text_embedding", gpt.text_embedding.weight), "text_ids"], ["e/tok"], axis=0)
    tpos = g.node("Gather", [g.init("text_pos", gpt.text_pos_embedding.emb.weight), pos], ["e/tpos"], axis=0)
    text = g.node("Add", [tok, tpos], ["e/text"])
    with torch.no_grad():
        start = gpt.audio_start(gpt.text_embedding.weight.device)  # [1, 1, D], as the trace computes it
    x = g.node("Concat", ["cond", text, g.init("audio_start", start)], ["x0"], axis=1)  # [1, S, D]
    for i, blk in enumerate(gpt.gpt.h):
        x = _block(g, i, blk, x, d, H, [], unidirectional=1)
    g.node("Concat", [f"h{i}/pk_out" for i in range(L)], ["present_k"], axis=0)
    g.node("Concat", [f"h{i}/pv_out" for i in range(L)], ["present_v"], axis=0)
    # The last position only: layer norms work position by position, so this is the trace's ln_f(h)[:, -1].
    last = g.node("Squeeze", [g.node("Slice", [x, "c/last", "c/end", "c/ax1"], ["h_last1"]), "c/ax1"], ["h_last0"])
    _heads(g, gpt, last, "latent", "logits")
    vi = helper.make_tensor_value_info
    kv = [L, 1, H, "prompt", dh]
    return _model(
        g, "gpt_prefill_fused",
        [vi("cond", TensorProto.FLOAT, [1, "cond", d]), vi("text_ids", TensorProto.INT64, [1, "text"])],
        [vi("logits", TensorProto.FLOAT, [1, v]), vi("latent", TensorProto.FLOAT, [1, d]),
         vi("present_k", TensorProto.FLOAT, kv), vi("present_v", TensorProto.FLOAT, kv)])
