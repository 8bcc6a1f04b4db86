import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import { byteaFromText, byteaToText } from './client.ts';
import { getConditioning, insertVoice } from './index.ts';

// Runs on PGlite by default and on the server when DATABASE_URL is set (as CI does both).
describe('bytea values (a voice conditioning) through the database', () => {
  let t: TestDb;
  before(async () => {
    t = await openTestDb();
  });
  after(async () => {
    await t.dispose();
  });

  it('gives back every byte it was given, for every length, in a buffer of its own', async () => {
    for (const n of [0, 1, 3, 2048, 131072, 131073]) {
      const latent = new Uint8Array(randomBytes(n));
      // A view at an odd offset of a larger buffer, as a Float32Array's bytes may be.
      const speaker = new Uint8Array(randomBytes(n + 5).buffer, 5, n);
      const { voice } = await insertVoice(t.db, { name: `bytes-${n}`, language: 'en' }, [], {
        packageKey: 'key',
        gptCondLatent: latent,
        gptCondShape: [n],
        speakerEmbedding: speaker,
        speakerShape: [n],
      });
      const row = await getConditioning(t.db, voice.id, 'key');
      assert.ok(row);
      assert.deepEqual(Buffer.from(row.gptCondLatent), Buffer.from(latent), `${n} bytes of the latent`);
      assert.deepEqual(Buffer.from(row.speakerEmbedding), Buffer.from(speaker), `${n} bytes of the embedding`);
      // Float32Array views of what comes back need an offset that is a multiple of 4.
      assert.equal(row.gptCondLatent.byteOffset % 4, 0);
    }
  });

  it('reads what Postgres itself wrote (decode in SQL), and what it reads Postgres can measure', async () => {
    const r = await t.db.execute<{ b: Uint8Array; n: number }>(
      sql`select decode('00ff10ab', 'hex') as b, length(${new Uint8Array([1, 2, 3, 250])}::bytea) as n`,
    );
    const row = (Array.isArray(r) ? r[0] : (r as { rows: { b: Uint8Array; n: number }[] }).rows[0]) as {
      b: Uint8Array;
      n: number;
    };
    assert.deepEqual([...row.b], [0, 255, 16, 171]);
    assert.equal(Number(row.n), 4);
  });
});

describe('bytea in the embedded database: its hex text form (byteaFromText, byteaToText)', () => {
  it('round-trips and matches the hex form Postgres uses', () => {
    assert.equal(byteaToText(new Uint8Array([0, 1, 171, 255])), '\\x0001abff');
    assert.deepEqual([...byteaFromText('\\x0001abff')], [0, 1, 171, 255]);
    assert.deepEqual([...byteaFromText('\\x')], []);
  });

  it('refuses text that is not the hex form, or not whole bytes, and values that are not bytes', () => {
    assert.throws(() => byteaFromText('abc'), /not in hex form/);
    assert.throws(() => byteaFromText('\\x0g'), /malformed/);
    assert.throws(() => byteaFromText('\\x012'), /malformed/);
    assert.throws(() => byteaToText('0102'), /must be a Uint8Array/);
  });
});
