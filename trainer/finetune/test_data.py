"""The fine-tuning data: metadata reading and the 98/2 split, Coqui's clip filters, micro-batch
collation (padding, conditioning slices), the seeds that make a resumed run see the same data,
and the prompt masks of the mel targets."""

import os
import tempfile
import unittest
import wave
from collections import Counter

import numpy as np
import torch

from finetune.data import (
    COND_MAX,
    COND_MIN,
    Batches,
    Clip,
    DatasetError,
    conditioning_slice,
    describe,
    epoch_order,
    filter_clips,
    read_splits,
    step_seed,
)
from finetune.forward import mask_prompt

RATE = 22050


def write_wav(path: str, samples: int, value: int = 8192, rate: int = RATE) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.full(samples, value, "<i2").tobytes())


class FakeEncoder:
    """The encoder's interface (encode, unk, stop): one token per character, "?" unknown, "#" stop."""

    unk, stop = 1, 0

    def encode(self, text: str) -> list[int]:
        return [self.unk if ch == "?" else self.stop if ch == "#" else 10 + ord(ch) % 50 for ch in text]


class MetadataTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name
        os.makedirs(os.path.join(self.dir, "wavs"))

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name: str, text: str) -> None:
        with open(os.path.join(self.dir, name), "w", encoding="utf-8") as f:
            f.write(text)

    def test_normalised_column_is_used_and_two_percent_held_out(self):
        self.write("metadata.csv", "".join(f"c{k}|Raw {k}|normalised {k}\n" for k in range(100)) + "\n")
        train, ev = read_splits(self.dir, seed=1)
        self.assertEqual((len(train), len(ev)), (98, 2))
        self.assertEqual(sorted(train + ev), sorted((f"c{k}", f"normalised {k}") for k in range(100)))
        self.assertEqual(read_splits(self.dir, seed=1), (train, ev))  # the split is a function of the seed

    def test_a_single_clip_trains(self):
        self.write("metadata.csv", "only|Text\n")  # no third column: the second is used
        self.assertEqual(read_splits(self.dir, seed=1), ([("only", "Text")], []))

    def test_given_splits_are_kept(self):
        self.write("metadata_train.csv", "a|A|a\n")
        self.write("metadata_eval.csv", "b|B|b\n")
        self.write("metadata.csv", "a|A|a\nb|B|b\n")
        self.assertEqual(read_splits(self.dir, seed=1), ([("a", "a")], [("b", "b")]))

    def test_malformed_rows_name_their_line(self):
        self.write("metadata.csv", "a|A|a\njust-an-id\n")
        with self.assertRaises(DatasetError) as ex:
            read_splits(self.dir, seed=1)
        self.assertIn("metadata.csv:2:", str(ex.exception))

    def test_coqui_filters(self):
        wavs = os.path.join(self.dir, "wavs")
        write_wav(os.path.join(wavs, "ok.wav"), RATE)
        write_wav(os.path.join(wavs, "short.wav"), 11024)  # under 0.5 s (11025 samples)
        write_wav(os.path.join(wavs, "long.wav"), 50001)
        with open(os.path.join(wavs, "broken.wav"), "wb") as f:
            f.write(b"RIFF\x00\x00")
        rows = [("ok", "fine"), ("ok.wav", "also fine"), ("short", "x"), ("long", "x"), ("broken", "x"),
                ("missing", "x"), ("ok", "a" * 11), ("ok", "what?"), ("ok", "stop#")]
        kept, rejected = filter_clips(rows, self.dir, FakeEncoder(), max_wav=50000, max_text=10)
        self.assertEqual([(os.path.basename(c.path), c.samples, len(c.tokens)) for c in kept],
                         [("ok.wav", RATE, 4), ("ok.wav", RATE, 9)])
        self.assertEqual(rejected, Counter(too_short=1, too_long=1, unreadable_audio=1, missing_audio=1,
                                           text_too_long=1, text_has_unk=1, text_has_stop=1))


