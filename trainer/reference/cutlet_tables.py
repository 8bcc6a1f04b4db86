"""cutlet's Hepburn table and word exceptions (cutlet is MIT-licensed) as JSON on stdout, for the
engine's Japanese romanisation (inference/text/dict/cutlet.json).

usage: python cutlet_tables.py > inference/text/dict/cutlet.json"""
import importlib.metadata
import json
import pathlib
import sys

import cutlet
from cutlet.mapping import HEPBURN

exceptions = {}
for line in (pathlib.Path(cutlet.__file__).parent / "exceptions.tsv").read_text(encoding="utf-8").splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        key, val = line.split("\t")
        exceptions[key] = val
json.dump({"cutlet": importlib.metadata.version("cutlet"), "hepburn": HEPBURN, "exceptions": exceptions},
          sys.stdout, ensure_ascii=False, indent=2)
sys.stdout.write("\n")
