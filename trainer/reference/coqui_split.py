"""Reference long-text splitting from Coqui's own `split_sentence` (coqui-tts 0.27.2, spaCy's
sentencizer on the language's spaCy tokenizer, then packing to the language's character limit and
textwrap), over texts made of the text corpus's sentences (coqui_text.py) and a few hard cases per
language: ellipses, "?!", runs of spaces and newlines, quotes after a full stop, abbreviations,
decimals, a sentence longer than the limit, a text just under the limit; then texts of sentences
mixed with such pieces between random whitespace.

Called as Xtts.inference calls it: the language without its region ("zh-cn" -> "zh"), the limit
VoiceBpeTokenizer.char_limits gives it. Writes one JSON fixture with the versions used.

Also writes the full-stop abbreviations of those spaCy languages for inference/text/sentences.ts.

usage: python coqui_split.py COQUI_SRC OUT_JSON ABBREVIATIONS_JSON
(trainer/reference/regenerate.sh sets up the environment and runs it.)"""
import importlib.metadata
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coqui_text  # noqa: E402

SEED = 29
TEXTS = 24
HARD = {
    "latin": [
        "Wait... what?! Really?? Yes!!! No… maybe.",
        "He said \"stop.\" Then he ran. She asked (why?) and left.",
        "Dr. Smith and Mrs. Jones met at 3.50 p.m. on Jan. 5. They talked, e.g. about the U.S. economy. No. 5 won.",
        "One.  Two.   Three.\nFour.\n\nFive! Six?\tSeven.",
        "A. B. Cooper wrote it. See p. 12, vol. 3. Done.",
    ],
    "ja": ["えっ…本当？！すごい！！「はい。」と言った。", "一。二。  三。\n四！五？", "これは長い文です、" * 12 + "終わり。"],
    "zh": ["什么……真的？！太好了！！“好。”他说。", "一。二。  三。\n四！五？", "这是一个很长的句子，" * 12 + "结束。"],
}


MIXED = 30
# Pieces mixed among the sentences: abbreviations, initials, numbers and marks at a sentence's end,
# quotes and brackets around one, ellipses, other scripts' end marks.
PIECES = ["Mr. Brown", "e.g.", "U.S.", "etc.", "Inc.", "A.", "x.", "5.", "3.14", "(see above.)", '"Yes."', "'No!'",
          "...", "…", "?!", "—", "St. Paul", "p.m.", "No. 7", "vs.", "Jan.", "ABC.", "a.b.c", "«Oui.»", "¿Qué?",
          "¡Sí!", "１２．５", "。", "！", "？", "「はい。」", "v2.0.1.", "$5.", "50%.", "Dr", "1.", "Sra.", "Sr.", "Ud."]
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", "\t", " \n"]


def mixed(lang: str, sentences: list[str], rng: random.Random) -> list[str]:
    """Sentences and PIECES in random order between random whitespace (none between Chinese or
    Japanese sentences as often as not)."""
    out = []
    for _ in range(MIXED):
        parts = []
        for _ in range(rng.randint(3, 16)):
            parts.append(rng.choice(sentences) if rng.random() < 0.7 else rng.choice(PIECES))
            joiner = "" if lang in ("ja", "zh-cn") and rng.random() < 0.5 else rng.choice(SEPARATORS)
            parts.append(joiner)
        text = "".join(parts)
        out.append(text.strip() if rng.random() < 0.8 else text)
    return out


def texts(lang: str, sentences: list[str], limit: int, rng: random.Random) -> list[str]:
    joiner = "" if lang in ("ja", "zh-cn") else " "
    out = []
    for i in range(TEXTS):
        k = rng.randint(3, 14)
        picked = [rng.choice(sentences) for _ in range(k)]
        out.append((joiner if i % 2 == 0 else " ").join(picked))
    hard = HARD["ja"] if lang == "ja" else HARD["zh"] if lang == "zh-cn" else HARD["latin"]
    for h in hard:
        out.append(h)
        out.append(joiner.join([h] * (limit // len(h) + 2)))
    # a sentence with no end character, longer than the limit; and a text one character short of it
    words = " ".join(sentences).replace(".", "").replace("。", "").split()
    out.append(" ".join(words)[: limit * 3])
    out.append(" ".join(sentences)[: limit - 1])
    return out + mixed(lang, sentences, rng)


def abbreviations() -> dict:
    """The tokenizer exceptions ending in a full stop of each spaCy language split_sentence uses
    ("Mr.", "p.m.", "Sra."): such a word keeps its full stop, which then ends no sentence."""
    from spacy.lang.ar import Arabic
    from spacy.lang.en import English
    from spacy.lang.es import Spanish
    from spacy.lang.hi import Hindi
    from spacy.lang.ja import Japanese

    out = {}
    for code, cls in (("en", English), ("es", Spanish), ("ar", Arabic), ("hi", Hindi)):
        keys = cls.Defaults.tokenizer_exceptions.keys()
        out[code] = sorted(k for k in keys if k.endswith(".") and len(k) > 1 and " " not in k)
    # Japanese cuts words with SudachiPy's dictionary: of those abbreviations, the ones it keeps whole
    # between two sentences (alone, it cuts some it keeps in a sentence: "Inc.", "Mr.")
    japanese = Japanese()
    candidates = sorted({k for code in ("en", "es") for k in out[code] if k[0].isascii() and k[0].isalpha()})
    out["ja"] = [k for k in candidates if k in [t.text for t in japanese(f"です。 {k} 私たち")]]
    return out


def abbreviations_json(spacy_version: str, table: dict) -> str:
    """The abbreviations as the project's formatter (Biome, lines of 120) lays JSON out: a list on
    one line where it fits, else a word per line."""
    rows = []
    for code, words in table.items():
        inline = f'    "{code}": {json.dumps(words, ensure_ascii=False, separators=(", ", ": "))},'
        if len(inline) <= 120:
            rows.append(inline)
        else:
            items = ",\n".join(f"      {json.dumps(w, ensure_ascii=False)}" for w in words)
            rows.append(f'    "{code}": [\n{items}\n    ],')
    body = "\n".join(rows).rstrip(",")
    return f'{{\n  "spacy": {json.dumps(spacy_version)},\n  "abbreviations": {{\n{body}\n  }}\n}}\n'


def main(src: str, out_path: str, abbreviations_path: str) -> None:
    tok_mod = coqui_text.load_coqui(src)
    limits = tok_mod.VoiceBpeTokenizer().char_limits
    rng = random.Random(SEED)
    by_lang: dict[str, list[str]] = {}
    for lang, _category, text in coqui_text.corpus():
        by_lang.setdefault(lang, []).append(text)
    entries = []
    for lang in coqui_text.LANGUAGES:
        base = lang.split("-")[0]
        for text in texts(lang, by_lang[lang], limits[base], rng):
            entries.append({"lang": lang, "text": text, "splits": tok_mod.split_sentence(text, base, limits[base])})
    doc = {
        "generator": "trainer/reference/coqui_split.py",
        "seed": SEED,
        "packages": {
            "coqui-tts": coqui_text._wheel_version(src),
            **{p: importlib.metadata.version(p) for p in ["spacy", "sudachipy", "sudachidict-core"]},
        },
        "char_limits": limits,
    }
    head = json.dumps(doc, ensure_ascii=False, indent=1)
    lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(f'{head[:-2]},\n "entries": [\n{lines}\n]}}\n')
    print(f"{len(entries)} texts split -> {out_path}")
    with open(abbreviations_path, "w", encoding="utf-8") as f:
        f.write(abbreviations_json(importlib.metadata.version("spacy"), abbreviations()))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
