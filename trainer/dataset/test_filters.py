"""Fault detection on synthetic signals (silence, noise, sound without words, clipping) and the
dataset filters' rules, with expected values worked out by hand."""

import os
import tempfile
import unittest
import wave

import numpy as np

from dataset.analyze import analyze, non_speech
from dataset.decode import decode
from dataset.filters import dataset_filters, measure_faults, overlaps, settle, split, touches
from dataset.options import Options

RATE16 = 16000


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    k = np.arange(int(seconds * RATE16))
    return (amplitude * np.sin(2 * np.pi * 440 * k / RATE16)).astype(np.float32)


class AnalyzeTest(unittest.TestCase):
    # 1 s of tone, 2.5 s of digital silence, 1 s of tone: 72000 samples, 448 frames of 400 samples
    # every 160. Frame i holds only zeros when 160 i >= 16000 and 160 i + 400 <= 56000: i = 100..347,
    # so the silence runs from 1.00 s to 3.48 s. Frames 99 and 348 still hold 160 and 80 tone samples.
    SIGNAL = np.concatenate([tone(1.0), np.zeros(40000, np.float32), tone(1.0)])

    def test_long_silence_boundaries(self):
        an = analyze(self.SIGNAL, long_silence_s=2.0)
        self.assertEqual(an.long_silences, [[1.0, 3.48]])
        self.assertAlmostEqual(an.longest_silence(0.0, 4.5), 2.48)
        self.assertEqual(an.noise, [])  # a pure tone is anything but spectrally flat

    def test_room_tone_well_under_the_speech_is_silence(self):
        # The same, with a 100 Hz hum 45 dB under the tone (-58.5 dBFS) instead of digital silence,
        # and 1 s of digital silence at the end for the floor: silence is anything 40 dB or more under
        # the loud frames (-13.5 dBFS), so the hum is silence.
        k = np.arange(40000)
        hum = (0.3 * 10 ** (-45 / 20) * np.sin(2 * np.pi * 100 * k / RATE16)).astype(np.float32)
        x = np.concatenate([tone(1.0), hum, tone(1.0), np.zeros(RATE16, np.float32)])
        self.assertEqual(analyze(x, long_silence_s=2.0).long_silences, [[1.0, 3.48]])

    def test_silence_shorter_than_the_limit_is_not_reported(self):
        self.assertEqual(analyze(self.SIGNAL, long_silence_s=2.5).long_silences, [])

    def test_sound_without_words(self):
        an = analyze(self.SIGNAL, long_silence_s=2.0)
        # Both tones are sound: frames 0..99 and 348..447, 100 frames (1 s) each.
        self.assertEqual(non_speech(an, []), [[0.0, 1.0], [3.48, 4.48]])
        # A word over the first tone covers it (and 0.2 s either side); the second stays reported.
        self.assertEqual(non_speech(an, [{"start": 0.1, "end": 0.9}]), [[3.48, 4.48]])

    def test_white_noise_is_noise(self):
        rng = np.random.default_rng(0)
        noise = (0.1 * rng.standard_normal(2 * RATE16)).astype(np.float32)
        # The silence sets the floor the silence threshold is relative to (noise 40 dB over it is sound).
        x = np.concatenate([tone(2.0), np.zeros(RATE16, np.float32), noise, tone(2.0)])
        an = analyze(x, long_silence_s=2.0)
        self.assertEqual(len(an.noise), 1)
        start, end = an.noise[0]
        # The flatness median spans 0.31 s and frames are 25 ms: the edges are good to about 0.2 s.
        self.assertAlmostEqual(start, 3.0, delta=0.2)
        self.assertAlmostEqual(end, 5.0, delta=0.2)


