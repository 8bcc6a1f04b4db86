import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resample, resampleDirect } from './resample.ts';

const tone = (hz: number, rate: number, seconds: number, amp = 0.5) =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

const rms = (x: Float32Array, from = 0, to = x.length) => {
  let s = 0;
  for (let i = from; i < to; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s / (to - from));
};

/**
 * torchaudio's output sample j, written directly from its definition rather than as the
 * polyphase filter: Σ_m x[m]·K(m/orig − j/new), K(τ) = sinc(π·c)·cos²(π·c/12)·base/orig
 * with c = clamp(τ·base, ±6), base = min(orig, new)·0.99 in gcd-reduced units.
 */
function direct(x: Float32Array, from: number, to: number, j: number): number {
  const g = (a: number, b: number): number => (b === 0 ? a : g(b, a % b));
  const d = g(from, to);
  const orig = from / d;
  const next = to / d;
  const base = Math.min(orig, next) * 0.99;
  let acc = 0;
  for (let m = 0; m < x.length; m++) {
    const c = Math.max(-6, Math.min(6, (m / orig - j / next) * base));
    const k = c === 0 ? 1 : Math.sin(Math.PI * c) / (Math.PI * c);
    acc += (x[m] as number) * k * Math.cos((Math.PI * c) / 12) ** 2 * (base / orig);
  }
  return acc;
}

test('matches the torchaudio kernel evaluated directly (22050→16000, 44100→22050)', () => {
  const x = Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
  for (const [from, to] of [
    [22050, 16000],
    [44100, 22050],
    [16000, 22050],
  ] as const) {
    const y = resample(x, from, to);
    assert.equal(y.length, Math.ceil((to * x.length) / from));
    for (const j of [0, 1, 7, 321, Math.floor(y.length / 2), y.length - 1]) {
      assert.ok(Math.abs((y[j] as number) - direct(x, from, to, j)) < 1e-5, `${from}→${to} j=${j}`);
    }
  }
});

test('a 1 kHz tone keeps its level; a tone above the new Nyquist is removed', () => {
  const kept = resample(tone(1000, 44100, 1), 44100, 22050);
  assert.ok(Math.abs(rms(kept, 500, 21500) - 0.5 / Math.SQRT2) < 0.005);
  const removed = resample(tone(15000, 44100, 1), 44100, 22050);
  assert.ok(rms(removed, 500, 21500) < 0.005, `${rms(removed, 500, 21500)}`); // > 40 dB down
});

test('same rate is a no-op; bad rates are refused', () => {
  const x = tone(440, 16000, 0.1);
  assert.equal(resample(x, 16000, 16000), x);
  assert.throws(() => resample(x, 0, 16000));
  assert.throws(() => resample(x, 22050.5, 16000));
});

test('a rate pair too large for a table is filtered sample by sample with the same coefficients', () => {
  const x = Float32Array.from({ length: 20_000 }, (_, i) => Math.sin(i * 0.013) + 0.3 * Math.sin(i * 0.41));
  for (const [from, to] of [
    [48000, 22050],
    [8000, 22050],
    [22050, 16000],
  ] as const) {
    const table = resample(x, from, to);
    const each = resampleDirect(x, from, to);
    assert.equal(each.length, table.length);
    let worst = 0;
    for (let i = 0; i < table.length; i++)
      worst = Math.max(worst, Math.abs((table[i] as number) - (each[i] as number)));
    assert.ok(worst < 1e-6, `${from} → ${to}: ${worst}`);
  }
  // 44101 → 22050 does not reduce: a table would hold 22050 × 44,000 doubles; this returns at once.
  const odd = resample(x, 44101, 22050);
  assert.equal(odd.length, Math.ceil((20_000 * 22050) / 44101));
  assert.ok(odd.every(Number.isFinite));
  for (let j = 100; j < odd.length - 100; j += 997) {
    assert.ok(Math.abs((odd[j] as number) - direct(x, 44101, 22050, j)) < 1e-5, `sample ${j}`);
  }
});
