"""The builder's only output channel: one JSON object per line on stdout.

Exit codes: 0 done, 2 a problem with the user's input (an "error" event says which file and
why), 1 a crash (traceback on stderr). Progress fractions are of the whole build, so a
progress bar can use them directly; stage weights are rough shares of a typical build's time.
"""

from __future__ import annotations

import errno
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

STAGE_WEIGHTS = {"decode": 0.08, "transcribe": 0.6, "align": 0.02, "chunk": 0.02, "write": 0.2, "filter": 0.08}
_ORDER = list(STAGE_WEIGHTS)


class UserError(Exception):
    def __init__(self, code: str, file: str | None, message: str):
        super().__init__(message)
        self.code = code
        self.file = file
        self.message = message


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class Progress:
    def __init__(self, min_interval_s: float = 0.25):
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._done = 0.0
        self.timings: dict[str, float] = {}
        self._stage_started: dict[str, float] = {}

    def update(self, stage: str, within: float, message: str = "", force: bool = False) -> None:
        """within: how far the current stage is, 0..1."""
        if stage not in self._stage_started:
            self._stage_started[stage] = time.monotonic()
        now = time.monotonic()
        self.timings[stage] = round(now - self._stage_started[stage], 3)
        before = sum(STAGE_WEIGHTS[s] for s in _ORDER[: _ORDER.index(stage)])
        frac = min(1.0, before + STAGE_WEIGHTS[stage] * max(0.0, min(1.0, within)))
        # Never step backwards: a stage skipped by the cache jumps forward, never back.
        frac = max(frac, self._done)
        if not force and now - self._last < self.min_interval_s and within < 1.0:
            return
        self._last = now
        self._done = frac
        emit({"event": "progress", "stage": stage, "fraction": round(frac, 4), "message": message})


def run_main(body: Callable[[list[str]], dict[str, Any]], cleanup: Callable[[], None] | None = None) -> None:
    try:
        report = body(sys.argv[1:])
    except UserError as e:
        if cleanup:
            cleanup()
        emit({"event": "error", "code": e.code, "file": e.file, "message": e.message})
        sys.exit(2)
    except OSError as e:
        if cleanup:
            cleanup()
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            emit({"event": "error", "code": "DISK_FULL", "file": None, "message": f"The disk is full: {e}."})
            sys.exit(2)
        traceback.print_exc()
        sys.exit(1)
    except BaseException:
        if cleanup:
            cleanup()
        traceback.print_exc()
        sys.exit(1)
    emit({"event": "done", "report": report})
    sys.exit(0)
