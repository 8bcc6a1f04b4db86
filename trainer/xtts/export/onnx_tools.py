"""ONNX graph surgery for the exporter: fp16 conversion of a traced fp32 graph, and the decode Loop.

fp16 graphs are made from the fp32 trace rather than by tracing a half model because PyTorch 1.13
(the CI's) has no half-precision CPU kernels for the ops a trace runs."""
import hashlib
from typing import Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F16_MAX = 65504.0


def _graphs(g: onnx.GraphProto):
    """g and every graph nested in its nodes' attributes (Loop and If bodies)."""
    yield g
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sub in a.graphs:
                    yield from _graphs(sub)


class DetachedWeights:
    """Initializer bytes held outside the protos while graphs are rebuilt.

    protobuf copies a message whole whenever it goes into another (make_graph, a Loop node's body
    attribute, extend, CopyFrom), and a full-size GPT's initializers are 1.5 GB: building the decode
    Loop around the traced step copied them four times, most of a full-size export's time. Detached,
    an initializer keeps its name, type and dims, and its doc_string holds the key of its bytes here;
    attach() puts them back into the finished model, once."""

    MARK = "xtts-detached:"

    def __init__(self) -> None:
        self._data: Dict[str, bytes] = {}

    def _keep(self, data: bytes) -> str:
        key = f"{self.MARK}{len(self._data)}"
        self._data[key] = data
        return key

    def detach(self, model: onnx.ModelProto, min_bytes: int = 4096) -> onnx.ModelProto:
        for g in _graphs(model.graph):
            for t in g.initializer:
                if len(t.raw_data) >= min_bytes:
                    t.doc_string = self._keep(t.raw_data)
                    t.ClearField("raw_data")
        return model

    def attach(self, model: onnx.ModelProto) -> onnx.ModelProto:
        for g in _graphs(model.graph):
            for t in g.initializer:
                if t.doc_string.startswith(self.MARK):
                    t.raw_data = self._data[t.doc_string]
                    t.ClearField("doc_string")
        return model

    def array(self, t: onnx.TensorProto) -> np.ndarray:
        """The tensor's values, detached or not."""
        if not t.doc_string.startswith(self.MARK):
            return numpy_helper.to_array(t)
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.data_type)
        return np.frombuffer(self._data[t.doc_string], dtype=dtype).reshape(tuple(t.dims))

    def replace(self, t: onnx.TensorProto, a: np.ndarray) -> None:
        """Gives t the values (and element type) of a, keeping t detached if it was."""
        detached = t.doc_string.startswith(self.MARK)
        t.CopyFrom(numpy_helper.from_array(a, t.name))
        if detached:
            t.doc_string = self._keep(t.raw_data)
            t.ClearField("raw_data")


def _to_f16(t: onnx.TensorProto) -> onnx.TensorProto:
    a = numpy_helper.to_array(t)
    out = numpy_helper.from_array(np.clip(a, -F16_MAX, F16_MAX).astype(np.float16), t.name)
    return out


def to_float16(model: onnx.ModelProto, keep_f32: Sequence[str],
               weights: Optional[DetachedWeights] = None) -> onnx.ModelProto:
    """Runs every float op in half precision. Graph inputs and outputs named in keep_f32 stay float32
    (a Cast is inserted next to them); other float inputs/outputs become float16. Large negative
    constants (attention masks) are clipped to the float16 range instead of becoming -inf. weights:
    where the model's detached initializers are (DetachedWeights), if any are."""
    g = model.graph
    w = weights or DetachedWeights()
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            w.replace(t, np.clip(w.array(t), -F16_MAX, F16_MAX).astype(np.float16))
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

    def ren(x):
        return x if (not x or x in keep) else p + x

    for i, n in enumerate(g.node):
        n.input[:] = [ren(x) for x in n.input]
        n.output[:] = [ren(x) for x in n.output]
        n.name = p + (n.name or f"node{i}")
    for t in g.initializer:
        t.name = ren(t.name)
    for vi in list(g.input) + list(g.output):
        vi.name = ren(vi.name)


