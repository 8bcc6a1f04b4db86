"""python -m dataset.build SPEC.json: a speaker's long recordings to an LJSpeech dataset.
Events go to stdout, one JSON object per line (see events.py)."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from . import cache as cachemod
from .align import align
from .analyze import analyze, non_speech
from .chunk import place, sentence_spans, statistical_spans
from .decode import ASR_RATE, Decoded, decode
from .events import Progress, UserError, run_main
from .filters import measure_faults
from .options import Options, check_language, parse_options
from .pipeline import finish, make_clip, safe_id, slice16
from .write import dump_json, fresh_partial, publish, remove_partial

_out_dir: str | None = None


def load_spec(argv: list[str]) -> dict:
    if len(argv) != 1:
        raise UserError("SPEC_INVALID", None, "Usage: python -m dataset.build SPEC.json")
    try:
        with open(argv[0], encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise UserError("SPEC_INVALID", None, f"The build spec cannot be read: {e}.") from e
    for k in ("out_dir", "work_dir", "language"):
        if not isinstance(spec.get(k), str):
            raise UserError("SPEC_INVALID", None, f"The build spec needs '{k}'.")
    return spec


def _decoded(rec: dict, cache: cachemod.Cache, opts: Options, progress: Progress, share: tuple[float, float]) -> tuple[Decoded, str, bool]:
    name = rec.get("name") or os.path.basename(rec["path"])
    if not os.path.isfile(rec["path"]):
        raise UserError("AUDIO_UNREADABLE", name, f"{name}: the file is missing.")
    digest = cachemod.file_sha256(rec["path"])
    k = cachemod.key("decode", digest, opts.sample_rate)
    hit, meta = cache.get_arrays(k), cache.get_json(k)
    if hit is not None and meta is not None:
        return Decoded(hit["audio"], hit["audio16"], opts.sample_rate, meta["info"], meta["clipping"]), digest, True
    d = decode(rec["path"], name, opts.sample_rate, lambda f: progress.update("decode", share[0] + f * share[1], f"decoding {name}"))
    cache.put_arrays(k, audio=d.audio, audio16=d.audio16)
    cache.put_json(k, {"info": d.info, "clipping": d.clipping})
    return d, digest, False


def build(argv: list[str]) -> dict:
    global _out_dir
    t0 = time.monotonic()
    spec = load_spec(argv)
    opts = parse_options(spec.get("options"))
    lang = spec["language"]
    whisper_lang = check_language(lang)
    recs = spec.get("recordings") or []
    if not recs:
        raise UserError("NO_RECORDINGS", None, "The build has no recordings.")
    chunker = spec.get("chunker", "sentence")
    if chunker not in ("sentence", "statistical"):
        raise UserError("SPEC_INVALID", None, "chunker must be 'sentence' or 'statistical'.")
    progress = Progress()
    cache = cachemod.Cache(spec["work_dir"])

    decoded = []
    for n, rec in enumerate(recs):
        d, digest, hit = _decoded(rec, cache, opts, progress, (n / len(recs), 1 / len(recs)))
        decoded.append((rec, d, digest, hit))
        progress.update("decode", (n + 1) / len(recs), f"decoded {rec.get('name')}", force=True)

    asr = None
    asr_key = {k: v for k, v in vars(opts.asr).items() if k != "api_key"}
    total_s = sum(d.audio16.size for _, d, _, _ in decoded) / ASR_RATE
    done_s = 0.0
    words_of = []
    asr_cached = []
    for rec, d, digest, _ in decoded:
        name = rec.get("name") or rec["id"]
        k = cachemod.key("asr", digest, asr_key, whisper_lang)
        words = cache.get_json(k)
        asr_cached.append(words is not None)
        dur = d.audio16.size / ASR_RATE
        if words is None:
            if asr is None:
                from .asr import make_asr

                asr = make_asr(opts.asr, whisper_lang)
            base = done_s
            words = asr.transcribe(d.audio16, lambda f, b=base, du=dur, nm=name: progress.update("transcribe", (b + f * du) / total_s, f"transcribing {nm}"))
            cache.put_json(k, words)
        done_s += dur
        words_of.append(words)
        progress.update("transcribe", done_s / total_s, f"transcribed {name}", force=True)
    if not any(words_of):
        raise UserError("NO_SPEECH", None, "No speech was found in any recording.")

    partial = fresh_partial(spec["out_dir"])
    _out_dir = spec["out_dir"]
    clips: list[dict] = []
    per_rec = []
    joiner = "" if lang in ("ja", "zh-cn") else " "
    for n, ((rec, d, digest, hit), words, asr_hit) in enumerate(zip(decoded, words_of, asr_cached, strict=True)):
        name = rec.get("name") or rec["id"]
        an = analyze(d.audio16, opts.long_silence_s)
        mismatch: list[list[float]] = []
        if rec.get("transcript"):
            aligned, mismatch = align(rec["transcript"], words)
            words = [{"text": w["text"], "start": w["start"], "end": w["end"]} for w in aligned]
        progress.update("align", (n + 1) / len(recs), f"aligned {name}")
        faults = {"clipping": d.clipping, "long_silence": an.long_silences, "noise": an.noise,
                  "non_speech": non_speech(an, words), "transcript_mismatch": mismatch}  # fmt: skip
        dur = d.audio.size / opts.sample_rate
        if chunker == "sentence":
            spans = sentence_spans(words, opts, lang)
        else:
            spans = statistical_spans(words, opts, np.random.default_rng([opts.seed, n]))
        times = place(words, spans, an, opts, dur)
        progress.update("chunk", (n + 1) / len(recs), f"cut {name} into {len(spans)} clips")
        rid = safe_id(str(rec["id"]))
        for k, ((i, j), (s, e)) in enumerate(zip(spans, times, strict=True)):
            text = joiner.join(w["text"] for w in words[i : j + 1])
            c = make_clip(partial, f"{rid}_{k:04d}", str(rec["id"]), s, e, text, d.audio, opts)
            measure_faults(c, faults, an.longest_silence(s, e), opts)
            clips.append(c)
            progress.update("write", (n + (k + 1) / len(spans)) / len(recs), f"{name}: clip {k + 1}/{len(spans)}")
        per_rec.append({
            "id": rec["id"], "name": name, **d.info, "sha256": digest, "decode_cached": hit, "transcript_cached": asr_hit, "words": len(words),
            "clips": len(spans), "silence_threshold_dbfs": an.threshold_db, "speech_level_dbfs": an.speech_level_db,
            "user_transcript": bool(rec.get("transcript")), "faults": faults,
        })  # fmt: skip

    audio16 = {rec["id"]: d.audio16 for rec, d, _, _ in decoded}
    summary = finish(partial, clips, opts, progress, asr=_lazy_asr(asr, opts, whisper_lang), audio16_of=lambda c: slice16(audio16[c["recording"]], c))
    for r in per_rec:
        mine = [c for c in clips if c["recording"] == str(r["id"])]
        r["kept"] = sum(c["status"] == "kept" for c in mine)
        r["hours_kept"] = round(sum(c["duration_s"] for c in mine if c["status"] == "kept") / 3600, 4)
    report = {
        **summary, "chunker": chunker, "language": lang, "options": opts.public(),
        "asr": {"backend": opts.asr.backend, "model": opts.asr.model, "device": getattr(asr, "device", None)},
        "recordings": per_rec, "hours_input": round(total_s / 3600, 4),
        "timings_s": {**progress.timings, "total": round(time.monotonic() - t0, 3)},
    }  # fmt: skip
    dump_json(os.path.join(partial, "report.json"), report)
    publish(spec["out_dir"])
    _out_dir = None
    return {k: v for k, v in report.items() if k not in ("durations_s", "cps")}


def _lazy_asr(asr, opts: Options, lang: str):
    if opts.recheck_wer is None:
        return None
    if asr is None:
        from .asr import make_asr

        asr = make_asr(opts.asr, lang)
    return asr


def _cleanup() -> None:
    if _out_dir:
        remove_partial(_out_dir)


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    run_main(build, _cleanup)
