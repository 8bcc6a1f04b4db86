"""Loudness normalisation against levels known in closed form (a sine's RMS is its peak / sqrt 2,
i.e. 3.0103 dB below it) and against sox's own measurement of the written file."""

import math
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import numpy as np

from dataset.loudness import normalize, peak_db, rms_db, to_pcm16
from dataset.write import write_wav

RATE = 22050
SINE_CREST_DB = 20 * math.log10(math.sqrt(2))  # 3.0103


def sine(amplitude: float, seconds: float = 1.0) -> np.ndarray:
    # 40 samples a period (551.25 Hz), whole periods only: the samples include the crests, and the
    # mean square is exactly amplitude^2 / 2.
    k = np.arange(40 * round(seconds * RATE / 40))
    return (amplitude * np.sin(2 * np.pi * k / 40)).astype(np.float32)


class LevelsTest(unittest.TestCase):
    def test_sine_levels(self):
        x = sine(0.5)
        self.assertAlmostEqual(peak_db(x), 20 * math.log10(0.5), places=3)  # -6.0206
        self.assertAlmostEqual(rms_db(x), 20 * math.log10(0.5) - SINE_CREST_DB, places=3)  # -9.0309

    def test_square_wave_rms_equals_peak(self):
        x = np.tile(np.array([0.25, -0.25], np.float32), 1000)
        self.assertAlmostEqual(rms_db(x), 20 * math.log10(0.25), places=4)

    def test_pcm16_rounding_and_rails(self):
        x = np.array([0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 1 / 32767], np.float32)
        self.assertEqual(to_pcm16(x).tolist(), [0, 32767, -32767, 32767, -32768, 16384, 1])
        self.assertEqual(to_pcm16(x).dtype, np.dtype("<i2"))


class NormalizeTest(unittest.TestCase):
    def test_quiet_sine_reaches_target_without_limiting(self):
        x = sine(0.1)  # RMS -23.0103 dBFS
        pcm, info = normalize(x, -20.0, -1.0, RATE)
        self.assertAlmostEqual(info["gain_db"], 3.01, places=2)
        self.assertEqual(info["limited_db"], 0.0)
        self.assertAlmostEqual(info["loudness_dbfs"], -20.0, delta=0.05)
        # Gain only: the peak sits one crest factor above the RMS target.
        self.assertAlmostEqual(info["peak_dbfs"], -20.0 + SINE_CREST_DB, delta=0.05)
        self.assertEqual(pcm.size, x.size)

    def test_sox_measures_the_written_file_at_target(self):
        sox = shutil.which("sox")
        self.assertIsNotNone(sox, "sox is needed (npm run setup:system installs it)")
        pcm, _ = normalize(sine(0.02, seconds=2.0), -20.0, -1.0, RATE)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "clip.wav")
            write_wav(path, pcm, RATE)
            out = subprocess.run([sox, path, "-n", "stats"], capture_output=True, text=True, check=True).stderr
        rms = float(re.search(r"RMS lev dB\s+(-?[\d.]+)", out).group(1))
        peak = float(re.search(r"Pk lev dB\s+(-?[\d.]+)", out).group(1))
        self.assertAlmostEqual(rms, -20.0, delta=0.05)
        self.assertAlmostEqual(peak, -20.0 + SINE_CREST_DB, delta=0.05)

    def test_peaks_over_the_ceiling_are_limited(self):
        # A quiet sine (0.01) with ten clicks at 0.5 (-6.02 dBFS) over 22040 samples. Sum of squares:
        # sine 0.0001 * 22040 / 2 = 1.102, less the 4.5 * 0.0001 of the samples the clicks replace,
        # plus 10 * 0.25: 3.60155, so RMS = 10 log10(3.60155 / 22040) = -37.87 dBFS. Lifted 17.87 dB
        # to -20, the clicks would peak at +11.85 dBFS: 12.85 dB over the -1 dBFS ceiling.
        x = sine(0.01)
        x[::2205] = 0.5
        pcm, info = normalize(x, -20.0, -1.0, RATE)
        self.assertAlmostEqual(info["gain_db"], 17.87, delta=0.01)
        self.assertAlmostEqual(info["limited_db"], 12.85, delta=0.01)
        self.assertAlmostEqual(info["loudness_dbfs"], -20.0, delta=0.05)
        peak = np.max(np.abs(pcm.astype(np.float64))) / 32768.0
        self.assertLessEqual(20 * math.log10(peak), -1.0 + 0.01)

    def test_an_unreachable_target_still_keeps_the_ceiling(self):
        """A sine at -2 dBFS RMS cannot peak under -1 dBFS (a sine's crest factor is 3 dB): the
        ceiling wins, and the level reached is reported below the target."""
        pcm, info = normalize(sine(0.1), -2.0, -1.0, RATE)
        peak = np.max(np.abs(pcm.astype(np.float64))) / 32768.0
        self.assertLessEqual(20 * math.log10(peak), -1.0 + 0.01)
        self.assertLess(info["loudness_dbfs"], -2.0 - 0.5)
        self.assertGreater(info["limited_db"], 0.0)

    def test_digital_silence_is_left_alone(self):
        pcm, info = normalize(np.zeros(RATE, np.float32), -20.0, -1.0, RATE)
        self.assertEqual(info["gain_db"], 0.0)
        self.assertEqual(info["loudness_dbfs"], -200.0)  # the floor of db(): 20 log10(1e-10)
        self.assertFalse(pcm.any())


if __name__ == "__main__":
    unittest.main()
