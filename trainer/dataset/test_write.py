"""Writing the dataset: WAV headers, the LJSpeech tables, files that are never half-written, the
swap that publishes a build whole, and the build cache."""

import json
import os
import tempfile
import unittest
import wave

import numpy as np

from dataset.cache import Cache, key
from dataset.write import dump_json, fresh_partial, partial_dir, publish, write_tables, write_wav


class WriteTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def test_wav_is_mono_pcm16_at_the_rate(self):
        path = os.path.join(self.dir, "a.wav")
        write_wav(path, np.array([0, 1, -1, 32767, -32768], np.int16), 22050)
        with wave.open(path, "rb") as w:
            self.assertEqual((w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()), (1, 2, 22050, 5))
            self.assertEqual(w.readframes(5), bytes.fromhex("0000 0100 ffff ff7f 0080"))
        self.assertEqual(os.path.getsize(path), 44 + 10)  # the canonical 44-byte header

    def test_tables(self):
        clips = [
            {"id": "r-1", "text": "One.", "normalized_text": "One.", "status": "kept", "split": "train", "audio_sha256": "x"},
            {"id": "r-2", "text": "Two.", "normalized_text": "Two.", "status": "kept", "split": "eval", "audio_sha256": "y"},
            {"id": "r-3", "text": "Bad.", "normalized_text": "Bad.", "status": "dropped", "split": None, "audio_sha256": "z"},
        ]
        write_tables(self.dir, clips)

        def read(name):
            with open(os.path.join(self.dir, name), encoding="utf-8") as f:
                return f.read()

        self.assertEqual(read("metadata.csv"), "r-1|One.|One.\nr-2|Two.|Two.\n")
        self.assertEqual(read("metadata_train.csv"), "r-1|One.|One.\n")
        self.assertEqual(read("metadata_eval.csv"), "r-2|Two.|Two.\n")
        listed = json.loads(read("clips.json"))
        self.assertEqual([c["id"] for c in listed], ["r-1", "r-2", "r-3"])  # dropped clips stay listed
        self.assertTrue(all("audio_sha256" not in c for c in listed))

    def test_json_is_never_half_written(self):
        path = os.path.join(self.dir, "report.json")
        dump_json(path, {"version": 1})
        with self.assertRaises(TypeError):  # fails in the middle of serialising
            dump_json(path, {"version": 2, "bad": object()})
        with open(path, encoding="utf-8") as f:
            self.assertEqual(json.load(f), {"version": 1})
        self.assertFalse(os.path.exists(path + ".tmp"), "the partial file is removed")

    def test_publish_replaces_a_previous_build_whole(self):
        out = os.path.join(self.dir, "dataset")
        os.makedirs(out)
        with open(os.path.join(out, "old.txt"), "w") as f:
            f.write("old")
        p = fresh_partial(out)
        self.assertEqual(p, out + ".partial")
        self.assertTrue(os.path.isdir(os.path.join(p, "wavs")))
        with open(os.path.join(p, "new.txt"), "w") as f:
            f.write("new")
        publish(out)
        self.assertEqual(sorted(os.listdir(out)), ["new.txt", "wavs"])
        self.assertEqual(sorted(os.listdir(self.dir)), ["dataset"])  # no .partial, no .old-* left

    def test_a_killed_builds_partial_folder_is_never_reused(self):
        out = os.path.join(self.dir, "dataset")
        os.makedirs(os.path.join(partial_dir(out), "wavs"))
        with open(os.path.join(partial_dir(out), "wavs", "stale.wav"), "w") as f:
            f.write("x")
        fresh_partial(out)
        self.assertEqual(os.listdir(os.path.join(partial_dir(out), "wavs")), [])


class CacheTest(unittest.TestCase):
    def test_round_trips_and_damaged_entries(self):
        with tempfile.TemporaryDirectory() as d:
            c = Cache(d)
            k = key("asr", "sha", "tiny", "en")
            self.assertIsNone(c.get_json(k))
            c.put_json(k, [{"text": "hi", "start": 0.0, "end": 0.5}])
            self.assertEqual(c.get_json(k), [{"text": "hi", "start": 0.0, "end": 0.5}])
            c.put_arrays(k, audio=np.arange(4, dtype=np.float32))
            self.assertEqual(c.get_arrays(k)["audio"].tolist(), [0.0, 1.0, 2.0, 3.0])
            # A truncated entry (a disk that filled up) reads as missing, not as an error.
            with open(os.path.join(d, "cache", f"{k}.json"), "w") as f:
                f.write('[{"text": "h')
            self.assertIsNone(c.get_json(k))
            self.assertEqual([n for n in os.listdir(os.path.join(d, "cache")) if "tmp" in n], [])

    def test_every_setting_is_part_of_the_key(self):
        self.assertEqual(key("asr", "sha", "tiny", "en"), key("asr", "sha", "tiny", "en"))
        self.assertNotEqual(key("asr", "sha", "tiny", "en"), key("asr", "sha", "tiny", "de"))
        self.assertEqual(len(key("x")), 32)


if __name__ == "__main__":
    unittest.main()
