// npm run model:pull -- <out package dir> [--hub URL] [--repo coqui/XTTS-v2] [--revision main] [--cache DIR]
//                       [--no-export]
// Downloads the XTTS-v2 release from a Hugging Face hub, verifies every file against the hub's
// listing (size; sha256 for LFS files, the git blob sha1 otherwise), then exports it as a package.
// The hub URL comes from --hub, else $HF_ENDPOINT, else https://huggingface.co, so tests can point
// it at a local server.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '../../infra/index.ts';
import { importModel } from './import.ts';

export const MODEL_FILES = ['model.pth', 'dvae.pth', 'mel_stats.pth', 'vocab.json', 'config.json'] as const;

interface TreeEntry {
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

export interface PullOptions {
  hub: string;
  repo: string;
  revision: string;
  dest: string;
}

/** fetch, with a message that says which URL failed and why (fetch alone says only "fetch failed"). */
async function get(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `could not reach ${url} (${cause?.code ?? cause?.message ?? (e as Error).message}). Without network access, ` +
        'copy the XTTS-v2 files (model.pth, dvae.pth, mel_stats.pth, vocab.json, config.json) to this machine ' +
        'and run `npm run model:import -- <that folder> <package folder>`',
    );
  }
}

async function listing(o: PullOptions): Promise<Map<string, TreeEntry>> {
  const url = `${o.hub}/api/models/${o.repo}/tree/${encodeURIComponent(o.revision)}`;
  const res = await get(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const entries = (await res.json()) as TreeEntry[];
  return new Map(entries.map((e) => [e.path, e]));
}

/** The digest the hub publishes for a file: sha256 of the content for LFS files, git's blob sha1 otherwise. */
async function download(o: PullOptions, entry: TreeEntry, to: string): Promise<void> {
  const url = `${o.hub}/${o.repo}/resolve/${encodeURIComponent(o.revision)}/${entry.path}`;
  const res = await get(url);
  if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
  const expectedSize = entry.lfs?.size ?? entry.size;
  const hash = entry.lfs ? createHash('sha256') : createHash('sha1').update(`blob ${expectedSize}\0`);
  let size = 0;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    size += chunk.length;
    hash.update(chunk);
  });
  await pipeline(body, createWriteStream(to));
  const digest = hash.digest('hex');
  const expected = entry.lfs?.oid ?? entry.oid;
  if (size !== expectedSize) throw new Error(`${entry.path}: size ${size}, hub lists ${expectedSize}`);
  if (digest !== expected)
    throw new Error(`${entry.path}: ${entry.lfs ? 'sha256' : 'git sha1'} ${digest}, hub lists ${expected}`);
}

/** Downloads and verifies the model files into o.dest (written to a temp folder first, renamed at the end). */
export async function pull(o: PullOptions): Promise<string> {
  const files = await listing(o);
  const tmp = `${o.dest}.partial-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    for (const name of MODEL_FILES) {
      const entry = files.get(name);
      if (!entry) throw new Error(`${o.repo}@${o.revision} has no ${name}`);
      await download(o, entry, join(tmp, name));
    }
    rmSync(o.dest, { recursive: true, force: true });
    mkdirSync(dirname(o.dest), { recursive: true });
    renameSync(tmp, o.dest);
    return o.dest;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    console.error(
      'usage: npm run model:pull -- [<out package dir>, default MODEL_DIR/xtts-v2] [--hub URL] [--repo coqui/XTTS-v2] [--cache DIR] [--no-export]',
    );
    process.exit(2);
  }
  const config = loadConfig();
  const out =
    args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--')) ?? join(config.modelDir, 'xtts-v2');
  const hub = (flag(args, '--hub') ?? config.hfEndpoint).replace(/\/$/, '');
  const repo = flag(args, '--repo') ?? 'coqui/XTTS-v2';
  const revision = flag(args, '--revision') ?? 'main';
  const dest = flag(args, '--cache') ?? `${out}.download`;
  try {
    await pull({ hub, repo, revision, dest });
  } catch (e) {
    console.error(`model:pull failed: ${(e as Error).message}`);
    process.exit(1);
  }
  console.log(`downloaded and verified ${MODEL_FILES.length} files into ${dest}`);
  if (!args.includes('--no-export')) {
    const device = flag(args, '--device');
    process.exit(await importModel([dest, out, '--force', ...(device ? ['--device', device] : [])]));
  }
}
