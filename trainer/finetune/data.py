"""The training data: an LJSpeech folder (`wavs/`, `metadata_train.csv` + `metadata_eval.csv`, or
`metadata.csv` split 98/2 with a seed), tokenised the way the engine tokenises, filtered as Coqui's
XTTSDataset filters (docs/xtts-v2-facts.md §7 DS), and cut into micro-batches whose order and randomness are pure
functions of (seed, epoch, batch index), so that a resumed run sees exactly what an uninterrupted
one would have seen."""
import csv
import math
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch

from .audio import audio_length, load_audio

MIN_WAV = 11025  # 0.5 s at 22.05 kHz (Coqui's lower bound)
COND_MIN, COND_MAX = 66150, 132300  # 3 s and 6 s (GPTArgs min/max_conditioning_length)


class DatasetError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Clip:
    path: str
    tokens: List[int]
    samples: int


class TextEncoder:
    """Coqui's VoiceBpeTokenizer.encode for text that is already normalised (column 3 of the
    metadata): strip, lowercase, drop '"', collapse whitespace, prefix [lang], every space as
    [SPACE], then the HF tokenizer with the package's vocab.json. Number, abbreviation and
    symbol expansion are the dataset builder's job (its normalised column); they are not redone
    here, so a digit left in the text is tokenised as the digit, as the vocabulary has it."""

    def __init__(self, vocab_path: str, language: str):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(vocab_path)
        self.tag = "zh-cn" if language.split("-")[0] == "zh" else language.split("-")[0]
        if self.tok.token_to_id(f"[{self.tag}]") is None:
            raise DatasetError("DATASET_INVALID", f"language {language!r} has no [{self.tag}] token in {vocab_path}")
        self.unk = self.tok.token_to_id("[UNK]")
        self.stop = self.tok.token_to_id("[STOP]")

    def encode(self, text: str) -> List[int]:
        t = re.sub(r"\s+", " ", text.strip().lower().replace('"', "")).strip()
        return self.tok.encode(f"[{self.tag}]{t}".replace(" ", "[SPACE]")).ids


def _read_metadata(path: str) -> List[Tuple[str, str]]:
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 2 or not row[0].strip():
                raise DatasetError("DATASET_INVALID", f"{path}:{n}: expected id|text|normalized text")
            text = row[2] if len(row) >= 3 and row[2].strip() else row[1]  # Coqui's ljspeech formatter: column 3
            rows.append((row[0].strip(), text))
    return rows


def read_splits(dataset_dir: str, seed: int) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    if not os.path.isdir(os.path.join(dataset_dir, "wavs")):
        raise DatasetError("DATASET_INVALID", f"{dataset_dir}: no wavs/ folder")
    train_p, eval_p = (os.path.join(dataset_dir, f"metadata_{s}.csv") for s in ("train", "eval"))
    if os.path.isfile(train_p):
        return _read_metadata(train_p), (_read_metadata(eval_p) if os.path.isfile(eval_p) else [])
    meta = os.path.join(dataset_dir, "metadata.csv")
    if not os.path.isfile(meta):
        raise DatasetError("DATASET_INVALID", f"{dataset_dir}: neither metadata_train.csv nor metadata.csv")
    rows = _read_metadata(meta)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_eval = min(max(1, round(0.02 * len(rows))), len(rows) - 1) if len(rows) > 1 else 0
    ev = set(order[:n_eval])
    return [r for i, r in enumerate(rows) if i not in ev], [r for i, r in enumerate(rows) if i in ev]


