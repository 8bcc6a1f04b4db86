"""`gpt_step_static_fused`: the fixed-shape decode step (static_step.py) with its GPT layers built from
onnxruntime's fused operators, for fewer kernels per step. Same inputs, outputs, semantics and in-place
safety as gpt_step_static (the interface and state handling are static_step.build_static_step's, shared);
only the layers differ, and their arithmetic equals the plain graph's up to rounding.

Per layer (every operator here has fp32 kernels on both the CPU and the CUDA execution providers):
  - Gemm for the QKV projection with its bias, Split into q, k, v;
  - the layer's cache with one Gather per K and V ([S, H, M, dh], a copy, as in the plain graph), and
    one Concat per K and V appending the new column: key/value [S, H, M + 1, dh]. MultiHeadAttention
    takes them as 4-D BNSH (that form takes no bias, so the bias is the Gemm's) and the key padding
    mask [S, M + 1] (int32: the columns [0, length[s]) and the new column, the last); masked scores get
    float32's lowest (mask_filter_value), so their weight is exactly 0 as in the plain graph;
  - MatMul for the output projection, its bias, the residual and ln_2 in one SkipLayerNormalization
    (whose fourth output is the residual sum);
  - MatMul and FastGelu (GPT-2's tanh gelu with the fc bias);
  - MatMul for the MLP projection; its bias, the residual and the next layer's ln_1 (ln_f after the last
    layer) in the next SkipLayerNormalization. The first layer's ln_1 is a SkipLayerNormalization of the
    two embeddings (token + position, the step's input).
Then LayerNormalization (final_norm) and a Gemm for the head.

The Concat copies the layer's cache a second time: MultiHeadAttention needs K and V contiguous with the
new column, and no operator here reads a slice of cache_k in place (ScatterElements into the Gather's
copy would avoid that copy on the CPU, but onnxruntime's CUDA ScatterElements cannot run in place on
an intermediate tensor, so it copies as much)."""
from typing import List, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper

from .static_step import StepParts, build_static_step, key_keep

MS = "com.microsoft"
XT = "ai.xtts"  # the addon's operators (inference/native/decode_attention.cc)


