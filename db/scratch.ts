import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/**
 * A new, empty database on a Postgres server, for a test file or a benchmark, and the way to
 * drop it. Its name is random, so runs in parallel never meet.
 */
export async function createScratchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `xtts_scratch_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * Takes one database on a server away and back, without touching the server or its other
 * databases: `cut` terminates every connection to it, `block` also refuses new ones until
 * `unblock`. What a server restart or a network cut does to its clients, for tests.
 */
export function databaseInterruptions(serverUrl: string, databaseUrl: string) {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^\w+$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const cut = async (): Promise<number> => {
    const [row] = await admin`
      select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
      where datname = ${name} and pid <> pg_backend_pid()`;
    return Number(row?.n ?? 0);
  };
  return {
    cut,
    block: async () => {
      await admin.unsafe(`alter database ${name} allow_connections false`);
      return cut();
    },
    unblock: async () => {
      await admin.unsafe(`alter database ${name} allow_connections true`);
    },
    close: () => admin.end(),
  };
}