def filter_clips(rows, dataset_dir: str, enc: TextEncoder, max_wav: int, max_text: int) -> Tuple[List[Clip], Counter]:
    """Keeps the rows Coqui would keep; counts the others by reason."""
    kept, rejected = [], Counter()
    for clip_id, text in rows:
        path = os.path.join(dataset_dir, "wavs", clip_id if clip_id.endswith(".wav") else clip_id + ".wav")
        if not os.path.isfile(path):
            rejected["missing_audio"] += 1
            continue
        try:
            n = audio_length(path)
        except Exception:  # a broken file is one bad clip, not a broken run
            rejected["unreadable_audio"] += 1
            continue
        if n < MIN_WAV:
            rejected["too_short"] += 1
            continue
        if n > max_wav:
            rejected["too_long"] += 1
            continue
        tokens = enc.encode(text)
        if len(tokens) > max_text:
            rejected["text_too_long"] += 1
        elif enc.unk in tokens:
            rejected["text_has_unk"] += 1
        elif enc.stop in tokens:
            rejected["text_has_stop"] += 1
        else:
            kept.append(Clip(path, tokens, n))
    return kept, rejected


def epoch_order(n: int, seed: int, epoch: int) -> List[int]:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).tolist()


def step_seed(seed: int, epoch: int, index: int) -> int:
    """One seed per (epoch, micro-batch): conditioning slices and dropout masks derive from it."""
    return (seed * 1_000_003 + epoch * 100_003 + index) % (2 ** 63 - 1)


def conditioning_slice(n: int, g: Optional[torch.Generator]) -> Tuple[int, int]:
    """Coqui's get_prompt_segment: length uniform in [3 s, 6 s] (eval: the midpoint), or half the
    clip when the clip is shorter; start uniform (eval: 0)."""
    length = (COND_MIN + COND_MAX) // 2 if g is None else int(torch.randint(COND_MIN, COND_MAX + 1, (1,), generator=g))
    if n - length < 0:
        length = n // 2
    start = 0 if g is None else int(torch.randint(0, n - length + 1, (1,), generator=g))
    return start, start + length


class Batches(torch.utils.data.Dataset):
    """Micro-batch k of an epoch, collated on the CPU (DataLoader workers may build them)."""

    def __init__(self, clips: List[Clip], batch_size: int, seed: int, epoch: int, train: bool, stop_id: int):
        self.clips, self.bs, self.seed, self.epoch, self.train, self.stop = clips, batch_size, seed, epoch, train, stop_id
        self.order = epoch_order(len(clips), seed, epoch) if train else list(range(len(clips)))

    def __len__(self) -> int:
        return math.ceil(len(self.clips) / self.bs)

    def __getitem__(self, k: int) -> Dict[str, torch.Tensor]:
        items = [self.clips[i] for i in self.order[k * self.bs:(k + 1) * self.bs]]
        g = torch.Generator().manual_seed(step_seed(self.seed, self.epoch, k)) if self.train else None
        wavs = [load_audio(c.path) for c in items]
        b, n_max, t_max = len(items), max(w.shape[0] for w in wavs), max(len(c.tokens) for c in items)
        wav = torch.zeros(b, n_max)
        cond = torch.zeros(b, COND_MAX)
        # Text padding is [STOP]: the target at position len is then STOP for every item (Coqui pads
        # with 0, which is [STOP] in XTTS's vocabulary, and relies on that).
        text = torch.full((b, t_max), self.stop, dtype=torch.long)
        idxs = torch.zeros(b, 2, dtype=torch.long)
        for i, (w, c) in enumerate(zip(wavs, items)):
            wav[i, :w.shape[0]] = w
            text[i, :len(c.tokens)] = torch.tensor(c.tokens)
            s, e = conditioning_slice(w.shape[0], g)
            cond[i, :e - s] = w[s:e]
            idxs[i, 0], idxs[i, 1] = s, e
        return {"wav": wav, "wav_lengths": torch.tensor([w.shape[0] for w in wavs]), "text": text,
                "text_lengths": torch.tensor([len(c.tokens) for c in items]), "cond_wav": cond, "cond_idxs": idxs,
                "seed": torch.tensor(step_seed(self.seed, self.epoch, k) if self.train else 0)}


def describe(train: List[Clip], ev: List[Clip], rejected: Dict[str, int]) -> dict:
    """Fields of the `dataset` event."""
    return {"train_clips": len(train), "eval_clips": len(ev),
            "train_hours": round(sum(c.samples for c in train) / 22050 / 3600, 4),
            "rejected": dict(sorted(rejected.items()))}
