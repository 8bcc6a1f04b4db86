"""Aligning a user's own transcript to the ASR's timed words.

The user's words are trusted for spelling and punctuation, the ASR's for timing. Matching runs
over normalised word forms with difflib's SequenceMatcher (longest matching blocks, then the
gaps between them); unmatched user words take times spread over the ASR words they replace.
Where several words in a row disagree, the audio and the text tell different stories: that
stretch is returned as a mismatch, so clips over it are flagged rather than trusted."""

from __future__ import annotations

from difflib import SequenceMatcher

from .text import match_form

MISMATCH_WORDS = 3  # one misheard word is ASR noise; three in a row is a different text


def align(user_text: str, asr_words: list[dict]) -> tuple[list[dict], list[list[float]]]:
    tokens = [t for t in user_text.split() if match_form(t)]
    a = [match_form(t) for t in tokens]
    b = [match_form(w["text"]) for w in asr_words]
    out: list[dict] = [{"text": t, "start": 0.0, "end": 0.0, "matched": False} for t in tokens]
    bad_asr = [False] * len(asr_words)
    sm = SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            for k in range(i2 - i1):
                w = asr_words[j1 + k]
                out[i1 + k].update(start=w["start"], end=w["end"], matched=True)
            continue
        for j in range(j1, j2):
            bad_asr[j] = True
        if i2 == i1:
            continue
        if j2 > j1:
            lo, hi = asr_words[j1]["start"], asr_words[j2 - 1]["end"]
        else:
            lo = asr_words[j1 - 1]["end"] if j1 > 0 else 0.0
            hi = asr_words[j1]["start"] if j1 < len(asr_words) else lo
        weights = [max(1, len(a[i])) for i in range(i1, i2)]
        total, acc = sum(weights), 0
        for k, i in enumerate(range(i1, i2)):
            s = lo + (hi - lo) * acc / total
            acc += weights[k]
            out[i].update(start=round(s, 3), end=round(lo + (hi - lo) * acc / total, 3))
    return out, _mismatches(out, asr_words, bad_asr)


def _runs(flags: list[bool], spans: list[tuple[float, float]]) -> list[list[float]]:
    strict, i = [], 0
    while i < len(flags):
        j = i
        while j < len(flags) and flags[j]:
            j += 1
        if j - i >= 2:  # a lone differing word is ASR noise or a spelling variant
            strict.append([i, j])
        i = max(j, i + 1)
    groups: list[list[int]] = []
    for a, b in strict:
        # Runs split by one matching word ("the", "a") are one stretch of different text.
        if groups and a - groups[-1][1] <= 1:
            groups[-1][1] = b
            groups[-1][2] += b - a
        else:
            groups.append([a, b, b - a])
    return [[round(spans[a][0], 3), round(spans[b - 1][1], 3)] for a, b, bad in groups if bad >= MISMATCH_WORDS]


def _mismatches(user: list[dict], asr: list[dict], bad_asr: list[bool]) -> list[list[float]]:
    ranges = _runs([not w["matched"] for w in user], [(w["start"], w["end"]) for w in user])
    ranges += _runs(bad_asr, [(w["start"], w["end"]) for w in asr])
    ranges.sort()
    merged: list[list[float]] = []
    for r in ranges:
        if merged and r[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], r[1])
        else:
            merged.append(list(r))
    return merged
