"""UniDic's foreign spellings of katakana words (the lemma "コーヒー-coffee" that cutlet writes as
"coffee"), read from unidic-lite's compiled dictionary (MeCab's sys.dic: a header, the double array,
16-byte token records with the word cost, then NUL-terminated feature strings). For each katakana
surface the entry MeCab prefers on its own, the one with the lowest word cost, decides: its lemma's
ASCII spelling when it has one (cutlet's has_foreign_lemma), none otherwise. Written as gzipped JSON to
inference/text/dict/unidic-foreign.json.gz. UniDic is BSD-licensed (unidic-lite's BSD file).

usage: python unidic_foreign.py OUT.json.gz"""
import gzip
import importlib.metadata
import json
import os
import re
import struct
import sys

import unidic_lite

KATAKANA = re.compile(r"[\u30a0-\u30ffー]+")


def main(out_path: str) -> None:
    with open(os.path.join(unidic_lite.DICDIR, "sys.dic"), "rb") as f:
        data = f.read()
    _magic, _version, _type, _lexsize, _lsize, _rsize, dsize, tsize, _fsize, _dummy = struct.unpack_from("<10I", data, 0)
    tokens = 72 + dsize
    features = tokens + tsize
    best = {}  # surface -> (word cost, lemma)
    for t in range(tsize // 16):
        _lc, _rc, _posid, wcost, feature, _compound = struct.unpack_from("<HHHhII", data, tokens + 16 * t)
        end = data.index(b"\0", features + feature)
        fields = data[features + feature : end].decode("utf-8").split(",")
        if len(fields) < 9:
            continue
        lemma, orth = fields[7], fields[8]
        if not KATAKANA.fullmatch(orth):
            continue
        if orth not in best or wcost < best[orth][0]:
            best[orth] = (wcost, lemma)
    table = {}
    for orth, (_cost, lemma) in sorted(best.items()):
        if "-" in orth or "-" not in lemma:
            continue
        english = lemma.split("-", 1)[-1]
        if english.isascii():
            table[orth] = english
    doc = {"unidic-lite": importlib.metadata.version("unidic-lite"), "spellings": table}
    with gzip.GzipFile(out_path, "wb", mtime=0) as f:
        f.write(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
    print(f"{len(table)} foreign spellings -> {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