def _layer_names(step: onnx.ModelProto):
    """The step graph's per-layer cache names: (frozen_k, frozen_v, past_k, past_v, present_k,
    present_v), each a list of L names."""
    names = [i.name for i in step.graph.input]
    n = sum(1 for x in names if x.startswith("past_k_"))
    want = [f"{p}_{i}" for p in ("frozen_k", "frozen_v", "past_k", "past_v") for i in range(n)]
    if n == 0 or names[2:] != want:
        raise ValueError(f"step graph: expected inputs token, pos, frozen_k_0 .. frozen_v_<L-1>, "
                         f"past_k_0 .. past_v_<L-1>, got {names}")
    return tuple([f"{p}_{i}" for i in range(n)]
                 for p in ("frozen_k", "frozen_v", "past_k", "past_v", "present_k", "present_v"))


def decode_loop(sampler: onnx.ModelProto, step: onnx.ModelProto, kv_type: int, name: str) -> onnx.ModelProto:
    """Builds the decode graph: an ONNX Loop whose body samples a code from the carried logits
    (sampler graph), then runs one GPT step on it (step graph), so the KV cache stays inside one run().

    sampler: (logits, seen, u, temperature, top_k, top_p, repetition_penalty) -> (token, seen_next)
    step:    (token, pos, frozen_k_0 .. frozen_k_{L-1}, frozen_v_0 .., past_k_0 .., past_v_0 ..)
             -> (logits_next, latent_next, present_k_0 .., present_v_0 ..), each cache tensor [1, H, S, dh]
    Loop-carried: logits, latent, pos, seen, and the positions this run added, one tensor per layer
    for keys and values (past_k_i/past_v_i in the body, empty at the first iteration). Scanned:
    codes, latents (one row per chosen code: the latent that predicted it). The loop stops after a
    stop code (which is emitted) or max_steps.

    The graph's own past_k/past_v and k_out/v_out are stacked, [L, 1, H, S, dh]. Before the Loop the
    cache the run was given is split into layers once (frozen_k_i/frozen_v_i, which the body reads
    from the outer graph and never copies: attention takes its scores over both parts); after it,
    k_out is past_k with the run's new positions appended, one concatenation per run. So a step
    copies only the positions of its own run (each layer's Concat), not the whole cache: a stacked
    carry would gather, concatenate and stack all of it every step."""
    fk, fv, pk, pv, ok, ov = _layer_names(step)
    n_layers = len(pk)
    sg, tg = sampler.graph, step.graph
    params = ["temperature", "top_k", "top_p", "repetition_penalty"]
    prefix_graph(sg, "s/", ["logits", "seen", "u", "token", "seen_next"] + params)
    prefix_graph(tg, "g/", ["token", "pos", "logits_next", "latent_next"] + fk + fv + pk + pv + ok + ov)
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
         *(vi(x, kv_type, None) for x in pk + pv)],
        [vi("cond_next", TensorProto.BOOL, []), vi("logits_next", f32, None), vi("latent_next", f32, None),
         vi("pos_next", TensorProto.INT64, None), vi("seen_next", TensorProto.BOOL, None),
         *(vi(x, kv_type, None) for x in ok + ov),
         vi("code", TensorProto.INT64, None), vi("latent_row", f32, None)],
        initializer=list(sg.initializer) + list(tg.initializer))
    # Outside the Loop: the given cache split into layers ([1, 1, H, S, dh] each, squeezed) for the
    # body to read, an empty carried part to start from, and the run's new positions stacked and
    # appended to the given cache afterwards.
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in tg.input}
    heads, dh = dims[fk[0]][1], dims[fk[0]][3]
    np_kv = np.float16 if kv_type == TensorProto.FLOAT16 else np.float32
    split = {kv: [f"kv/{kv}_split_{i}" for i in range(n_layers)] for kv in "kv"}
    frozen = {"k": fk, "v": fv}
    result = {kv: [f"kv/{kv}_out_{i}" for i in range(n_layers)] for kv in "kv"}
    ins = ["logits", "latent", "pos", "seen"] + ["kv/empty"] * (2 * n_layers)
    main_nodes = [
        helper.make_node("Constant", [], ["loop_true"], value=numpy_helper.from_array(np.array(True), "t")),
        helper.make_node("Constant", [], ["kv/axis0"], value=numpy_helper.from_array(np.array([0], np.int64), "t")),
        helper.make_node("Constant", [], ["kv/empty"],
                         value=numpy_helper.from_array(np.zeros((1, heads, 0, dh), np_kv), "t")),
    ]
    for kv in "kv":
        main_nodes.append(helper.make_node("Split", [f"past_{kv}"], split[kv], name=f"kv/split_{kv}", axis=0))
        main_nodes.extend(helper.make_node("Squeeze", [a, "kv/axis0"], [b], name=f"kv/squeeze_{b}")
                          for a, b in zip(split[kv], frozen[kv]))
    main_nodes += [
        helper.make_node("Loop", ["max_steps", "loop_true"] + ins,
                         ["logits_out", "latent_out", "pos_out", "seen_out", *result["k"], *result["v"],
                          "codes_scan", "latents_scan"],
                         body=body),
        helper.make_node("Reshape", ["codes_scan", "shape_codes"], ["codes"]),
        helper.make_node("Reshape", ["latents_scan", "shape_latents"], ["latents"]),
    ]
    for kv in "kv":
        main_nodes += [helper.make_node("Unsqueeze", [x, "kv/axis0"], [x + "/5d"], name=f"kv/unsqueeze_{x}")
                       for x in result[kv]]
        main_nodes += [helper.make_node("Concat", [x + "/5d" for x in result[kv]], [f"kv/{kv}_new"],
                                        name=f"kv/stack_{kv}", axis=0),
                       helper.make_node("Concat", [f"past_{kv}", f"kv/{kv}_new"], [f"{kv}_out"],
                                        name=f"kv/append_{kv}", axis=3)]
    return _finish_loop(main_nodes, step, kv_type, name, params)


