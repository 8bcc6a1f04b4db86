/**
 * Ogg pages for an Opus stream (RFC 3533 framing, RFC 7845 Opus mapping): libopus only makes
 * packets; a player needs them in pages with an identification and a comment header first.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0. */
export function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ b) & 0xff] as number)) >>> 0;
  return crc;
}

export const PAGE_BOS = 0x02;
export const PAGE_EOS = 0x04;

/** One page holding whole packets (at most 255 lacing values). */
export function oggPage(
  packets: readonly Uint8Array[],
  granule: bigint,
  serial: number,
  sequence: number,
  flags: number,
): Uint8Array {
  const lacing: number[] = [];
  for (const p of packets) {
    for (let n = p.length; ; n -= 255) {
      lacing.push(Math.min(n, 255));
      if (n < 255) break;
    }
  }
  if (lacing.length > 255) throw new RangeError(`${lacing.length} lacing values do not fit one page`);
  const bodyLength = packets.reduce((n, p) => n + p.length, 0);
  const page = new Uint8Array(27 + lacing.length + bodyLength);
  const view = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53], 0); // "OggS"
  page[4] = 0; // version
  page[5] = flags;
  view.setBigInt64(6, granule, true);
  view.setUint32(14, serial, true);
  view.setUint32(18, sequence, true);
  page[26] = lacing.length;
  page.set(lacing, 27);
  let at = 27 + lacing.length;
  for (const p of packets) {
    page.set(p, at);
    at += p.length;
  }
  view.setUint32(22, oggCrc(page), true);
  return page;
}

/** The OpusHead identification packet for a mono stream. */
export function opusHead(inputRate: number, preSkip: number): Uint8Array {
  const h = new Uint8Array(19);
  const view = new DataView(h.buffer);
  h.set(new TextEncoder().encode('OpusHead'), 0);
  h[8] = 1; // version
  h[9] = 1; // channels
  view.setUint16(10, preSkip, true);
  view.setUint32(12, inputRate, true);
  view.setInt16(16, 0, true); // output gain
  h[18] = 0; // channel mapping family: mono/stereo
  return h;
}

/** The OpusTags comment packet: vendor string, no user comments. */
export function opusTags(vendor: string): Uint8Array {
  const v = new TextEncoder().encode(vendor);
  const t = new Uint8Array(8 + 4 + v.length + 4);
  const view = new DataView(t.buffer);
  t.set(new TextEncoder().encode('OpusTags'), 0);
  view.setUint32(8, v.length, true);
  t.set(v, 12);
  view.setUint32(12 + v.length, 0, true);
  return t;
}
