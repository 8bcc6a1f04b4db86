"""Scores one rendered utterance against its text, and sums a checkpoint's utterances up.

Every measure is computed from the audio and the text alone, so the same code scores planted
faults (the bench) and a run's checkpoints (the listening test's own stimuli)."""

from __future__ import annotations

import unicodedata

import numpy as np

from dataset.text import match_words, word_errors

RATE = 16000
FRAME = 320  # 20 ms frames for the energy measures
# A frame is speech-like when it is within this many dB of the utterance's loud frames (95th
# percentile) and above an absolute floor; one rule for quiet and loud renderings alike.
ACTIVE_BELOW_PEAK_DB = 35.0
ACTIVE_FLOOR_DBFS = -55.0
# Sound continuing this long after the last transcribed word is an end-of-utterance fault
# (babble, noise, a sentence that does not stop); natural release and breath fit well inside.
TRAILING_FAULT_S = 0.6
# Less than this much speech-like sound in a rendering counts as silence.
SILENT_SPEECH_S = 0.25


def chars_of(text: str) -> int:
    """Letters and digits: what a speaking rate is counted in (punctuation and spaces are not spoken)."""
    return sum(1 for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch)[0] in "LN")


def frame_db(x: np.ndarray) -> np.ndarray:
    n = x.size // FRAME
    if n == 0:
        return np.full(1, -120.0)
    f = x[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def active_frames(x: np.ndarray) -> np.ndarray:
    db = frame_db(x)
    level = np.percentile(db, 95)
    return (db > level - ACTIVE_BELOW_PEAK_DB) & (db > ACTIVE_FLOOR_DBFS)


def _align_ends(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """Words missing at the end of the reference and extra words after it, from a Levenshtein
    alignment (an end matched last is preferred, so a trailing insertion counts as extra)."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    i, j = n, m
    missing = extra = 0
    tail = True
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]) and ref[i - 1] == hyp[j - 1]:
            tail = False
            i, j = i - 1, j - 1
        elif j > 0 and d[i, j] == d[i, j - 1] + 1:
            extra += tail
            j -= 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            missing += tail
            i -= 1
        else:  # substitution
            tail = False
            i, j = i - 1, j - 1
    return missing, extra


def repeats(words: list[str]) -> int:
    """Immediately repeated n-grams (n = 1..3): 'the end the end'."""
    count = 0
    for n in (1, 2, 3):
        for i in range(len(words) - 2 * n + 1):
            if words[i : i + n] == words[i + n : i + 2 * n]:
                count += 1
    return count


def cer(ref: list[str], hyp: list[str]) -> float:
    r, h = list("".join(ref)), list("".join(hyp))
    if not r:
        return 0.0 if not h else 1.0
    return min(1.0, word_errors(r, h) / len(r))


# --- speaker embedding --------------------------------------------------------------------
# MFCC statistics (mean and standard deviation of cepstral coefficients 1-19 over speech
# frames). The model package's speaker encoder is the better measure once real weights are
# there, but the studio's test package has random weights, which cannot tell voices apart, and
# the package's encoder runs only inside the TypeScript engine; MFCC statistics need nothing but
# numpy, separate voices with different timbre and pitch, and are documented as such.
_N_FFT = 512
_HOP = 160
_N_MELS = 40
_N_CEPS = 20


def _mel_bank() -> np.ndarray:
    def hz_to_mel(f):
        return 2595 * np.log10(1 + f / 700)

    mels = np.linspace(hz_to_mel(60), hz_to_mel(7600), _N_MELS + 2)
    hz = 700 * (10 ** (mels / 2595) - 1)
    bins = np.floor((_N_FFT + 1) * hz / RATE).astype(int)
    bank = np.zeros((_N_MELS, _N_FFT // 2 + 1))
    for k in range(1, _N_MELS + 1):
        lo, c, hi = bins[k - 1], bins[k], bins[k + 1]
        for b in range(lo, c):
            bank[k - 1, b] = (b - lo) / max(1, c - lo)
        for b in range(c, hi):
            bank[k - 1, b] = (hi - b) / max(1, hi - c)
    return bank


_BANK = _mel_bank()
_DCT = np.cos(np.pi / _N_MELS * (np.arange(_N_MELS) + 0.5)[None, :] * np.arange(_N_CEPS)[:, None])


def mfcc_frames(x: np.ndarray) -> np.ndarray:
    if x.size < _N_FFT:
        return np.zeros((0, _N_CEPS - 1))
    n = 1 + (x.size - _N_FFT) // _HOP
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(n)[:, None]
    frames = x[idx] * np.hanning(_N_FFT)[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = 10 * np.log10(power.sum(axis=1) + 1e-10)
    keep = energy > np.percentile(energy, 95) - 30  # speech frames only: silence has no timbre
    logmel = np.log(power[keep] @ _BANK.T + 1e-10)
    return (logmel @ _DCT.T)[:, 1:]


def embedding(frames: np.ndarray) -> np.ndarray | None:
    if frames.shape[0] < 20:
        return None
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)])


def similarity(a: np.ndarray | None, b: np.ndarray | None, scale: np.ndarray) -> float | None:
    """Cosine between two embeddings after dividing each dimension by a common scale (the
    spread of that dimension over all scored audio), so no coefficient dominates by its size."""
    if a is None or b is None:
        return None
    u, v = a / scale, b / scale
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))


def score_item(audio16: np.ndarray, text: str, words: list[dict]) -> dict:
    dur = audio16.size / RATE
    act = active_frames(audio16)
    speech_s = float(act.sum() * FRAME / RATE)
    idx = np.flatnonzero(act)
    first = float(idx[0] * FRAME / RATE) if idx.size else 0.0
    last = float((idx[-1] + 1) * FRAME / RATE) if idx.size else 0.0
    ref = match_words(text)
    hyp = match_words(" ".join(w["text"] for w in words))
    missing, extra = _align_ends(ref, hyp)
    core = hyp[: len(hyp) - extra]  # words after the text are end faults, not misheard words
    # The end of the text's last word: extra words after it are not part of the text.
    timed = [w for w in words if match_words(w["text"])]
    kept = timed[: max(0, len(timed) - extra)] if len(match_words(" ".join(w["text"] for w in timed))) == len(timed) else timed
    last_word_end = max((w["end"] for w in kept), default=None)
    any_word_end = max((w["end"] for w in words), default=None)
    trailing = max(0.0, last - any_word_end) if any_word_end is not None else (last - first if idx.size else 0.0)
    # The final word: missing or misheard (Whisper completes a truncated word into another one).
    final_wrong = bool(ref) and (missing > 0 or not core or core[-1] != ref[-1])
    # Audio that stops inside speech: the last word reaches the end and the last 60 ms are sound.
    abrupt = bool(idx.size) and extra == 0 and any_word_end is not None and dur - any_word_end < 0.15 and bool(act[-3:].all())
    # How long the text took: first sound to the end of the last word (sound after it is an end fault).
    spoken = (min(last, last_word_end + 0.1) - first) if last_word_end is not None else (last - first)
    return {
        "duration_s": round(dur, 3),
        "speech_s": round(speech_s, 3),
        "span_s": round(max(0.0, spoken), 3),
        # First sound to last, whatever was heard in it: the length a transcript cannot vouch for.
        "sound_s": round(last - first, 3),
        "transcript": " ".join(w["text"] for w in words),
        "wer": round(word_errors(ref, core) / max(1, len(ref)), 4),
        "cer": round(cer(ref, core), 4),
        "missing_final": int(missing),
        "final_wrong": bool(final_wrong),
        "abrupt_end": bool(abrupt),
        "extra_final": int(extra),
        "repeats": max(0, repeats(hyp) - repeats(ref)),
        "trailing_s": round(trailing, 3),
        "silent": bool(speech_s < SILENT_SPEECH_S),
        "chars": chars_of(text),
    }


def summarize(items: list[dict], cps: float | None) -> dict:
    """A checkpoint's scores: means and shares over its utterances (see README, pre-screen)."""
    n = len(items)
    if n == 0:
        return {"n": 0}
    voiced = [it for it in items if not it["silent"]]

    def share(pred) -> float:
        return round(sum(1 for it in items if pred(it)) / n, 4)

    ratios = [it["span_s"] / (it["chars"] / cps) for it in voiced if cps and it["chars"] > 0]
    sound = [it["sound_s"] / (it["chars"] / cps) for it in voiced if cps and it["chars"] > 0 and "sound_s" in it]
    sims = [it["speaker_sim"] for it in voiced if it.get("speaker_sim") is not None]
    return {
        "n": n,
        "wer": round(float(np.mean([it["wer"] for it in items])), 4),
        "cer": round(float(np.mean([it["cer"] for it in items])), 4),
        "silent_share": share(lambda it: it["silent"]),
        # Sound after the last word, extra words or a repeated phrase at the end.
        "end_fault_share": share(
            lambda it: not it["silent"] and (it["trailing_s"] > TRAILING_FAULT_S or it["extra_final"] > 0 or it["repeats"] > 0)
        ),
        # The final word missing or misheard, or the audio stopping inside speech.
        "missing_final_share": share(lambda it: not it["silent"] and (it["final_wrong"] or it["abrupt_end"])),
        "duration_ratio": round(float(np.median(ratios)), 4) if ratios else None,
        # The same from the sound alone (first to last speech-like frame), for references the
        # transcriber cannot hear.
        "sound_ratio": round(float(np.median(sound)), 4) if sound else None,
        "speaker_sim": round(float(np.mean(sims)), 4) if sims else None,
        "seed_cer_spread": _seed_spread(items),
    }


def _seed_spread(items: list[dict]) -> float | None:
    """Mean over sentences of the CER's standard deviation across seeds (when a sentence was
    rendered with several seeds); None when every sentence has one rendering."""
    by: dict[int, list[float]] = {}
    for it in items:
        by.setdefault(it.get("sentence", 0), []).append(it["cer"])
    spreads = [float(np.std(v)) for v in by.values() if len(v) > 1]
    return round(float(np.mean(spreads)), 4) if spreads else None
