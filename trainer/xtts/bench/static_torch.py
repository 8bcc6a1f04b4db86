"""PyTorch with a static KV cache (and, on CUDA, the step captured as a CUDA graph): the stronger PyTorch
baseline beside the eager one (bench_torch.py), so the engine's decode is compared with what PyTorch
itself can do on the same card, not only with its eager loop.

StaticDecoder runs XTTS-v2's GPT decode step over a cache allocated once, [L, 1, H, M, dh], each step
writing its keys and values in place at the sequence's length and attending over all M columns masked to
the valid ones: every shape is fixed, so the whole step (and a greedy argmax feeding the next token) can be
captured once as a CUDA graph and replayed. The module's weights are the model's own; the arithmetic is
GPT2Stack's (gpt2.py), so the logits equal gpt.decode_step's within float rounding (test_static_torch.py)."""
import math

import torch


class StaticDecoder:
    """Greedy decode over a preallocated cache. `load(k, v)` takes a prefill's cache [L, 1, H, P, dh] and its
    last logits; `step()` runs one code: the token is the argmax of the logits the step before left (the
    first: the prefill's), written in place, so replays of a captured step decode on their own."""

    def __init__(self, gpt, max_len: int):
        self.gpt = gpt
        p = next(gpt.parameters())
        blocks = gpt.gpt.h
        self.heads = blocks[0].attn.heads
        self.dim = blocks[0].attn.dim
        self.dh = self.dim // self.heads
        shape = (len(blocks), 1, self.heads, max_len, self.dh)
        self.k = torch.zeros(shape, dtype=p.dtype, device=p.device)
        self.v = torch.zeros(shape, dtype=p.dtype, device=p.device)
        self.cols = torch.arange(max_len, device=p.device)
        self.length = torch.zeros(1, dtype=torch.long, device=p.device)  # the column this step writes
        self.pos = torch.zeros(1, dtype=torch.long, device=p.device)  # the audio position of the input code
        self.logits = torch.zeros(1, gpt.mel_head.out_features, dtype=torch.float32, device=p.device)
        self.latent = torch.zeros(1, self.dim, dtype=p.dtype, device=p.device)
        self.token = torch.zeros(1, dtype=torch.long, device=p.device)
        self.graph = None

    def load(self, logits, k, v) -> None:
        """The prefill's last logits and cache (audio position 1 comes next, as in gpt.decode_step)."""
        n = k.shape[3]
        self.k[:, :, :, :n].copy_(k)
        self.v[:, :, :, :n].copy_(v)
        self.length.fill_(n)
        self.pos.fill_(1)
        self.logits.copy_(logits.float())

    def step(self) -> None:
        """One greedy code, in place: token = argmax(logits), then the GPT step writing column `length`."""
        g = self.gpt
        torch.argmax(self.logits, dim=-1, out=self.token)
        x = (g.mel_embedding(self.token) + g.mel_pos_embedding.emb(self.pos)).unsqueeze(1)  # [1, 1, D]
        valid = self.cols <= self.length  # the sequence's columns and the new one
        for i, blk in enumerate(g.gpt.h):
            q, k, v = blk.attn.c_attn(blk.ln_1(x)).split(self.dim, dim=2)
            q = q.view(1, 1, self.heads, self.dh).transpose(1, 2)
            self.k[i].index_copy_(2, self.length, k.view(1, 1, self.heads, self.dh).transpose(1, 2))
            self.v[i].index_copy_(2, self.length, v.view(1, 1, self.heads, self.dh).transpose(1, 2))
            w = torch.matmul(q, self.k[i].transpose(-1, -2)) / math.sqrt(self.dh)
            w = w.masked_fill(~valid, torch.finfo(w.dtype).min)
            a = torch.softmax(w.float(), dim=-1).to(self.v.dtype)
            o = torch.matmul(a, self.v[i]).transpose(1, 2).reshape(1, 1, self.dim)
            x = x + blk.attn.c_proj(o)
            x = x + blk.mlp(blk.ln_2(x))
        logits, latent = g.head(g.gpt.ln_f(x)[:, -1])
        self.logits.copy_(logits.float())
        self.latent.copy_(latent)
        self.length.add_(1)
        self.pos.add_(1)

    def capture(self) -> None:
        """Captures step() as a CUDA graph (after warm-up steps on a side stream, as PyTorch asks); the
        steps run to warm up advance the state, so load() before (they need 3 free columns) and again
        before decoding."""
        if int(self.length.item()) + 3 >= self.k.shape[3]:
            raise ValueError(f"capture: the cache holds {int(self.length.item())} of {self.k.shape[3]} columns; "
                             "its 3 warm-up steps need room (load() first)")
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.step()

    def run(self) -> None:
        """One code: the captured graph's replay where there is one, else the step itself."""
        if self.graph is not None:
            self.graph.replay()
        else:
            self.step()
