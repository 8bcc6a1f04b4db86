"""Manual verification against Coqui's own XTTS-v2 classes (not run in CI; the
standing check is inference/xtts/fidelity.test.ts against test/fixtures/coqui-model, made by
`npm run reference:model`). This one also covers the DVAE and the older checkpoint key layouts.

Builds Coqui's GPT, HifiDecoder and DiscreteVAE at full size with random weights, saves their state
dicts as a model folder in the release layout, loads that folder strictly into this project's
modules, and compares outputs on the same inputs. Needs a checkout of idiap/coqui-ai-TTS (TTS/) on
PYTHONPATH with its dependencies (transformers, torchaudio, einops); Coqui's `trainer`/`coqpit` imports
can be stubs, since no training code runs.

usage: PYTHONPATH=trainer:CHECKOUT python3 -m xtts.parity.coqui_parity OUT_MODEL_DIR REPORT.json"""
import json
import os
import sys

import torch
from torch import nn

from ..fixtures.sentences import SENTENCES
from ..fixtures.tiny import make_config
from ..fixtures.vocab import build_vocab
from ..model.checkpoint import normalise_state, read_model_folder


def coqui_modules(vocab_size: int, start: int, stop: int):
    from TTS.tts.layers.xtts.dvae import DiscreteVAE
    from TTS.tts.layers.xtts.gpt import GPT
    from TTS.tts.layers.xtts.hifigan_decoder import HifiDecoder

    class Container(nn.Module):  # the attribute layout of Coqui's Xtts
        def __init__(self):
            super().__init__()
            self.gpt = GPT(layers=30, model_dim=1024, start_text_token=start, stop_text_token=stop, heads=16,
                           max_text_tokens=402, max_mel_tokens=605, max_prompt_tokens=70, number_text_tokens=vocab_size,
                           num_audio_tokens=1026, start_audio_token=1024, stop_audio_token=1025,
                           use_perceiver_resampler=True, code_stride_len=1024)
            self.hifigan_decoder = HifiDecoder(input_sample_rate=22050, output_sample_rate=24000, output_hop_length=256,
                                               ar_mel_length_compression=1024, decoder_input_dim=1024, d_vector_dim=512,
                                               cond_d_vector_in_each_upsampling_layer=True)
            self.register_buffer("mel_stats", torch.ones(80))

    dvae = DiscreteVAE(channels=80, normalization=None, positional_dims=1, num_tokens=1024, codebook_dim=512,
                       hidden_dim=512, num_resnet_blocks=3, kernel_size=3, num_layers=2, use_transposed_convs=False)
    return Container(), dvae


def perturb(m: nn.Module, g: torch.Generator):
    """Coqui's default init leaves BatchNorm stats at 0/1 and weight-norm g = |v|; move them so the
    comparison exercises them."""
    with torch.no_grad():
        for name, b in m.named_buffers():
            if name.endswith("running_var"):
                b.copy_(1 + torch.rand(b.shape, generator=g) * 0.3)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
        for name, p in m.named_parameters():
            if name.endswith("original0") or (name.endswith("bias") and "speaker_encoder" in name):
                p.mul_(1 + 0.1 * torch.randn(p.shape, generator=g))
            if name.endswith("mel_head.bias") or name.endswith("final_norm.weight"):
                p.add_(0.05 * torch.randn(p.shape, generator=g))


