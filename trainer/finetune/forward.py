"""The training forward of XTTS-v2's GPT (docs/xtts-v2-facts.md §7, the semantics of Coqui's GPT.forward), on the
project's XttsGPT weights.

Sequence layout per item: [32 perceiver latents | START t_0 .. t_{L-1} (pad) | 1024 c_0 .. c_{n-1}
1025 1025 1025 (pad)]. Text targets are t_0 .. t_{L-1} STOP, audio targets c_0 .. c_{n-1} followed by
four 1025s, everything beyond is -1 (ignored). Padded positions are hidden from attention as keys.
code_lengths = ceil(wav_len / 1024) + 3, as Coqui computes it.

The GPT-2 stack is re-run here block by block (same modules, same weights as xtts/model/gpt2.py) because
training needs what inference does not: a key-padding mask, GPT-2's dropout (Hugging Face's
GPT2Config defaults, 0.1 on embeddings, attention probabilities and both residual branches, which
Coqui trains with), and optional gradient checkpointing. Export and inference never use this file."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from xtts.model.gpt import XttsGPT

PROMPT_MASKING = ("coqui", "intended", "off")
DEFAULT_PROMPT_MASKING = "coqui"
PROMPT_MASKING_DOC = """prompt_masking: which audio targets are ignored because the conditioning clip was cut from them.

- "coqui" (default): Coqui's GPT.forward exactly as written. cond_idxs (sample offsets) are divided
  by 256, as if they indexed mel frames, and used to blank mel_targets, which are indexed in
  1024-sample codes; and only the LAST item of each batch is blanked (the loop variable left over
  from the loop before; the "coin flip" in the comment is not implemented). Every published
  XTTS-v2 fine-tune (the recipe and the gradio demo) trained like this, so its losses are
  comparable with Coqui's logs and its behaviour is the known-good one; it is the default because a
  voice studio should start from the recipe people have listened to, not from an untested variant.
- "intended": what the comment describes, done correctly: for every item, the codes whose
  1024-sample frames overlap the conditioning slice [start, end) are ignored, so the model is never
  rewarded for copying the prompt it is shown. Costly on short clips: a 3-6 s slice of a 5 s clip
  removes 60-100 % of that clip's audio targets. Offered for listening-test comparisons.
- "off": no audio target is ignored.
Evaluation never masks (Coqui's eval_step passes cond_idxs=None)."""


def _attention(attn, x, key_ok, p: float):
    b, t, d = x.shape
    h = attn.heads
    q, k, v = attn.c_attn(x).split(d, dim=2)
    q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=key_ok, dropout_p=p)
    return attn.c_proj(o.transpose(1, 2).reshape(b, t, d))


def _block(block, x, key_ok, p: float):
    x = x + F.dropout(_attention(block.attn, block.ln_1(x), key_ok, p), p, p > 0)
    m = block.mlp.c_proj(F.gelu(block.mlp.c_fc(block.ln_2(x)), approximate="tanh"))
    return x + F.dropout(m, p, p > 0)


def gpt2_hidden(gpt: XttsGPT, emb: torch.Tensor, keys: torch.Tensor, dropout: float, checkpointing: bool):
    """emb [B, T, D], keys [B, T] bool (False = padding) -> ln_f output [B, T, D]."""
    t = emb.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=emb.device).tril()
    key_ok = causal.unsqueeze(0) & keys[:, None, :]  # [B, T, T]
    key_ok = key_ok.unsqueeze(1)  # broadcast over heads
    x = F.dropout(emb, dropout, dropout > 0)
    for block in gpt.gpt.h:
        if checkpointing and torch.is_grad_enabled():
            # Non-reentrant checkpointing restores the RNG state, so dropout masks are recomputed identically.
            x = checkpoint(_block, block, x, key_ok, dropout, use_reentrant=False)
        else:
            x = _block(block, x, key_ok, dropout)
    return gpt.gpt.ln_f(x)