def _finish_loop(nodes, step, kv_type, name, params):
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    vi = helper.make_tensor_value_info
    # Shapes of the step graph's interface tell the widths.
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in step.graph.output}
    n_layers = len(_layer_names(step)[0])
    k_shape = dims["present_k_0"]  # [1, H, total, dh]
    v_vocab = dims["logits_next"][-1]
    width = dims["latent_next"][-1]
    inits = [numpy_helper.from_array(np.array([1, -1], np.int64), "shape_codes"),
             numpy_helper.from_array(np.array([1, -1, width], np.int64), "shape_latents")]
    kv = [n_layers, 1, k_shape[1], "past", k_shape[3]]
    kv_out = [n_layers, 1, k_shape[1], "total", k_shape[3]]
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
         vi("k_out", kv_type, kv_out), vi("v_out", kv_type, kv_out)],
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


def _content_key(t: onnx.TensorProto):
    a = numpy_helper.to_array(t)
    return t.data_type, tuple(t.dims), hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _rename_inputs(g: onnx.GraphProto, ren: Dict[str, str]) -> None:
    """Renames the values g's nodes read (nested subgraphs included): outer-scope names resolve inward."""
    for n in g.node:
        n.input[:] = [ren.get(x, x) for x in n.input]
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _rename_inputs(a.g, ren)
            for sub in a.graphs:
                _rename_inputs(sub, ren)


