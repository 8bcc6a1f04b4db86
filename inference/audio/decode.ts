/**
 * Bytes of a wav/flac/mp3/ogg file → mono float32 samples in [-1, 1], the way the
 * reference's `load_audio` gets them (torchaudio.load, channels averaged).
 *
 * Bounded work whatever the file claims: its headers are checked first (probe.ts); the audio
 * is then decoded a piece at a time, mixed to mono as it comes, and decoding stops once
 * `maxSamples` are out, so memory follows the real data up to that cap, never a header's
 * claim. Integer and float WAV are read here (int16 scaled by 1/32768 as torchaudio does;
 * audio-decode divides positive samples by 32767, a 3e-5 relative error that moves the
 * conditioning log-mel by ~1e-4); every other codec is audio-decode's streaming decoder.
 * Non-finite samples are refused: they must never reach the model.
 */
import decode from 'audio-decode';
import { limits } from '../../infra/index.ts';
import { AudioInputError } from './errors.ts';
import { type AudioInfo, type ByteSource, bufferSource, type Container, probeAudio, type WavFormat } from './probe.ts';

export type Mono = { samples: Float32Array; sampleRate: number };

export type DecodeOptions = {
  /** Samples (per channel, at the file's rate) decoded at most; the rest is not read. */
  maxSamples?: number;
  /** Seconds decoded at most (the smaller of this and maxSamples applies). */
  maxSeconds?: number;
  /** Containers accepted (default: wav, flac, mp3, ogg). */
  accept?: readonly Container[];
  /** performance.now() past which decoding stops with AUDIO_TOO_COMPLEX. */
  deadline?: number;
};

