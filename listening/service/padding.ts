/**
 * Equal-size stimuli. The clips of one trial are served at one byte length, so neither
 * Content-Length nor a download's duration tells a rater which clip is which system's (a
 * system whose renders run long would otherwise show in every trial's sizes). The length is
 * made up with a RIFF `JUNK` chunk placed before the audio data: every WAV reader skips unknown
 * chunks, so what plays is exactly the stored clip.
 */

/** Sizes are rounded up to this, so two trials' sizes say little about their clips either. */
export const PAD_BLOCK = 4096;

const tag = (b: Uint8Array, at: number) => String.fromCharCode(...b.subarray(at, at + 4));

/** Offset of the `data` chunk's header, or -1. */
function dataChunkAt(wav: Uint8Array): number {
  if (wav.length < 12 || tag(wav, 0) !== 'RIFF' || tag(wav, 8) !== 'WAVE') return -1;
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  for (let at = 12; at + 8 <= wav.length; ) {
    if (tag(wav, at) === 'data') return at;
    const size = view.getUint32(at + 4, true);
    at += 8 + size + (size % 2);
  }
  return -1;
}

/** The byte length every clip of a trial is served at: the longest clip plus room for a pad chunk, in whole blocks. */
export function paddedSize(lengths: number[]): number {
  return Math.ceil((Math.max(0, ...lengths) + 8) / PAD_BLOCK) * PAD_BLOCK;
}

/** `wav` grown to exactly `size` bytes with a JUNK chunk before its data. */
export function padWav(wav: Uint8Array, size: number): Uint8Array {
  const gap = size - wav.length;
  const at = dataChunkAt(wav);
  if (at < 0) throw new Error('not a RIFF/WAVE file with a data chunk');
  if (gap < 8) throw new Error(`cannot pad ${wav.length} bytes to ${size}`);
  // A chunk of odd size is followed by one pad byte, which the gap then includes.
  const junk = gap % 2 === 0 ? gap - 8 : gap - 9;
  const out = new Uint8Array(size);
  out.set(wav.subarray(0, at), 0);
  const view = new DataView(out.buffer);
  out.set([0x4a, 0x55, 0x4e, 0x4b], at); // 'JUNK'
  view.setUint32(at + 4, junk, true);
  out.set(wav.subarray(at), at + gap);
  view.setUint32(4, size - 8, true);
  return out;
}

/** The stored clip back from a padded one (the JUNK chunks removed), for checking what was served. */
export function unpadWav(wav: Uint8Array): Uint8Array {
  const view = new DataView(wav.buffer, wav.byteOffset, wav.byteLength);
  const parts: Uint8Array[] = [wav.subarray(0, 12)];
  for (let at = 12; at + 8 <= wav.length; ) {
    const size = view.getUint32(at + 4, true);
    const end = tag(wav, at) === 'data' ? wav.length : at + 8 + size + (size % 2);
    if (tag(wav, at) !== 'JUNK') parts.push(wav.subarray(at, end));
    at = end;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}
