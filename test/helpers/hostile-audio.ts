/**
 * A corpus of hostile and odd audio files, generated in code (nothing binary is committed):
 * absurd header fields of every kind, truncations at every chunk boundary, huge claims with
 * tiny data, nested and duplicate chunks, every container the decoders take (WAV, FLAC, MP3,
 * Ogg Opus and Vorbis, AAC, M4A), non-audio, and content a voice cannot use (noise, tones, a
 * clipped square wave, NaN samples). Valid bases come from espeak-ng speech, the project's own
 * MP3 and Opus encoders, and sox for FLAC and Vorbis (two calls).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeAudio, encodeAudio, resample } from '../../inference/index.ts';
import { espeakWav } from './speech.ts';

export type HostileFile = {
  name: string;
  bytes: Uint8Array;
  /** What a voice clip upload must answer: 'ok' (201), 'refused' (4xx), or 'any' of those. */
  voice: 'ok' | 'refused' | 'any';
};

const enc = new TextEncoder();
const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
};
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
/** A RIFF chunk; `size` overrides the length field (the body stays as given). */
const chunk = (id: string, body: Uint8Array, size = body.length) =>
  concat(enc.encode(id), u32(size), body, body.length & 1 ? new Uint8Array(1) : new Uint8Array(0));

type Fmt = { tag?: number; channels?: number; rate?: number; bits?: number; blockAlign?: number; byteRate?: number };
function fmtBody(f: Fmt = {}, extra?: Uint8Array): Uint8Array {
  const channels = f.channels ?? 1;
  const bits = f.bits ?? 16;
  const rate = f.rate ?? 22050;
  const blockAlign = f.blockAlign ?? channels * Math.ceil(bits / 8);
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, f.tag ?? 1, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate >>> 0, true);
  v.setUint32(8, (f.byteRate ?? rate * blockAlign) >>> 0, true);
  v.setUint16(12, blockAlign & 0xffff, true);
  v.setUint16(14, bits & 0xffff, true);
  return extra ? concat(b, extra) : b;
}
/** A WAV file from chunks; the RIFF size is right unless given. */
const riff = (chunks: Uint8Array[], riffSize?: number, magic = 'RIFF') => {
  const body = concat(enc.encode('WAVE'), ...chunks);
  return concat(enc.encode(magic), u32(riffSize ?? body.length), body);
};
const wav = (f: Fmt, data: Uint8Array, dataSize?: number) =>
  riff([chunk('fmt ', fmtBody(f)), chunk('data', data, dataSize)]);

function pcm16(samples: Float32Array): Uint8Array {
  const b = new Uint8Array(samples.length * 2);
  const v = new DataView(b.buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] as number));
    v.setInt16(2 * i, Math.round(s < 0 ? s * 32768 : s * 32767), true);
  }
  return b;
}
function float32(values: ArrayLike<number>): Uint8Array {
  const b = new Uint8Array(values.length * 4);
  const v = new DataView(b.buffer);
  for (let i = 0; i < values.length; i++) v.setFloat32(4 * i, values[i] as number, true);
  return b;
}

/** Deterministic bytes (a linear congruential generator: the corpus is the same on every run). */
function noiseBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}
function pinkNoise(n: number, seed: number, amplitude: number): Float32Array {
  const white = noiseBytes(n, seed);
  const out = new Float32Array(n);
  // Paul Kellet's economy pink filter.
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  for (let i = 0; i < n; i++) {
    const w = ((white[i] as number) - 127.5) / 127.5;
    b0 = 0.99765 * b0 + w * 0.099046;
    b1 = 0.963 * b1 + w * 0.2965164;
    b2 = 0.57 * b2 + w * 1.0526913;
    out[i] = (b0 + b1 + b2 + w * 0.1848) * amplitude * 0.25;
  }
  return out;
}
/** Flips bytes at a few places after `from`. */
function corrupt(bytes: Uint8Array, from: number, seed: number, count = 8): Uint8Array {
  const out = bytes.slice();
  const r = noiseBytes(count * 3, seed);
  for (let i = 0; i < count; i++) {
    const at = from + ((((r[3 * i] as number) << 8) | (r[3 * i + 1] as number)) % Math.max(1, out.length - from));
    out[at] = (out[at] as number) ^ ((r[3 * i + 2] as number) | 1);
  }
  return out;
}
const patch = (bytes: Uint8Array, at: number, values: number[]) => {
  const out = bytes.slice();
  out.set(values, at);
  return out;
};