class SeedsTest(unittest.TestCase):
    def test_step_seed(self):
        self.assertEqual(step_seed(1, 2, 3), 1_000_003 + 2 * 100_003 + 3)  # 1200012
        self.assertEqual(step_seed(0, 0, 0), 0)

    def test_epoch_order_is_a_permutation_fixed_by_seed_and_epoch(self):
        a = epoch_order(50, seed=1, epoch=0)
        self.assertEqual(sorted(a), list(range(50)))
        self.assertEqual(a, epoch_order(50, seed=1, epoch=0))
        self.assertNotEqual(a, epoch_order(50, seed=1, epoch=1))

    def test_conditioning_slice(self):
        # Evaluation: the midpoint length, 99225 samples (4.5 s), from the start; half of a shorter clip.
        self.assertEqual(conditioning_slice(200_000, None), (0, 99_225))
        self.assertEqual(conditioning_slice(50_001, None), (0, 25_000))
        g = torch.Generator().manual_seed(0)
        for _ in range(200):
            s, e = conditioning_slice(150_000, g)
            self.assertTrue(COND_MIN <= e - s <= COND_MAX and 0 <= s and e <= 150_000, (s, e))

    def test_describe(self):
        train = [Clip("a", [1], RATE * 1800), Clip("b", [1], RATE * 1800)]
        got = describe(train, [Clip("c", [1], RATE)], {"too_short": 2, "missing_audio": 1})
        self.assertEqual(got, {"train_clips": 2, "eval_clips": 1, "train_hours": 1.0,
                               "rejected": {"missing_audio": 1, "too_short": 2}})


class CollationTest(unittest.TestCase):
    def test_padding_lengths_and_conditioning(self):
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for name, n in (("a", 22050), ("b", 33075), ("c", 44100)):
                paths.append(os.path.join(d, name + ".wav"))
                write_wav(paths[-1], n)  # 8192 / 32768 = 0.25 exactly
            clips = [Clip(paths[0], [5, 6], 22050), Clip(paths[1], [7], 33075), Clip(paths[2], [8, 9, 10], 44100)]
            ds = Batches(clips, batch_size=2, seed=1, epoch=0, train=False, stop_id=0)
            self.assertEqual(len(ds), 2)
            b = ds[0]
            last = ds[1]
        self.assertEqual(tuple(b["wav"].shape), (2, 33075))
        self.assertEqual(b["wav_lengths"].tolist(), [22050, 33075])
        self.assertTrue(torch.all(b["wav"][0, :22050] == 0.25) and torch.all(b["wav"][0, 22050:] == 0))
        self.assertTrue(torch.all(b["wav"][1] == 0.25))
        self.assertEqual(b["text"].tolist(), [[5, 6], [7, 0]])  # padded with [STOP]
        self.assertEqual(b["text_lengths"].tolist(), [2, 1])
        # Clips under 4.5 s give half their length to the conditioning, from the start (evaluation).
        self.assertEqual(b["cond_idxs"].tolist(), [[0, 11025], [0, 16537]])
        self.assertEqual(tuple(b["cond_wav"].shape), (2, COND_MAX))
        self.assertEqual(int((b["cond_wav"][0] != 0).sum()), 11025)
        self.assertEqual(int((b["cond_wav"][1] != 0).sum()), 16537)
        self.assertEqual(int(b["seed"]), 0)
        self.assertEqual(tuple(last["wav"].shape), (1, 44100))  # the remainder batch
        self.assertEqual(last["text"].tolist(), [[8, 9, 10]])


class PromptMaskTest(unittest.TestCase):
    def test_intended_masks_the_codes_the_prompt_overlaps(self):
        # One code per 1024 samples: samples 2048..5000 are codes 2, 3 and 4 (5000 / 1024 = 4.88).
        codes = torch.arange(16).repeat(2, 1)
        mask_prompt(codes, torch.tensor([[2048, 5000], [0, 1024]]), "intended")
        self.assertEqual(codes[0].tolist(), [0, 1, -1, -1, -1] + list(range(5, 16)))
        self.assertEqual(codes[1].tolist(), [-1] + list(range(1, 16)))

    def test_coqui_masks_the_last_item_in_hops_of_256(self):
        # Coqui's own behaviour: only the last item, indices divided by 256: samples 512..1024 -> 2..4.
        codes = torch.arange(8).repeat(2, 1)
        mask_prompt(codes, torch.tensor([[0, 4096], [512, 1024]]), "coqui")
        self.assertEqual(codes[0].tolist(), list(range(8)))
        self.assertEqual(codes[1].tolist(), [0, 1, -1, -1, 4, 5, 6, 7])

    def test_off(self):
        codes = torch.arange(4).repeat(1, 1)
        mask_prompt(codes, torch.tensor([[0, 4096]]), "off")
        self.assertEqual(codes.tolist(), [[0, 1, 2, 3]])
        with self.assertRaises(ValueError):
            mask_prompt(codes, torch.tensor([[0, 4096]]), "sometimes")


if __name__ == "__main__":
    unittest.main()
