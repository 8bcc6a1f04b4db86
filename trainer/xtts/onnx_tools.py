"""ONNX graph surgery for the exporter: fp16 conversion of a traced fp32 graph, and the decode Loop.

fp16 graphs are made from the fp32 trace rather than by tracing a half model because PyTorch 1.13
(the CI's) has no half-precision CPU kernels for the ops a trace runs."""
from typing import Dict, List, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F16_MAX = 65504.0


def _to_f16(t: onnx.TensorProto) -> onnx.TensorProto:
    a = numpy_helper.to_array(t)
    out = numpy_helper.from_array(np.clip(a, -F16_MAX, F16_MAX).astype(np.float16), t.name)
    return out


def to_float16(model: onnx.ModelProto, keep_f32: Sequence[str]) -> onnx.ModelProto:
    """Runs every float op in half precision. Graph inputs and outputs named in keep_f32 stay float32
    (a Cast is inserted next to them); other float inputs/outputs become float16. Large negative
    constants (attention masks) are clipped to the float16 range instead of becoming -inf."""
    g = model.graph
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(_to_f16(t))
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(_to_f16(a.t))
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    new_nodes: List[onnx.NodeProto] = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        if inp.name in keep_f32:
            half = inp.name + "__f16"
            for n in g.node:
                n.input[:] = [half if x == inp.name else x for x in n.input]
            new_nodes.append(helper.make_node("Cast", [inp.name], [half], name=f"cast_in/{inp.name}", to=TensorProto.FLOAT16))
        else:
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    tail: List[onnx.NodeProto] = []
    for out in g.output:
        if out.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        if out.name in keep_f32:
            half = out.name + "__f16"
            for n in g.node:
                n.input[:] = [half if x == out.name else x for x in n.input]
                n.output[:] = [half if x == out.name else x for x in n.output]
            tail.append(helper.make_node("Cast", [half], [out.name], name=f"cast_out/{out.name}", to=TensorProto.FLOAT))
        else:
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
    nodes = new_nodes + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    return model


def prefix_graph(g: onnx.GraphProto, p: str, keep: Sequence[str]) -> None:
    """Renames every value of g with prefix p, except those in keep (the graph's interface)."""
    ren = lambda x: x if (not x or x in keep) else p + x
    for i, n in enumerate(g.node):
        n.input[:] = [ren(x) for x in n.input]
        n.output[:] = [ren(x) for x in n.output]
        n.name = p + (n.name or f"node{i}")
    for t in g.initializer:
        t.name = ren(t.name)
    for vi in list(g.input) + list(g.output):
        vi.name = ren(vi.name)


