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
from onnx import TensorProto

from .static_step import StepParts, build_static_step, key_keep

MS = "com.microsoft"


def fused_layers(p: StepParts, inplace: bool = False) -> Tuple[str, str, List[str], List[str]]:
    """inplace: the layered cache (cache_k_<i> [S, H, M, dh]); each layer first writes its new K/V at
    column col[s] of its own cache (ScatterElements bound in place: the caller binds cache_k_<i>_out to
    cache_k_<i>'s buffer) and its attention then reads that cache as it is, masked to columns
    [0, length[s]]: no copy of the cache at all. An inactive row's write is the value already there
    (GatherElements of the old column), so its cache stays bit for bit."""
    b, gpt, d, heads, dh, ax0 = p.b, p.gpt, p.d, p.heads, p.dh, p.ax0
    node, init, i64c = b.node, b.init, b.i64c
    if inplace:
        cols = node("Range", [p.zero, p.m_len, p.one], "m/cols")  # [M]
        keep = node("LessOrEqual", [node("Unsqueeze", [cols, ax0], "m/cols2"),
                                    node("Unsqueeze", ["length", p.ax1], "m/len2")], "m/keep_in")  # [S, M]
        mask = node("Cast", [keep], "m/mask", to=TensorProto.INT32)
        kv_idx = node("Expand", [node("Reshape", [p.col, i64c("w/col4", [-1, 1, 1, 1])], "w/col4d"),
                                 node("Concat", [p.sh_s, i64c("w/hd_dims", [heads, 1, dh])], "w/kv_shape", axis=0)],
                      "w/kv_idx")  # [S, H, 1, dh]
        write = node("Reshape", [p.active, i64c("w/row4", [-1, 1, 1, 1])], "w/write4")
    else:
        mask = node("Cast", [key_keep(p)], "m/mask", to=TensorProto.INT32)  # [S, M + 1]
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
        kn = node("Reshape", [pf + "k", shp_row], pf + "kn")  # [S, H, 1, dh]
        vn = node("Reshape", [pf + "v", shp_row], pf + "vn")
        if inplace:
            key, val = (node("ScatterElements", [f"{c}_{i}", kv_idx, node(
                "Where", [write, new, node("GatherElements", [f"{c}_{i}", kv_idx], f"{pf}{c}_old", axis=2)],
                f"{pf}{c}_upd")], f"{c}_{i}_out", axis=2) for c, new in (("cache_k", kn), ("cache_v", vn)))
        else:
            li = i64c(pf + "layer", i)
            key = node("Concat", [node("Gather", ["cache_k", li], pf + "kp", axis=0), kn], pf + "key", axis=2)
            val = node("Concat", [node("Gather", ["cache_v", li], pf + "vp", axis=0), vn], pf + "value", axis=2)
        att = node("MultiHeadAttention", [node("Reshape", [pf + "q", shp_q], pf + "q3"), key, val, "", mask],
                   pf + "att", domain=MS, num_heads=heads, mask_filter_value=lowest)  # [S, 1, D]
        o = node("MatMul", [node("Reshape", [att, shp_d], pf + "att2"), init(pf + "w_o", blk.attn.c_proj.weight)],
                 pf + "o0")
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