def _slice(g: onnx.GraphProto, target: str) -> List[onnx.NodeProto]:
    """The nodes of g that the value `target` depends on, in g's order."""
    producer = {o: n for n in g.node for o in n.output}
    need, stack = set(), [target]
    while stack:
        v = stack.pop()
        n = producer.get(v)
        if n is None or id(n) in need:
            continue
        need.add(id(n))
        stack.extend(x for x in n.input if x)
    return [n for n in g.node if id(n) in need]


def _outer_reads(g: onnx.GraphProto) -> set:
    """The values g's nodes (nested subgraphs included) read from enclosing graphs."""
    defined = {i.name for i in g.input} | {t.name for t in g.initializer} | {o for n in g.node for o in n.output}
    reads = set()
    for n in g.node:
        reads.update(x for x in n.input if x)
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else []) + list(a.graphs):
                reads |= _outer_reads(sub)
    return reads - defined


def _sort_nodes(g: onnx.GraphProto) -> None:
    """Orders g's nodes so that every value is made before it is read, counting the values a Loop's or
    an If's body reads from g (onnxruntime's quantizer sorts without them, and may put the node that
    makes such a value after the Loop). Keeps the given order where it is already valid."""
    reads = []
    for n in g.node:
        r = {x for x in n.input if x}
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else []) + list(a.graphs):
                r |= _outer_reads(sub)
        reads.append(r)
    producer = {o: i for i, n in enumerate(g.node) for o in n.output if o}
    deps = [{producer[x] for x in r if x in producer and producer[x] != i} for i, r in enumerate(reads)]
    done, order = set(), []
    while len(order) < len(g.node):
        ready = [i for i in range(len(g.node)) if i not in done and deps[i] <= done]
        if not ready:
            raise ValueError(f"graph {g.name}: its nodes form a cycle")
        i = ready[0]
        done.add(i)
        order.append(i)
    nodes = [g.node[i] for i in order]
    del g.node[:]
    g.node.extend(nodes)


def _rename_output(g: onnx.GraphProto, old: str, new: str) -> None:
    for n in g.node:
        n.output[:] = [new if x == old else x for x in n.output]


