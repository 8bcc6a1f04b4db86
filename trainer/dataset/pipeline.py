"""What the recording builder and the LJSpeech importer share: turning a span of audio into a
measured clip on disk, and the dataset-wide filters, split and tables."""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np

from . import filters
from .decode import ASR_RATE
from .events import Progress
from .loudness import normalize
from .options import Options
from .text import normalized, wer
from .write import summarize, write_tables, write_wav

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_id(s: str) -> str:
    return _UNSAFE.sub("-", s).strip("-") or "clip"


def make_clip(root: str, clip_id: str, recording: str, start: float, end: float, text: str, audio: np.ndarray, opts: Options) -> dict:
    sr = opts.sample_rate
    seg = audio[int(round(start * sr)) : int(round(end * sr))]
    pcm, lv = normalize(seg, opts.target_dbfs, opts.peak_ceiling_dbfs, sr)
    rel = f"wavs/{clip_id}.wav"
    write_wav(os.path.join(root, rel), pcm, sr)
    dur = round(pcm.size / sr, 3)
    norm = normalized(text)
    return {
        "id": clip_id, "file": rel, "recording": recording, "start_s": round(start, 3), "end_s": round(end, 3),
        "duration_s": dur, "text": normalized(text), "normalized_text": norm,
        "cps": round(len(norm) / dur, 3) if dur > 0 else 0.0,
        "loudness_dbfs": lv["loudness_dbfs"], "peak_dbfs": lv["peak_dbfs"], "gain_db": lv["gain_db"],
        "limited_db": lv["limited_db"], "status": "kept", "reasons": [], "split": None, "wer": None,
        "audio_sha256": hashlib.sha256(pcm.tobytes()).hexdigest(),
    }  # fmt: skip


def recheck(clips: list[dict], audio16_of, asr, opts: Options, progress: Progress) -> None:
    """Second opinion: transcribe each finished clip alone and compare with its text."""
    todo = [c for c in clips if c["status"] != "dropped"]
    for k, c in enumerate(todo):
        a16 = audio16_of(c)
        if a16 is None:
            continue
        c["wer"] = round(wer(c["text"], asr.text(a16)), 3)
        if c["wer"] > opts.recheck_wer:
            c["reasons"].append("ASR_MISMATCH")
        progress.update("filter", 0.1 + 0.8 * (k + 1) / max(1, len(todo)), f"re-transcribed {k + 1}/{len(todo)} clips")


def finish(root: str, clips: list[dict], opts: Options, progress: Progress, asr=None, audio16_of=None) -> dict:
    progress.update("filter", 0.0, "filtering", force=True)
    stats = filters.dataset_filters(clips, opts)
    filters.settle(clips)
    if opts.recheck_wer is not None and asr is not None:
        recheck(clips, audio16_of, asr, opts, progress)
        filters.settle(clips)
    filters.split(clips, opts)
    write_tables(root, clips)
    progress.update("filter", 1.0, "dataset written", force=True)
    return {**summarize(clips), **stats}


def slice16(audio16: np.ndarray, c: dict) -> np.ndarray:
    return audio16[int(c["start_s"] * ASR_RATE) : int(c["end_s"] * ASR_RATE)]
