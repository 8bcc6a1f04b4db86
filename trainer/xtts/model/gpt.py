"""XTTS-v2's GPT (docs/xtts-v2-facts.md §3): conditioning, text and audio embeddings with separate learned position
tables, the GPT-2 stack, `final_norm` and the two heads. Names match Coqui's `gpt.*` keys."""
import torch
from torch import nn

from .conditioning import ConditioningEncoder, PerceiverResampler
from .config import XttsSizes
from .gpt2 import GPT2Stack


class PositionTable(nn.Module):
    def __init__(self, n: int, dim: int):
        super().__init__()
        self.emb = nn.Embedding(n, dim)
        nn.init.normal_(self.emb.weight, std=0.02)


class XttsGPT(nn.Module):
    def __init__(self, s: XttsSizes):
        super().__init__()
        d = s.gpt_n_model_channels
        self.sizes = s
        self.conditioning_encoder = ConditioningEncoder(80, d, s.gpt_n_heads, s.cond_encoder_blocks)
        self.conditioning_perceiver = PerceiverResampler(
            d, s.perceiver_depth, s.perceiver_latents, s.perceiver_heads, s.perceiver_dim_head)
        self.text_embedding = nn.Embedding(s.gpt_number_text_tokens, d)
        self.mel_embedding = nn.Embedding(s.gpt_num_audio_tokens, d)
        self.text_pos_embedding = PositionTable(s.text_positions, d)
        self.mel_pos_embedding = PositionTable(s.mel_positions, d)
        self.gpt = GPT2Stack(s.gpt_layers, d, s.gpt_n_heads)
        self.final_norm = nn.LayerNorm(d)
        self.text_head = nn.Linear(d, s.gpt_number_text_tokens)
        self.mel_head = nn.Linear(d, s.gpt_num_audio_tokens)

    def style_embedding(self, mel):
        """mel [B, 80, T] (log-mel already divided by mel_stats) -> gpt_cond_latent [B, 32, D]."""
        return self.conditioning_perceiver(self.conditioning_encoder(mel).transpose(1, 2))

    def prompt_embeddings(self, cond, text_ids):
        """cond [1, 32, D], text_ids [1, L] ([START] ... [STOP]) -> [1, 32 + L + 1, D]; the last row is
        the audio start token at audio position 0."""
        t = torch.arange(text_ids.shape[1], device=text_ids.device)
        text = self.text_embedding(text_ids) + self.text_pos_embedding.emb(t).unsqueeze(0)
        return torch.cat([cond.to(text.dtype), text, self.audio_start(text_ids.device)], dim=1)

    def audio_start(self, device) -> torch.Tensor:
        """[1, 1, D]: the audio start token at audio position 0, the prompt's last row."""
        start = torch.full((1, 1), self.sizes.gpt_start_audio_token, dtype=torch.long, device=device)
        return self.mel_embedding(start) + self.mel_pos_embedding.emb.weight[0:1].unsqueeze(0)

    def head(self, h_last):
        """h_last: ln_f output of the last position(s). Returns logits and the HiFi-GAN latent
        (`final_norm` after the stack's own ln_f: two LayerNorms in a row, as Coqui does)."""
        latent = self.final_norm(h_last)
        return self.mel_head(latent), latent

    def prefill(self, cond, text_ids):
        """The prompt [cond, text, audio start] from an empty cache: prefill_after with no past."""
        return self.prefill_after(cond, None, None, text_ids)

    def prefill_after(self, cond, past_k, past_v, text_ids):
        """The prefill continued from keys and values already made: the prompt [cond, text, audio start]
        (cond [1, C, D], C >= 0; text_ids [1, T], T >= 0) after past_k/v [L, 1, H, P, dh] (P >= 0), each new
        position attending to the past and to the new ones up to itself. With P = 0 this is prefill();
        with C = 0 after a prefix [L, 1, H, 32, dh] made from the conditioning alone (the first 32 columns
        of a run with T = 0), the same as prefill() over [cond, text, start] up to float rounding: a
        voice's conditioning positions can be kept and only its text computed per request.
        Returns logits [1, V], latent [1, D], present k/v [L, 1, H, P + C + T + 1, dh]."""
        h, k, v = self.gpt(self.prompt_embeddings(cond, text_ids), past_k, past_v, causal=True)
        logits, latent = self.head(h[:, -1])
        return logits, latent, k, v

    def decode_step(self, token, pos, past_k, past_v):
        """token [1] int64 (the code just chosen), pos [1] int64 (its audio position, 1 for the first
        code) -> logits [1, V], latent [1, D], present k/v with one more position."""
        x = self.mel_embedding(token) + self.mel_pos_embedding.emb(pos)
        h, k, v = self.gpt(x.unsqueeze(1), past_k, past_v)
        logits, latent = self.head(h[:, -1])
        return logits, latent, k, v

    def decode_step_layers(self, token, pos, frozen_k, frozen_v, past_k, past_v):
        """decode_step with the cache one tensor per layer in two parts: frozen_k/v (read only) then
        past_k/v, lists of [1, H, S, dh]. Returns logits, latent and the present k/v lists (past_k/v
        with one more position each; the frozen part is not repeated)."""
        x = self.mel_embedding(token) + self.mel_pos_embedding.emb(pos)
        h, k, v = self.gpt.step_layers(x.unsqueeze(1), frozen_k, frozen_v, past_k, past_v)
        logits, latent = self.head(h[:, -1])
        return logits, latent, k, v

    def latents_for_codes(self, cond, text_ids, codes):
        """Full recompute of the latents for a code sequence (the non-streaming path of Coqui's
        inference): input [start, c0 .. c_{n-1}] -> latents [1, n, D], latent i predicted c_i."""
        n = codes.shape[1]
        start = torch.full((1, 1), self.sizes.gpt_start_audio_token, dtype=torch.long, device=codes.device)
        seq = torch.cat([start, codes[:, :-1]], dim=1) if n > 0 else start
        prompt = self.prompt_embeddings(cond, text_ids)[:, :-1]
        pos = torch.arange(seq.shape[1], device=codes.device)
        audio = self.mel_embedding(seq) + self.mel_pos_embedding.emb(pos).unsqueeze(0)
        h, _, _ = self.gpt(torch.cat([prompt, audio], dim=1))
        return self.final_norm(h[:, prompt.shape[1]:])
