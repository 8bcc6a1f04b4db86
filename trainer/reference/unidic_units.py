"""Where UniDic (cutlet's dictionary, unidic-lite) cuts or reads words otherwise than IPADIC (the
engine's kuromoji dictionary), as gzipped JSON for inference/text/japanese.ts:

- "splits": every IPADIC word of a part of speech whose words do not conjugate (nouns, adverbs,
  conjunctions, particles, interjections, adnominals, prefixes) that UniDic has no entry for, so
  MeCab with UniDic must cut it (郵便局 → 郵便 + 局, いつも → いつ + も), as MeCab cuts the word
  alone: a line per unit, with its surface, reading (kana), pronunciation and UniDic parts of speech
  (pos1, pos2) between tabs (a string per word takes a tenth of the memory of arrays). Words UniDic
  has whole are left whole (一杯: alone MeCab cuts it, in a sentence it does not). Conjugating
  words are left out: alone, their inflected forms are cut in ways a sentence never cuts them.
- "suffixes", "prefixes": for each IPADIC suffix (名詞,接尾, counters aside) and prefix (接頭詞),
  UniDic's part of speech and reading: its suffix (接尾辞) or prefix (接頭辞) entry with the lowest
  word cost (the one MeCab picks: such entries share their connection classes), or, where UniDic
  has the surface as a noun and not as an affix, 名詞 and its noun reading (局 and 機 are words of
  their own in UniDic, so cutlet writes a space before them; 親 as in 親キー reads オヤ, not シン).

- "readings": the IPADIC words (surface and reading) that UniDic has whole but never reads as
  IPADIC does, with UniDic's reading of lowest word cost (亀甲 キッコウ, not IPADIC's カメノコウ);
  where UniDic also has IPADIC's reading, the sentence decides in both, and IPADIC's is kept.

IPADIC's words are read from kuromoji's compiled dictionary (tid_pos.dat.gz: NUL-terminated
"surface,features" strings); UniDic's from unidic-lite's sys.dic (a header, the double array,
16-byte token records with the word cost, then NUL-terminated feature strings) and through fugashi.
UniDic is BSD-licensed (unidic-lite's BSD file); IPADIC's licence is kuromoji's NOTICE.

usage: python unidic_units.py KUROMOJI_TID_POS_DAT_GZ OUT.json.gz"""
import gzip
import importlib.metadata
import json
import os
import struct
import sys

import fugashi
import unidic_lite

# IPADIC's parts of speech (its first feature) whose words do not conjugate
STABLE = {"名詞", "副詞", "接続詞", "助詞", "感動詞", "連体詞", "接頭詞"}


def ipadic_words(path: str) -> tuple[list[str], list[str], list[str]]:
    """IPADIC's words of the parts of speech in STABLE, its suffixes (counters aside) and prefixes."""
    data = gzip.open(path).read()
    words, suffixes, prefixes = set(), set(), set()
    for record in data.split(b"\0"):
        if not record:
            continue
        fields = record.decode("utf-8").split(",")
        if len(fields) > 1 and fields[1] in STABLE and len(fields[0]) > 1:
            words.add(fields[0])
        if len(fields) > 3 and fields[1] == "名詞" and fields[2] == "接尾" and fields[3] != "助数詞":
            suffixes.add(fields[0])
        if len(fields) > 1 and fields[1] == "接頭詞":
            prefixes.add(fields[0])
    return sorted(words), sorted(suffixes), sorted(prefixes)


def unidic_entries() -> list[tuple[int, list[str]]]:
    """(word cost, features) of every entry of unidic-lite's sys.dic."""
    with open(os.path.join(unidic_lite.DICDIR, "sys.dic"), "rb") as f:
        data = f.read()
    _magic, _version, _type, _lexsize, _lsize, _rsize, dsize, tsize, _fsize, _dummy = struct.unpack_from("<10I", data, 0)
    tokens = 72 + dsize
    features = tokens + tsize
    out = []
    for t in range(tsize // 16):
        _lc, _rc, _posid, wcost, feature, _compound = struct.unpack_from("<HHHhII", data, tokens + 16 * t)
        end = data.index(b"\0", features + feature)
        fields = data[features + feature : end].decode("utf-8").split(",")
        if len(fields) >= 18:
            out.append((wcost, fields))
    return out


def splits(words: list[str], known: set[str]) -> dict:
    tagger = fugashi.Tagger()
    out = {}
    for word in words:
        if word in known:
            continue
        units = tagger(word)
        if len(units) < 2 or "".join(u.surface for u in units) != word or any(u.is_unk for u in units):
            continue
        rows = []
        for u in units:
            f = u.feature
            kana = f.kana if f.kana and f.kana != "*" else ""
            pron = f.pron if f.pron and f.pron != "*" else kana
            rows.append("\t".join([u.surface, kana, pron, f.pos1, f.pos2]))
        out[word] = "\n".join(rows)
    return out


def affix_readings(affixes: list[str], pos1: str, entries: list[tuple[int, list[str]]]) -> dict:
    """[UniDic part of speech, reading] of each affix: as an affix of class pos1 where UniDic has
    one, else as a noun; the entry of lowest word cost."""
    best = {}  # (class, surface) -> (word cost, kana)
    for wcost, fields in entries:
        cls, orth, kana = fields[0], fields[8], fields[17]
        if cls in (pos1, "名詞") and ((cls, orth) not in best or wcost < best[(cls, orth)][0]):
            best[(cls, orth)] = (wcost, kana)
    out = {}
    for surface in affixes:
        for cls in (pos1, "名詞"):
            if (cls, surface) in best:
                out[surface] = [cls, best[(cls, surface)][1]]
                break
    return out


def readings(path: str, entries: list[tuple[int, list[str]]]) -> dict:
    """{"surface\treading": UniDic's reading} for IPADIC words UniDic never reads as IPADIC does."""
    known: dict[str, set[str]] = {}
    best: dict[str, tuple[int, str]] = {}
    for wcost, fields in entries:
        orth, kana = fields[8], fields[17]
        known.setdefault(orth, set()).add(kana)
        if kana and kana != "*" and (orth not in best or wcost < best[orth][0]):
            best[orth] = (wcost, kana)
    out = {}
    for record in gzip.open(path).read().split(b"\0"):
        fields = record.decode("utf-8").split(",") if record else []
        if len(fields) < 9 or fields[8] == "*":
            continue
        surface, reading = fields[0], fields[8]
        if surface in best and reading not in known[surface]:
            out[f"{surface}\t{reading}"] = best[surface][1]
    return dict(sorted(out.items()))


def main(tid_pos: str, out_path: str) -> None:
    words, suffixes, prefixes = ipadic_words(tid_pos)
    entries = unidic_entries()
    doc = {
        "unidic-lite": importlib.metadata.version("unidic-lite"),
        "splits": splits(words, {fields[8] for _cost, fields in entries}),
        "suffixes": affix_readings(suffixes, "接尾辞", entries),
        "prefixes": affix_readings(prefixes, "接頭辞", entries),
        "readings": readings(tid_pos, entries),
    }
    with gzip.GzipFile(out_path, "wb", mtime=0) as f:
        f.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    print(f"{len(doc['splits'])} words UniDic cuts, {len(doc['suffixes'])} suffixes, {len(doc['prefixes'])} prefixes,"
          f" {len(doc['readings'])} readings -> {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
