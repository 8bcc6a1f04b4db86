"""Times the project's own PyTorch modules on one device: the baseline that inference/bench/bench.ts
prints beside the onnxruntime figures, measured in the same run on the same card.

    python3 -m xtts.bench.bench_torch MODEL_DIR [--device cpu|cuda] [--codes N] [--repeat R] [--text SENTENCE]

Measures, batch 1, in eager mode:
  - voice: the conditioning encoder + perceiver on the chunks that inference/xtts/voice.ts makes of a
    6 s clip (4 s chunks: 4 s and 2 s of mel frames), plus the speaker encoder on the 6 s clip at 16 kHz
    (the log-mel front end of the conditioning path is not included: TypeScript computes it);
  - prefill: the GPT on 32 conditioning latents + the text ids of the bench sentence (--text, default
    TEXT) + the audio start;
  - decode: N codes, each one sampler call (released settings, fixed uniforms) plus one GPT step with
    the explicit KV cache, in fp32 and (CUDA only) fp16, which is what one code costs inside the
    exported gpt_decode Loop; also the GPT step alone;
  - HiFi-GAN on the N latents;
  - greedy decode over a static KV cache (static_torch.StaticDecoder: the cache allocated once and written
    in place, fixed shapes), fp32, N codes; on CUDA also with the step captured as a CUDA graph and
    replayed (`msPerCode_static_fp32`, `msPerCode_static_graph_fp32`).
Prints one JSON object on the last line of stdout (bench.ts parses that line)."""
import argparse
import copy
import json
import time

import torch

from ..fixtures.vocab import tokenizer_input
from ..model.checkpoint import read_model_folder
from ..model.sampler import Sampler
from .static_torch import StaticDecoder

TEXT = "Hello, world! This is a test."
CLIP_S = 6.0
CHUNK_S = 4.0


def text_ids(tok_json: dict, start: int, stop: int, text: str = TEXT) -> list:
    """The bench sentence's ids with [START]/[STOP] (Hugging Face tokenizers when installed, else a
    stand-in of the same length class: 22 ids per 29 characters)."""
    try:
        from tokenizers import Tokenizer
        enc = Tokenizer.from_str(json.dumps(tok_json)).encode(tokenizer_input(text.lower(), "en"))
        ids = enc.ids
    except Exception:  # noqa: BLE001 - tokenizers missing or vocab unreadable: same length class
        ids = [3 + i % 30 for i in range(max(1, round(22 * len(text) / len(TEXT))))]
    return [start] + ids + [stop]


