"""HiFi-GAN with a real length (`frames`): a padded input decodes as the unpadded one does, at tiny width
in PyTorch (the exported graph is checked the same way by inference/xtts/hifigan.test.ts)."""
import unittest

import torch
import torch.nn.functional as F

from xtts.fixtures.tiny import TINY_OVERRIDES
from xtts.model.config import XttsSizes
from xtts.model.hifigan import HifiDecoder, resized_length


class PaddedDecode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One thread: at this width, two threads on a busy machine take 20 times longer.
        cls.threads = torch.get_num_threads()
        torch.set_num_threads(1)
        torch.manual_seed(0)
        cls.s = XttsSizes(**TINY_OVERRIDES)
        cls.dec = HifiDecoder(cls.s).eval()
        with torch.no_grad():  # biases away from zero, so the speaker conditioning and biases reach the pad
            for name, p in cls.dec.named_parameters():
                if name.endswith("bias"):
                    p.normal_(0, 0.1)
        cls.g = torch.randn(1, cls.s.d_vector_dim, 1)

    @classmethod
    def tearDownClass(cls):
        torch.set_num_threads(cls.threads)

    @torch.no_grad()
    def test_padding_changes_nothing_and_repeat_last_did(self):
        d = self.s.decoder_input_dim
        for frames, fed in [(1, 32), (2, 32), (3, 32), (33, 64)]:
            lat = torch.randn(1, frames, d)
            ref = self.dec(lat, self.g)
            n = ref.shape[-1]
            self.assertEqual(n, 256 * int(4 * frames * 24000 / 22050))
            noise = torch.cat([lat, 3 * torch.randn(1, fed - frames, d)], 1)
            err = (self.dec(noise, self.g, torch.tensor(frames))[..., :n] - ref).abs().max().item()
            self.assertLessEqual(err, 1e-5, f"{frames} frames padded with noise to {fed}")
            self.assertEqual(self.dec(lat, self.g, torch.tensor(frames)).shape, ref.shape)
            repeat = torch.cat([lat, lat[:, -1:].expand(1, fed - frames, d)], 1)
            old = (self.dec(repeat, self.g)[..., :n] - ref).abs().max().item()
            self.assertGreater(old, 1e-3, f"{frames} frames: padding without frames should reach the edge")

    @torch.no_grad()
    def test_rows_of_different_lengths_decode_as_each_alone(self):
        """frames as [B]: rows padded to one length with noise, each with its own speaker, give each row's
        unpadded samples; a B of 1 with a [1] frames gives the scalar's."""
        d, dv = self.s.decoder_input_dim, self.s.d_vector_dim
        lengths, fed = [1, 2, 9, 31, 32], 32
        lats = [torch.randn(1, n, d) for n in lengths]
        gs = [torch.randn(1, dv, 1) for _ in lengths]
        batch = torch.cat([torch.cat([x, 3 * torch.randn(1, fed - x.shape[1], d)], 1) for x in lats], 0)
        out = self.dec(batch, torch.cat(gs, 0), torch.tensor(lengths))
        self.assertEqual(out.shape[0], len(lengths))
        for i, (x, g) in enumerate(zip(lats, gs)):
            ref = self.dec(x, g)
            n = ref.shape[-1]
            err = (out[i:i + 1, :, :n] - ref).abs().max().item()
            self.assertLessEqual(err, 1e-5, f"row {i}: {lengths[i]} frames in a batch padded to {fed}")
        one = self.dec(batch[2:3], gs[2], torch.tensor([9]))
        self.assertEqual((one - self.dec(batch[2:3], gs[2], torch.tensor(9))).abs().max().item(), 0.0)

    def test_resized_length_is_the_resize_length(self):
        for scale in (4.0, 24000 / 22050):
            for n in range(1, 1200):
                got = int(resized_length(torch.tensor(n), scale))
                want = F.interpolate(torch.zeros(1, 1, n), scale_factor=scale, mode="linear").shape[-1]
                self.assertEqual(got, want, f"n={n} scale={scale}")


if __name__ == "__main__":
    unittest.main()
