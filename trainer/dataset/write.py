"""Writing the dataset: PCM16 WAVs, LJSpeech metadata, clips.json, report.json; and the
directory swap that makes a build appear complete or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import wave

import numpy as np


def partial_dir(out_dir: str) -> str:
    return out_dir.rstrip("/") + ".partial"


def fresh_partial(out_dir: str) -> str:
    p = partial_dir(out_dir)
    if os.path.exists(p):  # left by a killed build: never resumed from, always rebuilt
        shutil.rmtree(p)
    os.makedirs(os.path.join(p, "wavs"))
    return p


def remove_partial(out_dir: str) -> None:
    shutil.rmtree(partial_dir(out_dir), ignore_errors=True)


def publish(out_dir: str) -> None:
    p = partial_dir(out_dir)
    if os.path.exists(out_dir):
        old = out_dir.rstrip("/") + f".old-{os.getpid()}"
        os.rename(out_dir, old)
        os.rename(p, out_dir)
        shutil.rmtree(old)
    else:
        os.rename(p, out_dir)


def write_wav(path: str, pcm: np.ndarray, rate: int) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def _line(c: dict) -> str:
    return f"{c['id']}|{c['text']}|{c['normalized_text']}\n"


def write_tables(root: str, clips: list[dict]) -> None:
    kept = [c for c in clips if c["status"] == "kept"]
    for name, rows in (
        ("metadata.csv", kept),
        ("metadata_train.csv", [c for c in kept if c["split"] == "train"]),
        ("metadata_eval.csv", [c for c in kept if c["split"] == "eval"]),
    ):
        with open(os.path.join(root, name), "w", encoding="utf-8", newline="") as f:
            f.writelines(_line(c) for c in rows)
    public = [{k: v for k, v in c.items() if k != "audio_sha256"} for c in clips]
    dump_json(os.path.join(root, "clips.json"), public)


def dump_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1)
        os.replace(tmp, path)
    except BaseException:
        # Nothing half-written stays: the target is untouched and the partial file goes.
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def summarize(clips: list[dict]) -> dict:
    by_reason: dict[str, dict] = {}
    for c in clips:
        for r in c["reasons"]:
            e = by_reason.setdefault(r, {"clips": 0, "seconds": 0.0})
            e["clips"] += 1
            e["seconds"] = round(e["seconds"] + c["duration_s"], 3)
    secs = {s: sum(c["duration_s"] for c in clips if c["status"] == s) for s in ("kept", "dropped", "flagged")}
    kept = [c for c in clips if c["status"] == "kept"]
    return {
        "clips": len(clips),
        "kept": len(kept),
        "dropped": sum(c["status"] == "dropped" for c in clips),
        "flagged": sum(c["status"] == "flagged" for c in clips),
        "train": sum(c["split"] == "train" for c in clips),
        "eval": sum(c["split"] == "eval" for c in clips),
        "hours_kept": round(secs["kept"] / 3600, 4),
        "hours_dropped": round(secs["dropped"] / 3600, 4),
        "hours_flagged": round(secs["flagged"] / 3600, 4),
        "reasons": by_reason,
        "durations_s": [c["duration_s"] for c in kept],
        "cps": [c["cps"] for c in kept],
    }
