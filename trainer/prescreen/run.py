"""Pre-screens rendered checkpoints: `python -m prescreen.run spec.json`.

The spec: {"language", "asr": {AsrOptions}, "speaker_cps": number | null,
"references": [real recordings of the speaker], "items": [{"group", "sentence", "seed", "text", "path"}]}.
Emits progress events and a final `done` event whose report holds every item's scores, each group's
(checkpoint's) summary and the CPU seconds spent."""

from __future__ import annotations

import json
import time

import numpy as np

from dataset.asr import FasterWhisper
from dataset.decode import decode
from dataset.events import UserError, emit, run_main
from dataset.options import AsrOptions, check_language

from .score import RATE, active_frames, chars_of, embedding, mfcc_frames, score_item, similarity, summarize


def _load(path: str, name: str) -> np.ndarray:
    try:
        return decode(path, name, RATE).audio16
    except UserError as e:
        if e.code == "AUDIO_EMPTY":  # a rendering of (almost) nothing is scored as silence
            return np.zeros(RATE // 10, np.float32)
        raise


def _speaker_cps(refs: list[tuple[np.ndarray, str]]) -> float | None:
    chars = spans = 0.0
    for audio, text in refs:
        idx = np.flatnonzero(active_frames(audio))
        if idx.size and text:
            chars += chars_of(text)
            spans += (idx[-1] + 1 - idx[0]) * 320 / RATE
    return chars / spans if spans > 0 else None


def main(argv: list[str]) -> dict:
    if len(argv) != 1:
        raise UserError("USAGE", None, "usage: python -m prescreen.run spec.json")
    with open(argv[0], encoding="utf-8") as f:
        spec = json.load(f)
    language = check_language(spec.get("language", "en"))
    cpu0, wall0 = time.process_time(), time.monotonic()
    asr_raw = {k: v for k, v in (spec.get("asr") or {}).items() if k in AsrOptions.__dataclass_fields__}
    # Greedy decoding by default: about twice as fast as beam 5 on a CPU, and a pre-screen looks
    # for gross faults, where the beam changes nothing.
    opts = AsrOptions(**{"model": "tiny.en-bundled", "beam_size": 1, **asr_raw})
    if opts.backend != "faster-whisper":
        raise UserError("PRESCREEN_ASR", None, "The pre-screen transcribes with faster-whisper only.")
    asr = FasterWhisper(opts, language)  # check_language gave Whisper's code (zh-cn → zh)
    load_cpu = time.process_time() - cpu0
    refs = [(_load(r["path"], r["path"]), r.get("text", "")) for r in spec.get("references", [])]
    cps = spec.get("speaker_cps") or _speaker_cps(refs)
    ref_frames = [mfcc_frames(a) for a, _ in refs]
    ref_emb = embedding(np.concatenate(ref_frames)) if ref_frames else None

    items = spec["items"]
    scored: list[dict] = []
    embs: list[np.ndarray | None] = []
    score_cpu = 0.0
    for k, it in enumerate(items):
        c0 = time.process_time()
        audio = _load(it["path"], it["path"])
        words = asr.transcribe(audio)
        s = score_item(audio, it["text"], words)
        embs.append(embedding(mfcc_frames(audio)) if not s["silent"] else None)
        score_cpu += time.process_time() - c0
        scored.append({"group": it["group"], "sentence": it.get("sentence", k), "seed": it.get("seed"), **s})
        emit({"event": "progress", "stage": "prescreen", "fraction": round((k + 1) / len(items), 4), "message": f"{k + 1}/{len(items)}"})
    # One scale for every embedding dimension: its spread over everything scored here.
    all_embs = [e for e in [*embs, ref_emb] if e is not None]
    scale = np.std(np.stack(all_embs), axis=0) + 1e-6 if len(all_embs) > 1 else None
    for s, e in zip(scored, embs):
        sim = similarity(e, ref_emb, scale) if scale is not None else None
        s["speaker_sim"] = round(sim, 4) if sim is not None else None
    groups: dict[str, list[dict]] = {}
    for s in scored:
        groups.setdefault(s["group"], []).append(s)
    return {
        "asr": asr.name,
        "device": asr.device,
        "speaker_embedding": "mfcc-stats",
        "speaker_cps": round(cps, 3) if cps else None,
        "groups": {g: summarize(v, cps) for g, v in groups.items()},
        "items": scored,
        "cpu_s": {"model_load": round(load_cpu, 3), "scoring": round(score_cpu, 3), "per_item": round(score_cpu / max(1, len(items)), 4)},
        "wall_s": round(time.monotonic() - wall0, 3),
        "threads": asr.cpu_threads,
    }


if __name__ == "__main__":
    run_main(main)