def share_gpt(prefill: onnx.ModelProto, decode: onnx.ModelProto, name: str = "gpt") -> onnx.ModelProto:
    """One graph for prefill and decode whose GPT stack exists once, so onnxruntime holds (and
    pre-packs) each weight once. Two graphs, or two subgraphs over shared weights, would each keep
    their own pre-packed copy.

    It is the decode graph (see decode_loop) with two more inputs, cond [1, latents, D] and text_ids
    [1, T], and the Loop body's GPT step made to take any number of positions: its reshapes take the
    length from the input, and a causal mask (a no-op for one position) is added before every
    attention softmax. With T > 0, the Loop's first iteration feeds the prompt embeddings (the prefill
    graph's own nodes, up to the first block, in the outer graph) through the stack instead of a
    sampled code, and changes neither pos nor seen, nor stops: a run of max_steps 1 is the prefill
    (its codes/latents row is a placeholder; uniforms needs one element). With T = 0 (and cond
    [1, 0, D]) every iteration is a decode step as in the decode graph."""
    p, d = onnx.ModelProto(), onnx.ModelProto()
    p.CopyFrom(prefill)
    d.CopyFrom(decode)
    pg, dg = p.graph, d.graph
    loop = next(n for n in dg.node if n.op_type == "Loop")
    body = next(a.g for a in loop.attribute if a.name == "body")
    width = [x.dim_value for x in next(o for o in dg.output if o.name == "latent_out").type.tensor_type.shape.dim][-1]
    kdims = [x.dim_value for x in next(o for o in dg.output if o.name == "k_out").type.tensor_type.shape.dim]
    heads, dh = kdims[2], kdims[4]
    # The cache the body reads: per layer (this exporter's decode_loop), the run's given positions
    # (frozen_k_0, from the outer graph) then the positions it added (past_k_0, carried), [1, H, n, dh]
    # each; or stacked and carried whole, [L, 1, H, past, dh] (graphs exported before the per-layer
    # carry; they still merge).
    body_inputs = [i.name for i in body.input]
    per_layer = "past_k_0" in body_inputs
    if not per_layer and "past_k" not in body_inputs:
        raise ValueError(f"decode graph: its Loop body carries neither past_k_0 nor past_k ({body_inputs})")
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64

    def const(out, a):
        return helper.make_node("Constant", [], [out], value=numpy_helper.from_array(np.asarray(a), out))

    # The prompt embeddings: what the prefill graph's first block reads.
    first_p = next(n for n in pg.node if n.op_type == "LayerNormalization")
    prompt_nodes = _slice(pg, first_p.input[0])
    p_inits = {t.name: t for t in pg.initializer}
    used = {x for n in prompt_nodes for x in n.input}
    p_keep = [t for t in pg.initializer if t.name in used]
    sub = onnx.GraphProto()
    sub.node.extend(prompt_nodes)
    sub.initializer.extend(p_keep)
    prefix_graph(sub, "p/", ["cond", "text_ids"])
    prompt_x = "p/" + first_p.input[0]
    # The outer graph's tables (text and audio embeddings, positions) also serve the body.
    by_key = {_content_key(t): t.name for t in sub.initializer}
    ren_b: Dict[str, str] = {}
    keep_b = []
    for t in body.initializer:
        hit = by_key.get(_content_key(t))
        if hit:
            ren_b[t.name] = hit
        else:
            keep_b.append(t)
    del body.initializer[:]
    body.initializer.extend(keep_b)
    _rename_inputs(body, ren_b)
    del p_inits

    # The body's step input: the sampled code's embedding [1, 1, D], or the prompt on a prefill iteration.
    first_b = next(n for n in body.node if n.op_type == "LayerNormalization")
    x_dec = first_b.input[0]
    for n in body.node:
        n.input[:] = ["x_in" if x == x_dec else x for x in n.input]
    head = [
        const("c/zero", np.array(0, np.int64)),
        helper.make_node("Equal", ["iter", "c/zero"], ["first_iter"]),
        helper.make_node("And", ["first_iter", "has_prompt"], ["prefill_now"]),
    ]
    step_in = [
        helper.make_node("If", ["prefill_now"], ["x_in"],
                         then_branch=helper.make_graph([helper.make_node("Identity", [prompt_x], ["x_prompt"])], "prompt", [],
                                                       [helper.make_value_info("x_prompt", _elem(f32))]),
                         else_branch=helper.make_graph([helper.make_node("Identity", [x_dec], ["x_code"])], "code", [],
                                                       [helper.make_value_info("x_code", _elem(f32))])),
        # Causal mask [T, S] for T new positions after `past` cached ones: row i sees columns <= past + i.
        helper.make_node("Shape", ["x_in"], ["c/x_shape"]),
        const("c/one", np.array(1, np.int64)),
        helper.make_node("Gather", ["c/x_shape", "c/one"], ["c/t"], axis=0),
        *([helper.make_node("Shape", ["frozen_k_0"], ["c/f_shape"]),
           helper.make_node("Shape", ["past_k_0"], ["c/k_shape"]),
           const("c/two", np.array(2, np.int64)),
           helper.make_node("Gather", ["c/f_shape", "c/two"], ["c/frozen"], axis=0),
           helper.make_node("Gather", ["c/k_shape", "c/two"], ["c/added"], axis=0),
           helper.make_node("Add", ["c/frozen", "c/added"], ["c/past"])] if per_layer else
          [helper.make_node("Shape", ["past_k"], ["c/k_shape"]),
           const("c/three", np.array(3, np.int64)),
           helper.make_node("Gather", ["c/k_shape", "c/three"], ["c/past"], axis=0)]),
        helper.make_node("Add", ["c/past", "c/t"], ["c/s"]),
        helper.make_node("Range", ["c/past", "c/s", "c/one"], ["c/rows"]),
        helper.make_node("Range", ["c/zero", "c/s", "c/one"], ["c/cols"]),
        const("c/axis1", np.array([1], np.int64)),
        helper.make_node("Unsqueeze", ["c/rows", "c/axis1"], ["c/rows2"]),
        helper.make_node("LessOrEqual", ["c/cols", "c/rows2"], ["c/keep"]),
        const("c/open", np.array(0, np.float32)),
        const("c/shut", np.array(np.finfo(np.float32).min, np.float32)),
        helper.make_node("Where", ["c/keep", "c/open", "c/shut"], ["c/mask"]),
    ]
    nodes = []
    for n in body.node:
        if n.op_type == "Softmax" and "/attn/" in n.name:
            masked = n.input[0] + "/masked"
            nodes.append(helper.make_node("Add", [n.input[0], "c/mask"], [masked], name=n.name + "/causal"))
            n.input[0] = masked
        nodes.append(n)
        if x_dec in n.output:
            nodes.extend(step_in)
    # Reshapes traced at one position take the length from their input.
    consts = {n.output[0]: n for n in nodes if n.op_type == "Constant"}
    for n in nodes:
        if n.op_type == "Reshape" and "/attn/" in n.name and n.input[1] in consts:
            c = consts[n.input[1]]
            shape = numpy_helper.to_array(c.attribute[0].t)
            if shape.tolist() in ([1, 1, heads, dh], [1, 1, heads * dh]):
                shape = shape.copy()
                shape[1] = -1
                c.attribute[0].t.CopyFrom(numpy_helper.from_array(shape, c.attribute[0].t.name))
    # A prefill iteration keeps pos and seen, and never stops the Loop.
    for out in ("pos_next", "seen_next", "cond_next"):
        _rename_output(body, out, out + "/step")
        for n in nodes:
            n.output[:] = [out + "/step" if x == out else x for x in n.output]
    tail = [
        helper.make_node("Where", ["prefill_now", "pos", "pos_next/step"], ["pos_next"]),
        # seen_next/step is seen plus the sampled code (onnxruntime's Where takes no bool tensors).
        helper.make_node("Not", ["prefill_now"], ["decoding"]),
        helper.make_node("And", ["seen_next/step", "decoding"], ["seen_added"]),
        helper.make_node("Or", ["seen", "seen_added"], ["seen_next"]),
        helper.make_node("Or", ["prefill_now", "cond_next/step"], ["cond_next"]),
    ]
    del body.node[:]
    body.node.extend(head + nodes + tail)
    for o in body.output:
        if o.name in ("code", "latent_row"):
            o.CopyFrom(helper.make_tensor_value_info(o.name, o.type.tensor_type.elem_type, [1] if o.name == "code" else [1, width]))

    outer = list(sub.node) + [
        helper.make_node("Shape", ["text_ids"], ["text_shape"]),
        const("one_i", np.array(1, np.int64)),
        const("zero_i", np.array(0, np.int64)),
        helper.make_node("Gather", ["text_shape", "one_i"], ["text_len"], axis=0),
        helper.make_node("Greater", ["text_len", "zero_i"], ["has_prompt"]),
    ]
    all_nodes = outer + list(dg.node)
    del dg.node[:]
    dg.node.extend(all_nodes)
    dg.initializer.extend(sub.initializer)
    _sort_nodes(dg)
    dg.input.extend([helper.make_tensor_value_info("cond", f32, [1, "cond", width]),
                     helper.make_tensor_value_info("text_ids", i64, [1, "text"])])
    dg.name = name
    opsets = {o.domain: o.version for o in list(p.opset_import) + list(d.opset_import)}
    del d.opset_import[:]
    d.opset_import.extend([helper.make_opsetid(k, v) for k, v in opsets.items()])
    return d


