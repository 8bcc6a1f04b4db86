import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MODEL_FILES, pull } from './pull.ts';

// A stand-in hub: the tree listing and resolve URLs of the Hugging Face API, serving small files.
const files = new Map<string, Buffer>(MODEL_FILES.map((f, i) => [f, Buffer.from(`contents of ${f} `.repeat(50 + i))]));
const lfs = new Set(['model.pth', 'dvae.pth', 'mel_stats.pth']);
let corrupt = '';
let server: Server;
let hub = '';

function entry(path: string, data: Buffer) {
  const sha1 = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
  const sha256 = createHash('sha256').update(data).digest('hex');
  return lfs.has(path)
    ? { path, size: 134, oid: sha1, lfs: { oid: sha256, size: data.length } }
    : { path, size: data.length, oid: sha1 };
}

before(async () => {
  server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/api/models/coqui/XTTS-v2/tree/main') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify([...files].map(([p, d]) => entry(p, d))));
      return;
    }
    const m = /^\/coqui\/XTTS-v2\/resolve\/main\/(.+)$/.exec(url);
    const data = m?.[1] ? files.get(m[1]) : undefined;
    if (!m?.[1] || !data) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const body = m[1] === corrupt ? Buffer.concat([data.subarray(0, -1), Buffer.from('!')]) : data;
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hub = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => server.close());

test('pull downloads every model file and checks it against the listing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pull-'));
  try {
    corrupt = '';
    const dest = await pull({ hub, repo: 'coqui/XTTS-v2', revision: 'main', dest: join(dir, 'xtts') });
    for (const f of MODEL_FILES) assert.deepEqual(readFileSync(join(dest, f)), files.get(f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file whose digest differs fails the pull, names the file and leaves nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pull-'));
  try {
    for (const bad of ['dvae.pth', 'config.json']) {
      corrupt = bad;
      await assert.rejects(
        pull({ hub, repo: 'coqui/XTTS-v2', revision: 'main', dest: join(dir, 'xtts') }),
        (e: Error) => e.message.startsWith(`${bad}:`),
      );
      assert.equal(existsSync(join(dir, 'xtts')), false);
    }
  } finally {
    corrupt = '';
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a hub without the repository fails with the URL', async () => {
  await assert.rejects(pull({ hub, repo: 'nobody/none', revision: 'main', dest: join(tmpdir(), 'never') }), /HTTP 404/);
});
