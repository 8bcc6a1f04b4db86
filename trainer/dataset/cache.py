"""The work_dir cache that lets a restarted build skip finished decodes and transcriptions.
Keys are the recording's content hash plus every setting that changes the result; entries are
written to a temporary name and renamed, so a killed worker never leaves a half entry."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

VERSION = "2"  # bump when decode or ASR output changes meaning


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def key(*parts) -> str:
    return hashlib.sha256(json.dumps([VERSION, *parts], sort_keys=True).encode()).hexdigest()[:32]


class Cache:
    def __init__(self, work_dir: str):
        self.dir = os.path.join(work_dir, "cache")
        os.makedirs(self.dir, exist_ok=True)

    def _p(self, k: str, ext: str) -> str:
        return os.path.join(self.dir, f"{k}.{ext}")

    def get_json(self, k: str):
        try:
            with open(self._p(k, "json"), encoding="utf-8") as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def put_json(self, k: str, obj) -> None:
        tmp = self._p(k, f"json.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
        os.replace(tmp, self._p(k, "json"))

    def get_arrays(self, k: str) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self._p(k, "npz")) as z:
                return {name: z[name] for name in z.files}
        except (FileNotFoundError, ValueError, OSError):
            return None

    def put_arrays(self, k: str, **arrays: np.ndarray) -> None:
        tmp = self._p(k, f"{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, self._p(k, "npz"))
