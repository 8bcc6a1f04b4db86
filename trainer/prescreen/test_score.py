"""The pre-screen's measures on small cases worked out by hand: characters, repeats, character
error rate, the end-of-utterance alignment, frame levels, and a checkpoint's summary."""

import unittest

import numpy as np

from prescreen.score import FRAME, _align_ends, cer, chars_of, frame_db, repeats, score_item, similarity, summarize


class TextMeasuresTest(unittest.TestCase):
    def test_chars_are_letters_and_digits(self):
        self.assertEqual(chars_of("Hello, world! 42"), 12)
        self.assertEqual(chars_of("\u4f60\u597d\u3002"), 2)  # two Han characters, the full stop not counted

    def test_repeats(self):
        self.assertEqual(repeats("the end the end".split()), 1)  # one bigram repeated
        self.assertEqual(repeats("no no no".split()), 2)  # the unigram "no no", twice
        self.assertEqual(repeats("a b c".split()), 0)

    def test_cer(self):
        self.assertAlmostEqual(cer(["abc"], ["abd"]), 1 / 3)
        self.assertAlmostEqual(cer(["ab", "cd"], ["abcd"]), 0.0)  # spaces are not characters
        self.assertEqual(cer(["ab"], ["abcdefgh"]), 1.0)  # capped
        self.assertEqual((cer([], []), cer([], ["x"])), (0.0, 1.0))

    def test_end_alignment(self):
        self.assertEqual(_align_ends(list("abc"), list("ab")), (1, 0))  # the final word missing
        self.assertEqual(_align_ends(list("abc"), list("abcd")), (0, 1))  # one extra word after the text
        self.assertEqual(_align_ends(list("abc"), list("abx")), (0, 0))  # misheard, neither missing nor extra
        self.assertEqual(_align_ends(list("abcd"), list("ab")), (2, 0))


class SignalMeasuresTest(unittest.TestCase):
    def test_frame_levels(self):
        x = np.concatenate([np.full(FRAME, 0.1), np.full(FRAME, 0.01), np.zeros(FRAME // 2)])
        got = frame_db(x)  # the half frame at the end is not a frame
        self.assertEqual(got.shape, (2,))
        self.assertAlmostEqual(got[0], -20.0, places=6)
        self.assertAlmostEqual(got[1], -40.0, places=6)

    def test_similarity_is_a_scaled_cosine(self):
        scale = np.array([1.0, 2.0])
        self.assertAlmostEqual(similarity(np.array([1.0, 0.0]), np.array([0.0, 4.0]), scale), 0.0)
        # [1, 1] / [1, 2] = [1, 0.5] against [2, 1]: cos = 2.5 / (sqrt(1.25) * sqrt(5)) = 1
        self.assertAlmostEqual(similarity(np.array([1.0, 1.0]), np.array([2.0, 2.0]), scale), 1.0)
        self.assertIsNone(similarity(None, np.ones(2), scale))

    def test_an_utterance_with_sound_after_its_last_word(self):
        rate = 16000
        t = np.arange(2 * rate) / rate
        audio = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)  # 2 s of sound
        audio[int(1.5 * rate) :] = 0.0  # silent from 1.5 s
        words = [{"text": "hello", "start": 0.0, "end": 0.5}, {"text": "world", "start": 0.5, "end": 0.9}]
        got = score_item(audio, "Hello world.", words)
        self.assertEqual((got["duration_s"], got["speech_s"], got["sound_s"]), (2.0, 1.5, 1.5))
        self.assertEqual((got["wer"], got["missing_final"], got["final_wrong"], got["extra_final"]), (0.0, 0, False, 0))
        self.assertAlmostEqual(got["trailing_s"], 0.6)  # sound until 1.5 s, last word ends at 0.9 s
        self.assertAlmostEqual(got["span_s"], 1.0)  # first sound to the last word's end + 0.1 s
        self.assertEqual(got["chars"], 10)


class SummaryTest(unittest.TestCase):
    def item(self, **kw) -> dict:
        it = {"silent": False, "wer": 0.0, "cer": 0.0, "trailing_s": 0.0, "extra_final": 0, "repeats": 0,
              "final_wrong": False, "abrupt_end": False, "span_s": 1.0, "sound_s": 1.0, "chars": 12}
        it.update(kw)
        return it

    def test_shares_and_ratios(self):
        items = [self.item(wer=0.5, cer=0.2, sentence=0), self.item(trailing_s=0.7, sentence=0),
                 self.item(final_wrong=True, span_s=2.0, sentence=1), self.item(silent=True, sentence=1, cer=0.4)]
        got = summarize(items, cps=12.0)  # 12 characters at 12 per second: 1 s expected per item
        self.assertEqual(got["n"], 4)
        self.assertEqual((got["wer"], got["cer"]), (0.125, 0.15))
        self.assertEqual((got["silent_share"], got["end_fault_share"], got["missing_final_share"]), (0.25, 0.25, 0.25))
        self.assertEqual(got["duration_ratio"], 1.0)  # median of 1, 1, 2 over voiced items
        self.assertEqual(got["seed_cer_spread"], 0.15)  # std of (0.2, 0) and of (0, 0.4): 0.1 and 0.2
        self.assertEqual(summarize([], 12.0), {"n": 0})


if __name__ == "__main__":
    unittest.main()
