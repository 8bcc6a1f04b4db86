"""Level each clip to an RMS target (what `sox -n stats` calls RMS lev dB), keeping peaks under a
ceiling with a look-ahead limiter.

The limiter is written here because none of the pinned packages has one that works on arrays
(FFmpeg's alimiter would need a filter graph round trip per clip): the gain each sample needs is
taken as a running minimum over a window and then smoothed with a shorter moving average, so the
smoothed gain never exceeds what any sample needs and peaks stay under the ceiling."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-10)))


def rms_db(x: np.ndarray) -> float:
    return db(float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))) if x.size else -200.0


def peak_db(x: np.ndarray) -> float:
    return db(float(np.max(np.abs(x)))) if x.size else -200.0


def _limit(x: np.ndarray, ceiling: float, rate: int) -> np.ndarray:
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(x), 1e-9))
    hold = max(3, int(0.005 * rate)) | 1
    smooth = max(1, hold // 2)
    padded = np.pad(need, (hold // 2, hold // 2), constant_values=1.0)
    held = sliding_window_view(padded, hold).min(axis=1)
    kernel = np.ones(smooth) / smooth
    gain = np.convolve(np.pad(held, (smooth // 2, smooth - 1 - smooth // 2), constant_values=1.0), kernel, "valid")
    return x * np.minimum(gain, need)  # the final minimum guards the smoothing's edges


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")


def normalize(x: np.ndarray, target_db: float, ceiling_db: float, rate: int) -> tuple[np.ndarray, dict]:
    """Returns PCM16 samples and what was done: gain, limiting, the level reached."""
    level = rms_db(x)
    if level < -90:
        pcm = to_pcm16(x)
        return pcm, {"gain_db": 0.0, "limited_db": 0.0, "loudness_dbfs": round(level, 2), "peak_dbfs": round(peak_db(x), 2)}
    ceiling = 10 ** (ceiling_db / 20)
    gain = 10 ** ((target_db - level) / 20)
    y = x * gain
    limited = 0.0
    # Limiting lowers the RMS a little; two more rounds of make-up gain bring it back on target.
    for _ in range(3):
        if np.max(np.abs(y)) > ceiling:
            before = np.max(np.abs(y))
            y = _limit(y, ceiling, rate)
            limited = max(limited, db(float(before)) - ceiling_db)
        err = target_db - rms_db(y)
        if abs(err) < 0.05:
            break
        y = y * 10 ** (err / 20)
    # The ceiling wins over the target: when the last make-up gain pushed a peak past it (a target
    # the signal's crest factor cannot reach under the ceiling), limit once more and end below target.
    if np.max(np.abs(y)) > ceiling:
        before = np.max(np.abs(y))
        y = _limit(y, ceiling, rate)
        limited = max(limited, db(float(before)) - ceiling_db)
    pcm = to_pcm16(np.clip(y, -1.0, 1.0))
    f = pcm.astype(np.float64) / 32768.0
    info = {
        "gain_db": round(target_db - level, 2), "limited_db": round(limited, 2),
        "loudness_dbfs": round(rms_db(f), 2), "peak_dbfs": round(peak_db(f), 2),
    }  # fmt: skip
    return pcm, info
