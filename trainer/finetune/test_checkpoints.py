"""Checkpoints appear whole or not at all, only the newest keeps the optimizer state, and what a
killed process left half-written is cleared; plus the run specification and the event lines."""

import io
import json
import os
import tempfile
import unittest

import torch

from finetune import events
from finetune.checkpoints import COPIED, META, STATE, complete_checkpoints, remove_partial, save_checkpoint
from finetune.loop import epoch_label
from finetune.spec import DEFAULTS, SpecError, load_spec


class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.run_dir = os.path.join(self._tmp.name, "run")
        self.base = os.path.join(self._tmp.name, "base")
        os.makedirs(self.base)
        for name in COPIED:
            with open(os.path.join(self.base, name), "w") as f:
                f.write(name)

    def tearDown(self):
        self._tmp.cleanup()

    def state(self, step: int, epoch: int = 0, next_batch: int = 0) -> dict:
        return {"step": step, "epoch": epoch, "next_batch": next_batch, "name": f"s{step}", "finished": False,
                "train_loss": 1.0 / step, "eval_loss": None, "optimizer": {"lr": 5e-6}}

    def test_a_checkpoint_is_a_coqui_folder_with_meta(self):
        d = save_checkpoint(self.run_dir, "s1", self.base, {"w": torch.ones(2)}, self.state(1))
        self.assertEqual(sorted(os.listdir(d)), sorted(COPIED + ["model.pth", META, STATE]))
        model = torch.load(os.path.join(d, "model.pth"), weights_only=True)
        self.assertEqual((model["model"]["w"].tolist(), model["step"], model["epoch"]), ([1.0, 1.0], 1, 0))
        with open(os.path.join(d, META)) as f:
            self.assertEqual(json.load(f), {"name": "s1", "step": 1, "epoch": 0, "next_batch": 0, "finished": False,
                                            "train_loss": 1.0, "eval_loss": None})

    def test_only_the_newest_keeps_its_training_state(self):
        save_checkpoint(self.run_dir, "s2", self.base, {}, self.state(2, 0, 2))
        save_checkpoint(self.run_dir, "s1", self.base, {}, self.state(1, 0, 1))
        save_checkpoint(self.run_dir, "s3", self.base, {}, self.state(3, 1, 0))
        got = complete_checkpoints(self.run_dir)
        self.assertEqual([c["name"] for c in got], ["s1", "s2", "s3"])  # step order, not write order
        self.assertEqual([os.path.isfile(os.path.join(c["dir"], STATE)) for c in got], [False, False, True])

    def test_a_failed_save_leaves_nothing(self):
        save_checkpoint(self.run_dir, "s1", self.base, {}, self.state(1))
        os.remove(os.path.join(self.base, COPIED[-1]))  # fails after model.pth is written
        with self.assertRaises(FileNotFoundError):
            save_checkpoint(self.run_dir, "s2", self.base, {}, self.state(2))
        self.assertEqual(os.listdir(os.path.join(self.run_dir, "checkpoints")), ["s1"])
        got = complete_checkpoints(self.run_dir)
        self.assertEqual([c["name"] for c in got], ["s1"])
        self.assertTrue(os.path.isfile(os.path.join(got[0]["dir"], STATE)))  # still the newest: kept

    def test_what_a_killed_process_left_is_removed(self):
        ckpts, exports = os.path.join(self.run_dir, "checkpoints"), os.path.join(self._tmp.name, "exports")
        for d in (os.path.join(ckpts, ".tmp-s9"), os.path.join(ckpts, "s1"), os.path.join(exports, ".export-s9"),
                  os.path.join(exports, ".old-s1"), os.path.join(exports, "s1")):
            os.makedirs(d)
        gone = remove_partial(self.run_dir, exports)
        self.assertEqual(sorted(os.path.basename(g) for g in gone), [".export-s9", ".old-s1", ".tmp-s9"])
        self.assertEqual((os.listdir(ckpts), os.listdir(exports)), (["s1"], ["s1"]))
        self.assertEqual(complete_checkpoints(self.run_dir), [])  # s1 has no meta.json: not complete

    def test_epoch_label(self):
        self.assertEqual(epoch_label(0, 5), 1)  # mid-epoch: the epoch in progress
        self.assertEqual(epoch_label(1, 0), 1)  # at an epoch end the position is already on the next


class SpecTest(unittest.TestCase):
    def load(self, spec) -> dict:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "spec.json")
            with open(path, "w") as f:
                f.write(spec if isinstance(spec, str) else json.dumps(spec))
            return load_spec(path)

    BASE = {"run_dir": "/r/run-1/", "base_model_dir": "/m", "base_package": "/p", "dataset_dir": "/d",
            "language": "en", "export_dir": "/e"}

    def test_defaults_are_coquis_recipe(self):
        got = self.load(dict(self.BASE, config={"batch_size": 2}))
        self.assertEqual(got["name"], "run-1")
        self.assertEqual((got["config"]["lr"], got["config"]["grad_accum"], got["config"]["max_wav_length"]),
                         (5e-6, 84, 255995))
        self.assertEqual(got["config"]["eval_batch_size"], 2)  # follows batch_size when unset
        self.assertEqual(set(got["config"]), set(DEFAULTS))

    def test_bad_specs(self):
        for spec, says in (("[1]", "expected a JSON object"), ("{", "not a readable JSON spec"),
                           ({"run_dir": "/r"}, "missing base_model_dir"),
                           (dict(self.BASE, config={"lr_typo": 1}), "unknown config keys lr_typo"),
                           (dict(self.BASE, config={"precision": "fp8"}), "precision must be"),
                           (dict(self.BASE, config={"epochs": 0}), "config.epochs must be a positive integer")):
            with self.assertRaises(SpecError) as ex:
                self.load(spec)
            self.assertIn(says, str(ex.exception))


class EventsTest(unittest.TestCase):
    def test_one_json_line_with_non_finite_numbers_as_null(self):
        out, saved = io.StringIO(), events._OUT
        events._OUT = out
        try:
            events.emit("step", loss=float("nan"), grad=float("inf"), lr=1 / 3, step=7, name="s7")
        finally:
            events._OUT = saved
        self.assertEqual(out.getvalue(), '{"event": "step", "loss": null, "grad": null, "lr": 0.3333333, "step": 7, '
                                         '"name": "s7"}\n')


if __name__ == "__main__":
    unittest.main()
