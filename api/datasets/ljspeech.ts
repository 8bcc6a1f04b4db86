/**
 * The dataset as an LJSpeech archive, made from the rows as they stand now (the owner's text
 * edits and exclusions included): metadata.csv (`id|text|normalized text`), the train/eval
 * split files Coqui's trainer reads, and wavs/.
 */
import { clipIncluded, type DatasetClip } from '../../db/index.ts';
import type { Storage } from '../../infra/index.ts';
import type { TarEntry } from './tar.ts';

/** A field of a `|`-separated line: neither the separator nor a line break may appear in it. */
const field = (s: string) => s.replace(/[|\r\n]+/g, ' ').trim();

export function metadataLine(c: DatasetClip): string {
  const text = field(c.text);
  // An edited text makes the build's normalisation stale: the edit is the normalised text too.
  const normalized = c.originalText === null && c.normalizedText ? field(c.normalizedText) : text;
  return `${c.clipKey}|${text}|${normalized}\n`;
}

/**
 * The archive's entries. Sizes of every wav are read before the first byte is sent, so a
 * missing file fails the request with an error instead of a truncated archive.
 */
export async function ljspeechEntries(storage: Storage, clips: DatasetClip[]): Promise<TarEntry[]> {
  const kept = clips.filter(clipIncluded);
  const text = (rows: DatasetClip[]) => Buffer.from(rows.map(metadataLine).join(''), 'utf8');
  const files: TarEntry[] = [
    { name: 'metadata.csv', body: text(kept), size: 0 },
    { name: 'metadata_train.csv', body: text(kept.filter((c) => c.split !== 'eval')), size: 0 },
    { name: 'metadata_eval.csv', body: text(kept.filter((c) => c.split === 'eval')), size: 0 },
  ].map((e) => ({ ...e, size: (e.body as Uint8Array).length }));
  for (const c of kept) {
    const size = await storage.size(c.path);
    if (size === undefined) throw new Error(`the audio of clip ${c.clipKey} is missing from storage (${c.path})`);
    files.push({ name: `wavs/${c.clipKey}.wav`, size, body: () => storage.read(c.path) });
  }
  return files;
}