export type Decoded = Mono & {
  /** The file holds more audio than was decoded. */
  truncated: boolean;
  info: AudioInfo;
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const VOICE_CONTAINERS: readonly Container[] = ['wav', 'flac', 'mp3', 'ogg'];
const CHUNK = 256 * 1024;

export async function decodeAudio(bytes: Uint8Array, options: DecodeOptions = {}): Promise<Decoded> {
  return decodeSource(bufferSource(bytes), options);
}

/** Collects mono samples up to a cap. */
class MonoSink {
  readonly parts: Float32Array[] = [];
  length = 0;
  truncated = false;
  readonly cap: number;
  readonly deadline: number;
  constructor(cap: number, deadline: number) {
    this.cap = cap;
    this.deadline = deadline;
  }
  get full(): boolean {
    return this.length >= this.cap;
  }
  /** Adds frames given per channel; refuses non-finite samples. */
  add(channels: readonly Float32Array[]): void {
    this.tick();
    const first = channels[0];
    if (!first || first.length === 0) return;
    const room = this.cap - this.length;
    const n = Math.min(first.length, room);
    if (n < first.length) this.truncated = true;
    if (n <= 0) return;
    const out = new Float32Array(n);
    for (const ch of channels) for (let i = 0; i < n; i++) out[i] = (out[i] as number) + (ch[i] as number);
    if (channels.length > 1) for (let i = 0; i < n; i++) out[i] = (out[i] as number) / channels.length;
    this.push(out);
  }
  push(out: Float32Array): void {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i] as number)) {
        throw new AudioInputError('AUDIO_NOT_FINITE', `sample ${this.length + i} is ${out[i]}: not a finite number`);
      }
    }
    this.parts.push(out);
    this.length += out.length;
  }
  tick(): void {
    if (performance.now() > this.deadline) {
      throw new AudioInputError('AUDIO_TOO_COMPLEX', 'decoding took longer than its time budget');
    }
  }
  samples(): Float32Array {
    if (this.parts.length === 1) return this.parts[0] as Float32Array;
    const out = new Float32Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

export async function decodeSource(src: ByteSource, options: DecodeOptions = {}): Promise<Decoded> {
  const info = probeAudio(src, options.accept ?? VOICE_CONTAINERS);
  const rate = info.sampleRate ?? 48_000;
  const cap = Math.min(
    options.maxSamples ?? limits.audio.maxAnalysisSamples,
    options.maxSeconds === undefined ? Number.POSITIVE_INFINITY : Math.ceil(options.maxSeconds * rate),
  );
  const sink = new MonoSink(cap, options.deadline ?? Number.POSITIVE_INFINITY);
  let sampleRate: number;
  if (info.wav && [1, 3].includes(info.wav.tag)) sampleRate = readLinearWav(src, info, sink);
  else sampleRate = await decodeWithCodec(src, info, sink);
  if (sink.length === 0) throw new AudioInputError('AUDIO_CORRUPT', 'no audio could be decoded');
  return { samples: sink.samples(), sampleRate, truncated: sink.truncated, info };
}

/** Integer PCM and float WAV, frame by frame from the data chunk, mixed to mono. */
function readLinearWav(src: ByteSource, info: AudioInfo, sink: MonoSink): number {
  const wav = info.wav as WavFormat;
  const channels = info.channels as number;
  const bytesPer = wav.blockAlign / channels;
  const float = wav.tag === 3;
  const framesPerRead = Math.max(1, Math.floor(CHUNK / wav.blockAlign));
  const totalFrames = Math.floor(wav.dataBytes / wav.blockAlign);
  for (let frame = 0; frame < totalFrames && !sink.full; frame += framesPerRead) {
    sink.tick();
    const frames = Math.min(framesPerRead, totalFrames - frame, sink.cap - sink.length);
    const raw = src.read(wav.dataOffset + frame * wav.blockAlign, frames * wav.blockAlign);
    const got = Math.floor(raw.length / wav.blockAlign);
    if (channels === 1 && LITTLE_ENDIAN && (bytesPer === 2 || (float && bytesPer === 4))) {
      // One channel of int16 or float32 (most uploads): read through a typed view of an aligned copy.
      // A copy made by the Uint8Array constructor: a Node.js Buffer's slice() is a view of its pool.
      const aligned = new Uint8Array(raw.subarray(0, got * bytesPer)).buffer;
      let out: Float32Array;
      if (float) out = new Float32Array(aligned);
      else {
        const pcm = new Int16Array(aligned);
        out = new Float32Array(got);
        for (let i = 0; i < got; i++) out[i] = (pcm[i] as number) / 32768;
      }
      sink.push(out);
      if (got < frames) break;
      continue;
    }
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(got);
    for (let i = 0; i < got; i++) {
      let s = 0;
      for (let c = 0; c < channels; c++) {
        const at = i * wav.blockAlign + c * bytesPer;
        if (float) s += bytesPer === 4 ? v.getFloat32(at, true) : v.getFloat64(at, true);
        else if (bytesPer === 2) s += v.getInt16(at, true) / 32768;
        else if (bytesPer === 1) s += ((raw[at] as number) - 128) / 128;
        else if (bytesPer === 3) s += (((v.getUint16(at, true) | ((raw[at + 2] as number) << 16)) << 8) >> 8) / 8388608;
        else s += v.getInt32(at, true) / 2147483648;
      }
      out[i] = s / channels;
    }
    sink.push(out);
    if (got < frames) break;
  }
  if (totalFrames > sink.length && sink.full) sink.truncated = true;
  return info.sampleRate as number;
}

/** The codec's streaming decoder; WAV variants get a canonical header (fmt + data) so odd layouts reach it normalised. */
async function decodeWithCodec(src: ByteSource, info: AudioInfo, sink: MonoSink): Promise<number> {
  const name = info.container === 'ogg' ? (info.codec === 'opus' ? 'opus' : 'oga') : info.container;
  const factory = (decode as unknown as Record<string, () => Promise<StreamDecoder>>)[name];
  if (!factory) throw new AudioInputError('AUDIO_UNSUPPORTED', `no decoder for ${name}`);
  let dec: StreamDecoder;
  try {
    dec = await factory();
  } catch (cause) {
    throw new AudioInputError('AUDIO_CORRUPT', `could not start the ${name} decoder`, { cause });
  }
  let sampleRate = 0;
  const take = (r: { channelData: Float32Array[]; sampleRate: number }) => {
    if (!r?.channelData?.length) return;
    if (
      !Number.isInteger(r.sampleRate) ||
      r.sampleRate < limits.audio.minSampleRate ||
      r.sampleRate > limits.audio.maxSampleRate
    ) {
      throw new AudioInputError('AUDIO_HEADER_INVALID', `the stream decodes at ${r.sampleRate} Hz`);
    }
    if (r.channelData.length > limits.audio.maxChannels) {
      throw new AudioInputError('AUDIO_HEADER_INVALID', `the stream decodes to ${r.channelData.length} channels`);
    }
    if (sampleRate && r.sampleRate !== sampleRate) {
      throw new AudioInputError('AUDIO_CORRUPT', `the sample rate changes from ${sampleRate} to ${r.sampleRate} Hz`);
    }
    sampleRate = r.sampleRate;
    sink.add(r.channelData);
  };
  const pieces = wavPieces(info) ?? [{ offset: 0, length: src.size }];
  try {
    for (const piece of pieces) {
      if (piece.bytes) take(await dec(piece.bytes));
      for (let at = piece.offset; at < piece.offset + piece.length && !sink.full; at += CHUNK) {
        const chunk = src.read(at, Math.min(CHUNK, piece.offset + piece.length - at));
        if (chunk.length === 0) break;
        take(await dec(chunk.slice()));
      }
    }
    if (!sink.full) take(await dec());
    else dec.free();
  } catch (cause) {
    dec.free();
    if (cause instanceof AudioInputError) throw cause;
    throw new AudioInputError('AUDIO_CORRUPT', `could not decode audio: ${(cause as Error).message}`, { cause });
  }
  return sampleRate;
}

type StreamDecoder = ((chunk?: Uint8Array) => Promise<{ channelData: Float32Array[]; sampleRate: number }>) & {
  free(): void;
};

type Piece = { offset: number; length: number; bytes?: Uint8Array };

/** A WAV as RIFF + its fmt chunk + one data chunk of the real size, then the data itself. */
function wavPieces(info: AudioInfo): Piece[] | undefined {
  const wav = info.wav;
  if (!wav) return undefined;
  const header = new Uint8Array(12 + 8 + wav.chunk.length + 8);
  const v = new DataView(header.buffer);
  const put = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) header[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  v.setUint32(4, Math.min(0xffffffff, header.length - 8 + wav.dataBytes), true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, wav.chunk.length, true);
  header.set(wav.chunk, 20);
  put(20 + wav.chunk.length, 'data');
  v.setUint32(24 + wav.chunk.length, Math.min(0xffffffff, wav.dataBytes), true);
  return [{ offset: wav.dataOffset, length: wav.dataBytes, bytes: header }];
}

/** Mean of the channels (torch.mean over the channel axis). */
export function mixToMono(channels: readonly Float32Array[]): Float32Array {
  const first = channels[0];
  if (!first) return new Float32Array(0);
  if (channels.length === 1) return first;
  const out = new Float32Array(first.length);
  for (const ch of channels) for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + (ch[i] ?? 0);
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / channels.length;
  return out;
}
