"""Per-recording measurements on the 16 kHz signal: a level per 10 ms frame, which frames are
silent, long silences, noise (spectrally flat sound) and stretches of sound with no words.

Written here rather than taken from a library: the VAD that ships with faster-whisper (Silero)
answers "speech or not" but not "silence or noise", which the report must tell apart, and a
frame level plus spectral flatness is a few lines of numpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOP = 160  # 10 ms at 16 kHz
WIN = 400
FLAT_LEVEL = 0.42  # white noise measures ~0.56; voiced speech < 0.1; fricative-dense speech, median over 0.3 s, < 0.35
NOISE_MIN_S = 0.3
NONSPEECH_MIN_S = 1.0


@dataclass
class Analysis:
    level_db: np.ndarray  # per frame
    silent: np.ndarray  # bool per frame
    threshold_db: float
    long_silences: list[list[float]]
    noise: list[list[float]]
    speech_level_db: float

    def t2f(self, t: float) -> int:
        return int(round(t * 100))

    def longest_silence(self, start: float, end: float) -> float:
        """Longest silent run strictly inside [start, end], in seconds."""
        seg = self.silent[max(0, self.t2f(start)) : self.t2f(end)]
        return _longest_run(seg) / 100.0

    def pause(self, lo: float, hi: float) -> tuple[float, float]:
        """The longest silent stretch between lo and hi (s); if none, the quietest frame there."""
        a, b = max(0, self.t2f(lo)), min(self.silent.size, self.t2f(hi))
        if b <= a:
            return (lo + hi) / 2, (lo + hi) / 2
        seg = self.silent[a:b]
        best, best_len, i = -1, 0, 0
        while i < seg.size:
            if seg[i]:
                j = i
                while j < seg.size and seg[j]:
                    j += 1
                if j - i > best_len:
                    best, best_len = i, j - i
                i = j
            else:
                i += 1
        if best_len == 0:
            q = a + int(np.argmin(self.level_db[a:b]))
            return q / 100.0 + 0.005, q / 100.0 + 0.005
        # The pause is the whole silent stretch, even where it reaches past the search window
        # (ASR word times often stretch over a long silence): a cut then leaves all of it out.
        lo_f, hi_f = a + best, a + best + best_len
        while lo_f > 0 and self.silent[lo_f - 1]:
            lo_f -= 1
        while hi_f < self.silent.size and self.silent[hi_f]:
            hi_f += 1
        return lo_f / 100.0, hi_f / 100.0


def _longest_run(mask: np.ndarray) -> int:
    if mask.size == 0 or not mask.any():
        return 0
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    d = np.diff(padded)
    return int((np.flatnonzero(d == -1) - np.flatnonzero(d == 1)).max())


def _runs(mask: np.ndarray, min_frames: int) -> list[list[float]]:
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    d = np.diff(padded)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [[round(s / 100, 2), round(e / 100, 2)] for s, e in zip(starts, ends, strict=True) if e - s >= min_frames]


def _frames(audio16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = max(1, 1 + (audio16.size - WIN) // HOP) if audio16.size >= WIN else 1
    x = np.pad(audio16, (0, max(0, WIN + (n - 1) * HOP - audio16.size)))
    level = np.empty(n, np.float32)
    flat = np.empty(n, np.float32)
    window = np.hanning(WIN).astype(np.float32)
    block = 20000
    for s in range(0, n, block):
        idx = np.arange(s, min(n, s + block))[:, None] * HOP + np.arange(WIN)[None, :]
        fr = x[idx]
        level[s : s + block] = 10 * np.log10(np.mean(fr * fr, axis=1) + 1e-10)
        p = np.abs(np.fft.rfft(fr * window, axis=1))[:, 1:] ** 2 + 1e-12
        flat[s : s + block] = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)
    return level, flat


def analyze(audio16: np.ndarray, long_silence_s: float) -> Analysis:
    level, flat = _frames(audio16)
    speech = float(np.percentile(level, 95))
    floor = float(np.percentile(level, 10))
    # Relative to the recording's own level and noise floor: a quiet room and a hissy one differ.
    threshold = max(floor + 6.0, speech - 40.0, -70.0)
    silent = level < threshold
    # Flat spectra that persist are noise; a median over 0.3 s ignores single fricatives.
    k = 31
    padded = np.pad(flat, (k // 2, k // 2), mode="edge")
    smooth = np.median(np.lib.stride_tricks.sliding_window_view(padded, k), axis=1)
    noisy = (smooth > FLAT_LEVEL) & ~silent
    return Analysis(
        level_db=level,
        silent=silent,
        threshold_db=round(threshold, 2),
        long_silences=_runs(silent, int(long_silence_s * 100)),
        noise=_runs(noisy, int(NOISE_MIN_S * 100)),
        speech_level_db=round(speech, 2),
    )


def non_speech(an: Analysis, words: list[dict]) -> list[list[float]]:
    """Sound that lasts a while with no word on it: music, a cough, a door, a hum."""
    covered = np.zeros(an.silent.size, bool)
    for w in words:
        covered[max(0, an.t2f(w["start"]) - 20) : an.t2f(w["end"]) + 20] = True
    return _runs(~an.silent & ~covered, int(NONSPEECH_MIN_S * 100))
