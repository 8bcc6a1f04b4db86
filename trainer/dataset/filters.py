"""Every filter, each with a reason code; a clip is never removed without one.

"dropped" clips failed a measurable rule; "flagged" clips may well be fine but their text could
be wrong (the user's transcript or a second ASR pass disagrees), so they wait for the owner to
listen. Both stay in clips.json and wavs/ so they can be restored."""

from __future__ import annotations

import numpy as np

from .options import Options
from .text import match_words

HARD = ("AUDIO_UNREADABLE", "EMPTY_TEXT", "DURATION_OUT_OF_RANGE", "TEXT_TOO_LONG", "CLIPPING", "LONG_SILENCE", "NON_SPEECH", "DUPLICATE", "CPS_OUTLIER")
FLAGS = ("TRANSCRIPT_MISMATCH", "ASR_MISMATCH")
OVERLAP_S = 0.1  # a clip may reach a tenth of a second into a neighbouring fault


def overlaps(start: float, end: float, ranges: list[list[float]]) -> bool:
    return any(min(end, r[1]) - max(start, r[0]) > OVERLAP_S for r in ranges)


def touches(start: float, end: float, ranges: list[list[float]]) -> bool:
    """A range ends within OVERLAP_S before the clip starts, or starts within OVERLAP_S after it
    ends: the cut was made at the edge of that sound, not in a pause, so the clip's first or last
    word may have been spoken under it (a word half masked by a noise burst, cut where it ends)."""
    return any(0 <= start - r[1] < OVERLAP_S or 0 <= r[0] - end < OVERLAP_S for r in ranges)


def measure_faults(clip: dict, faults: dict, longest_silence: float, opts: Options) -> None:
    """Reasons known from the clip alone and its recording's fault ranges."""
    r = clip["reasons"]
    if not match_words(clip["text"]):
        r.append("EMPTY_TEXT")
    if not opts.min_s <= clip["duration_s"] <= opts.max_s:
        r.append("DURATION_OUT_OF_RANGE")
    if len(clip["normalized_text"]) > opts.max_chars:
        r.append("TEXT_TOO_LONG")
    s, e = clip["start_s"], clip["end_s"]
    if overlaps(s, e, faults.get("clipping", [])):
        r.append("CLIPPING")
    if longest_silence >= opts.long_silence_s:
        r.append("LONG_SILENCE")
    noisy = faults.get("noise", []) + faults.get("non_speech", [])
    if overlaps(s, e, noisy) or touches(s, e, noisy):
        r.append("NON_SPEECH")
    if overlaps(s, e, faults.get("transcript_mismatch", [])):
        r.append("TRANSCRIPT_MISMATCH")


def dataset_filters(clips: list[dict], opts: Options) -> dict:
    """Duplicates and characters-per-second outliers, judged over the clips still standing."""
    seen_text: dict[str, str] = {}
    seen_audio: dict[str, str] = {}
    for c in clips:
        if any(x in HARD for x in c["reasons"]):
            continue
        key = " ".join(match_words(c["text"]))
        if key in seen_text or c["audio_sha256"] in seen_audio:
            c["reasons"].append("DUPLICATE")
            c["duplicate_of"] = seen_text.get(key) or seen_audio.get(c["audio_sha256"])
            continue
        seen_text[key] = c["id"]
        seen_audio[c["audio_sha256"]] = c["id"]
    standing = [c for c in clips if not any(x in HARD for x in c["reasons"])]
    stats = {"cps_mean": None, "cps_std": None}
    if len(standing) >= 3:
        cps = np.array([c["cps"] for c in standing])
        mean, std = float(cps.mean()), float(cps.std())
        stats = {"cps_mean": round(mean, 3), "cps_std": round(std, 3)}
        for c in standing:
            z = (c["cps"] - mean) / std if std > 0 else 0.0
            c["cps_z"] = round(z, 3)
            if abs(z) > opts.cps_z:
                c["reasons"].append("CPS_OUTLIER")
    return stats


def settle(clips: list[dict]) -> None:
    for c in clips:
        r = c["reasons"]
        c["status"] = "dropped" if any(x in HARD for x in r) else "flagged" if r else "kept"


def split(clips: list[dict], opts: Options) -> None:
    kept = [c for c in clips if c["status"] == "kept"]
    for c in clips:
        c["split"] = None
    if not kept:
        return
    n_eval = int(round(len(kept) * opts.eval_fraction))
    if len(kept) >= 2:
        n_eval = min(len(kept) - 1, max(1, n_eval))
    order = np.random.default_rng(opts.seed + 1).permutation(len(kept))
    chosen = set(order[:n_eval].tolist())
    for k, c in enumerate(kept):
        c["split"] = "eval" if k in chosen else "train"
