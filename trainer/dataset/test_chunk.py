"""The sentence and statistical chunkers on synthetic word timings, and the placement of cuts in
the pauses. Every expected boundary below is worked out by hand from the timings.

Unless a test says otherwise, word k lasts 0.4 s from 0.5 k s (gaps of 0.1 s), so a span of words
i..j is estimated at end_j - start_i + 2 * pad = 0.5 (j - i) + 0.4 + 0.4 s with the default
pad of 0.2 s."""

import unittest

import numpy as np

from dataset.analyze import Analysis
from dataset.chunk import place, sentence_spans, statistical_spans
from dataset.options import Options


def timed(texts: list[str], gaps: dict[int, float] | None = None) -> list[dict]:
    """Words of 0.4 s with 0.1 s between them; gaps[k] replaces the gap after word k."""
    out, t = [], 0.0
    for k, text in enumerate(texts):
        out.append({"text": text, "start": round(t, 3), "end": round(t + 0.4, 3)})
        t += 0.4 + (gaps or {}).get(k, 0.1)
    return out


def sentences(n: int, words_each: int = 5) -> list[str]:
    return [("end." if (k + 1) % words_each == 0 else "word") for k in range(n)]


class SentenceSpansTest(unittest.TestCase):
    def test_sentences_merge_up_to_the_length_limit(self):
        # Sentences end at words 4, 9, 14, 19, 24. Merged from word 0: through word 19 the estimate is
        # 0.5 * 19 + 0.8 = 10.3 s (under 11.6 - 0.05); through word 24 it would be 12.8 s.
        self.assertEqual(sentence_spans(timed(sentences(25)), Options(), "en"), [(0, 19), (20, 24)])

    def test_a_long_silence_is_always_a_break(self):
        words = timed(sentences(10), gaps={4: 2.5})  # 2.5 s >= long_silence_s (2 s) after the first sentence
        self.assertEqual(sentence_spans(words, Options(), "en"), [(0, 4), (5, 9)])

    def test_abbreviations_do_not_end_sentences(self):
        # 23 words, the last "end.": 11.8 s, over the limit. If the first word ends a sentence, it is
        # a unit of its own that cannot merge with the 11.3 s after it; if it does not ("Dr."), the
        # whole is split at the word ending nearest its middle (5.7 s): word 11, ending at 5.9 s.
        texts = ["word"] * 21 + ["end."]
        self.assertEqual(sentence_spans(timed(["Stop."] + texts), Options(), "en"), [(0, 0), (1, 22)])
        self.assertEqual(sentence_spans(timed(["Dr."] + texts), Options(), "en"), [(0, 11), (12, 22)])

    def test_an_overlong_sentence_splits_at_its_middle(self):
        # 30 words, no sentence end: 15.3 s. All gaps are equal, so the split is the word ending
        # nearest the middle (7.45 s): word 14 ends at 7.4 s. Halves: 7.8 s and 7.8 s.
        self.assertEqual(sentence_spans(timed(["word"] * 30), Options(), "en"), [(0, 14), (15, 29)])

    def test_an_overlong_sentence_prefers_a_comma(self):
        # A comma after word 9 scores 0.1 + 0.3 - 0.5 * |4.9 - 7.45| / 14.9 = 0.314 against
        # 0.1 - 0.5 * 0.05 / 14.9 = 0.098 at word 14: the split moves to the comma (5.3 s + 10.3 s).
        texts = ["word"] * 30
        texts[9] = "word,"
        self.assertEqual(sentence_spans(timed(texts), Options(), "en"), [(0, 9), (10, 29)])


class StatisticalSpansTest(unittest.TestCase):
    # min_s == max_s: the truncated normal has no spread, so every target duration is exactly 5 s.
    OPTS = Options(min_s=5.0, max_s=5.0)

    def test_spans_closest_to_the_drawn_duration(self):
        # Nine words estimate at 0.5 * 8 + 0.8 = 4.8 s (0.2 from 5); ten would be 5.3 s, over 4.95 s.
        rng = np.random.default_rng(0)
        self.assertEqual(statistical_spans(timed(["w"] * 20), self.OPTS, rng), [(0, 8), (9, 17), (18, 19)])

    def test_a_real_pause_beats_touching_timestamps(self):
        # Word 9 starts where word 8 ends: ending there costs 0.2 + 1; ending at word 7 costs 0.7.
        words = timed(["w"] * 20, gaps={8: 0.0})
        spans = statistical_spans(words, self.OPTS, np.random.default_rng(0))
        self.assertEqual(spans[0], (0, 7))

    def test_random_targets_cover_every_word_within_the_limits(self):
        opts = Options()
        words = timed(["w"] * 200, gaps={60: 2.5})
        spans = statistical_spans(words, opts, np.random.default_rng(7))
        self.assertEqual(spans[0][0], 0)
        self.assertEqual(spans[-1][1], 199)
        for (_, j), (i, _) in zip(spans, spans[1:]):
            self.assertEqual(i, j + 1)  # contiguous, nothing skipped
        for i, j in spans:
            self.assertLessEqual(words[j]["end"] - words[i]["start"] + 2 * opts.pad_s, opts.max_s - 0.05)
            self.assertFalse(i <= 60 < j, "a span crosses the long silence after word 60")


def analysis(seconds: float, silent_ranges: list[tuple[float, float]]) -> Analysis:
    """An analysis whose 10 ms frames are silent exactly over the given ranges."""
    silent = np.zeros(int(round(seconds * 100)), bool)
    for a, b in silent_ranges:
        silent[int(round(a * 100)) : int(round(b * 100))] = True
    level = np.where(silent, -80.0, -20.0).astype(np.float32)
    return Analysis(level, silent, -50.0, [], [], -20.0)


class PlaceTest(unittest.TestCase):
    WORDS = [{"text": "one", "start": 0.5, "end": 1.9}, {"text": "two", "start": 2.6, "end": 3.5}]

    def test_cuts_keep_pad_of_each_pause(self):
        # Pauses found: [0, 0.45] before word 0, [2.0, 2.5] between, [3.6, 4.0] after word 1.
        an = analysis(4.0, [(0.0, 0.45), (2.0, 2.5), (3.6, 4.0)])
        got = place(self.WORDS, [(0, 0), (1, 1)], an, Options(), 4.0)
        # start 0.45 - 0.2; end 2.0 + 0.2; start 2.5 - 0.2; end 3.6 + 0.2
        self.assertEqual(got, [(0.25, 2.2), (2.3, 3.8)])

    def test_a_short_pause_is_shared_at_its_middle(self):
        an = analysis(4.0, [(0.0, 0.45), (2.0, 2.2), (3.6, 4.0)])
        got = place(self.WORDS, [(0, 0), (1, 1)], an, Options(), 4.0)
        self.assertEqual(got, [(0.25, 2.1), (2.1, 3.8)])  # 0.2 s pause: 0.1 s each, not 0.2


if __name__ == "__main__":
    unittest.main()
