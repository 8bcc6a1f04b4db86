/**
 * Reads and checks an audio file's headers before anything is decoded or allocated: the
 * container, and every field a decoder would size its work by (sample rate, channels, bit
 * depth, block sizes, claimed lengths) against the ranges in infra/limits.ts. A header that
 * claims 4 GHz, 65,535 channels or four billion samples in 108 bytes is refused here, in
 * microseconds, instead of steering a decoder's or a resampler's allocations.
 *
 * The decoders (audio-decode, PyAV) do not offer this: they trust their headers. The parsing
 * is limited to headers; the audio itself is left to them.
 */
import { limits } from '../../infra/index.ts';
import { AudioInputError } from './errors.ts';

export type Container = 'wav' | 'flac' | 'ogg' | 'mp3' | 'aac' | 'm4a';

/** Random access to a file's bytes; `read` may return fewer bytes than asked past what is available. */
export type ByteSource = {
  /** The file's length; Infinity while it is still arriving (only its head is known). */
  size: number;
  read(offset: number, length: number): Uint8Array;
};

export type WavFormat = {
  /** 1 PCM, 3 float, 6 A-law, 7 µ-law, 2 MS ADPCM, 0x11 IMA ADPCM (extensible resolved). */
  tag: number;
  blockAlign: number;
  bits: number;
  /** The fmt chunk's bytes as found (without its 8-byte header). */
  chunk: Uint8Array;
  dataOffset: number;
  /** Bytes of audio data actually present (the claim, cut to the file). */
  dataBytes: number;
};

export type AudioInfo = {
  container: Container;
  /** Codec inside Ogg: opus or vorbis. */
  codec?: 'opus' | 'vorbis';
  sampleRate?: number;
  channels?: number;
  wav?: WavFormat;
  /** Whether the whole header was available to check (false: only a head of a stream). */
  complete: boolean;
};

