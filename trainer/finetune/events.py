"""One JSON object per line on stdout, and nothing else there: the TypeScript worker parses every
line. Everything else the process or its libraries print is sent to stderr (see train.py)."""
import json
import math
import sys

_OUT = sys.stdout


def claim_stdout() -> None:
    """Keeps the real stdout for events and points sys.stdout at stderr for everybody else."""
    global _OUT
    _OUT = sys.stdout
    sys.stdout = sys.stderr


def _clean(v):
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else round(v, 7)
    return v


def emit(event: str, **fields) -> None:
    _OUT.write(json.dumps({"event": event, **{k: _clean(v) for k, v in fields.items()}}) + "\n")
    _OUT.flush()
