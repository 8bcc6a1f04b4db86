import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { openDb } from './client.ts';
import { isDatabaseUnavailable } from './errors.ts';
import { readiness } from './health.ts';

/**
 * A database that is not there fails each query within a bounded time, whatever answers at its
 * address: nothing (a silent server), something that closes the connection at once, or
 * something that is not PostgreSQL (a proxy whose database is gone). postgres.js alone held the
 * query of the last two forever, reconnecting without end.
 */
describe('connecting to a database that is not there', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  after(() => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
  });
  const listen = async (onConnection: (s: Socket) => void): Promise<number> => {
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
      onConnection(s);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  };
  /** The query's error and how long it took; a query still waiting after `limitMs` fails the test. */
  const timed = async (port: number, limitMs: number) => {
    const handle = await openDb({ databaseUrl: `postgres://u:p@127.0.0.1:${port}/db`, connectTimeoutS: 1 });
    try {
      const t0 = performance.now();
      const ready = await readiness(handle.db, { timeoutMs: 1000 });
      const readyMs = performance.now() - t0;
      const t1 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        handle.db.execute(sql`select 1`).then(
          () => 'answered',
          (e: unknown) => e,
        ),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve('still waiting'), limitMs);
        }),
      ]);
      clearTimeout(timer);
      return { ready, readyMs, outcome, ms: performance.now() - t1 };
    } finally {
      void handle.close().catch(() => {});
    }
  };

  for (const [name, behaviour] of [
    ['answers nothing', () => {}],
    ['closes every connection at once', (s: Socket) => s.end()],
    ['answers as something else (an HTTP proxy)', (s: Socket) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')],
  ] as const) {
    it(`a server that ${name}: the query fails as unavailable within the connect timeout`, async () => {
      const port = await listen(behaviour);
      const r = await timed(port, 4000);
      assert.ok(r.outcome instanceof Error, `the query ${String(r.outcome)} after ${r.ms.toFixed(0)} ms`);
      assert.ok(isDatabaseUnavailable(r.outcome), `an unavailable-database error: ${(r.outcome as Error).message}`);
      assert.ok(r.ms < 3000, `failed after ${r.ms.toFixed(0)} ms (connect timeout 1 s)`);
      assert.equal(r.ready.database, 'down');
      assert.ok(r.readyMs < 2000, `readiness answered after ${r.readyMs.toFixed(0)} ms`);
    });
  }

  it('a refused address fails every query at once, and the pool then reconnects to a server that came back', async () => {
    // A port with nothing behind it: take one, then close its listener.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const handle = await openDb({
      databaseUrl: `postgres://u:p@127.0.0.1:${port}/db`,
      connectTimeoutS: 1,
      maxConnections: 1,
    });
    try {
      // One pooled connection: a failed attempt that never returned it to the pool would leave
      // every later query waiting (postgres.js keeps a connection whose socket promise rejected).
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          handle.db.execute(sql`select 1`).then(
            () => 'answered',
            (e: unknown) => e,
          ),
          new Promise((resolve) => {
            timer = setTimeout(() => resolve('still waiting'), 3000);
          }),
        ]);
        clearTimeout(timer);
        assert.ok(
          outcome instanceof Error,
          `query ${i + 1}: ${String(outcome)} after ${(performance.now() - t0).toFixed(0)} ms`,
        );
        assert.ok(isDatabaseUnavailable(outcome), `query ${i + 1}: ${(outcome as Error).message}`);
      }
      // Something listens there again (it closes at once): the pool's connection tries it, and fails
      // as closed rather than refused, so the pool really dialled again.
      let dialled = 0;
      const back = createServer((s) => {
        dialled++;
        s.on('error', () => {});
        s.end();
      });
      servers.push(back);
      await new Promise<void>((resolve) => back.listen(port, '127.0.0.1', resolve));
      const outcome = await handle.db.execute(sql`select 1`).then(
        () => 'answered',
        (e: unknown) => e,
      );
      assert.ok(outcome instanceof Error && isDatabaseUnavailable(outcome), String(outcome));
      assert.ok(dialled > 0, 'the pool connected again once something listened');
    } finally {
      void handle.close().catch(() => {});
    }
  });
});
