"""Aligning a user's transcript to the ASR's timed words, on small hand-checked cases."""

import unittest

from dataset.align import align


def asr(*words: tuple[str, float, float]) -> list[dict]:
    return [{"text": t, "start": s, "end": e} for t, s, e in words]


class AlignTest(unittest.TestCase):
    def test_user_spelling_asr_timing(self):
        words, mismatches = align("Hello, World!", asr(("hello", 0.0, 0.4), ("world", 0.5, 0.9)))
        self.assertEqual([(w["text"], w["start"], w["end"], w["matched"]) for w in words],
                         [("Hello,", 0.0, 0.4, True), ("World!", 0.5, 0.9, True)])
        self.assertEqual(mismatches, [])

    def test_one_misheard_word_takes_the_time_of_the_word_it_replaces(self):
        words, mismatches = align("the grey cat", asr(("the", 0.0, 0.2), ("gray", 0.3, 0.6), ("cat", 0.7, 1.0)))
        self.assertEqual((words[1]["text"], words[1]["start"], words[1]["end"], words[1]["matched"]),
                         ("grey", 0.3, 0.6, False))
        self.assertEqual(mismatches, [])  # one differing word is ASR noise, not a different text

    def test_a_word_the_asr_missed_fills_the_gap_between_its_neighbours(self):
        words, _ = align("a big dog", asr(("a", 0.0, 0.5), ("dog", 1.0, 1.5)))
        self.assertEqual((words[1]["start"], words[1]["end"]), (0.5, 1.0))

    def test_replaced_words_share_the_time_by_length(self):
        # "xy" and "wxyz" (2 and 4 letters) replace "blah", 1.0 to 1.6 s: 0.2 s and 0.4 s.
        words, _ = align("a xy wxyz b", asr(("a", 0.0, 0.5), ("blah", 1.0, 1.6), ("b", 2.0, 2.5)))
        self.assertEqual([(w["start"], w["end"]) for w in words[1:3]], [(1.0, 1.2), (1.2, 1.6)])

    def test_a_stretch_of_different_text_is_a_mismatch(self):
        heard = asr(("one", 0.0, 0.4), ("two", 0.5, 0.9), ("red", 1.0, 1.4), ("green", 1.5, 1.9),
                    ("blue", 2.0, 2.4), ("six", 2.5, 2.9))
        _, mismatches = align("one two three four five six", heard)
        # Three user words and three ASR words differ, both from 1.0 to 2.4 s.
        self.assertEqual(mismatches, [[1.0, 2.4]])


if __name__ == "__main__":
    unittest.main()
