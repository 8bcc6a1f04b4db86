/**
 * A minimal POSIX ustar writer: regular files only, streamed entry by entry, so an archive of
 * hours of clips is generated on the fly without staging it. (The format is 512-byte blocks;
 * a package for it would add more than these lines.)
 */
const BLOCK = 512;

export type TarEntry = {
  name: string;
  size: number;
  /** The entry's bytes; must yield exactly `size` bytes. */
  body: Uint8Array | (() => AsyncIterable<Uint8Array>);
};

function octal(buf: Buffer, value: number, at: number, width: number) {
  buf.write(`${value.toString(8).padStart(width - 1, '0')}\0`, at, width, 'latin1');
}

/** Splits a long path into ustar's prefix (155 bytes) and name (100 bytes). */
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [prefix, name];
  }
  throw new Error(`tar: the path ${path} is too long for ustar`);
}

export function tarHeader(path: string, size: number, mtime = Math.floor(Date.now() / 1000)): Buffer {
  if (size >= 8 ** 11) throw new Error(`tar: ${path} is too large for a ustar header`);
  const h = Buffer.alloc(BLOCK);
  const [prefix, name] = splitName(path);
  h.write(name, 0, 100, 'utf8');
  octal(h, 0o644, 100, 8);
  octal(h, 0, 108, 8);
  octal(h, 0, 116, 8);
  octal(h, size, 124, 12);
  octal(h, mtime, 136, 12);
  h.write('        ', 148, 8, 'latin1'); // the checksum is computed with its own field as spaces
  h.write('0', 156, 1, 'latin1');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

/** The archive's bytes: each entry's header, its bytes padded to a block, then two empty blocks. */
export async function* tarStream(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): AsyncGenerator<Uint8Array> {
  for await (const entry of entries) {
    yield tarHeader(entry.name, entry.size);
    let written = 0;
    if (entry.body instanceof Uint8Array) {
      written = entry.body.length;
      yield entry.body;
    } else {
      for await (const chunk of entry.body()) {
        written += chunk.length;
        if (written > entry.size) break;
        yield chunk;
      }
    }
    // A file that changed while streaming would corrupt every entry after it: end the transfer broken instead.
    if (written !== entry.size)
      throw new Error(`tar: ${entry.name} has ${written} bytes, its header said ${entry.size}`);
    const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (pad) yield new Uint8Array(pad);
  }
  yield new Uint8Array(BLOCK * 2);
}