def mask_prompt(mel_targets: torch.Tensor, cond_idxs: Optional[torch.Tensor], mode: str) -> None:
    if cond_idxs is None or mode == "off":
        return
    if mode == "coqui":
        i = mel_targets.shape[0] - 1
        s, e = (cond_idxs[i] // 256).tolist()
        mel_targets[i, s:e] = -1
    elif mode == "intended":
        for i in range(mel_targets.shape[0]):
            s, e = cond_idxs[i].tolist()
            mel_targets[i, s // 1024:-(-e // 1024)] = -1
    else:
        raise ValueError(f"prompt_masking must be one of {PROMPT_MASKING}, not {mode!r}")


def gpt_losses(gpt: XttsGPT, cond_mel: torch.Tensor, text: torch.Tensor, text_lengths: torch.Tensor,
               codes: torch.Tensor, wav_lengths: torch.Tensor, cond_idxs: Optional[torch.Tensor] = None,
               prompt_masking: str = DEFAULT_PROMPT_MASKING, dropout: float = 0.0,
               checkpointing: bool = False) -> Dict[str, torch.Tensor]:
    """cond_mel [B, 80, T] (§2b mel / mel_stats), text [B, >=L] token ids without START/STOP
    (padding beyond text_lengths is ignored), codes [B, C] DVAE codes of the zero-padded batch,
    wav_lengths [B] in samples, cond_idxs [B, 2] sample offsets of the conditioning slice or None.
    Returns unweighted mean cross-entropies {"text", "mel"}."""
    s = gpt.sizes
    dev = text.device
    start_a, stop_a = s.gpt_start_audio_token, s.gpt_stop_audio_token
    text_lengths, wav_lengths = text_lengths.to(dev).long(), wav_lengths.to(dev)
    code_lengths = torch.ceil(wav_lengths / s.gpt_code_stride_len).long() + 3
    max_text, max_mel = int(text_lengths.max()), int(code_lengths.max())

    text = F.pad(text[:, :max_text].long(), (0, 1), value=s.gpt_stop_text_token)
    if codes.shape[1] < max_mel:
        codes = F.pad(codes, (0, max_mel - codes.shape[1]))
    codes = F.pad(codes[:, :max_mel].long(), (0, 1), value=stop_a)
    pos = torch.arange(codes.shape[1], device=dev)
    codes = torch.where(pos[None] >= (code_lengths - 3)[:, None], torch.full_like(codes, stop_a), codes)

    text_in, text_tgt = F.pad(text, (1, 0), value=s.gpt_start_text_token), F.pad(text, (0, 1), value=s.gpt_stop_text_token)
    mel_in, mel_tgt = F.pad(codes, (1, 0), value=start_a), F.pad(codes, (0, 1), value=stop_a)
    t_pos = torch.arange(text_in.shape[1], device=dev)
    m_pos = torch.arange(mel_in.shape[1], device=dev)
    text_keys = t_pos[None] < (text_lengths + 1)[:, None]
    mel_keys = m_pos[None] < (code_lengths + 1)[:, None]
    text_tgt = text_tgt.masked_fill(~text_keys, -1)
    mel_tgt = mel_tgt.masked_fill(~mel_keys, -1)
    mask_prompt(mel_tgt, cond_idxs, prompt_masking)

    cond = gpt.style_embedding(cond_mel)  # [B, 32, D]
    text_emb = gpt.text_embedding(text_in) + gpt.text_pos_embedding.emb(t_pos).unsqueeze(0)
    mel_emb = gpt.mel_embedding(mel_in) + gpt.mel_pos_embedding.emb(m_pos).unsqueeze(0)
    emb = torch.cat([cond.to(text_emb.dtype), text_emb, mel_emb], dim=1)
    keys = torch.cat([torch.ones(cond.shape[:2], dtype=torch.bool, device=dev), text_keys, mel_keys], dim=1)
    h = gpt.final_norm(gpt2_hidden(gpt, emb, keys, dropout, checkpointing)[:, cond.shape[1]:])
    text_logits = gpt.text_head(h[:, :text_in.shape[1]])
    mel_logits = gpt.mel_head(h[:, -mel_in.shape[1]:])
    return {"text": F.cross_entropy(text_logits.float().transpose(1, 2), text_tgt, ignore_index=-1),
            "mel": F.cross_entropy(mel_logits.float().transpose(1, 2), mel_tgt, ignore_index=-1)}
