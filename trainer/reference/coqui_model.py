"""Reference numbers for the fidelity check, from Coqui's own XTTS classes (coqui-tts, unpacked or
installed in the environment trainer/reference/regenerate-model.sh makes).

For each case of trainer/xtts/parity/fidelity_cases.py: Coqui's Xtts is built from an XttsConfig, its
parameters are drawn by trainer/xtts/parity/seeded_weights.py, the state dict is saved as model.pth beside
vocab.json, and a fresh Xtts loads that folder with Coqui's own load_checkpoint(strict=True). Then,
as Coqui's synthesize() does: get_conditioning_latents(clip path) gives the conditioning latents and
the speaker embedding; inference() runs greedy (do_sample=False) for 50 codes at repetition penalty
1, 5 and 10 and returns the waveform. Its gpt.generate is wrapped only to record what it returns
(the codes, and the raw logits of each step).

usage: python coqui_model.py REPO_ROOT OUT_DIR
writes OUT_DIR/reference.json and OUT_DIR/<case>/*.f32 (little-endian float32)."""
import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import sys
import tempfile

import numpy as np
import soundfile
import torch
import torchaudio

root = os.path.abspath(sys.argv[1])
sys.path.append(os.path.join(root, "trainer"))
from TTS.tts.configs.xtts_config import XttsConfig  # noqa: E402
from TTS.tts.layers.tortoise.arch_utils import normalization  # noqa: E402
from TTS.tts.models.xtts import Xtts, XttsArgs  # noqa: E402

from xtts.parity.fidelity_cases import CASES, CLIP, GROUP_WIDTHS, LANGUAGE, PENALTIES, STEPS, TEXT, VOICE  # noqa: E402
from xtts.parity.seeded_weights import fill_module  # noqa: E402


def _load(path, *args, **kwargs):
    """torchaudio.load as torchaudio 2.8 and earlier did it with its soundfile backend: float32 in
    [-1, 1], channels first. torchaudio 2.9+ hands loading to torchcodec, which needs FFmpeg and a
    matching torch build; the decoded samples of a PCM WAV are the same."""
    data, sr = soundfile.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(data.T.copy()), sr


torchaudio.load = _load


def write_f32(folder: str, name: str, t) -> dict:
    a = np.asarray(t.detach().cpu().float().numpy() if torch.is_tensor(t) else t, dtype="<f4")
    a.tofile(os.path.join(folder, name))
    return {"file": name, "shape": list(a.shape), "max_abs": float(np.abs(a).max())}


def build(case: dict, vocab_path: str, work: str):
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)["model"]["vocab"]
    args = XttsArgs(**case["model_args"], gpt_number_text_tokens=max(vocab.values()) + 1,
                    gpt_start_text_token=vocab["[START]"], gpt_stop_text_token=vocab["[STOP]"])
    cfg = XttsConfig(model_args=args)
    made = Xtts.init_from_config(cfg)
    fill_module(made, case["seed"])
    os.makedirs(work, exist_ok=True)
    state = made.state_dict()
    torch.save({"model": state}, os.path.join(work, "model.pth"))
    with open(vocab_path, "rb") as src, open(os.path.join(work, "vocab.json"), "wb") as dst:
        dst.write(src.read())
    model = Xtts.init_from_config(cfg)
    model.load_checkpoint(cfg, checkpoint_dir=work, eval=True, strict=True)
    for name, t in made.state_dict().items():  # the load kept every drawn value
        if not torch.equal(t, model.state_dict()[name]):
            raise SystemExit(f"{name}: changed by Coqui's load_checkpoint")
    model.eval()
    return model, state_signature(state)


def state_signature(state) -> dict:
    """The saved state dict's names and shapes, for the project's side to compare its own with."""
    lines = "\n".join(f"{k} {list(t.shape)}" for k, t in sorted(state.items()))
    return {"tensors": len(state), "sha256": hashlib.sha256(lines.encode()).hexdigest()}


def run_case(name: str, case: dict, clip: str, vocab_path: str, out: str, work: str) -> dict:
    torch.manual_seed(0)
    # Built and loaded outside inference mode, as a user of Coqui's API does: the same weights loaded
    # inside it give Coqui's HiFi-GAN another waveform (the conditioning and the codes agree).
    model, signature = build(case, vocab_path, os.path.join(work, name))
    with torch.inference_mode():
        return outputs(name, model, signature, clip, out)