def decode_loop(sampler: onnx.ModelProto, step: onnx.ModelProto, kv_type: int, name: str) -> onnx.ModelProto:
    """Builds the decode graph: an ONNX Loop whose body samples a code from the carried logits
    (sampler graph), then runs one GPT step on it (step graph), so the KV cache stays inside one run().

    sampler: (logits, seen, u, temperature, top_k, top_p, repetition_penalty) -> (token, seen_next)
    step:    (token, pos, past_k, past_v) -> (logits_next, latent_next, present_k, present_v)
    Loop-carried: logits, latent, pos, seen, k, v. Scanned: codes, latents (one row per chosen code:
    the latent that predicted it). The loop stops after a stop code (which is emitted) or max_steps."""
    sg, tg = sampler.graph, step.graph
    params = ["temperature", "top_k", "top_p", "repetition_penalty"]
    prefix_graph(sg, "s/", ["logits", "seen", "u", "token", "seen_next"] + params)
    prefix_graph(tg, "g/", ["token", "pos", "past_k", "past_v", "logits_next", "latent_next", "present_k", "present_v"])
    f32 = TensorProto.FLOAT
    nodes = [
        helper.make_node("Gather", ["uniforms", "iter"], ["u"], axis=0),
        *sg.node, *tg.node,
        helper.make_node("Constant", [], ["one"], value=numpy_helper.from_array(np.array([1], np.int64))),
        helper.make_node("Add", ["pos", "one"], ["pos_next"]),
        helper.make_node("Sub", ["token", "stop_code"], ["token_minus_stop"]),
        helper.make_node("Squeeze", ["token_minus_stop"], ["tms"]),
        helper.make_node("Cast", ["tms"], ["cond_next"], to=TensorProto.BOOL),
        helper.make_node("Identity", ["token"], ["code"]),
        helper.make_node("Identity", ["latent"], ["latent_row"]),
    ]
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        nodes, "decode_step",
        [vi("iter", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []), vi("logits", f32, None),
         vi("latent", f32, None), vi("pos", TensorProto.INT64, None), vi("seen", TensorProto.BOOL, None),
         vi("past_k", kv_type, None), vi("past_v", kv_type, None)],
        [vi("cond_next", TensorProto.BOOL, []), vi("logits_next", f32, None), vi("latent_next", f32, None),
         vi("pos_next", TensorProto.INT64, None), vi("seen_next", TensorProto.BOOL, None),
         vi("present_k", kv_type, None), vi("present_v", kv_type, None),
         vi("code", TensorProto.INT64, None), vi("latent_row", f32, None)],
        initializer=list(sg.initializer) + list(tg.initializer))
    ins = ["logits", "latent", "pos", "seen", "past_k", "past_v"]
    main_nodes = [
        helper.make_node("Constant", [], ["loop_true"], value=numpy_helper.from_array(np.array(True), "t")),
        helper.make_node("Loop", ["max_steps", "loop_true"] + ins,
                         ["logits_out", "latent_out", "pos_out", "seen_out", "k_out", "v_out", "codes_scan", "latents_scan"],
                         body=body),
        helper.make_node("Reshape", ["codes_scan", "shape_codes"], ["codes"]),
        helper.make_node("Reshape", ["latents_scan", "shape_latents"], ["latents"]),
    ]
    return _finish_loop(main_nodes, step, kv_type, name, params)


def _finish_loop(nodes, step, kv_type, name, params):
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    vi = helper.make_tensor_value_info
    # Shapes of the step graph's interface tell the widths.
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in step.graph.output}
    k_shape = dims["present_k"]
    v_vocab = dims["logits_next"][-1]
    width = dims["latent_next"][-1]
    inits = [numpy_helper.from_array(np.array([1, -1], np.int64), "shape_codes"),
             numpy_helper.from_array(np.array([1, -1, width], np.int64), "shape_latents")]
    kv = [k_shape[0], 1, k_shape[2], "past", k_shape[4]]
    graph = helper.make_graph(
        nodes, name,
        [vi("max_steps", i64, []), vi("logits", f32, [1, v_vocab]), vi("latent", f32, [1, width]),
         vi("pos", i64, [1]), vi("seen", TensorProto.BOOL, [1, v_vocab]),
         vi("past_k", kv_type, kv), vi("past_v", kv_type, kv),
         vi("uniforms", f32, ["steps"]), vi("stop_code", i64, [1]),
         vi("temperature", f32, []), vi("top_k", i64, []), vi("top_p", f32, []), vi("repetition_penalty", f32, [])],
        [vi("codes", i64, [1, "n"]), vi("latents", f32, [1, "n", width]),
         vi("logits_out", f32, [1, v_vocab]), vi("latent_out", f32, [1, width]), vi("pos_out", i64, [1]),
         vi("seen_out", TensorProto.BOOL, [1, v_vocab]),
         vi("k_out", kv_type, [k_shape[0], 1, k_shape[2], "total", k_shape[4]]),
         vi("v_out", kv_type, [k_shape[0], 1, k_shape[2], "total", k_shape[4]])],
        initializer=inits)
    opsets = {o.domain: o.version for o in step.opset_import}
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    m.ir_version = step.ir_version
    return m


def io_spec(model: onnx.ModelProto) -> Dict[str, list]:
    """Inputs/outputs as [{name, dtype, shape}] with symbolic dims as strings (the dynamic axes)."""
    names = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.INT64: "int64",
             TensorProto.BOOL: "bool", TensorProto.INT32: "int32"}
    def one(v):
        tt = v.type.tensor_type
        shape = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else "?") for d in tt.shape.dim]
        return {"name": v.name, "dtype": names.get(tt.elem_type, str(tt.elem_type)), "shape": shape}
    inits = {t.name for t in model.graph.initializer}
    return {"inputs": [one(v) for v in model.graph.input if v.name not in inits],
            "outputs": [one(v) for v in model.graph.output]}
