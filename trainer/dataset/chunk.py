"""The two chunkers of the XTTS paper, over one recording's timed words.

Both return spans of whole words. Cut points are then placed in the audio: the longest silent
stretch near the ASR's word boundary (ASR word times are only good to a tenth of a second or
so), with up to pad_s of that silence kept on each side and never more than half of it, so a
clip never reaches into its neighbour's word."""

from __future__ import annotations

import numpy as np

from .analyze import Analysis
from .options import Options
from .text import ends_sentence

MIN_GAP = 0.04  # the statistical chunker prefers real pauses to touching word timestamps


def _est(words: list[dict], i: int, j: int, pad: float) -> float:
    return words[j]["end"] - words[i]["start"] + 2 * pad


def _forced(words: list[dict], j: int, opts: Options) -> bool:
    """A break after word j that every chunker honours: a long silence in between."""
    return j + 1 < len(words) and words[j + 1]["start"] - words[j]["end"] >= opts.long_silence_s


def _split_long(words: list[dict], i: int, j: int, opts: Options, limit: float) -> list[tuple[int, int]]:
    if i == j or _est(words, i, j, opts.pad_s) <= limit:
        return [(i, j)]
    mid = (words[i]["start"] + words[j]["end"]) / 2
    span = words[j]["end"] - words[i]["start"]

    def score(k: int) -> float:
        gap = words[k + 1]["start"] - words[k]["end"]
        comma = 0.3 if words[k]["text"].rstrip().endswith((",", ";", ":", "\u3001", "\uff0c")) else 0.0
        return gap + comma - 0.5 * abs(words[k]["end"] - mid) / max(span, 1e-6)

    k = max(range(i, j), key=score)
    return _split_long(words, i, k, opts, limit) + _split_long(words, k + 1, j, opts, limit)


def sentence_spans(words: list[dict], opts: Options, language: str) -> list[tuple[int, int]]:
    limit = opts.max_s - 0.05
    units: list[tuple[int, int]] = []
    start = 0
    for j, w in enumerate(words):
        if j == len(words) - 1 or ends_sentence(w["text"], language) or _forced(words, j, opts):
            units += _split_long(words, start, j, opts, limit)
            start = j + 1
    spans: list[tuple[int, int]] = []
    for i, j in units:
        if spans:
            a, b = spans[-1]
            if not _forced(words, b, opts) and _est(words, a, j, opts.pad_s) <= limit:
                spans[-1] = (a, j)
                continue
        spans.append((i, j))
    return spans


def _draw(rng: np.random.Generator, opts: Options) -> float:
    mean, sd = (opts.min_s + opts.max_s) / 2, (opts.max_s - opts.min_s) / 4
    while True:  # truncation by rejection: the kept draws follow the truncated normal exactly
        d = float(rng.normal(mean, sd))
        if opts.min_s <= d <= opts.max_s:
            return d


def statistical_spans(words: list[dict], opts: Options, rng: np.random.Generator) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i, n = 0, len(words)
    while i < n:
        target = _draw(rng, opts)
        best, best_cost = i, float("inf")
        for j in range(i, n):
            est = _est(words, i, j, opts.pad_s)
            if est > opts.max_s - 0.05 and j > i:
                break
            gap = words[j + 1]["start"] - words[j]["end"] if j + 1 < n else 1.0
            cost = abs(est - target) + (0.0 if gap >= MIN_GAP else 1.0)
            if cost < best_cost:
                best, best_cost = j, cost
            if _forced(words, j, opts):
                break
        spans.append((i, best))
        i = best + 1
    return spans


def _cut(words: list[dict], j: int, an: Analysis, dur: float) -> tuple[float, float]:
    """The pause after word j (before word j+1), as found in the audio near the ASR's times."""
    a = words[j] if j >= 0 else None
    b = words[j + 1] if j + 1 < len(words) else None
    lo = max((a["start"] + a["end"]) / 2, a["end"] - 0.25) if a else max(0.0, b["start"] - 1.0)
    hi = min((b["start"] + b["end"]) / 2, b["start"] + 0.25) if b else min(dur, a["end"] + 1.0)
    return an.pause(lo, hi)


def place(words: list[dict], spans: list[tuple[int, int]], an: Analysis, opts: Options, dur: float) -> list[tuple[float, float]]:
    """Clip start and end times (s) for word spans. Neighbouring clips share the pause between
    them, and each keeps at most pad_s of it and never more than half."""
    pauses = {j: _cut(words, j, an, dur) for i, k in spans for j in (i - 1, k)}
    out = []
    for i, k in spans:
        p0, p1 = pauses[i - 1]
        q0, q1 = pauses[k]
        start = max(p1 - opts.pad_s, (p0 + p1) / 2, 0.0)
        end = min(q0 + opts.pad_s, (q0 + q1) / 2, dur)
        out.append((round(start, 3), round(max(end, start), 3)))
    return out