def fused_layers(p: StepParts, inplace: bool = False, dmmha: str = "",
                 xattn: str = "") -> Tuple[str, str, List[str], List[str]]:
    """inplace: the layered cache (cache_k_<i> [S, H, M, dh]); each layer first writes its new K/V at
    column col[s] of its own cache (ScatterElements bound in place: the caller binds cache_k_<i>_out to
    cache_k_<i>'s buffer) and its attention then reads that cache as it is, masked to columns
    [0, length[s]]: no copy of the cache at all. An inactive row's write is the value already there
    (GatherElements of the old column), so its cache stays bit for bit.

    dmmha ("bnsh" or "ft", with inplace): the attention is DecoderMaskedMultiHeadAttention over the
    cache as a past/present buffer shared in place, reading only columns [0, kv_past] (see
    dmmha_step); "ft" lays K out as that operator's CUDA kernel reads it.

    xattn ("float" or "half", with inplace): the attention, the new K/V's write and the cache's output
    are the addon's ai.xtts DecodeAttention (a float cache) or DecodeAttentionHalfCache (an fp16 cache
    read in fp32 arithmetic) on the layer's cache in place (xattn_step)."""
    b, gpt, d, heads, dh, ax0 = p.b, p.gpt, p.d, p.heads, p.dh, p.ax0
    node, init, i64c = b.node, b.init, b.i64c
    ft = dmmha == "ft"
    if xattn:
        mask = ""  # the operator reads each row's columns [0, length[s]] itself
    elif dmmha:
        # Columns [0, kv_total): a row's own [0, length[s]) and the current token's column kv_past, the last
        # (where the operator puts it); length[s] <= kv_past for every row that holds a sequence. kv_total
        # only sets the Range's length: nothing copies the bound to the device, so the step can be captured
        # as a CUDA graph, one per value of the bound.
        mask = node("Cast", [key_keep(p, "kv_total", "_dm")], "m/mask_dm", to=TensorProto.INT32)  # [S, T]
    elif inplace:
        cols = node("Range", [p.zero, p.m_len, p.one], "m/cols")  # [M]
        keep = node("LessOrEqual", [node("Unsqueeze", [cols, ax0], "m/cols2"),
                                    node("Unsqueeze", ["length", p.ax1], "m/len2")], "m/keep_in")  # [S, M]
        mask = node("Cast", [keep], "m/mask", to=TensorProto.INT32)
    else:
        mask = node("Cast", [key_keep(p)], "m/mask", to=TensorProto.INT32)  # [S, M + 1]
    col = p.col
    if dmmha:
        # An inactive row writes its (unused) new K/V at column M - 1 rather than its old value back at its
        # column: no row ever holds M - 1 positions (the step's capacity is M - 1), so that column is never one
        # a row reads as its own, and the write needs no GatherElements and Where first: 4 kernels a layer
        # fewer (120 at full size, a few µs each at one slot, where the step is launch-bound).
        col = node("Where", [p.active, p.col, "w/m_last"], "w/col_dm")
    if inplace and not xattn:
        kv_idx = node("Expand", [node("Reshape", [col, i64c("w/col4", [-1, 1, 1, 1])], "w/col4d"),
                                 node("Concat", [p.sh_s, i64c("w/hd_dims", [heads, 1, dh])], "w/kv_shape", axis=0)],
                      "w/kv_idx")  # [S, H, 1, dh]
        write = None if dmmha else node("Reshape", [p.active, i64c("w/row4", [-1, 1, 1, 1])], "w/write4")
    if ft:
        shp_bnsh = i64c("r/bnsh", [0, heads, -1, dh])
        # K as [S, H, dh / 4, M, 4]: column m of a head is 16 pieces of 4 floats, M * 4 floats apart.
        x4 = 4
        kv_idx_k = node("Expand", [node("Reshape", [col, i64c("w/col5", [-1, 1, 1, 1, 1])], "w/col5d"),
                                   node("Concat", [p.sh_s, i64c("w/ft_dims", [heads, dh // x4, 1, x4])], "w/k_shape",
                                        axis=0)], "w/kv_idx_k")  # [S, H, dh / 4, 1, 4]
        # The new K [S, H, 1, dh] as [S, H, dh / 4, 1, 4]: the same memory order (the moved axis has size 1), a
        # Reshape rather than a Transpose's copy.
        shp_ft = i64c("r/ft", [0, heads, dh // x4, 1, x4])
    lowest = float(np.finfo(np.float32).min)
    shp_q = i64c("r/q", [-1, 1, d])  # [S, 1, D]
    shp_row = i64c("r/kv_row", [-1, heads, 1, dh])  # [S, H, 1, dh]
    shp_d = i64c("r/d", [-1, d])
    split3 = i64c("r/split", [d, d, d])

    def skip_ln(nm, x, skip, mod, bias=None):
        """(LayerNorm(x + skip + bias) with mod's weights, x + skip + bias)."""
        ins = [x, skip, init(nm + "_g", mod.weight), init(nm + "_b", mod.bias)]
        if bias is not None:
            ins.append(bias)
        return b.multi("SkipLayerNormalization", ins, [nm, "", "", nm + "_sum"], nm, domain=MS, epsilon=mod.eps)[::3]

    blocks = list(gpt.gpt.h)
    a_in, x = skip_ln("h0/ln1", p.tok, p.pos, blocks[0].ln_1)  # x: token + position embeddings [S, D]
    new_k, new_v = [], []
    for i, blk in enumerate(blocks):
        pf = f"h{i}/"
        qkv = node("Gemm", [a_in, init(pf + "w_qkv", blk.attn.c_attn.weight), init(pf + "b_qkv", blk.attn.c_attn.bias)],
                   pf + "qkv")
        b.multi("Split", [qkv, split3], [pf + "q", pf + "k", pf + "v"], pf + "split", axis=1)
        if xattn:
            att2 = b.multi("DecodeAttentionHalfCache" if xattn == "half" else "DecodeAttention",
                           [pf + "q", pf + "k", pf + "v", f"cache_k_{i}", f"cache_v_{i}", "length", p.active],
                           [pf + "att2", f"cache_k_{i}_out", f"cache_v_{i}_out"], pf + "att", domain=XT,
                           num_heads=heads, scale=1.0 / float(np.sqrt(dh)))[0]
        else:
            kn = node("Reshape", [pf + "k", shp_row], pf + "kn")  # [S, H, 1, dh]
            vn = node("Reshape", [pf + "v", shp_row], pf + "vn")
            if inplace:
                def put(c, new, idx, axis, i=i, pf=pf):
                    if write is None:  # dmmha: inactive rows write at column M - 1 (above)
                        return node("ScatterElements", [f"{c}_{i}", idx, new], f"{c}_{i}_out", axis=axis)
                    return node("ScatterElements", [f"{c}_{i}", idx, node(
                        "Where", [write, new, node("GatherElements", [f"{c}_{i}", idx], f"{pf}{c}_old", axis=axis)],
                        f"{pf}{c}_upd")], f"{c}_{i}_out", axis=axis)
                if ft:  # the new K [S, H, 1, dh] as [S, H, dh / 4, 1, 4]
                    key = put("cache_k", node("Reshape", [kn, shp_ft], pf + "k_ft"), kv_idx_k, 3)
                else:
                    key = put("cache_k", kn, kv_idx, 2)
                val = put("cache_v", vn, kv_idx, 2)
            else:
                li = i64c(pf + "layer", i)
                key = node("Concat", [node("Gather", ["cache_k", li], pf + "kp", axis=0), kn], pf + "key", axis=2)
                val = node("Concat", [node("Gather", ["cache_v", li], pf + "vp", axis=0), vn], pf + "value", axis=2)
            q3 = node("Reshape", [pf + "q", shp_q], pf + "q3")
            if dmmha:
                # past = present = the cache (as [S, H, M, dh]; for "ft" the same memory in the kernel's layout):
                # the caller binds cache_<k|v>_<i>_present to the cache's buffer as well.
                past_k = node("Reshape", [key, shp_bnsh], pf + "past_k") if ft else key
                att = b.multi("DecoderMaskedMultiHeadAttention",
                              [q3, node("Reshape", [pf + "k", shp_q], pf + "k3"), node("Reshape", [pf + "v", shp_q], pf + "v3"),
                               mask, "", past_k, val, "kv_past"],
                              [pf + "att", f"cache_k_{i}_present", f"cache_v_{i}_present"], pf + "att", domain=MS,
                              num_heads=heads, mask_filter_value=lowest, past_present_share_buffer=1)[0]
            else:
                att = node("MultiHeadAttention", [q3, key, val, "", mask],
                           pf + "att", domain=MS, num_heads=heads, mask_filter_value=lowest)  # [S, 1, D]
            att2 = node("Reshape", [att, shp_d], pf + "att2")
        o = node("MatMul", [att2, init(pf + "w_o", blk.attn.c_proj.weight)], pf + "o0")
        m_in, x1 = skip_ln(pf + "ln2", x, o, blk.ln_2, init(pf + "b_o", blk.attn.c_proj.bias))
        fc = node("MatMul", [m_in, init(pf + "w_fc", blk.mlp.c_fc.weight)], pf + "fc0")
        g = node("FastGelu", [fc, init(pf + "b_fc", blk.mlp.c_fc.bias)], pf + "g", domain=MS)
        pr = node("MatMul", [g, init(pf + "w_pr", blk.mlp.c_proj.weight)], pf + "pr0")
        nxt, nm = (blocks[i + 1].ln_1, f"h{i + 1}/ln1") if i + 1 < len(blocks) else (gpt.gpt.ln_f, "ln_f")
        a_in, x = skip_ln(nm, x1, pr, nxt, init(pf + "b_pr", blk.mlp.c_proj.bias))
        if not inplace:
            new_k.append(node("Unsqueeze", [kn, ax0], pf + "k_col"))  # [1, S, H, 1, dh]
            new_v.append(node("Unsqueeze", [vn, ax0], pf + "v_col"))
    fn = gpt.final_norm
    latent_next = node("LayerNormalization", [a_in, init("final_norm_g", fn.weight), init("final_norm_b", fn.bias)],
                       "final_norm", axis=-1, epsilon=fn.eps)
    logits_next = node("Gemm", [latent_next, init("w_head", gpt.mel_head.weight.t()), init("b_head", gpt.mel_head.bias)],
                       "logits_next")
    return latent_next, logits_next, new_k, new_v


def fused_static_step(gpt, sampler: onnx.ModelProto, name: str = "gpt_step_static_fused") -> onnx.ModelProto:
    """As static_step.static_batch_step (same arguments), the layers from fused operators."""
    return build_static_step(gpt, sampler, name, fused_layers, domains=(MS,))


def fused_inplace_step(gpt, sampler: onnx.ModelProto, name: str = "gpt_step_static_inplace") -> onnx.ModelProto:
    """The fused step over a layered cache read and written in place (fused_layers' `inplace`): the same
    state and semantics as gpt_step_static_fused, each layer's cache an input and output of its own."""
    return build_static_step(gpt, sampler, name, lambda p: fused_layers(p, inplace=True), domains=(MS,),
                             layered=True)


def dmmha_step(gpt, sampler: onnx.ModelProto, layout: str = "bnsh",
               name: str = "gpt_step_static_dmmha") -> onnx.ModelProto:
    """The in-place step with onnxruntime's DecoderMaskedMultiHeadAttention, which reads only the cache
    columns a chunk can need rather than all M of every row: gpt_step_static_inplace's state, semantics
    and outputs, plus
      inputs  kv_past  int32 [1] (in host memory: the operator reads it there; at least 1, since
              onnxruntime's CPU kernel takes 0 for "not given" and then writes past the buffer) and kv_total int64 scalar
              (= kv_past + 1): the caller's bound P >= length[s] of every row that holds a sequence, for
              every step of the chunk, and P < M;
      outputs cache_k_<i>_present, cache_v_<i>_present [S, H, M, dh]: bound to the same buffers as
              cache_k_<i> / cache_v_<i> (the operator's past and present share one buffer).
    Per layer: the new K/V written at column length[s] as in the in-place step (inactive rows: the value
    already there), then the operator attends over columns [0, P] under the mask j < length[s] or j == P,
    the current token's K/V taken from its inputs at column P. It also writes each row's new K/V at
    column P: a column past every row's valid ones, which that row's own write replaces before any read
    (a row's columns [0, length[s]) stay as they are, inactive rows included; columns past them do not).

    layout "bnsh": K as [S, H, M, dh] (onnxruntime's CPU kernel). "ft": K as [S, H, dh / 4, M, 4], the
    layout of the CUDA kernel (FasterTransformer's: 16 bytes of a head's key per column, column-major),
    which reads the buffer so whatever its declared shape; the graph declares cache_k_<i> with that shape.
    The CPU kernel reads K as BNSH, so an "ft" graph computes only on CUDA."""
    vi = helper.make_tensor_value_info
    s = gpt.sizes
    heads, d, n = s.gpt_n_heads, s.gpt_n_model_channels, s.gpt_layers
    dh = d // heads
    kv_layer = ["slots", heads, "max_len", dh]
    present = [vi(f"cache_{kv}_{i}_present", TensorProto.FLOAT, kv_layer) for kv in "kv" for i in range(n)]
    extra_in = (vi("kv_past", TensorProto.INT32, [1]), vi("kv_total", TensorProto.INT64, []))
    return build_static_step(gpt, sampler, name, lambda p: fused_layers(p, inplace=True, dmmha=layout),
                             domains=(MS,), layered=True, extra_inputs=extra_in, extra_outputs=tuple(present),
                             k_layer_shape=("slots", heads, dh // 4, "max_len", 4) if layout == "ft" else ())


def xattn_step(gpt, sampler: onnx.ModelProto, half: bool = False, name: str = "") -> onnx.ModelProto:
    """The in-place step with the addon's own attention (ai.xtts DecodeAttention, in
    inference/native/decode_attention.cc and .cu): gpt_step_static_inplace's inputs, outputs, state and
    semantics, each layer's write, attention and cache output one operator that reads each row's columns
    [0, length[s]] only (the dmmha step reads every row to one bound). half: the cache in fp16
    (DecodeAttentionHalfCache; cache_k_<i>, cache_v_<i> and their outputs float16), its values read in fp32
    arithmetic, which halves the step's state and the cache's reads. The step needs the addon (the
    operators are registered there), so onnxruntime alone cannot open it; its checks are the addon's
    (inference/native/static.test.ts against gpt_batch)."""
    name = name or ("gpt_step_static_xattn_kv16" if half else "gpt_step_static_xattn")
    m = build_static_step(gpt, sampler, name, lambda p: fused_layers(p, inplace=True, xattn="half" if half else "float"),
                          domains=(MS, XT), layered=True, kv_type=TensorProto.FLOAT16 if half else TensorProto.FLOAT)
    # The shared shape constants this step's layers do not use.
    used = {x for n in m.graph.node for x in n.input}
    keep = [t for t in m.graph.initializer if t.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m