function sox(input: Uint8Array, ext: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'xtts-corpus-'));
  try {
    writeFileSync(join(dir, 'in.wav'), input);
    execFileSync('sox', [join(dir, 'in.wav'), join(dir, `out.${ext}`)]);
    return new Uint8Array(readFileSync(join(dir, `out.${ext}`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export type CorpusBases = {
  speech: Float32Array;
  rate: number;
  wav: Uint8Array;
  flac: Uint8Array;
  mp3: Uint8Array;
  opus: Uint8Array;
  vorbis: Uint8Array;
};

export async function corpusBases(): Promise<CorpusBases> {
  const wavBytes = espeakWav('The quick brown fox jumps over the lazy dog, twice.');
  const { samples, sampleRate } = await decodeAudio(wavBytes);
  return {
    speech: samples,
    rate: sampleRate,
    wav: wavBytes,
    flac: sox(wavBytes, 'flac'),
    vorbis: sox(wavBytes, 'ogg'),
    mp3: encodeAudio('mp3', samples, sampleRate),
    opus: encodeAudio('opus', resample(samples, sampleRate, 24000), 24000),
  };
}

export async function hostileCorpus(b?: CorpusBases): Promise<HostileFile[]> {
  const bases = b ?? (await corpusBases());
  const files: HostileFile[] = [];
  const add = (name: string, bytes: Uint8Array, voice: HostileFile['voice'] = 'refused') =>
    files.push({ name, bytes, voice });
  const speech = bases.speech;
  const data = pcm16(speech);
  const small = pcm16(speech.subarray(0, 2205)); // 0.1 s

  // --- WAV header fields ---
  add('wav-valid', bases.wav, 'ok');
  add('wav-4ghz-108-bytes', wav({ rate: 0xffffffff }, pcm16(new Float32Array(32).map((_, i) => Math.sin(i)))));
  for (const rate of [0, 1, 100, 3999, 192_001, 1_000_000, 10_000_000, 2 ** 31])
    add(`wav-rate-${rate}`, wav({ rate }, small));
  add('wav-rate-4000', wav({ rate: 4000 }, small), 'any');
  add('wav-rate-192000', wav({ rate: 192_000 }, small), 'any');
  add('wav-rate-44101-speech', wav({ rate: 44101 }, data), 'any');
  for (const channels of [0, 9, 255, 65535]) add(`wav-channels-${channels}`, wav({ channels }, small));
  add('wav-channels-3', wav({ channels: 3 }, data.subarray(0, 6 * 3000)), 'any');
  for (const bits of [0, 1, 4, 7, 12, 20, 33, 48, 64, 65535]) add(`wav-pcm-bits-${bits}`, wav({ bits }, small));
  for (const bits of [8, 16, 24, 48, 128]) add(`wav-float-bits-${bits}`, wav({ tag: 3, bits }, small));
  for (const tag of [0, 0x55, 0x2000, 0xffff, 0x1234]) add(`wav-tag-${tag}`, wav({ tag }, small));
  add('wav-adpcm-ms-bogus', wav({ tag: 2, bits: 4, blockAlign: 1 }, small));
  add('wav-adpcm-ima-bogus', wav({ tag: 0x11, bits: 4, blockAlign: 65535 }, small));
  add('wav-alaw', wav({ tag: 6, bits: 8 }, data.subarray(0, 8000)), 'any');
  add('wav-ulaw', wav({ tag: 7, bits: 8 }, data.subarray(0, 8000)), 'any');
  const guid = (tag: number) =>
    concat(new Uint8Array([22, 0, 16, 0, 4, 0, 0, 0]), new Uint8Array([tag & 255, tag >> 8]), new Uint8Array(14));
  add('wav-extensible-pcm', riff([chunk('fmt ', fmtBody({ tag: 0xfffe }, guid(1))), chunk('data', data)]), 'ok');
  add('wav-extensible-junk', riff([chunk('fmt ', fmtBody({ tag: 0xfffe }, guid(0x4242))), chunk('data', small)]));
  add('wav-extensible-short', riff([chunk('fmt ', fmtBody({ tag: 0xfffe }, new Uint8Array(2)))]));
  for (const blockAlign of [0, 1, 3, 65535]) add(`wav-block-align-${blockAlign}`, wav({ blockAlign }, small));
  add('wav-byte-rate-0', wav({ byteRate: 0 }, data), 'ok');
  add('wav-byte-rate-max', wav({ byteRate: 0xffffffff }, data), 'ok');
  for (const size of [0, 8, 15, 4097, 0xffffffff]) {
    add(`wav-fmt-size-${size}`, riff([chunk('fmt ', fmtBody(), size), chunk('data', small)]));
  }
  add('wav-data-size-0-placeholder', wav({}, data, 0), 'ok');
  add('wav-data-size-max-placeholder', wav({}, data, 0xffffffff), 'ok');
  add('wav-data-claims-2gb-tiny', wav({}, small, 2 ** 31));
  add('wav-data-claims-4gb-8-bytes', wav({}, new Uint8Array(8), 0xfffffffe));
  add('wav-data-size-1', wav({}, small, 1));
  add('wav-data-size-odd', wav({}, data, 12345), 'any');
  for (const size of [0, 4, 0xffffffff])
    add(`wav-riff-size-${size}`, riff([chunk('fmt ', fmtBody()), chunk('data', data)], size), 'ok');
  // --- WAV structure ---
  add(
    'wav-duplicate-fmt',
    riff([chunk('fmt ', fmtBody()), chunk('fmt ', fmtBody({ rate: 8000, channels: 2 })), chunk('data', data)]),
  );
  add('wav-data-before-fmt', riff([chunk('data', small), chunk('fmt ', fmtBody())]));
  add('wav-no-data', riff([chunk('fmt ', fmtBody())]));
  add('wav-no-fmt', riff([chunk('data', small)]));
  add('wav-fmt-only-header', riff([]));
  const junk = (n: number) => Array.from({ length: n }, (_, i) => chunk('junk', new Uint8Array(i % 7)));
  add('wav-100-junk-chunks', riff([chunk('fmt ', fmtBody()), ...junk(100), chunk('data', small)]));
  add('wav-60-junk-chunks', riff([chunk('fmt ', fmtBody()), ...junk(60), chunk('data', data)]), 'ok');
  const list = chunk(
    'LIST',
    concat(enc.encode('INFO'), chunk('INAM', enc.encode('name')), chunk('LIST', chunk('LIST', new Uint8Array(9)))),
  );
  add('wav-nested-list', riff([chunk('fmt ', fmtBody()), list, chunk('data', data)]), 'ok');
  add(
    'wav-list-past-eof',
    riff([chunk('fmt ', fmtBody()), chunk('LIST', new Uint8Array(12), 0x7fffffff), chunk('data', small)]),
  );
  add(
    'wav-chunk-size-max',
    riff([chunk('fmt ', fmtBody()), chunk('fact', new Uint8Array(4), 0xffffffff), chunk('data', small)]),
  );
  add(
    'wav-odd-chunk-padded',
    riff([chunk('fmt ', fmtBody()), chunk('note', new Uint8Array(3)), chunk('data', data)]),
    'ok',
  );
  add(
    'wav-odd-chunk-unpadded',
    concat(
      enc.encode('RIFF'),
      u32(0),
      enc.encode('WAVE'),
      chunk('fmt ', fmtBody()),
      enc.encode('note'),
      u32(3),
      new Uint8Array(3),
      chunk('data', small),
    ),
  );
  add('wav-rf64-without-ds64', riff([chunk('fmt ', fmtBody()), chunk('data', small, 0xffffffff)], 0xffffffff, 'RF64'));
  const ds64 = (dataSize: number) => {
    const b = new Uint8Array(28);
    const v = new DataView(b.buffer);
    v.setUint32(8, dataSize >>> 0, true);
    v.setUint32(12, Math.floor(dataSize / 2 ** 32), true);
    return chunk('ds64', b);
  };
  add(
    'wav-rf64-huge-ds64',
    riff([ds64(2 ** 50), chunk('fmt ', fmtBody()), chunk('data', small, 0xffffffff)], 0xffffffff, 'RF64'),
  );
  add(
    'wav-rf64-valid',
    riff([ds64(data.length), chunk('fmt ', fmtBody()), chunk('data', data, 0xffffffff)], 0xffffffff, 'RF64'),
    'ok',
  );
  add('wav-rifx', riff([chunk('fmt ', fmtBody()), chunk('data', small)], undefined, 'RIFX'));
  add('wav-not-wave', concat(enc.encode('RIFF'), u32(100), enc.encode('AVI '), chunk('fmt ', fmtBody())));
  // --- truncations of a WAV at every chunk boundary and inside its header ---
  const whole = wav({}, data);
  for (const at of [0, 4, 8, 11, 12, 16, 20, 24, 28, 32, 35, 36, 40, 43, 44, 45, 46, 1000]) {
    add(`wav-cut-${at}`, whole.subarray(0, at), at >= 1000 ? 'any' : 'refused');
  }
  add('wav-cut-half', whole.subarray(0, Math.floor(whole.length / 2)), 'ok');
  // --- sample values ---
  const tone = (n: number, f = (i: number) => 0.5 * Math.sin(i / 7)) =>
    Float32Array.from({ length: n }, (_, i) => f(i));
  const floatWav = (values: ArrayLike<number>) => wav({ tag: 3, bits: 32 }, float32(values));
  add('wav-float-valid-speech', floatWav(speech), 'ok');
  add('wav-float-nan', floatWav(new Float32Array(22050).fill(Number.NaN)));
  add('wav-float-one-nan-in-speech', floatWav(speech.map((v, i) => (i === 5000 ? Number.NaN : v))));
  add('wav-float-inf', floatWav(tone(22050, (i) => (i % 100 === 0 ? Number.POSITIVE_INFINITY : 0.1))));
  add('wav-float-neg-inf', floatWav(tone(22050, () => Number.NEGATIVE_INFINITY)));
  add('wav-float-1e30', floatWav(tone(22050, (i) => (i % 2 ? 1e30 : -1e30))), 'any');
  const f64 = new Uint8Array(8 * 4000);
  for (let i = 0; i < 4000; i++) new DataView(f64.buffer).setFloat64(8 * i, i % 2 ? 1e300 : -1e300, true);
  add('wav-float64-1e300', wav({ tag: 3, bits: 64 }, f64));
  add('wav-float-subnormal', floatWav(tone(22050, () => 1e-40)));
  add('wav-silence', wav({}, new Uint8Array(44100)));
  add('wav-dc-full-scale', wav({}, pcm16(tone(22050, () => 1))));
  add('wav-square-full-scale-clipped', wav({}, pcm16(tone(22050 * 5, (i) => (Math.floor(i / 50) % 2 ? 1.5 : -1.5)))));
  add('wav-sine-tone', wav({}, pcm16(tone(22050 * 3))));
  const white = noiseBytes(22050 * 3, 4);
  add('wav-white-noise', wav({}, pcm16(tone(white.length, (i) => ((white[i] as number) - 127.5) / 300))));
  add('wav-pink-noise-10-min-8k', wav({ rate: 8000 }, pcm16(pinkNoise(8000 * 600, 7, 0.5))));
  add('wav-speech-clipped', wav({}, pcm16(speech.map((v) => v * 8))), 'ok');
  const hiss = noiseBytes(speech.length, 9);
  add(
    'wav-speech-in-noise',
    wav({}, pcm16(speech.map((v, i) => v + 0.05 * (((hiss[i] as number) - 127.5) / 127.5)))),
    'ok',
  );
  const long = new Float32Array(speech.length * 16);
  for (let k = 0; k < 16; k++) long.set(speech, k * speech.length);
  add('wav-speech-long-trimmed', wav({}, pcm16(long)), 'ok');
  add('wav-speech-too-short', wav({}, pcm16(speech.subarray(0, 2000))));
  add(
    'wav-8bit-speech',
    wav(
      { bits: 8 },
      Uint8Array.from(speech, (v) => Math.round(v * 127 + 128)),
    ),
    'ok',
  );
  const s24 = new Uint8Array(speech.length * 3);
  speech.forEach((v, i) => {
    const x = Math.round(v * 8388607);
    s24[3 * i] = x & 255;
    s24[3 * i + 1] = (x >> 8) & 255;
    s24[3 * i + 2] = (x >> 16) & 255;
  });
  add('wav-24bit-speech', wav({ bits: 24 }, s24), 'ok');
  const stereo = new Uint8Array(data.length * 2);
  for (let i = 0; i < speech.length; i++) {
    stereo.set(data.subarray(2 * i, 2 * i + 2), 4 * i);
    stereo.set(data.subarray(2 * i, 2 * i + 2), 4 * i + 2);
  }
  add('wav-stereo-speech-48k-claimed', wav({ channels: 2, rate: 48000 }, stereo), 'ok');

  // --- FLAC ---
  const flac = bases.flac;
  add('flac-valid', flac, 'ok');
  const metaEnd = (() => {
    let at = 4;
    for (;;) {
      const last = ((flac[at] as number) & 0x80) !== 0;
      at += 4 + (((flac[at + 1] as number) << 16) | ((flac[at + 2] as number) << 8) | (flac[at + 3] as number));
      if (last) return at;
    }
  })();
  for (const at of [0, 4, 8, 12, 20, 30, 41, 42, metaEnd - 1, metaEnd, metaEnd + 10, Math.floor(flac.length / 2)]) {
    add(`flac-cut-${at}`, flac.subarray(0, at), at > metaEnd + 100 ? 'any' : 'refused');
  }
  // STREAMINFO begins at 8: block sizes at 8/10, rate (20 bits) from 18, channels/bps, total samples.
  const si = (values: Record<number, number>) => {
    const out = flac.slice();
    for (const [k, v] of Object.entries(values)) out[Number(k)] = v;
    return out;
  };
  add('flac-rate-0', si({ 18: 0, 19: 0, 20: (flac[20] as number) & 0x0f }));
  add('flac-rate-1048575', si({ 18: 0xff, 19: 0xff, 20: ((flac[20] as number) & 0x0f) | 0xf0 }));
  add('flac-rate-3000', si({ 18: 0x00, 19: 0xbb, 20: ((flac[20] as number) & 0x0f) | 0x80 }));
  add('flac-channels-8', si({ 20: ((flac[20] as number) & 0xf1) | 0x0e }), 'any');
  add('flac-bps-2', si({ 20: (flac[20] as number) & 0xfe, 21: ((flac[21] as number) & 0x0f) | 0x10 }));
  add('flac-bps-32', si({ 20: (flac[20] as number) | 1, 21: ((flac[21] as number) & 0x0f) | 0xf0 }), 'any');
  add('flac-min-block-0', si({ 8: 0, 9: 0 }));
  add('flac-max-block-0', si({ 10: 0, 11: 0 }));
  add('flac-min-over-max', si({ 8: 0xff, 9: 0xff, 10: 0, 11: 16 }));
  add('flac-total-2-pow-36', si({ 21: (flac[21] as number) | 0x0f, 22: 255, 23: 255, 24: 255, 25: 255 }), 'any');
  add('flac-first-block-not-streaminfo', patch(flac, 4, [4]));
  add('flac-streaminfo-length-0', patch(flac, 5, [0, 0, 0]));
  add('flac-block-length-past-eof', patch(flac, 5, [0xff, 0xff, 0xff]));
  // The frames are then read as metadata blocks: refused or, if the walk lands well, decoded.
  add('flac-no-last-flag', patch(flac, 4, [0]), 'any');
  const paddingBlocks = concat(...Array.from({ length: 300 }, () => new Uint8Array([1, 0, 0, 0])));
  add(
    'flac-300-metadata-blocks',
    concat(
      flac.subarray(0, 4),
      patch(flac.subarray(4, 42), 0, [0]),
      paddingBlocks,
      new Uint8Array([0x81, 0, 0, 0]),
      flac.subarray(metaEnd),
    ),
  );
  for (let k = 0; k < 6; k++) add(`flac-frames-corrupt-${k}`, corrupt(flac, metaEnd + 1, 100 + k, 4 + 8 * k), 'any');
  add('flac-frames-zeroed', concat(flac.subarray(0, metaEnd), new Uint8Array(flac.length - metaEnd)));
  add('flac-frames-random', concat(flac.subarray(0, metaEnd), noiseBytes(4000, 3)));
  add('flac-only-magic', enc.encode('fLaC'));

  // --- Ogg Opus and Vorbis ---
  for (const [kind, ogg] of [
    ['opus', bases.opus],
    ['vorbis', bases.vorbis],
  ] as const) {
    add(`ogg-${kind}-valid`, ogg, 'ok');
    const segments = ogg[26] as number;
    for (const at of [0, 4, 26, 27, 27 + segments, 40, 60, 200, Math.floor(ogg.length / 2)]) {
      add(`ogg-${kind}-cut-${at}`, ogg.subarray(0, at), at > 1000 ? 'any' : 'refused');
    }
    add(`ogg-${kind}-version-1`, patch(ogg, 4, [1]));
    add(`ogg-${kind}-segments-255-short`, patch(ogg, 26, [255]));
    for (let k = 0; k < 4; k++) add(`ogg-${kind}-corrupt-${k}`, corrupt(ogg, 200, 300 + k, 4 + 8 * k), 'any');
    add(`ogg-${kind}-pages-random`, concat(ogg.subarray(0, 200), noiseBytes(3000, 11)), 'any');
  }
  const head = 28 + (bases.opus[26] as number) - 1; // the OpusHead packet
  add('opus-channels-0', patch(bases.opus, head + 9, [0]));
  add('opus-channels-3-family-0', patch(bases.opus, head + 9, [3]));
  add('opus-channels-255', patch(bases.opus, head + 9, [255]));
  add('opus-family-255', patch(bases.opus, head + 18, [255]));
  add('opus-version-16', patch(bases.opus, head + 8, [16]));
  add('opus-input-rate-1e9', patch(bases.opus, head + 12, [0x00, 0xca, 0x9a, 0x3b]));
  const vh = 28 + (bases.vorbis[26] as number) - 1;
  add('vorbis-channels-0', patch(bases.vorbis, vh + 11, [0]));
  add('vorbis-rate-0', patch(bases.vorbis, vh + 12, [0, 0, 0, 0]));
  add('vorbis-rate-max', patch(bases.vorbis, vh + 12, [255, 255, 255, 255]));
  add('vorbis-blocksize-0', patch(bases.vorbis, vh + 28, [0x00]));
  add('vorbis-blocksize-ff', patch(bases.vorbis, vh + 28, [0xff]));
  add('vorbis-version-1', patch(bases.vorbis, vh + 7, [1]));
  add('vorbis-no-framing-bit', patch(bases.vorbis, vh + 29, [0]));
  const oggPage = (packet: Uint8Array) =>
    concat(enc.encode('OggS'), new Uint8Array([0, 2]), new Uint8Array(20), new Uint8Array([1, packet.length]), packet);
  add('ogg-speex', oggPage(concat(enc.encode('Speex   '), new Uint8Array(72))));
  add('ogg-flac', oggPage(concat(new Uint8Array([0x7f]), enc.encode('FLAC'), new Uint8Array(40))));
  add('ogg-only-magic', enc.encode('OggS'));

  // --- MP3 ---
  const mp3 = bases.mp3;
  add('mp3-valid', mp3, 'ok');
  add(
    'mp3-8khz-mpeg25',
    encodeAudio(
      'mp3',
      speech.filter((_, i) => i % 3 === 0),
      8000,
    ),
    'any',
  );
  for (const at of [0, 2, 4, 10, 100, Math.floor(mp3.length / 2)])
    add(`mp3-cut-${at}`, mp3.subarray(0, at), at > 1000 ? 'any' : 'refused');
  const id3 = (size: number[], flags = 0) => concat(enc.encode('ID3'), new Uint8Array([4, 0, flags, ...size]));
  add('mp3-id3-huge', concat(id3([0x7f, 0x7f, 0x7f, 0x7f]), mp3));
  add('mp3-id3-not-syncsafe', concat(id3([0xff, 0xff, 0xff, 0xff]), mp3));
  add('mp3-id3-footer-past-end', concat(id3([0, 0, 0, 10], 0x10), new Uint8Array(10)));
  add('mp3-id3-only', id3([0, 0, 0, 0]));
  add('mp3-id3-then-speech', concat(id3([0, 0, 1, 0]), new Uint8Array(128), mp3), 'ok');
  add('mp3-sync-junk', concat(...Array.from({ length: 500 }, () => new Uint8Array([0xff, 0xfb, 0x90, 0x64]))));
  // A broken first frame: the decoder finds the next good one (any answer), or gives up.
  add('mp3-bitrate-15', patch(mp3, 2, [((mp3[2] as number) & 0x0f) | 0xf0]), 'any');
  add('mp3-rate-index-3', patch(mp3, 2, [(mp3[2] as number) | 0x0c]), 'any');
  add('mp3-version-reserved', patch(mp3, 1, [((mp3[1] as number) & 0xe7) | 0x08]), 'any');
  add(
    'mp3-all-frames-bitrate-15',
    mp3.map((v, i, a) =>
      i > 1 && a[i - 2] === 0xff && ((a[i - 1] as number) & 0xe0) === 0xe0 ? (v & 0x0f) | 0xf0 : v,
    ),
  );
  add('mp3-free-format', concat(new Uint8Array([0xff, 0xfb, 0x04, 0x64]), noiseBytes(2000, 5)), 'any');
  add('mp3-layer1-junk', concat(new Uint8Array([0xff, 0xff, 0x90, 0x64]), noiseBytes(2000, 6)), 'any');
  for (let k = 0; k < 4; k++) add(`mp3-corrupt-${k}`, corrupt(mp3, 100, 500 + k, 4 + 8 * k), 'any');

  // --- AAC (ADTS) and M4A: the dataset builder reads them; a voice clip may not be one ---
  const adts = (rateIndex: number, length: number) =>
    new Uint8Array([
      0xff,
      0xf1,
      0x40 | (rateIndex << 2),
      0x80 | ((length >> 11) & 3),
      (length >> 3) & 255,
      ((length & 7) << 5) | 0x1f,
      0xfc,
    ]);
  add('aac-adts-junk', concat(adts(4, 200), noiseBytes(193, 8)));
  add('aac-adts-rate-index-15', concat(adts(15, 200), noiseBytes(193, 8)));
  add('aac-adts-length-0', concat(adts(4, 0), noiseBytes(100, 8)));
  add('aac-adif', concat(enc.encode('ADIF'), noiseBytes(200, 9)));
  const box = (type: string, body: Uint8Array, size = body.length + 8) => {
    const h = new Uint8Array(8);
    new DataView(h.buffer).setUint32(0, size >>> 0);
    h.set(enc.encode(type), 4);
    return concat(h, body);
  };
  const ftyp = box('ftyp', concat(enc.encode('M4A '), new Uint8Array(4), enc.encode('M4A isom')));
  add('m4a-ftyp-only', ftyp);
  add('m4a-moov-size-max', concat(ftyp, box('moov', new Uint8Array(100), 0xffffffff)));
  const large = new Uint8Array(16);
  new DataView(large.buffer).setUint32(0, 1);
  large.set(enc.encode('mdat'), 4);
  new DataView(large.buffer).setUint32(8, 0x7fffffff);
  add('m4a-largesize-huge', concat(ftyp, large, noiseBytes(100, 10)));
  add('m4a-size-0-junk', concat(ftyp, box('mdat', noiseBytes(300, 12), 0)));
  add('m4a-2000-boxes', concat(ftyp, ...Array.from({ length: 2000 }, () => box('free', new Uint8Array(0)))));
  add('m4a-ftyp-size-4', patch(ftyp, 0, [0, 0, 0, 4]));
  add('m4a-structurally-valid-junk', concat(ftyp, box('moov', noiseBytes(64, 13)), box('mdat', noiseBytes(1000, 14))));
  add('m4a-box-type-binary', concat(ftyp, box('\u0001\u0002\u0003\u0004', new Uint8Array(8))));

  // --- not audio ---
  add('empty', new Uint8Array(0));
  add('one-byte', new Uint8Array([0xff]));
  add('text', enc.encode('hello, this is not a sound file'));
  add('json', enc.encode('{"audio": true}'));
  add('png', concat(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), noiseBytes(500, 15)));
  add('pdf', concat(enc.encode('%PDF-1.7\n'), noiseBytes(500, 16)));
  add('zip', concat(enc.encode('PK\u0003\u0004'), noiseBytes(500, 17)));
  add('gzip', concat(new Uint8Array([0x1f, 0x8b, 8, 0]), noiseBytes(500, 18)));
  add('elf', concat(enc.encode('\u007fELF'), noiseBytes(500, 19)));
  add('html', enc.encode('<!doctype html><script>alert(1)</script>'));
  for (let k = 0; k < 3; k++) add(`random-${k}`, noiseBytes(1024 * (k + 1), 20 + k));
  add('zeros-1mb', new Uint8Array(1024 * 1024));
  add('riff-only', enc.encode('RIFF'));
  add('id3-magic-only', enc.encode('ID3'));
  add('mpeg-sync-only', new Uint8Array([0xff, 0xfb]));
  return files;
}
