import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAudio } from './decode.ts';
import { CONDITIONING_MEL, conditioningMel, melFilterbank, melSpectrogram, powerSpectrogram } from './mel.ts';
import { bytes, speak, TOOLS_MISSING, workDir } from './testaudio.ts';

/** Power of bin k of frame t by a naive DFT, with torch.stft's framing written out again. */
function naivePower(x: Float32Array, t: number, k: number, nFft: number, win: number, hop: number): number {
  const pad = nFft / 2;
  const at = (i: number) => {
    const j = i - pad;
    const r = j < 0 ? -j : j >= x.length ? 2 * (x.length - 1) - j : j;
    return x[r] as number;
  };
  const left = (nFft - win) / 2;
  let re = 0;
  let im = 0;
  for (let n = 0; n < nFft; n++) {
    const w = n >= left && n < left + win ? 0.5 - 0.5 * Math.cos((2 * Math.PI * (n - left)) / win) : 0;
    const v = at(t * hop + n) * w;
    re += v * Math.cos((2 * Math.PI * k * n) / nFft);
    im -= v * Math.sin((2 * Math.PI * k * n) / nFft);
  }
  return re * re + im * im;
}

const dir = TOOLS_MISSING ? '' : workDir();

test('STFT power equals a naive DFT on espeak speech (first, middle, last frames)', {
  skip: TOOLS_MISSING,
}, async () => {
  const { samples } = await decodeAudio(bytes(speak(dir, 'Hello from the voice studio.')));
  const spec = powerSpectrogram(samples, CONDITIONING_MEL);
  assert.equal(spec.length, 1 + Math.floor(samples.length / 256));
  for (const t of [0, Math.floor(spec.length / 2), spec.length - 1]) {
    for (const k of [0, 5, 93, 400, 1024]) {
      const want = naivePower(samples, t, k, 2048, 1024, 256);
      const got = (spec[t] as Float64Array)[k] as number;
      assert.ok(Math.abs(got - want) <= 1e-6 * Math.max(1, want), `t=${t} k=${k}: ${got} vs ${want}`);
    }
  }
});

test('slaney-normalised triangles each integrate to ~1 over frequency', () => {
  const fb = melFilterbank(CONDITIONING_MEL);
  assert.equal(fb.length, 1025);
  const df = 11025 / 1024;
  for (let m = 20; m < 80; m++) {
    let area = 0;
    for (const row of fb) area += (row[m] as number) * df;
    assert.ok(Math.abs(area - 1) < 0.02, `mel ${m}: ${area}`);
  }
  // nothing above f_max = 8000 Hz
  const above = Math.ceil(8000 / df) + 1;
  for (let k = above; k < 1025; k++) assert.ok((fb[k] as Float64Array).every((v) => v === 0));
});

test('a 1 kHz tone peaks in the mel band whose centre is nearest 1 kHz', () => {
  const x = Float32Array.from({ length: 22050 }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 22050));
  const mel = melSpectrogram(x, CONDITIONING_MEL);
  const t = 40;
  let best = 0;
  for (let m = 1; m < 80; m++) if ((mel[m] as Float32Array)[t]! > (mel[best] as Float32Array)[t]!) best = m;
  // centres: htk mel points linspace(0, mel(8000), 82)[1..80]
  const melMax = 2595 * Math.log10(1 + 8000 / 700);
  const centre = (m: number) => 700 * (10 ** ((melMax * (m + 1)) / 81 / 2595) - 1);
  let nearest = 0;
  for (let m = 1; m < 80; m++) if (Math.abs(centre(m) - 1000) < Math.abs(centre(nearest) - 1000)) nearest = m;
  assert.equal(best, nearest);
});

test('conditioning mel: 345 frames for 4 s, log clamp at 1e-5, divided by mel_stats', () => {
  const silence = new Float32Array(4 * 22050);
  const stats = Float32Array.from({ length: 80 }, (_, i) => 1 + i / 10);
  const mel = conditioningMel(silence, stats);
  assert.equal(mel.length, 80);
  assert.equal((mel[0] as Float32Array).length, 345);
  for (const m of [0, 10, 79]) {
    assert.ok(Math.abs((mel[m] as Float32Array)[100]! - Math.log(1e-5) / (stats[m] as number)) < 1e-5);
  }
  assert.throws(() => conditioningMel(silence, new Float32Array(79)));
});

test('clips shorter than half the FFT are refused', () => {
  assert.throws(() => powerSpectrogram(new Float32Array(1024), CONDITIONING_MEL), /AUDIO|samples/);
});
