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


def fused_batch_step(gpt) -> onnx.ModelProto:
    """gpt: the model's XttsGPT (fp32 weights)."""
    s = gpt.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    dh = d // H
    v = s.gpt_num_audio_tokens
    inits, nodes = [], []

    def init(name, t):
        a = t.detach().cpu().float().numpy() if hasattr(t, "detach") else np.asarray(t)
        inits.append(numpy_helper.from_array(np.array(a, copy=True, order="C"), name))  # keeps 0-d as 0-d
        return name

    def node(op, ins, outs, domain="", **kw):
        nodes.append(helper.make_node(op, ins, outs, domain=domain, **kw))
        return outs[0]

    init("c/zero", np.array(0, np.int64))
    init("c/one", np.array(1, np.int64))
    init("c/three", np.array(3, np.int64))
    init("c/ax0", np.array([0], np.int64))
    init("c/ax1", np.array([1], np.int64))
    emb = node("Gather", [init("mel_embedding", gpt.mel_embedding.weight), "token"], ["e/tok"], axis=0)
    pe = node("Gather", [init("mel_pos", gpt.mel_pos_embedding.emb.weight), "pos"], ["e/pos"], axis=0)
    x = node("Unsqueeze", [node("Add", [emb, pe], ["e/sum"]), "c/ax1"], ["x0"])  # [B, 1, D]
    # Key padding mask [B, P + 1]: row b sees columns >= start[b] (the new position is the last column).
    past = node("Gather", [node("Shape", ["past_k"], ["m/kshape"]), "c/three"], ["m/past"], axis=0)
    total = node("Add", [past, "c/one"], ["m/total"])
    cols = node("Unsqueeze", [node("Range", ["c/zero", total, "c/one"], ["m/cols"]), "c/ax0"], ["m/cols2"])
    keep = node("GreaterOrEqual", [cols, node("Unsqueeze", ["start", "c/ax1"], ["m/start2"])], ["m/keep"])
    mask = node("Cast", [keep], ["m/mask"], to=TensorProto.INT32)
    pks, pvs = [], []
    for i, blk in enumerate(gpt.gpt.h):
        p = f"h{i}/"
        init(p + "idx", np.array(i, np.int64))
        pk = node("Gather", ["past_k", p + "idx"], [p + "pk"], axis=0)
        pv = node("Gather", ["past_v", p + "idx"], [p + "pv"], axis=0)
        a_in = node("LayerNormalization", [x, init(p + "ln1_g", blk.ln_1.weight), init(p + "ln1_b", blk.ln_1.bias)],
                    [p + "a_in"], axis=-1, epsilon=blk.ln_1.eps)
        qkv = node("MatMul", [a_in, init(p + "w_qkv", blk.attn.c_attn.weight)], [p + "qkv"])
        init(p + "split", np.array([d, d, d], np.int64))
        nodes.append(helper.make_node("Split", [qkv, p + "split"], [p + "q", p + "k", p + "v"], axis=2))
        node("MultiHeadAttention", [p + "q", p + "k", p + "v", init(p + "b_qkv", blk.attn.c_attn.bias), mask, "", pk, pv],
             [p + "att", p + "present_k", p + "present_v"], domain="com.microsoft", num_heads=H)
        o = node("Add", [node("MatMul", [p + "att", init(p + "w_o", blk.attn.c_proj.weight)], [p + "o0"]),
                         init(p + "b_o", blk.attn.c_proj.bias)], [p + "o"])
        x1 = node("Add", [x, o], [p + "x1"])
        m_in = node("LayerNormalization", [x1, init(p + "ln2_g", blk.ln_2.weight), init(p + "ln2_b", blk.ln_2.bias)],
                    [p + "m_in"], axis=-1, epsilon=blk.ln_2.eps)
        fc = node("MatMul", [m_in, init(p + "w_fc", blk.mlp.c_fc.weight)], [p + "fc"])
        g = node("FastGelu", [fc, init(p + "b_fc", blk.mlp.c_fc.bias)], [p + "g"], domain="com.microsoft")
        pr = node("Add", [node("MatMul", [g, init(p + "w_pr", blk.mlp.c_proj.weight)], [p + "pr0"]),
                          init(p + "b_pr", blk.mlp.c_proj.bias)], [p + "pr"])
        x = node("Add", [x1, pr], [p + "x2"])
        pks.append(node("Unsqueeze", [p + "present_k", "c/ax0"], [p + "pk_out"]))
        pvs.append(node("Unsqueeze", [p + "present_v", "c/ax0"], [p + "pv_out"]))
    node("Concat", pks, ["present_k"], axis=0)
    node("Concat", pvs, ["present_v"], axis=0)
    h_last = node("Squeeze", [x, "c/ax1"], ["h_last0"])
    lnf, fn = gpt.gpt.ln_f, gpt.final_norm
    h_last = node("LayerNormalization", [h_last, init("ln_f_g", lnf.weight), init("ln_f_b", lnf.bias)], ["h_last"],
                  axis=-1, epsilon=lnf.eps)
    node("LayerNormalization", [h_last, init("final_g", fn.weight), init("final_b", fn.bias)], ["latent_next"],
         axis=-1, epsilon=fn.eps)
    node("Add", [node("MatMul", ["latent_next", init("w_head", gpt.mel_head.weight.t())], ["logits0"]),
                 init("b_head", gpt.mel_head.bias)], ["logits_next"])
    vi = helper.make_tensor_value_info
    kv_in = [L, "batch", H, "past", dh]
    kv_out = [L, "batch", H, "total", dh]
    graph = helper.make_graph(
        nodes, "gpt_batch_step_fused",
        [vi("token", TensorProto.INT64, ["batch"]), vi("pos", TensorProto.INT64, ["batch"]),
         vi("past_k", TensorProto.FLOAT, kv_in), vi("past_v", TensorProto.FLOAT, kv_in),
         vi("start", TensorProto.INT64, ["batch"])],
        [vi("logits_next", TensorProto.FLOAT, ["batch", v]), vi("latent_next", TensorProto.FLOAT, ["batch", d]),
         vi("present_k", TensorProto.FLOAT, kv_out), vi("present_v", TensorProto.FLOAT, kv_out)],
        initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def fused_prefill(gpt) -> onnx.ModelProto:
    """The prefill (XttsGPT.prefill) built from onnxruntime's fused operators instead of a trace: per layer
    LayerNormalization, one QKV MatMul, com.microsoft MultiHeadAttention (causal: unidirectional, its QKV bias
    fused), FastGelu with its bias, and the MatMuls; about 13 nodes a layer where the trace has about 50, each
    of which costs its own launch and bookkeeping in a run (a full-size prefill at batch 1 took about 12 ms on
    an H200 whatever the prompt's length). Same interface as gpt_prefill_<precision>: cond [1, C, D],
    text_ids [1, T] ([START] ... [STOP]) -> logits [1, V], latent [1, D], present_k / present_v
    [L, 1, H, C + T + 1, dh]. The arithmetic is the trace's up to rounding (the attention's scaling and
    softmax, and FastGelu's tanh, are onnxruntime's own kernels)."""
    s = gpt.sizes
    d, L, H = s.gpt_n_model_channels, s.gpt_layers, s.gpt_n_heads
    dh = d // H
    v = s.gpt_num_audio_tokens
    inits, nodes = [], []

    def init(name, t):
        a = t.detach().cpu().float().numpy() if hasattr(t, "detach") else np.asarray(t)
        inits.append(numpy_helper.from_array(np.array(a, copy=True, order="C"), name))
        return name

    def node(op, ins, outs, domain="", **kw):
        nodes.append(helper.make_node(op, ins, outs, domain=domain, **kw))
        return outs[0]

    init("c/zero", np.array(0, np.int64))
    init("c/one", np.array(1, np.int64))
    init("c/ax0", np.array([0], np.int64))
    init("c/ax1", np.array([1], np.int64))
    init("c/last", np.array([-1], np.int64))
    init("c/end", np.array([np.iinfo(np.int64).max], np.int64))
    # Text: token embedding plus its position's, then the audio start token at audio position 0.
    t = node("Gather", [node("Shape", ["text_ids"], ["e/shape"]), "c/one"], ["e/t"], axis=0)
    pos = node("Range", ["c/zero", t, "c/one"], ["e/pos"])
    text = node("Add", [node("Gather", [init("text_embedding", gpt.text_embedding.weight), "text_ids"], ["e/tok"], axis=0),
                        node("Gather", [init("text_pos", gpt.text_pos_embedding.emb.weight), pos], ["e/tpos"], axis=0)],
                ["e/text"])
    with torch.no_grad():
        start = gpt.audio_start(gpt.text_embedding.weight.device)  # [1, 1, D], as the trace computes it
    x = node("Concat", ["cond", text, init("audio_start", start)], ["x0"], axis=1)  # [1, S, D]
    pks, pvs = [], []
    for i, blk in enumerate(gpt.gpt.h):
        p = f"h{i}/"
        a_in = node("LayerNormalization", [x, init(p + "ln1_g", blk.ln_1.weight), init(p + "ln1_b", blk.ln_1.bias)],
                    [p + "a_in"], axis=-1, epsilon=blk.ln_1.eps)
        qkv = node("MatMul", [a_in, init(p + "w_qkv", blk.attn.c_attn.weight)], [p + "qkv"])
        init(p + "split", np.array([d, d, d], np.int64))
        nodes.append(helper.make_node("Split", [qkv, p + "split"], [p + "q", p + "k", p + "v"], axis=2))
        node("MultiHeadAttention", [p + "q", p + "k", p + "v", init(p + "b_qkv", blk.attn.c_attn.bias)],
             [p + "att", p + "present_k", p + "present_v"], domain="com.microsoft", num_heads=H, unidirectional=1)
        o = node("Add", [node("MatMul", [p + "att", init(p + "w_o", blk.attn.c_proj.weight)], [p + "o0"]),
                         init(p + "b_o", blk.attn.c_proj.bias)], [p + "o"])
        x1 = node("Add", [x, o], [p + "x1"])
        m_in = node("LayerNormalization", [x1, init(p + "ln2_g", blk.ln_2.weight), init(p + "ln2_b", blk.ln_2.bias)],
                    [p + "m_in"], axis=-1, epsilon=blk.ln_2.eps)
        fc = node("MatMul", [m_in, init(p + "w_fc", blk.mlp.c_fc.weight)], [p + "fc"])
        g = node("FastGelu", [fc, init(p + "b_fc", blk.mlp.c_fc.bias)], [p + "g"], domain="com.microsoft")
        pr = node("Add", [node("MatMul", [g, init(p + "w_pr", blk.mlp.c_proj.weight)], [p + "pr0"]),
                          init(p + "b_pr", blk.mlp.c_proj.bias)], [p + "pr"])
        x = node("Add", [x1, pr], [p + "x2"])
        pks.append(node("Unsqueeze", [p + "present_k", "c/ax0"], [p + "pk_out"]))
        pvs.append(node("Unsqueeze", [p + "present_v", "c/ax0"], [p + "pv_out"]))
    node("Concat", pks, ["present_k"], axis=0)
    node("Concat", pvs, ["present_v"], axis=0)
    # The last position only: layer norms work position by position, so this is the trace's ln_f(h)[:, -1].
    h_last = node("Squeeze", [node("Slice", [x, "c/last", "c/end", "c/ax1"], ["h_last1"]), "c/ax1"], ["h_last0"])
    lnf, fn = gpt.gpt.ln_f, gpt.final_norm
    h_last = node("LayerNormalization", [h_last, init("ln_f_g", lnf.weight), init("ln_f_b", lnf.bias)], ["h_last"],
                  axis=-1, epsilon=lnf.eps)
    node("LayerNormalization", [h_last, init("final_g", fn.weight), init("final_b", fn.bias)], ["latent"],
         axis=-1, epsilon=fn.eps)
    node("Add", [node("MatMul", ["latent", init("w_head", gpt.mel_head.weight.t())], ["logits0"]),
                 init("b_head", gpt.mel_head.bias)], ["logits"])
    vi = helper.make_tensor_value_info
    kv = [L, 1, H, "prompt", dh]
    graph = helper.make_graph(
        nodes, "gpt_prefill_fused",
        [vi("cond", TensorProto.FLOAT, [1, "cond", d]), vi("text_ids", TensorProto.INT64, [1, "text"])],
        [vi("logits", TensorProto.FLOAT, [1, v]), vi("latent", TensorProto.FLOAT, [1, d]),
         vi("present_k", TensorProto.FLOAT, kv), vi("present_v", TensorProto.FLOAT, kv)],
        initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m