def main(out_dir: str, report_path: str) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    vocab = build_vocab([s[2] for s in SENTENCES], pad_to=6681)
    v = vocab["model"]["vocab"]
    ref, dvae = coqui_modules(max(v.values()) + 1, v["[START]"], v["[STOP]"])
    perturb(ref, g)
    perturb(dvae, g)
    ref.mel_stats.copy_(2 + torch.rand(80, generator=g))
    ref.eval()
    dvae.eval()
    os.makedirs(out_dir, exist_ok=True)
    sd = ref.state_dict()
    keys = list(sd)
    torch.save({"model": sd}, os.path.join(out_dir, "model.pth"))
    torch.save(dvae.state_dict(), os.path.join(out_dir, "dvae.pth"))
    torch.save(ref.mel_stats.clone(), os.path.join(out_dir, "mel_stats.pth"))
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    cfg = make_config("full")
    cfg["model_args"]["gpt_number_text_tokens"] = max(v.values()) + 1
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    report = {"coqui_keys": len(keys), "weight_norm_layout": sorted({k.split(".")[-2] for k in keys if "parametrizations" in k}),
              "coqui_params": sum(p.numel() for p in ref.parameters()), "dvae_params": sum(p.numel() for p in dvae.parameters())}
    # The strict load is the project's own loader, exactly as the exporter calls it.
    _cfg, sizes, mine, mdvae, _tok = read_model_folder(out_dir)
    report["strict_load"] = "ok"
    # The other key layouts: `xtts.` prefix plus training-only keys, and old weight_g/weight_v names.
    alt = {("xtts." + k): t for k, t in sd.items()}
    alt["xtts.dvae.encoder.0.0.weight"] = torch.zeros(1)
    alt = {k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v"): t
           for k, t in alt.items()}
    mine.load_state_dict(normalise_state(alt), strict=True)
    report["strict_load_prefixed_old_weight_norm"] = "ok"

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ref.to(dev), mine.to(dev), dvae.to(dev), mdvae.to(dev)

    def err(a, b):
        return float((a.float() - b.float()).abs().max())

    with torch.no_grad():
        mel = (torch.randn(1, 80, 345, generator=g) * 0.5 - 1).to(dev)
        c_ref = ref.gpt.get_style_emb(mel).transpose(1, 2)  # [1, 32, 1024]
        c_mine = mine.gpt.style_embedding(mel)
        report["cond_latent_max_abs_err"] = err(c_ref, c_mine)
        text = torch.randint(3, 120, (1, 24), generator=g).to(dev)
        ids = torch.cat([torch.tensor([[v["[START]"]]], device=dev), text, torch.tensor([[v["[STOP]"]]], device=dev)], 1)
        # Reference prefill through Coqui's modules and Hugging Face's GPT2Model.
        gpt = ref.gpt
        emb = torch.cat([c_ref, gpt.text_embedding(ids) + gpt.text_pos_embedding(ids),
                         gpt.mel_embedding(torch.tensor([[1024]], device=dev)) + gpt.mel_pos_embedding.emb.weight[0:1][None]], 1)
        out = gpt.gpt(inputs_embeds=emb, use_cache=True)
        lat_ref = gpt.final_norm(out.last_hidden_state[:, -1])
        logits_ref = gpt.mel_head(lat_ref)
        logits, lat, k, vv = mine.gpt.prefill(c_ref, ids)
        report["prefill_logits_max_abs_err"] = err(logits_ref, logits)
        report["prefill_latent_max_abs_err"] = err(lat_ref, lat)
        # Greedy decode: HF's KV cache path against the project's decode step.
        past, codes_ref, codes = out.past_key_values, [], []
        lr, lm = logits_ref, logits
        for step in range(30):
            cr, cm = int(lr.argmax()), int(lm.argmax())
            codes_ref.append(cr)
            codes.append(cm)
            e = gpt.mel_embedding(torch.tensor([[cr]], device=dev)) + gpt.mel_pos_embedding.emb.weight[step + 1][None, None]
            o = gpt.gpt(inputs_embeds=e, past_key_values=past, use_cache=True)
            past = o.past_key_values
            lr = gpt.mel_head(gpt.final_norm(o.last_hidden_state[:, -1]))
            lm, _, k, vv = mine.gpt.decode_step(torch.tensor([cm], device=dev), torch.tensor([step + 1], device=dev), k, vv)
        report["greedy_codes_equal"] = codes_ref == codes
        report["greedy_codes"] = codes
        report["last_step_logits_max_abs_err"] = err(lr, lm)
        # Non-streaming latents: Coqui's GPT.forward(return_latent=True), called as Xtts.inference does.
        cod = torch.tensor([codes], device=dev)
        lat_ref = gpt(text, torch.tensor([text.shape[1]], device=dev), cod, torch.tensor([cod.shape[1] * 1024], device=dev),
                      cond_latents=c_ref, return_attentions=False, return_latent=True)
        lat_mine = mine.gpt.latents_for_codes(c_ref, ids, cod)
        report["latents_shape"] = [list(lat_ref.shape), list(lat_mine.shape)]
        report["latents_max_abs_err"] = err(lat_ref, lat_mine)
        wav16 = (0.3 * torch.sin(torch.arange(48000) / 16000 * 2 * torch.pi * 180) + 0.05 * torch.randn(48000, generator=g))[None].to(dev)
        spk_ref = ref.hifigan_decoder.speaker_encoder.forward(wav16.clone(), l2_norm=True)
        spk = mine.hifigan_decoder.speaker_encoder(wav16)
        report["speaker_max_abs_err"] = err(spk_ref, spk)
        w_ref = ref.hifigan_decoder(lat_ref, g=spk_ref.unsqueeze(-1))
        w = mine.hifigan_decoder(lat_ref, spk_ref.unsqueeze(-1))
        report["wav_shape"] = [list(w_ref.shape), list(w.shape)]
        report["wav_max_abs_err"] = err(w_ref, w)
        dmel = (torch.randn(1, 80, 200, generator=g) * 0.5 - 1).to(dev)
        report["dvae_codes_equal"] = bool((dvae.get_codebook_indices(dmel) == mdvae.codes(dmel)).all())
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