export const bufferSource = (bytes: Uint8Array): ByteSource => ({
  size: bytes.length,
  read: (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
});

const A = limits.audio;
const ascii = (b: Uint8Array, at = 0, n = b.length) => String.fromCharCode(...b.subarray(at, at + n));
const bad = (message: string) => new AudioInputError('AUDIO_HEADER_INVALID', message);
const corrupt = (message: string) => new AudioInputError('AUDIO_CORRUPT', message);

function checkRate(rate: number, where: string): void {
  if (!Number.isInteger(rate) || rate < A.minSampleRate || rate > A.maxSampleRate) {
    throw bad(`${where} claims a sample rate of ${rate} Hz; accepted: ${A.minSampleRate}–${A.maxSampleRate} Hz`);
  }
}

function checkChannels(channels: number, where: string): void {
  if (!Number.isInteger(channels) || channels < 1 || channels > A.maxChannels) {
    throw bad(`${where} claims ${channels} channels; accepted: 1–${A.maxChannels}`);
  }
}

/** The container the first bytes announce, or undefined. */
export function sniffContainer(head: Uint8Array): Container | undefined {
  if (
    head.length >= 12 &&
    (ascii(head, 0, 4) === 'RIFF' || ascii(head, 0, 4) === 'RF64') &&
    ascii(head, 8, 4) === 'WAVE'
  )
    return 'wav';
  if (ascii(head, 0, 4) === 'fLaC') return 'flac';
  if (ascii(head, 0, 4) === 'OggS') return 'ogg';
  if (head.length >= 8 && ascii(head, 4, 4) === 'ftyp') return 'm4a';
  if (ascii(head, 0, 3) === 'ID3') return 'mp3';
  if (ascii(head, 0, 4) === 'ADIF') return 'aac';
  if (head.length >= 2 && head[0] === 0xff && ((head[1] as number) & 0xe0) === 0xe0) {
    // MPEG audio and ADTS share the sync; ADTS has layer bits 00, which MPEG audio reserves.
    return ((head[1] as number) & 0x06) === 0 ? 'aac' : 'mp3';
  }
  return undefined;
}

/**
 * Checks the headers of `src` and describes its audio. `accept` lists the containers the
 * caller decodes; any other recognised one is AUDIO_UNSUPPORTED, anything else AUDIO_NOT_AUDIO.
 */
export function probeAudio(src: ByteSource, accept: readonly Container[]): AudioInfo {
  const head = src.read(0, 64);
  const container = sniffContainer(head);
  const names = accept.join(', ');
  if (!container) throw new AudioInputError('AUDIO_NOT_AUDIO', `not an audio file (accepted: ${names})`);
  if (!accept.includes(container)) {
    throw new AudioInputError('AUDIO_UNSUPPORTED', `${container} audio is not accepted here (accepted: ${names})`);
  }
  switch (container) {
    case 'wav':
      return probeWav(src);
    case 'flac':
      return probeFlac(src);
    case 'ogg':
      return probeOgg(src);
    case 'mp3':
      return probeMp3(src);
    case 'aac':
      return probeAdts(src);
    case 'm4a':
      return probeMp4(src);
  }
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

function probeWav(src: ByteSource): AudioInfo {
  const rf64 = ascii(src.read(0, 4)) === 'RF64';
  let at = 12;
  let fmt: Omit<WavFormat, 'dataOffset' | 'dataBytes'> | undefined;
  let channels = 0;
  let sampleRate = 0;
  let ds64Data: number | undefined;
  for (let n = 0; ; n++) {
    if (n >= A.maxWavChunks) throw bad(`more than ${A.maxWavChunks} chunks before the audio data`);
    const h = src.read(at, 8);
    if (h.length < 8) {
      if (at >= src.size)
        throw corrupt(fmt ? 'the file ends before its data chunk' : 'the file ends before its fmt chunk');
      return { container: 'wav', complete: false, ...(fmt ? { sampleRate, channels } : {}) };
    }
    const id = ascii(h, 0, 4);
    let size = view(h).getUint32(4, true);
    const body = at + 8;
    if (id === 'ds64') {
      if (!rf64 || n !== 0) throw bad('a ds64 chunk outside the start of an RF64 file');
      const d = src.read(body, 16);
      if (d.length < 16) throw corrupt('the file ends inside its ds64 chunk');
      const v = view(d);
      ds64Data = v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32;
    } else if (id === 'fmt ') {
      if (fmt) throw bad('two fmt chunks');
      if (size < 16 || size > 4096) throw bad(`a fmt chunk of ${size} bytes`);
      const chunk = src.read(body, size);
      if (chunk.length < size) {
        if (body + size > src.size) throw corrupt('the file ends inside its fmt chunk');
        return { container: 'wav', complete: false };
      }
      const v = view(chunk);
      let tag = v.getUint16(0, true);
      channels = v.getUint16(2, true);
      sampleRate = v.getUint32(4, true);
      const blockAlign = v.getUint16(12, true);
      const bits = v.getUint16(14, true);
      if (tag === 0xfffe) {
        if (size < 40) throw bad('an extensible fmt chunk shorter than 40 bytes');
        tag = v.getUint16(24, true);
      }
      checkChannels(channels, 'the fmt chunk');
      checkRate(sampleRate, 'the fmt chunk');
      checkWavCodec(tag, channels, blockAlign, bits, chunk);
      fmt = { tag, blockAlign, bits, chunk: chunk.slice() };
    } else if (id === 'data') {
      if (!fmt) throw bad('a data chunk before the fmt chunk');
      if (rf64 && size === 0xffffffff) {
        if (ds64Data === undefined) throw bad('an RF64 data chunk without a ds64 chunk');
        size = ds64Data;
      }
      // 0 and 0xFFFFFFFF are what streaming writers put before they know the length.
      const present = Math.max(0, src.size - body);
      const claimed = size === 0 || size === 0xffffffff ? present : size;
      const dataBytes = Math.min(claimed, present);
      if (Number.isFinite(src.size) && dataBytes < fmt.blockAlign) throw corrupt('no audio in the data chunk');
      return {
        container: 'wav',
        sampleRate,
        channels,
        wav: { ...fmt, dataOffset: body, dataBytes },
        complete: Number.isFinite(src.size),
      };
    } else if (body + size > src.size) {
      throw corrupt(`the file ends inside its ${JSON.stringify(id)} chunk, before the audio data`);
    }
    at = body + size + (size & 1);
  }
}

function checkWavCodec(tag: number, channels: number, blockAlign: number, bits: number, chunk: Uint8Array): void {
  const v = view(chunk);
  if (tag === 1) {
    if (!A.pcmBits.includes(bits)) throw bad(`PCM with ${bits} bits per sample; accepted: ${A.pcmBits.join(', ')}`);
  } else if (tag === 3) {
    if (bits !== 32 && bits !== 64) throw bad(`float samples of ${bits} bits; accepted: 32, 64`);
  } else if (tag === 6 || tag === 7) {
    if (bits !== 8) throw bad(`G.711 with ${bits} bits per sample`);
  } else if (tag === 2 || tag === 0x11) {
    if (bits !== 4) throw bad(`ADPCM with ${bits} bits per sample`);
    if (blockAlign < 7 * channels || blockAlign > 8192 * channels) throw bad(`ADPCM blocks of ${blockAlign} bytes`);
    const perBlock = chunk.length >= 20 && v.getUint16(16, true) >= 2 ? v.getUint16(18, true) : 0;
    const most =
      tag === 0x11 ? ((blockAlign / channels - 4) * 2 + 1) | 0 : (2 + ((blockAlign - 7 * channels) * 2) / channels) | 0;
    if (perBlock > most) throw bad(`${perBlock} samples per ADPCM block of ${blockAlign} bytes`);
    if (tag === 2 && chunk.length >= 22) {
      const coefficients = v.getUint16(20, true);
      if (coefficients > 256 || 22 + 4 * coefficients > chunk.length) throw bad(`${coefficients} ADPCM coefficients`);
    }
    return;
  } else {
    throw new AudioInputError('AUDIO_UNSUPPORTED', `WAV format tag 0x${tag.toString(16)} is not supported`);
  }
  const expected = channels * Math.ceil(bits / 8);
  if (blockAlign !== expected)
    throw bad(`block align ${blockAlign}; ${channels} × ${bits}-bit samples need ${expected}`);
}

/** FLAC: STREAMINFO, then the metadata blocks up to the first frame. */
function probeFlac(src: ByteSource): AudioInfo {
  const si = src.read(4, 38);
  if (si.length < 38) throw corrupt('the file ends inside its STREAMINFO block');
  if (((si[0] as number) & 0x7f) !== 0) throw bad('the first FLAC metadata block is not STREAMINFO');
  const length = ((si[1] as number) << 16) | ((si[2] as number) << 8) | (si[3] as number);
  if (length !== 34) throw bad(`a STREAMINFO block of ${length} bytes`);
  const b = si.subarray(4);
  const v = view(b);
  const minBlock = v.getUint16(0);
  const maxBlock = v.getUint16(2);
  const sampleRate = ((b[10] as number) << 12) | ((b[11] as number) << 4) | ((b[12] as number) >> 4);
  const channels = (((b[12] as number) >> 1) & 7) + 1;
  const bits = ((((b[12] as number) & 1) << 4) | ((b[13] as number) >> 4)) + 1;
  const total = ((b[13] as number) & 0x0f) * 2 ** 32 + v.getUint32(14);
  if (minBlock < 16 || maxBlock < minBlock) throw bad(`FLAC block sizes ${minBlock}–${maxBlock}`);
  checkRate(sampleRate, 'STREAMINFO');
  checkChannels(channels, 'STREAMINFO');
  if (bits < 4) throw bad(`FLAC samples of ${bits} bits`);
  // Walk the metadata blocks: each must fit in the file, and there must be room for frames.
  let at = 4;
  let last = false;
  for (let n = 0; !last; n++) {
    if (n > 256) throw bad('more than 256 FLAC metadata blocks');
    const h = src.read(at, 4);
    if (h.length < 4) {
      if (at >= src.size) throw corrupt('the file ends inside its metadata, before any audio frame');
      return { container: 'flac', sampleRate, channels, complete: false };
    }
    last = ((h[0] as number) & 0x80) !== 0;
    at += 4 + (((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number));
  }
  const audioBytes = src.size - at;
  if (audioBytes <= 0) throw corrupt('no FLAC frames after the metadata');
  // A frame holds at most 65,535 samples per channel in no fewer than 6 bytes: a claim beyond that is a lie.
  if (Number.isFinite(src.size) && total > (audioBytes / 6) * 65_535) {
    throw bad(`STREAMINFO claims ${total} samples in ${audioBytes} bytes of frames`);
  }
  return { container: 'flac', sampleRate, channels, complete: Number.isFinite(src.size) };
}

/** Ogg: the first page and its identification packet (Opus or Vorbis). */
function probeOgg(src: ByteSource): AudioInfo {
  const page = src.read(0, 27 + 255);
  if (page.length < 27) throw corrupt('the file ends inside its first Ogg page header');
  if (page[4] !== 0) throw bad(`Ogg stream structure version ${page[4]}`);
  const segments = page[26] as number;
  if (page.length < 27 + segments) throw corrupt('the file ends inside its first Ogg page header');
  let packetLength = 0;
  for (let i = 0; i < segments; i++) packetLength += page[27 + i] as number;
  const packet = src.read(27 + segments, Math.min(packetLength, 64));
  if (packet.length < Math.min(packetLength, 19) || packetLength < 19) {
    throw corrupt('the first Ogg packet is cut short');
  }
  if (ascii(packet, 0, 8) === 'OpusHead') {
    const v = view(packet);
    const version = packet[8] as number;
    const channels = packet[9] as number;
    const inputRate = v.getUint32(12, true);
    const family = packet[18] as number;
    if (version >> 4 !== 0) throw bad(`Opus header version ${version}`);
    checkChannels(channels, 'OpusHead');
    if (family === 0 && channels > 2) throw bad(`${channels} channels in Opus mapping family 0`);
    if (family !== 0 && family !== 1) throw new AudioInputError('AUDIO_UNSUPPORTED', `Opus mapping family ${family}`);
    // The input rate is informational (Opus always decodes at 48 kHz), but a wild one is a forged header.
    if (inputRate !== 0) checkRate(inputRate, 'OpusHead');
    return { container: 'ogg', codec: 'opus', sampleRate: 48_000, channels, complete: true };
  }
  if (packet[0] === 1 && ascii(packet, 1, 6) === 'vorbis') {
    if (packetLength < 30 || packet.length < 30) throw corrupt('a short Vorbis identification header');
    const v = view(packet);
    if (v.getUint32(7, true) !== 0) throw bad(`Vorbis version ${v.getUint32(7, true)}`);
    const channels = packet[11] as number;
    const sampleRate = v.getUint32(12, true);
    const blocks = packet[28] as number;
    const small = 1 << (blocks & 15);
    const large = 1 << (blocks >> 4);
    checkChannels(channels, 'the Vorbis header');
    checkRate(sampleRate, 'the Vorbis header');
    if (small < 64 || large > 8192 || small > large) throw bad(`Vorbis block sizes ${small}/${large}`);
    if (((packet[29] as number) & 1) !== 1) throw corrupt('the Vorbis identification header has no framing bit');
    return { container: 'ogg', codec: 'vorbis', sampleRate, channels, complete: true };
  }
  throw new AudioInputError('AUDIO_UNSUPPORTED', 'an Ogg stream that is neither Opus nor Vorbis');
}

const MPEG_RATES = [
  [11025, 12000, 8000], // MPEG 2.5
  [0, 0, 0],
  [22050, 24000, 16000], // MPEG 2
  [44100, 48000, 32000], // MPEG 1
];
const MPEG_BITRATES: Record<string, number[]> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};

/** An MPEG audio frame header at `b`: its length in bytes (0 for free format), or null. */
function mpegFrame(b: Uint8Array): { length: number; sampleRate: number; channels: number } | null {
  if (b.length < 4 || b[0] !== 0xff || ((b[1] as number) & 0xe0) !== 0xe0) return null;
  const version = ((b[1] as number) >> 3) & 3;
  const layerBits = ((b[1] as number) >> 1) & 3;
  const bitrateIndex = (b[2] as number) >> 4;
  const rateIndex = ((b[2] as number) >> 2) & 3;
  if (version === 1 || layerBits === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const layer = 4 - layerBits;
  const sampleRate = (MPEG_RATES[version] as number[])[rateIndex] as number;
  const table = version === 3 ? `1-${layer}` : layer === 1 ? '2-1' : '2-2';
  const kbps = (MPEG_BITRATES[table] as number[])[bitrateIndex] as number;
  const padding = ((b[2] as number) >> 1) & 1;
  const channels = (b[3] as number) >> 6 === 3 ? 1 : 2;
  if (kbps === 0) return { length: 0, sampleRate, channels };
  const perFrame = layer === 1 ? 12 : layer === 3 && version !== 3 ? 72 : 144;
  const length =
    layer === 1
      ? (Math.floor((perFrame * kbps * 1000) / sampleRate) + padding) * 4
      : Math.floor((perFrame * kbps * 1000) / sampleRate) + padding;
  return { length, sampleRate, channels };
}

/** MP3: an ID3v2 tag that fits, then two consecutive frame headers (one sync alone is often chance). */
function probeMp3(src: ByteSource): AudioInfo {
  let at = 0;
  const h = src.read(0, 10);
  if (ascii(h, 0, 3) === 'ID3') {
    if (h.length < 10) throw corrupt('the file ends inside its ID3 tag header');
    for (let i = 6; i < 10; i++) if (((h[i] as number) & 0x80) !== 0) throw bad('an ID3 tag size that is not syncsafe');
    const size =
      (((h[6] as number) << 21) | ((h[7] as number) << 14) | ((h[8] as number) << 7) | (h[9] as number)) >>> 0;
    at = 10 + size + (((h[5] as number) & 0x10) !== 0 ? 10 : 0);
    if (at >= src.size) throw corrupt(`the ID3 tag claims ${size} bytes, past the end of the file`);
  }
  // Some encoders pad after the tag: look for the first frame within 64 KiB.
  const window = src.read(at, 64 * 1024 + 4);
  for (let i = 0; i + 4 <= window.length; i++) {
    if (window[i] !== 0xff) continue;
    const frame = mpegFrame(window.subarray(i, i + 4));
    if (!frame) continue;
    const next = at + i + frame.length;
    if (frame.length > 0) {
      const second = src.read(next, 4);
      // The file may hold a single frame; otherwise the next frame must follow where this one ends.
      if (second.length === 4 && !mpegFrame(second)) continue;
      if (second.length < 4 && next < src.size) continue;
    }
    return { container: 'mp3', sampleRate: frame.sampleRate, channels: frame.channels, complete: true };
  }
  throw corrupt('no MPEG audio frame found');
}

const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** AAC in ADTS frames (or ADIF): the first header's rate and channel configuration. */
function probeAdts(src: ByteSource): AudioInfo {
  const h = src.read(0, 7);
  if (ascii(h, 0, 4) === 'ADIF') return { container: 'aac', complete: false };
  if (h.length < 7) throw corrupt('the file ends inside its first ADTS header');
  const rateIndex = ((h[2] as number) >> 2) & 15;
  const channels = (((h[2] as number) & 1) << 2) | ((h[3] as number) >> 6) || 2;
  const length = (((h[3] as number) & 3) << 11) | ((h[4] as number) << 3) | ((h[5] as number) >> 5);
  const sampleRate = ADTS_RATES[rateIndex];
  if (sampleRate === undefined) throw bad(`ADTS sampling frequency index ${rateIndex}`);
  if (length < 7) throw bad(`an ADTS frame of ${length} bytes`);
  checkChannels(channels === 7 ? 8 : channels, 'the ADTS header');
  return { container: 'aac', sampleRate, channels, complete: true };
}

/** MP4/M4A: the top-level boxes must tile the file (each inside it, no zero-size loops). */
function probeMp4(src: ByteSource): AudioInfo {
  let at = 0;
  for (let n = 0; at < src.size; n++) {
    if (n > 1000) throw bad('more than 1000 top-level MP4 boxes');
    const h = src.read(at, 16);
    if (h.length < 8) {
      if (Number.isFinite(src.size)) throw corrupt('the file ends inside an MP4 box header');
      return { container: 'm4a', complete: false };
    }
    const v = view(h);
    let size = v.getUint32(0);
    if (!/^[\x20-\x7e]{4}$/.test(ascii(h, 4, 4))) throw bad('an MP4 box with an unprintable type');
    if (n === 0 && (ascii(h, 4, 4) !== 'ftyp' || size < 8 || size > 4096)) throw bad(`an ftyp box of ${size} bytes`);
    if (size === 1) {
      if (h.length < 16) throw corrupt('the file ends inside an MP4 box header');
      size = v.getUint32(8) * 2 ** 32 + v.getUint32(12);
      if (size < 16) throw bad(`an MP4 box of ${size} bytes`);
    } else if (size === 0) {
      return { container: 'm4a', complete: Number.isFinite(src.size) }; // runs to the end
    } else if (size < 8) {
      throw bad(`an MP4 box of ${size} bytes`);
    }
    if (at + size > src.size)
      throw corrupt(`an MP4 ${JSON.stringify(ascii(h, 4, 4))} box runs past the end of the file`);
    at += size;
  }
  return { container: 'm4a', complete: Number.isFinite(src.size) };
}