class ClippingTest(unittest.TestCase):
    def test_a_run_at_the_rail_is_reported_a_lone_peak_is_not(self):
        rate = 22050
        x = np.round(0.3 * np.sin(2 * np.pi * 220 * np.arange(3 * rate) / rate) * 32767).astype("<i2")
        x[rate + 100] = 32767  # one full-scale sample at 1.0045 s: a peak, not clipping
        x[2 * rate : 2 * rate + 50] = 32767  # 50 samples at the rail from 2.0 s
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "clip.wav")
            with wave.open(path, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(x.tobytes())
            got = decode(path, "clip.wav", rate).clipping
        # Runs of three start at 2.0 s to 2.0 s + 47 / 22050; the range is padded 0.05 s each side.
        self.assertEqual(len(got), 1)
        self.assertAlmostEqual(got[0][0], 1.95, delta=0.001)
        self.assertAlmostEqual(got[0][1], 2.0 + 47 / rate + 0.05, delta=0.001)
        self.assertEqual(got[0][2], 48)  # clip events: run starts


def clip(id_: str, text: str, **kw) -> dict:
    c = {"id": id_, "text": text, "normalized_text": text, "duration_s": 5.0, "start_s": 10.0, "end_s": 15.0,
         "reasons": [], "audio_sha256": id_, "cps": 12.0}
    c.update(kw)
    return c


class FilterRulesTest(unittest.TestCase):
    def test_overlap_tolerance_is_a_tenth_of_a_second(self):
        self.assertFalse(overlaps(0.0, 5.0, [[4.95, 6.0]]))  # 0.05 s into the fault
        self.assertTrue(overlaps(0.0, 5.0, [[4.8, 6.0]]))  # 0.2 s
        self.assertFalse(overlaps(0.0, 5.0, []))

    def test_a_cut_at_the_edge_of_a_noise_is_a_fault(self):
        # The clip [10, 15]: a noise ending 0.05 s before it starts, or starting 0.05 s after it ends,
        # touches it (the cut was made where the noise stopped, maybe inside a word under it).
        self.assertTrue(touches(10.0, 15.0, [[9.0, 9.95]]))
        self.assertTrue(touches(10.0, 15.0, [[15.05, 16.0]]))
        self.assertFalse(touches(10.0, 15.0, [[9.0, 9.8]]))  # 0.2 s of something else between
        self.assertFalse(touches(10.0, 15.0, [[15.3, 16.0]]))
        c = clip("c", "For a long time.")
        measure_faults(c, {"noise": [[9.0, 9.99]]}, 0.1, Options())
        self.assertEqual(c["reasons"], ["NON_SPEECH"])
        c = clip("d", "For a long time.")
        measure_faults(c, {"noise": [[8.0, 9.5]]}, 0.1, Options())
        self.assertEqual(c["reasons"], [])

    def test_measured_faults(self):
        opts = Options()
        faults = {"clipping": [[14.0, 14.5]], "noise": [[0.0, 1.0]], "transcript_mismatch": [[9.0, 10.05]]}
        c = clip("a", "Hello there.")
        measure_faults(c, faults, 0.5, opts)
        self.assertEqual(c["reasons"], ["CLIPPING"])  # 0.05 s of mismatch is within the tolerance
        c = clip("b", "...", duration_s=2.9, normalized_text="x" * 251)
        measure_faults(c, {"non_speech": [[12.0, 13.0]]}, 2.0, opts)
        self.assertEqual(c["reasons"], ["EMPTY_TEXT", "DURATION_OUT_OF_RANGE", "TEXT_TOO_LONG", "LONG_SILENCE", "NON_SPEECH"])

    def test_duplicates_and_speaking_rate_outliers(self):
        # Speaking rates 10, 10, 10, 10, 10, 22: mean 12, variance (5 * 4 + 100) / 6 = 20, sd 4.472;
        # 22 is z = 10 / 4.472 = 2.236 > 2, the others -0.447. The duplicate is judged first and
        # does not count: its text matches clip c0's once case and punctuation are gone.
        clips = [clip(f"c{k}", f"sentence number {k}", cps=10.0) for k in range(5)]
        clips.append(clip("fast", "a fast one", cps=22.0))
        clips.append(clip("dup", "Sentence, number 0!", cps=40.0))
        stats = dataset_filters(clips, Options())
        self.assertEqual(stats, {"cps_mean": 12.0, "cps_std": 4.472})
        by_id = {c["id"]: c for c in clips}
        self.assertEqual(by_id["dup"]["reasons"], ["DUPLICATE"])
        self.assertEqual(by_id["dup"]["duplicate_of"], "c0")
        self.assertEqual(by_id["fast"]["reasons"], ["CPS_OUTLIER"])
        self.assertEqual(by_id["fast"]["cps_z"], 2.236)
        self.assertEqual(by_id["c0"]["cps_z"], -0.447)
        settle(clips)
        self.assertEqual([c["status"] for c in clips], ["kept"] * 5 + ["dropped", "dropped"])

    def test_flags_wait_for_the_owner(self):
        clips = [clip("a", "x", reasons=["TRANSCRIPT_MISMATCH"]), clip("b", "y", reasons=["CLIPPING", "ASR_MISMATCH"])]
        settle(clips)
        self.assertEqual([c["status"] for c in clips], ["flagged", "dropped"])

    def test_eval_split_sizes(self):
        opts = Options()  # eval_fraction 0.02
        for kept, want_eval in ((1, 0), (2, 1), (10, 1), (100, 2), (175, 4)):
            clips = [dict(clip(f"c{k}", "t"), status="kept") for k in range(kept)]
            clips.append(dict(clip("gone", "t"), status="dropped"))
            split(clips, opts)
            self.assertEqual(sum(c["split"] == "eval" for c in clips), want_eval, kept)
            self.assertEqual(sum(c["split"] == "train" for c in clips), kept - want_eval)
            self.assertIsNone(clips[-1]["split"])


if __name__ == "__main__":
    unittest.main()
