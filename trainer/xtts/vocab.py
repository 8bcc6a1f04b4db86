"""A small BPE vocabulary in Hugging Face `tokenizers` JSON format, laid out like XTTS's vocab.json
([STOP]=0, [UNK]=1, [SPACE]=2, the 17 language tags and [START] as special added tokens, a
Whitespace pre-tokenizer, no normalizer/decoder), learned from the fixture's normalised sentences."""
import re
from collections import Counter
from typing import Dict, List, Tuple

from .config import LANGUAGES

SPECIAL_HEAD = ["[STOP]", "[UNK]", "[SPACE]"]


def _words(texts: List[str]) -> Counter:
    c = Counter()
    for t in texts:
        for w in re.findall(r"\w+|[^\w\s]+", t):
            c[w] += 1
    return c


def learn_bpe(texts: List[str], merges: int) -> Tuple[List[str], List[Tuple[str, str]]]:
    words = {w: list(w) for w in _words(texts)}
    freq = _words(texts)
    alphabet = sorted({ch for w in words for ch in w})
    learned = []
    for _ in range(merges):
        pairs = Counter()
        for w, syms in words.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += freq[w]
        if not pairs:
            break
        (a, b), n = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if n < 2:
            break
        learned.append((a, b))
        for w, syms in words.items():
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
    return alphabet, learned


def build_vocab(texts: List[str], merges: int = 120, pad_to: int = 0) -> dict:
    alphabet, learned = learn_bpe(texts, merges)
    vocab: Dict[str, int] = {}
    for t in SPECIAL_HEAD:
        vocab[t] = len(vocab)
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    for a, b in learned:
        vocab.setdefault(a + b, len(vocab))
    # Language tags and [START] come after the base symbols, as in Coqui's file ([en]=259, [START]=261).
    for t in [f"[{lang}]" for lang in LANGUAGES[:4]] + ["[START]"] + [f"[{lang}]" for lang in LANGUAGES[4:]]:
        vocab[t] = len(vocab)
    i = 0
    while len(vocab) < pad_to:  # the full-size stand-in needs 6681 ids
        vocab[f"<unused{i}>"] = len(vocab)
        i += 1
    specials = SPECIAL_HEAD + ["[START]"] + [f"[{lang}]" for lang in LANGUAGES]
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in sorted(specials, key=lambda t: vocab[t])]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "[UNK]", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in learned]},
    }


def tokenizer_input(normalised: str, lang: str) -> str:
    """What Coqui's VoiceBpeTokenizer.encode hands to the HF tokenizer after cleaning (facts §1)."""
    tag = "zh-cn" if lang.split("-")[0] == "zh" else lang.split("-")[0]
    return f"[{tag}]{normalised}".replace(" ", "[SPACE]")
