import type { Db } from '../client.ts';

/**
 * Recent answers of the lookups every synthesis request makes (its API key by token, its voice by id
 * or name, the voice's checkpoint), kept per database handle for at most `maxAgeMs`.
 *
 * Why: each lookup is a query, and with the embedded database (PGlite, WebAssembly on the server's
 * main thread) the three took about 3 ms of that thread per request on a 2-core CPU, about 40 % of a
 * request's main-thread time: when 64 streams arrive together, each waits for the others' queries
 * before the server even reads it (bench:gpu's "client TTFA less the server's parts").
 *
 * Exact within this process: every write to api_keys, voices or checkpoints in db/queries calls
 * forgetLookups after it (after the commit, for transactions), and a lookup that was in flight when
 * that happened is not kept. With the embedded database that is every write (one process holds it).
 * With a PostgreSQL server other processes (job workers, another API replica, the keys CLI) may write
 * too: their changes are seen here within `maxAgeMs` (LOOKUP_MAX_AGE_MS).
 *
 * Concurrent lookups of the same thing share one query. Only found rows are kept: a key, voice or
 * checkpoint that did not exist is looked up again next time.
 */
type Entry = { at: number; value: Promise<unknown> };
type Memory = { generation: number; entries: Map<string, Entry> };

/** Entries kept per handle at most (the oldest go first). */
const MAX_ENTRIES = 1024;

const memories = new WeakMap<object, Memory>();

function memoryOf(db: Db): Memory {
  let m = memories.get(db);
  if (!m) {
    m = { generation: 0, entries: new Map() };
    memories.set(db, m);
  }
  return m;
}

/** `load()`'s answer, or a found row of the same `key` looked up less than `maxAgeMs` ago (0: always load). */
export function remembered<T>(db: Db, key: string, maxAgeMs: number, load: () => Promise<T | undefined>) {
  if (!(maxAgeMs > 0)) return load();
  const m = memoryOf(db);
  const now = performance.now();
  const hit = m.entries.get(key);
  if (hit && now - hit.at <= maxAgeMs) return hit.value as Promise<T | undefined>;
  const generation = m.generation;
  const value = load();
  m.entries.delete(key);
  m.entries.set(key, { at: now, value });
  if (m.entries.size > MAX_ENTRIES) m.entries.delete(m.entries.keys().next().value as string);
  const drop = () => {
    if (m.entries.get(key)?.value === value) m.entries.delete(key);
  };
  value.then((row) => {
    if (row === undefined || m.generation !== generation) drop();
  }, drop);
  return value;
}

/** Forgets every kept lookup of `db`: called after each write to the tables they read. */
export function forgetLookups(db: Db): void {
  const m = memories.get(db);
  if (!m) return;
  m.generation++;
  m.entries.clear();
}

/** `write`'s outcome, once the kept lookups of `db` are forgotten: for a transaction, after its commit (or its failure). */
export async function afterWrite<T>(db: Db, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } finally {
    forgetLookups(db);
  }
}