class Timer:
    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def ms(self, fn, repeat: int) -> float:
        """Median wall time of fn() in ms over `repeat` runs after one warm-up."""
        fn()
        self.sync()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            self.sync()
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return times[len(times) // 2]


def decode_codes(gpt, sampler, logits, latent, k, v, n: int, vocab: int, start_code: int, uniforms, settings):
    """n codes: sample from the carried logits, then one GPT step (the decode Loop's body)."""
    dev = logits.device
    seen = torch.zeros(1, vocab, dtype=torch.bool, device=dev)
    seen[0, 1] = seen[0, start_code] = True
    pos = torch.tensor([1], device=dev)
    lats = []
    for i in range(n):
        token, seen = sampler(logits.float(), seen, uniforms[i], *settings)
        lats.append(latent.float())
        logits, latent, k, v = gpt.decode_step(token, pos, k, v)
        pos = pos + 1
    return torch.stack(lats, 1)


def steps_only(gpt, logits, k, v, n: int):
    token = torch.tensor([7], device=logits.device)
    pos = torch.tensor([1], device=logits.device)
    for _ in range(n):
        logits, _, k, v = gpt.decode_step(token, pos, k, v)
        pos = pos + 1
    return logits


@torch.inference_mode()
def bench(model_dir: str, device: str, codes: int, repeat: int, text: str = TEXT) -> dict:
    dev = torch.device(device)
    timer = Timer(dev)
    t0 = time.perf_counter()
    cfg, s, model, _dvae, tok = read_model_folder(model_dir)
    codes = min(codes, s.max_gen_audio_tokens)  # as the engine caps a sentence (the position table ends there)
    model.to(dev)
    timer.sync()
    load_ms = (time.perf_counter() - t0) * 1000
    gen = {k: cfg.get(k) for k in ("temperature", "top_k", "top_p", "repetition_penalty")}
    g = torch.Generator().manual_seed(1)

    # Voice: conditioning chunks of a 6 s clip + speaker encoder on the clip at 16 kHz.
    frames = [int(CHUNK_S * 22050) // 256 + 1, int((CLIP_S - CHUNK_S) * 22050) // 256 + 1]
    mels = [(torch.randn(1, 80, f, generator=g) * 0.5 - 1.0).to(dev) for f in frames]
    wav16k = (0.1 * torch.randn(1, int(CLIP_S * 16000), generator=g)).to(dev)
    cond_ms = timer.ms(lambda: [model.gpt.style_embedding(m) for m in mels], repeat)
    spk_ms = timer.ms(lambda: model.hifigan_decoder.speaker_encoder(wav16k), repeat)
    cond = torch.stack([model.gpt.style_embedding(m) for m in mels]).mean(0)
    spk = torch.nn.functional.normalize(model.hifigan_decoder.speaker_encoder(wav16k), dim=1).unsqueeze(-1)

    ids = text_ids(tok, s.gpt_start_text_token, s.gpt_stop_text_token, text)
    if len(ids) > s.gpt_max_text_tokens:  # as the engine splits text: the position table ends there
        ids = ids[: s.gpt_max_text_tokens - 1] + ids[-1:]
    ids = torch.tensor([ids], device=dev)
    uniforms = torch.rand(codes, generator=g).to(dev)
    settings = (torch.tensor(float(gen["temperature"]), device=dev), torch.tensor(int(gen["top_k"]), device=dev),
                torch.tensor(float(gen["top_p"]), device=dev), torch.tensor(float(gen["repetition_penalty"]), device=dev))
    sampler = Sampler()
    out = {"device": device, "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
           "torch": torch.__version__, "mode": "eager", "codes": codes, "textTokens": int(ids.shape[1]),
           "tf32Matmul": bool(torch.backends.cuda.matmul.allow_tf32), "loadMs": round(load_ms, 1),
           "condMs": round(cond_ms, 3), "speakerMs": round(spk_ms, 3), "voiceMs": round(cond_ms + spk_ms, 3)}

    precisions = ["fp32"] + (["fp16"] if dev.type == "cuda" else [])
    latents = None
    for p in precisions:
        gpt = model.gpt if p == "fp32" else copy.deepcopy(model.gpt).half()
        c = cond if p == "fp32" else cond.half()
        # The closures below are timed and called within this iteration (B023 is a false alarm here).
        prefill_ms = timer.ms(lambda: gpt.prefill(c, ids), repeat)  # noqa: B023
        logits, latent, k, v = gpt.prefill(c, ids)

        def run(n):
            return decode_codes(gpt, sampler, logits, latent, k, v, n, s.gpt_num_audio_tokens,  # noqa: B023
                                s.gpt_start_audio_token, uniforms, settings)

        run(min(10, codes))  # warm-up
        decode_ms = timer.ms(lambda: run(codes), max(1, repeat // 2))  # noqa: B023
        step_ms = timer.ms(lambda: steps_only(gpt, logits, k, v, codes), max(1, repeat // 2))  # noqa: B023
        if p == "fp32":
            latents = run(codes)
        out[f"prefillMs_{p}"] = round(prefill_ms, 3)
        out[f"msPerCode_{p}"] = round(decode_ms / codes, 3)
        out[f"msPerStepOnly_{p}"] = round(step_ms / codes, 3)
        per_pos = 2 * k.numel() // k.shape[3] * k.element_size()  # K and V bytes per cached position
        out[f"kvMiBAtEnd_{p}"] = round(per_pos * (k.shape[3] + codes) / 2 ** 20, 2)
        if p != "fp32":
            del gpt
    # PyTorch's own best at batch 1: a static cache, and on CUDA the step as a CUDA graph (fp32, greedy).
    logits, _latent, k, v = model.gpt.prefill(cond, ids)
    static = StaticDecoder(model.gpt, k.shape[3] + codes + 1)

    def static_run():
        static.load(logits, k, v)
        for _ in range(codes):
            static.run()

    out["msPerCode_static_fp32"] = round(timer.ms(static_run, max(1, repeat // 2)) / codes, 3)
    if dev.type == "cuda":
        try:
            # capture() runs warm-up steps on the state as it is: from the prompt, so they stay in the cache
            # (after the timed runs above it is full, and a step past it writes out of bounds).
            static.load(logits, k, v)
            static.capture()
            out["msPerCode_static_graph_fp32"] = round(timer.ms(static_run, max(1, repeat // 2)) / codes, 3)
        except RuntimeError as e:  # the eager figures above still stand; say why this one is missing
            out["staticGraphError"] = str(e).splitlines()[0][:300]
    hifigan_ms = timer.ms(lambda: model.hifigan_decoder(latents, spk), repeat)
    wav = model.hifigan_decoder(latents, spk)
    audio_s = wav.shape[-1] / s.output_sample_rate
    out["hifiganMs"] = round(hifigan_ms, 3)
    out["audioSeconds"] = round(audio_s, 3)
    for p in precisions:
        total = out[f"prefillMs_{p}"] + out[f"msPerCode_{p}"] * codes + hifigan_ms
        out[f"rtf_{p}"] = round(total / 1000 / audio_s, 4)
    if dev.type == "cuda":
        out["maxMemoryMiB"] = round(torch.cuda.max_memory_allocated(dev) / 2 ** 20, 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model_dir")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--codes", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--text", default=TEXT, help="the sentence whose text ids the prompt holds")
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_torch: --device cuda but torch.cuda.is_available() is False")
    print(json.dumps(bench(a.model_dir, a.device, a.codes, a.repeat, a.text)), flush=True)


if __name__ == "__main__":
    main()