def _elem(t: int) -> onnx.TypeProto:
    tp = onnx.TypeProto()
    tp.tensor_type.elem_type = t
    return tp


def decode_loop_batch(sampler: onnx.ModelProto, step: onnx.ModelProto, kv_type: int, name: str) -> onnx.ModelProto:
    """The batched decode graph: decode_loop's Loop over B sequences at once (see batch.py for the
    left-padded KV layout and the key mask).

    sampler: (logits [B, V], seen, u [B], temperature [B], top_k [B], top_p [B], repetition_penalty [B])
             -> (token [B], seen_next)
    step:    (token [B], pos [B], past_k, past_v, start [B]) -> (logits_next, latent_next, present_k, present_v)

    Each row b samples while it is active: not yet stopped (it emitted stop_code, which counts as its
    last code) and fewer than steps[b] iterations done. An inactive row keeps its logits, latent, pos
    and seen, emits code -1, and its count stops; its KV rows still get a column per iteration (the
    cache grows for the whole batch), which the caller drops: row b's cache is columns
    [start[b], P + counts[b]). The Loop runs max(steps) iterations, or fewer once no row is active.
    uniforms is [B, N] with N >= max(steps); row b draws uniforms[b, i] at its i-th code."""
    sg, tg = sampler.graph, step.graph
    params = ["temperature", "top_k", "top_p", "repetition_penalty"]
    prefix_graph(sg, "s/", ["logits", "seen", "u", "token", "seen_next"] + params)
    prefix_graph(tg, "g/", ["token", "pos", "past_k", "past_v", "start", "logits_next", "latent_next", "present_k",
                            "present_v"])
    ren = {"seen_next": "seen_sampled", "logits_next": "logits_next/step", "latent_next": "latent_next/step"}
    for n in list(sg.node) + list(tg.node):
        n.input[:] = [ren.get(x, x) for x in n.input]
        n.output[:] = [ren.get(x, x) for x in n.output]
    f32, i64, b8 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL

    def const(out, a):
        return helper.make_node("Constant", [], [out], value=numpy_helper.from_array(np.asarray(a), out))

    nodes = [
        helper.make_node("Gather", ["uniforms", "iter"], ["u"], axis=1),
        *sg.node, *tg.node,
        const("b/one", np.array(1, np.int64)),
        const("b/none", np.array(-1, np.int64)),
        const("b/axis1", np.array([1], np.int64)),
        helper.make_node("Less", ["iter", "steps"], ["within"]),
        helper.make_node("Not", ["done"], ["running"]),
        helper.make_node("And", ["running", "within"], ["active"]),
        helper.make_node("Unsqueeze", ["active", "b/axis1"], ["active_col"]),
        helper.make_node("Equal", ["token", "stop_code"], ["stopped"]),
        helper.make_node("Not", ["active"], ["idle"]),
        helper.make_node("Or", ["idle", "stopped"], ["done_next"]),
        helper.make_node("Where", ["active_col", "logits_next/step", "logits"], ["logits_next"]),
        helper.make_node("Where", ["active_col", "latent_next/step", "latent"], ["latent_next"]),
        helper.make_node("Add", ["pos", "b/one"], ["pos_plus"]),
        helper.make_node("Where", ["active", "pos_plus", "pos"], ["pos_next"]),
        # onnxruntime's Where takes no bool tensors: seen_sampled is seen plus the sampled code.
        helper.make_node("And", ["seen_sampled", "active_col"], ["seen_added"]),
        helper.make_node("Or", ["seen", "seen_added"], ["seen_next"]),
        helper.make_node("Cast", ["active"], ["active_i"], to=i64),
        helper.make_node("Add", ["count", "active_i"], ["count_next"]),
        helper.make_node("Where", ["active", "token", "b/none"], ["code"]),
        helper.make_node("Identity", ["latent"], ["latent_row"]),
        # Another iteration only while some row can still sample in it.
        helper.make_node("Add", ["iter", "b/one"], ["iter_next"]),
        helper.make_node("Less", ["iter_next", "steps"], ["within_next"]),
        helper.make_node("Not", ["done_next"], ["running_next"]),
        helper.make_node("And", ["running_next", "within_next"], ["can_next"]),
        helper.make_node("Cast", ["can_next"], ["can_next_i"], to=i64),
        helper.make_node("ReduceMax", ["can_next_i"], ["any_next"], keepdims=0),
        helper.make_node("Cast", ["any_next"], ["cond_next"], to=b8),
    ]
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        nodes, "decode_step_batch",
        [vi("iter", i64, []), vi("cond", b8, []), vi("logits", f32, None), vi("latent", f32, None),
         vi("pos", i64, None), vi("seen", b8, None), vi("past_k", kv_type, None), vi("past_v", kv_type, None),
         vi("done", b8, None), vi("count", i64, None)],
        [vi("cond_next", b8, []), vi("logits_next", f32, None), vi("latent_next", f32, None),
         vi("pos_next", i64, None), vi("seen_next", b8, None), vi("present_k", kv_type, None),
         vi("present_v", kv_type, None), vi("done_next", b8, None), vi("count_next", i64, None),
         vi("code", i64, None), vi("latent_row", f32, None)],
        initializer=list(sg.initializer) + list(tg.initializer))
    ins = ["logits", "latent", "pos", "seen", "past_k", "past_v", "done0", "count0"]
    main_nodes = [
        helper.make_node("ReduceMax", ["steps"], ["max_steps"], keepdims=0),
        const("loop_true", np.array(True)),
        const("zero_b", np.array(0, np.int64)),
        helper.make_node("Mul", ["pos", "zero_b"], ["count0"]),
        helper.make_node("Cast", ["count0"], ["done0"], to=b8),
        helper.make_node("Loop", ["max_steps", "loop_true"] + ins,
                         ["logits_out", "latent_out", "pos_out", "seen_out", "k_out", "v_out", "done_out", "counts",
                          "codes_scan", "latents_scan"],
                         body=body),
        helper.make_node("Transpose", ["codes_scan"], ["codes"], perm=[1, 0]),
        helper.make_node("Transpose", ["latents_scan"], ["latents"], perm=[1, 0, 2]),
    ]
    dims = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in tg.output}
    k_shape = dims["present_k"]
    v_vocab = dims["logits_next"][-1]
    width = dims["latent_next"][-1]
    kv = [k_shape[0], "batch", k_shape[2], "past", k_shape[4]]
    graph = helper.make_graph(
        main_nodes, name,
        [vi("logits", f32, ["batch", v_vocab]), vi("latent", f32, ["batch", width]), vi("pos", i64, ["batch"]),
         vi("seen", b8, ["batch", v_vocab]), vi("past_k", kv_type, kv), vi("past_v", kv_type, kv),
         vi("start", i64, ["batch"]), vi("steps", i64, ["batch"]), vi("uniforms", f32, ["batch", "steps_max"]),
         vi("stop_code", i64, [1]), vi("temperature", f32, ["batch"]), vi("top_k", i64, ["batch"]),
         vi("top_p", f32, ["batch"]), vi("repetition_penalty", f32, ["batch"])],
        [vi("codes", i64, ["batch", "n"]), vi("latents", f32, ["batch", "n", width]), vi("counts", i64, ["batch"]),
         vi("logits_out", f32, ["batch", v_vocab]), vi("latent_out", f32, ["batch", width]),
         vi("pos_out", i64, ["batch"]), vi("seen_out", b8, ["batch", v_vocab]),
         vi("k_out", kv_type, [k_shape[0], "batch", k_shape[2], "total", k_shape[4]]),
         vi("v_out", kv_type, [k_shape[0], "batch", k_shape[2], "total", k_shape[4]])])
    opsets = {o.domain: o.version for o in step.opset_import}
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
    m.ir_version = step.ir_version
    return m
