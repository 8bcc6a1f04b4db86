"""Text handling: the normalised LJSpeech column, word forms for matching, sentence ends, WER."""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "})
_SPACE = re.compile(r"\s+")
# Sentence-final marks across XTTS-v2's languages (Latin, Arabic, Devanagari, CJK).
_FINAL = (".", "!", "?", "\u2026", "\u3002", "\uff01", "\uff1f", "\u061f", "\u0964")
_CLOSERS = "\"')]}\u00bb\u201d\u2019\u300d\u300f"
_ABBREV = {
    "en": {"mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "jr.", "sr.", "vs.", "etc.", "e.g.", "i.e.", "no."},
    "fr": {"m.", "mme.", "mlle.", "dr."},
    "de": {"dr.", "hr.", "fr.", "z.b.", "bzw.", "usw."},
    "es": {"sr.", "sra.", "dr.", "dra."},
}  # fmt: skip
PIPE = "|"


def clean(text: str) -> str:
    """The text as it goes into metadata.csv: one line, plain quotes, no pipe (the separator)."""
    t = unicodedata.normalize("NFC", text).translate(_QUOTES).replace(PIPE, " ")
    return _SPACE.sub(" ", t).strip()


def normalized(text: str) -> str:
    """LJSpeech's third column. Numbers stay as digits: XTTS-v2's tokenizer expands them per
    language at training time, and a second, different expansion here would disagree with it."""
    return clean(text)


def match_form(word: str) -> str:
    """A word reduced for comparing transcripts: lower case, no punctuation or marks."""
    w = unicodedata.normalize("NFKC", word).lower().translate(_QUOTES)
    return "".join(ch for ch in w if unicodedata.category(ch)[0] in "LN")


def match_words(text: str) -> list[str]:
    return [m for m in (match_form(w) for w in text.split()) if m]


def ends_sentence(word: str, language: str) -> bool:
    w = word.strip().rstrip(_CLOSERS)
    if not w.endswith(_FINAL):
        return False
    return w.lower() not in _ABBREV.get(language, set())


def word_errors(ref: list[str], hyp: list[str]) -> int:
    # Levenshtein over words; jiwer would be a dependency for these ten lines.
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(ref_text: str, hyp_text: str) -> float:
    ref, hyp = match_words(ref_text), match_words(hyp_text)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)
