"""Reference token ids for the fixture sentences, computed with Hugging Face `tokenizers` (the
library Coqui's tokenizer wraps) from the already-cleaned text.

usage: python3 -m xtts.token_ids VOCAB_JSON OUT_JSON   (needs the `tokenizers` package)"""
import hashlib
import json
import sys

from .sentences import SENTENCES
from .vocab import tokenizer_input


def compute(vocab_path: str) -> dict:
    from tokenizers import Tokenizer, __version__

    tok = Tokenizer.from_file(vocab_path)
    with open(vocab_path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    rows = []
    for lang, raw, clean in SENTENCES:
        inp = tokenizer_input(clean, lang)
        enc = tok.encode(inp)
        rows.append({"lang": lang, "raw": raw, "normalised": clean, "tokenizer_input": inp, "ids": enc.ids,
                     "tokens": enc.tokens})
    return {"tokenizers_version": __version__, "vocab_sha256": digest,
            "note": "ids exclude [START]/[STOP], which the GPT adds", "sentences": rows}


if __name__ == "__main__":
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(compute(sys.argv[1]), f, ensure_ascii=False, indent=1)
