import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, types } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.ts';

export type Schema = typeof schema;
/** What every query function takes: the same type whichever driver is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export type DbDriver = 'pglite' | 'postgres';

export type DbHandle = {
  db: Db;
  driver: DbDriver;
  /** Where the data lives: the PGlite folder, or the server URL without its password. */
  location: string;
  close(): Promise<void>;
};

export type DbOptions = {
  /** A postgres:// URL; when absent, embedded PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite's data folder; `memory://` keeps it in memory. */
  pgliteDir?: string;
  /** Pool size for the server driver. */
  maxConnections?: number;
  /**
   * An empty cluster to start the embedded database from instead of running initdb in it
   * (`pgliteTemplate()`); only for a folder that holds no database yet.
   */
  pgliteTemplate?: Blob;
};

export async function openDb(options: DbOptions): Promise<DbHandle> {
  if (options.databaseUrl) {
    const client = postgres(options.databaseUrl, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      // Fail fast when the server is down instead of queueing requests forever. postgres.js
      // 3.4.9 can also hold a query until this runs out when the server closed a connection
      // during its startup (a server shutting down or refusing the database), so it is short.
      connect_timeout: 5,
    });
    const db = drizzlePostgres({ client, schema }) as unknown as Db;
    return {
      db,
      driver: 'postgres',
      location: redact(options.databaseUrl),
      close: () => client.end({ timeout: 5 }),
    };
  }
  const dir = options.pgliteDir ?? 'memory://';
  if (!dir.startsWith('memory://')) mkdirSync(dir, { recursive: true });
  const client = await PGlite.create(dir, {
    ...(options.pgliteTemplate ? { loadDataDir: options.pgliteTemplate } : {}),
    parsers: { [types.BYTEA]: byteaFromText },
    serializers: { [types.BYTEA]: byteaToText },
  });
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return { db, driver: 'pglite', location: dir, close: () => client.close() };
}

/*
 * bytea through PGlite, in Postgres's hex text form (`\x` and two hex digits a byte), by Node's Buffer
 * instead of PGlite's own conversion (0.5.16: parseInt per byte pair into Uint8Array.from, and a string
 * per byte the other way), which runs on the server's main thread: reading a voice's conditioning
 * (128 KB) took 24-28 ms on a 2-core CPU against 2 ms this way, and a burst of 64 voices not yet kept
 * stalled the server's event loop for 0.6 s on a GPU host (bench:gpu --voices 64).
 */
export function byteaFromText(text: string): Uint8Array {
  if (!text.startsWith('\\x')) throw new Error(`bytea: not in hex form (bytea_output = 'hex'): ${text.slice(0, 16)}`);
  const b = Buffer.from(text.slice(2), 'hex');
  if (b.length * 2 !== text.length - 2) throw new Error('bytea: malformed hex text');
  // A copy with a buffer of its own (Buffer.from may hand out a slice of a shared pool).
  return new Uint8Array(b);
}
export function byteaToText(value: unknown): string {
  if (!(value instanceof Uint8Array)) throw new Error('bytea: a value of this type must be a Uint8Array');
  return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
}

/** The embedded database's folder under DATA_DIR. */
export const pgliteDirFor = (dataDir: string) => join(dataDir, 'pglite');

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
