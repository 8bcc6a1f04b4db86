/**
 * Output formats for synthesised audio, each as a streaming encoder (push chunks as they come,
 * then end) so the API can send bytes while the engine is still generating:
 * - wav: PCM16 RIFF/WAVE. Streamed, the header's sizes are 0xFFFFFFFF (length unknown), which
 *   players read as "to the end of the stream"; `encodeAudio` writes exact sizes.
 * - pcm: raw little-endian int16, mono.
 * - mp3: LAME via @breezystack/lamejs (pure JavaScript).
 * - opus: libopus via opusscript (WebAssembly) in an Ogg container written here.
 */
import { Mp3Encoder } from '@breezystack/lamejs';
import OpusScript from 'opusscript';
import { encodeWav, toPcm16 } from '../audio/wav.ts';
import { oggPage, opusHead, opusTags, PAGE_BOS, PAGE_EOS } from './ogg.ts';

export const AUDIO_FORMATS = ['wav', 'pcm', 'mp3', 'opus'] as const;
export type AudioFormat = (typeof AUDIO_FORMATS)[number];

export const CONTENT_TYPES: Record<AudioFormat, string> = {
  wav: 'audio/wav',
  pcm: 'audio/L16',
  mp3: 'audio/mpeg',
  opus: 'audio/ogg; codecs=opus',
};

export type EncoderOptions = { /** bits per second for mp3/opus (default 64000 / 32000) */ bitrate?: number };

export interface StreamEncoder {
  readonly format: AudioFormat;
  readonly contentType: string;
  /** Bytes ready to send after these samples (may be empty while a frame fills). */
  push(samples: Float32Array): Uint8Array;
  /** The remaining bytes; the encoder is finished afterwards. */
  end(): Uint8Array;
}

function int16(samples: Float32Array): Int16Array {
  const b = toPcm16(samples);
  return new Int16Array(b.buffer, b.byteOffset, samples.length);
}

function wavHeader(sampleRate: number, dataBytes: number): Uint8Array {
  const h = encodeWav(new Float32Array(0), sampleRate);
  const view = new DataView(h.buffer);
  view.setUint32(4, dataBytes === 0xffffffff ? 0xffffffff : 36 + dataBytes, true);
  view.setUint32(40, dataBytes, true);
  return h;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const OPUS_RATES = [8000, 12000, 16000, 24000, 48000] as const;
type OpusRate = (typeof OPUS_RATES)[number];

/** Opus in Ogg: 20 ms frames, a page per push so a player can start while we generate. */
function opusEncoder(sampleRate: number, bitrate: number): StreamEncoder {
  if (!(OPUS_RATES as readonly number[]).includes(sampleRate))
    throw new RangeError(`opus cannot encode ${sampleRate} Hz`);
  const enc = new OpusScript(sampleRate as OpusRate, 1, OpusScript.Application.AUDIO);
  enc.setBitrate(bitrate);
  const frame = sampleRate / 50;
  const to48k = 48000 / sampleRate;
  // libopus's encoder delay at 48 kHz for the default (non-low-delay) application.
  const preSkip = 312;
  const serial = (Math.random() * 0x7fffffff) | 0;
  let sequence = 0;
  let pending = new Float32Array(0);
  let encoded = 0; // input samples in emitted packets
  let total = 0; // real input samples
  let started = false;
  let done = false;
  const header = () => {
    started = true;
    return concat([
      oggPage([opusHead(sampleRate, preSkip)], 0n, serial, sequence++, PAGE_BOS),
      oggPage([opusTags('xtts-voice-studio (libopus via opusscript)')], 0n, serial, sequence++, 0),
    ]);
  };
  const packets = (last: boolean): Uint8Array => {
    const out: Uint8Array[] = [];
    let page: Uint8Array[] = [];
    const flush = (eos: boolean) => {
      // A page's granule counts the 48 kHz samples decoded through it, pre-skip included; the last
      // one says where the real audio ends (pre-skip + input), so players trim the padding after it.
      const granule = eos ? preSkip + Math.round(total * to48k) : Math.round(encoded * to48k);
      out.push(oggPage(page, BigInt(granule), serial, sequence++, eos ? PAGE_EOS : 0));
      page = [];
    };
    // At the end, frames continue past the input until the encoder's delay (pre-skip) is covered.
    const short = () => pending.length > 0 || (encoded - total) * to48k < preSkip;
    while (pending.length >= frame || (last && short())) {
      const f = new Float32Array(frame);
      f.set(pending.subarray(0, frame));
      pending = pending.slice(Math.min(frame, pending.length));
      const pcm = int16(f);
      page.push(new Uint8Array(enc.encode(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), frame)));
      encoded += frame;
      if (page.length === 50) flush(false);
    }
    if (last) flush(true);
    else if (page.length > 0) flush(false);
    return concat(out);
  };
  return {
    format: 'opus',
    contentType: CONTENT_TYPES.opus,
    push(samples) {
      if (done) throw new Error('encoder already ended');
      const head = started ? new Uint8Array(0) : header();
      const grown = new Float32Array(pending.length + samples.length);
      grown.set(pending);
      grown.set(samples, pending.length);
      pending = grown;
      total += samples.length;
      return concat([head, packets(false)]);
    },
    end() {
      if (done) return new Uint8Array(0);
      const head = started ? new Uint8Array(0) : header();
      const tail = packets(true);
      done = true;
      enc.delete();
      return concat([head, tail]);
    },
  };
}

export function createEncoder(format: AudioFormat, sampleRate: number, options: EncoderOptions = {}): StreamEncoder {
  switch (format) {
    case 'wav': {
      let started = false;
      return {
        format,
        contentType: CONTENT_TYPES.wav,
        push(samples) {
          const body = toPcm16(samples);
          if (started) return body;
          started = true;
          return concat([wavHeader(sampleRate, 0xffffffff), body]);
        },
        end: () => (started ? new Uint8Array(0) : wavHeader(sampleRate, 0)),
      };
    }
    case 'pcm':
      return { format, contentType: CONTENT_TYPES.pcm, push: toPcm16, end: () => new Uint8Array(0) };
    case 'mp3': {
      const enc = new Mp3Encoder(1, sampleRate, Math.round((options.bitrate ?? 64000) / 1000));
      return {
        format,
        contentType: CONTENT_TYPES.mp3,
        push: (samples) => Uint8Array.from(enc.encodeBuffer(int16(samples))),
        end: () => Uint8Array.from(enc.flush()),
      };
    }
    case 'opus':
      return opusEncoder(sampleRate, options.bitrate ?? 32000);
  }
}

/** A whole file at once; wav gets exact sizes in its header. */
export function encodeAudio(
  format: AudioFormat,
  samples: Float32Array,
  sampleRate: number,
  options: EncoderOptions = {},
): Uint8Array {
  if (format === 'wav') return encodeWav(samples, sampleRate);
  const e = createEncoder(format, sampleRate, options);
  return concat([e.push(samples), e.end()]);
}
