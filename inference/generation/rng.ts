/**
 * A seeded xoshiro128** generator with a serialisable state, so a clip can be rendered
 * again from (checkpoint, text, voice, seed), or resumed mid-generation from a saved state.
 */

export type RngState = readonly [number, number, number, number];

export class Rng {
  private s: Uint32Array;

  private constructor(state: Uint32Array) {
    this.s = state;
  }

  /** Seeds the four state words with splitmix32, as xoshiro's authors recommend. */
  static fromSeed(seed: number): Rng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    let x = (seed ^ Math.floor(seed / 2 ** 32)) >>> 0;
    const state = new Uint32Array(4);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (state.every((w) => w === 0)) state[0] = 1;
    return new Rng(state);
  }

  static fromState(state: RngState): Rng {
    if (state.length !== 4 || state.every((w) => w === 0)) throw new RangeError('invalid xoshiro128** state');
    return new Rng(Uint32Array.from(state));
  }

  get state(): RngState {
    return [this.s[0] as number, this.s[1] as number, this.s[2] as number, this.s[3] as number];
  }

  nextUint32(): number {
    const s = this.s;
    const s0 = s[0] as number;
    const s1 = s[1] as number;
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s[2] = (s[2] as number) ^ s0;
    s[3] = (s[3] as number) ^ s1;
    s[1] = s1 ^ (s[2] as number);
    s[0] = s0 ^ (s[3] as number);
    s[2] = (s[2] as number) ^ t;
    s[3] = rotl(s[3] as number, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
