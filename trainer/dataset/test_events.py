"""The builder's event stream (one JSON object per line, progress of the whole build, exit codes)
and its options."""

import errno
import io
import json
import unittest
from contextlib import redirect_stderr, redirect_stdout

from dataset.events import Progress, UserError, run_main
from dataset.options import check_language, parse_options


def events(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


class ProgressTest(unittest.TestCase):
    def test_fractions_are_of_the_whole_build_and_never_go_back(self):
        out = io.StringIO()
        p = Progress(min_interval_s=0.0)
        with redirect_stdout(out):
            p.update("decode", 0.5)  # 0.08 * 0.5
            p.update("transcribe", 0.5, "half")  # 0.08 + 0.6 * 0.5
            p.update("decode", 1.0)  # a stage behind: holds at 0.38
            p.update("filter", 1.0)  # every stage done: 1.0
        got = events(out)
        self.assertEqual([e["fraction"] for e in got], [0.04, 0.38, 0.38, 1.0])
        self.assertEqual(got[1], {"event": "progress", "stage": "transcribe", "fraction": 0.38, "message": "half"})

    def test_updates_within_the_interval_are_dropped_unless_forced_or_final(self):
        out = io.StringIO()
        p = Progress(min_interval_s=3600.0)
        with redirect_stdout(out):
            p.update("decode", 0.1, force=True)
            p.update("decode", 0.2)  # within the hour since the last one
            p.update("decode", 0.3, force=True)
            p.update("decode", 1.0)
        self.assertEqual([e["fraction"] for e in events(out)], [0.008, 0.024, 0.08])


class RunMainTest(unittest.TestCase):
    def run_body(self, body):
        out, err, cleaned = io.StringIO(), io.StringIO(), []
        with redirect_stdout(out), redirect_stderr(err), self.assertRaises(SystemExit) as ex:
            run_main(body, cleanup=lambda: cleaned.append(True))
        return ex.exception.code, events(out), err.getvalue(), cleaned

    def test_done(self):
        code, evs, _, cleaned = self.run_body(lambda argv: {"clips": 3})
        self.assertEqual((code, evs, cleaned), (0, [{"event": "done", "report": {"clips": 3}}], []))

    def test_user_error_is_an_event_and_exit_2(self):
        def body(argv):
            raise UserError("AUDIO_EMPTY", "a.wav", "a.wav: the file is empty (0 bytes).")

        code, evs, _, cleaned = self.run_body(body)
        self.assertEqual(code, 2)
        self.assertEqual(evs, [{"event": "error", "code": "AUDIO_EMPTY", "file": "a.wav",
                                "message": "a.wav: the file is empty (0 bytes)."}])
        self.assertEqual(cleaned, [True])

    def test_full_disk_is_a_user_error(self):
        def body(argv):
            raise OSError(errno.ENOSPC, "No space left on device")

        code, evs, _, cleaned = self.run_body(body)
        self.assertEqual((code, evs[0]["code"], cleaned), (2, "DISK_FULL", [True]))

    def test_a_crash_is_exit_1_with_the_traceback_on_stderr(self):
        def body(argv):
            raise KeyError("boom")

        code, evs, err, cleaned = self.run_body(body)
        self.assertEqual((code, evs, cleaned), (1, [], [True]))
        self.assertIn("KeyError: 'boom'", err)


class OptionsTest(unittest.TestCase):
    def test_defaults_and_overrides(self):
        opts = parse_options({"min_s": 2.0, "asr": {"backend": "openai", "url": "http://x/v1", "api_key": "k"}})
        self.assertEqual((opts.min_s, opts.max_s, opts.target_dbfs, opts.sample_rate), (2.0, 11.6, -20.0, 22050))
        self.assertEqual(opts.public()["asr"]["api_key"], "***")  # never echoed back

    def test_invalid_options_are_user_errors(self):
        for raw, says in (({"nope": 1}, "Unknown build option(s): nope"), ({"asr": {"beam": 1}}, "Unknown asr"),
                          ({"min_s": 12.0}, "min_s must be"), ({"sample_rate": 4000}, "sample_rate"),
                          ({"asr": {"backend": "openai"}}, "asr.url is required")):
            with self.assertRaises(UserError) as ex:
                parse_options(raw)
            self.assertEqual(ex.exception.code, "OPTIONS_INVALID")
            self.assertIn(says, ex.exception.message)

    def test_languages(self):
        self.assertEqual(check_language("zh-cn"), "zh")
        self.assertEqual(check_language("en"), "en")
        with self.assertRaises(UserError) as ex:
            check_language("xx")
        self.assertEqual(ex.exception.code, "LANGUAGE_UNSUPPORTED")


if __name__ == "__main__":
    unittest.main()
