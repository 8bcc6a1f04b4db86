"""Text handling: the metadata column, word forms for matching, sentence ends, word error rate."""

import unittest

from dataset.text import clean, ends_sentence, match_words, wer, word_errors


class CleanTest(unittest.TestCase):
    def test_one_line_plain_quotes_no_pipe(self):
        raw = "  \u201cHello\u201d \u2014 it\u2019s\u00a0a | test\n\tline  "
        self.assertEqual(clean(raw), "\"Hello\" - it's a test line")

    def test_composes_to_nfc(self):
        # "e" + combining acute accent becomes the one precomposed letter.
        self.assertEqual(clean("cafe\u0301"), "caf\u00e9")


class MatchWordsTest(unittest.TestCase):
    def test_lower_case_without_punctuation_digits_kept(self):
        self.assertEqual(match_words("Don\u2019t STOP, it's 42!"), ["dont", "stop", "its", "42"])

    def test_punctuation_only_tokens_vanish(self):
        self.assertEqual(match_words("... \u2014 !"), [])


class EndsSentenceTest(unittest.TestCase):
    def test_final_marks(self):
        self.assertTrue(ends_sentence("end.", "en"))
        self.assertTrue(ends_sentence("really?!", "en"))
        self.assertTrue(ends_sentence('said."', "en"))  # a closing quote after the full stop
        self.assertTrue(ends_sentence("\u7d42\u308f\u308a\u3002", "ja"))  # ideographic full stop
        self.assertFalse(ends_sentence("however,", "en"))

    def test_abbreviations_are_per_language(self):
        self.assertFalse(ends_sentence("Dr.", "en"))
        self.assertFalse(ends_sentence("e.g.", "en"))
        self.assertFalse(ends_sentence("Sra.", "es"))
        self.assertTrue(ends_sentence("Sra.", "en"))  # only Spanish lists it


class WordErrorsTest(unittest.TestCase):
    def test_levenshtein_distances(self):
        # The textbook pair: kitten -> sitting is two substitutions and one insertion.
        self.assertEqual(word_errors(list("kitten"), list("sitting")), 3)
        self.assertEqual(word_errors([], ["a", "b"]), 2)
        self.assertEqual(word_errors(["a", "b", "c"], ["a", "c"]), 1)

    def test_wer_over_match_forms(self):
        self.assertAlmostEqual(wer("The cat sat.", "the cat sat down"), 1 / 3)
        self.assertEqual(wer("Hello, world!", "hello world"), 0.0)
        self.assertEqual(wer("", ""), 0.0)
        self.assertEqual(wer("", "noise"), 1.0)


if __name__ == "__main__":
    unittest.main()