def outputs(name: str, model, signature: dict, clip: str, out: str) -> dict:
    case = CASES[name]
    folder = os.path.join(out, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    cond, speaker = model.get_conditioning_latents(audio_path=clip, **VOICE)
    res = {"seed": case["seed"], "model_args": case["model_args"],
           "parameters": sum(p.numel() for p in model.parameters()), "state_dict": signature,
           "group_norm_groups": model.gpt.conditioning_encoder.attn[0].norm.num_groups,
           "cond_latent": write_f32(folder, "cond_latent.f32", cond),
           "speaker": write_f32(folder, "speaker.f32", speaker[..., 0])}
    text_ids = model.tokenizer.encode(TEXT.strip().lower(), lang=LANGUAGE)
    res["text_ids"] = [model.args.gpt_start_text_token, *text_ids, model.args.gpt_stop_text_token]
    recorded = {}
    generate = model.gpt.generate

    def recording_generate(*a, **kw):
        codes, gen = generate(*a, **kw, return_dict_in_generate=True, output_logits=True)
        recorded["codes"] = codes
        recorded["logits"] = gen.logits
        return codes

    model.gpt.generate = recording_generate
    runs = []
    for p in PENALTIES:
        out_wav = model.inference(TEXT, LANGUAGE, cond, speaker, temperature=1.0, length_penalty=1.0,
                                  repetition_penalty=p, top_k=1, top_p=1.0, do_sample=False, max_new_tokens=STEPS)
        codes = recorded["codes"][0].tolist()
        tag = f"p{p:g}"
        run = {"repetition_penalty": p, "codes": codes, "distinct_codes": len(set(codes)),
               "wav24k": write_f32(folder, f"wav24k_{tag}.f32", torch.from_numpy(out_wav["wav"]))}
        if p == PENALTIES[0]:
            res["logits0"] = write_f32(folder, "logits0.f32", recorded["logits"][0][0])
        runs.append(run)
    res["greedy"] = runs
    return res


def versions() -> dict:
    names = ["coqui-tts", "coqui-tts-trainer", "coqpit-config", "torch", "torchaudio", "transformers", "numpy",
             "soundfile", "tokenizers"]
    return {n: md.version(n) for n in names}


def main() -> None:
    out = os.path.abspath(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    clip = os.path.join(root, CLIP)
    vocab_path = os.path.join(out, "vocab.json")
    with open(clip, "rb") as f:
        clip_sha = hashlib.sha256(f.read()).hexdigest()
    with open(vocab_path, "rb") as f:
        vocab_sha = hashlib.sha256(f.read()).hexdigest()
    groups = []  # [width, groups] for every width Coqui's normalization() accepts
    for w in GROUP_WIDTHS:
        try:
            groups.append([w, normalization(w).num_groups])
        except AssertionError:
            pass
    ref = {"generator": "trainer/reference/coqui_model.py (npm run reference:model)", "versions": versions(),
           "clip": {"path": CLIP, "sha256": clip_sha}, "vocab_sha256": vocab_sha, "text": TEXT, "language": LANGUAGE,
           "voice": VOICE, "steps": STEPS,
           "decode": "Xtts.inference(temperature=1, top_k=1, top_p=1, do_sample=False, max_new_tokens=steps)",
           "group_norm_groups": groups, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="coqui-model-") as work:
        for name, case in CASES.items():
            print(f"{name}: building Coqui's Xtts", file=sys.stderr)
            ref["cases"][name] = run_case(name, case, clip, vocab_path, out, work)
            print(f"{name}: codes {[r['codes'][:8] for r in ref['cases'][name]['greedy']]}", file=sys.stderr)
    with open(os.path.join(out, "reference.json"), "w") as f:
        # arrays of numbers on one line each
        f.write(re.sub(r"\[[-\d\s,.e\[\]]*\]", lambda m: re.sub(r"\s+", "", m.group(0)).replace(",", ", "),
                       json.dumps(ref, indent=1)) + "\n")


if __name__ == "__main__":
    main()
