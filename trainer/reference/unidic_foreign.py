"""UniDic's foreign spellings of katakana words (the lemma "コーヒー-coffee" that cutlet writes as
"coffee"), read from unidic-lite's compiled dictionary: every entry whose surface is katakana and whose
lemma carries one ASCII spelling (entries with several spellings are left out). Written gzipped JSON to
inference/text/dict/unidic-foreign.json.gz. UniDic is BSD-licensed (unidic-lite's BSD file).

usage: python unidic_foreign.py OUT.json.gz"""
import collections
import gzip
import importlib.metadata
import json
import os
import re
import sys

import unidic_lite

KATAKANA = re.compile(r"[\u30a0-\u30ffー]+")


def main(out_path: str) -> None:
    with open(os.path.join(unidic_lite.DICDIR, "sys.dic"), "rb") as f:
        data = f.read()
    spellings = collections.defaultdict(set)
    # sys.dic keeps each entry's features as a NUL-terminated CSV string:
    # pos1,pos2,pos3,pos4,cType,cForm,lForm,lemma,orth,...
    for chunk in data.split(b"\x00"):
        if b"-" not in chunk or chunk.count(b",") < 12:
            continue
        try:
            fields = chunk.decode("utf-8").split(",")
        except UnicodeDecodeError:
            continue
        lemma, orth = fields[7], fields[8]
        if "-" in orth or "-" not in lemma or not KATAKANA.fullmatch(orth):
            continue
        english = lemma.split("-", 1)[-1]
        if english.isascii():  # cutlet's has_foreign_lemma
            spellings[orth].add(english)
    table = {k: next(iter(v)) for k, v in sorted(spellings.items()) if len(v) == 1}
    doc = {"unidic-lite": importlib.metadata.version("unidic-lite"), "spellings": table}
    with gzip.GzipFile(out_path, "wb", mtime=0) as f:
        f.write(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    print(f"{len(table)} foreign spellings -> {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
