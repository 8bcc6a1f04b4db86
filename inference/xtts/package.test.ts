/** The model-package loader: missing, corrupt and too-new packages, and fine-tuned packages on a base. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EngineError } from '../engine/types.ts';
import { loadPackage, openSessionCount } from './package.ts';

const fixturePkg = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny', 'package');

async function code(p: Promise<unknown>): Promise<string> {
  try {
    const pkg = (await p) as { release(): Promise<void> };
    await pkg.release();
    return 'OK';
  } catch (e) {
    assert.ok(e instanceof EngineError, String(e));
    return e.code;
  }
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const editManifest = (dir: string, edit: (m: Record<string, unknown>) => void) => {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
};

describe('model package loader', () => {
  let tmp: string;
  const copy = (name: string) => {
    const d = join(tmp, name);
    cpSync(fixturePkg, d, { recursive: true });
    return d;
  };
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'xtts-pkg-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('loads the fixture package and keys voices by its manifest hash', async () => {
    const p = await loadPackage(fixturePkg);
    assert.equal(p.key, sha(readFileSync(join(fixturePkg, 'manifest.json'))));
    assert.equal(p.precision, 'fp32');
    await p.release();
  });

  it('MODEL_NOT_FOUND for a missing folder, a folder without manifest, or a missing graph', async () => {
    assert.equal(await code(loadPackage(join(tmp, 'nowhere'))), 'MODEL_NOT_FOUND');
    mkdirSync(join(tmp, 'empty'));
    assert.equal(await code(loadPackage(join(tmp, 'empty'))), 'MODEL_NOT_FOUND');
    const d = copy('missing-graph');
    rmSync(join(d, 'hifigan.onnx'));
    assert.equal(await code(loadPackage(d)), 'MODEL_NOT_FOUND');
  });

  it('MODEL_CORRUPT for a changed byte (sha256), a truncated file, or a manifest that is not JSON', async () => {
    const d = copy('flipped');
    const g = readFileSync(join(d, 'gpt_decode_fp32.onnx'));
    g[g.length >> 1] = (g[g.length >> 1] as number) ^ 0xff;
    writeFileSync(join(d, 'gpt_decode_fp32.onnx'), g);
    const e = await loadPackage(d).catch((x: EngineError) => x);
    assert.ok(e instanceof EngineError && e.code === 'MODEL_CORRUPT' && /sha256/.test(e.message), String(e));

    const t = copy('truncated');
    writeFileSync(join(t, 'vocab.json'), readFileSync(join(t, 'vocab.json')).subarray(0, 100));
    assert.equal(await code(loadPackage(t)), 'MODEL_CORRUPT');

    const j = copy('bad-json');
    writeFileSync(join(j, 'manifest.json'), '{"format_version": 1, ');
    assert.equal(await code(loadPackage(j)), 'MODEL_CORRUPT');
  });

  it('MODEL_FORMAT_UNSUPPORTED for an unknown format version', async () => {
    const d = copy('v2');
    editManifest(d, (m) => {
      m.format_version = 2;
    });
    const e = await loadPackage(d).catch((x: EngineError) => x);
    assert.ok(e instanceof EngineError && e.code === 'MODEL_FORMAT_UNSUPPORTED' && /format_version 2/.test(e.message));
  });

  it('a fine-tuned package takes its shared graphs from the base, found beside it when moved', async () => {
    const base = copy('base');
    const ft = join(tmp, 'ft');
    mkdirSync(ft);
    const own = ['cond_encoder.onnx', 'gpt_prefill_fp32.onnx', 'gpt_decode_fp32.onnx', 'vocab.json', 'mel_stats.json'];
    for (const f of own) cpSync(join(base, f), join(ft, f));
    const baseManifest = readFileSync(join(base, 'manifest.json'));
    const m = JSON.parse(baseManifest.toString('utf8')) as {
      kind: string;
      graphs: Record<string, unknown>;
      files: Record<string, unknown>;
      base?: unknown;
    };
    m.kind = 'fine-tuned';
    for (const g of ['speaker_encoder', 'hifigan']) delete m.graphs[g];
    m.files = Object.fromEntries(Object.entries(m.files).filter(([f]) => own.includes(f)));
    // The exporter writes the base's absolute path at export time; here it has since moved.
    m.base = { path: '/elsewhere/base', manifest_sha256: sha(baseManifest), graphs: ['hifigan', 'speaker_encoder'] };
    writeFileSync(join(ft, 'manifest.json'), JSON.stringify(m));
    const open0 = openSessionCount();
    const p = await loadPackage(ft);
    assert.ok(p.sessions.hifigan.path.startsWith(base));
    assert.ok(p.sessions.decode.path.startsWith(ft));
    assert.equal(openSessionCount() - open0, 5);
    // The base loaded beside it shares the speaker encoder and HiFi-GAN sessions: 3 more, not 5.
    const b = await loadPackage(base);
    assert.equal(openSessionCount() - open0, 8);
    assert.equal(b.sessions.hifigan.path, p.sessions.hifigan.path);
    await p.release();
    assert.equal(openSessionCount() - open0, 5, 'the shared sessions stay for the base');
    await b.release();
    assert.equal(openSessionCount() - open0, 0);

    // A different base (its manifest hash differs) is refused.
    editManifest(base, (bm) => {
      bm.note = 'changed';
    });
    assert.equal(await code(loadPackage(ft)), 'MODEL_CORRUPT');
    renameSync(base, join(tmp, 'base-gone'));
    assert.equal(await code(loadPackage(ft)), 'MODEL_NOT_FOUND');
  });

  it('opens the batched decode graph only when asked, and only with the GPT it was exported for', async () => {
    const batchFile = 'gpt_batch_fp32.onnx';
    const batchBytes = readFileSync(join(fixturePkg, '..', 'batch', batchFile));
    const addBatch = (dir: string) => {
      writeFileSync(join(dir, batchFile), batchBytes);
      editManifest(dir, (m) => {
        const decode = (m.graphs as Record<string, { inputs: unknown; outputs: unknown }>).gpt_decode_fp32;
        (m.graphs as Record<string, unknown>).gpt_batch_fp32 = { ...decode, file: batchFile };
        (m.files as Record<string, unknown>)[batchFile] = { sha256: sha(batchBytes), bytes: batchBytes.length };
      });
    };
    const base = copy('batch-base');
    addBatch(base);
    const plain = await loadPackage(base);
    assert.equal(plain.sessions.batch, null, 'not opened unless asked for');
    await plain.release();
    const batched = await loadPackage(base, { batchedDecode: true });
    assert.ok(batched.sessions.batch?.path.startsWith(base));
    await batched.release();

    // A fine-tuned package on that base, with its own GPT graphs and no batched graph: none, not the base's.
    const ft = join(tmp, 'batch-ft');
    mkdirSync(ft);
    const own = ['cond_encoder.onnx', 'gpt_prefill_fp32.onnx', 'gpt_decode_fp32.onnx', 'vocab.json', 'mel_stats.json'];
    for (const f of own) cpSync(join(base, f), join(ft, f));
    const baseManifest = readFileSync(join(base, 'manifest.json'));
    const m = JSON.parse(baseManifest.toString('utf8')) as Record<string, unknown> & {
      graphs: Record<string, unknown>;
      files: Record<string, unknown>;
    };
    m.kind = 'fine-tuned';
    for (const g of ['speaker_encoder', 'hifigan', 'gpt_batch_fp32']) delete m.graphs[g];
    m.files = Object.fromEntries(Object.entries(m.files).filter(([f]) => own.includes(f)));
    m.base = { path: base, manifest_sha256: sha(baseManifest), graphs: ['hifigan', 'speaker_encoder'] };
    writeFileSync(join(ft, 'manifest.json'), JSON.stringify(m));
    const tuned = await loadPackage(ft, { batchedDecode: true });
    assert.equal(tuned.sessions.batch, null, "the base's batched graph holds the base's GPT weights");
    await tuned.release();
    addBatch(ft);
    const tunedOwn = await loadPackage(ft, { batchedDecode: true });
    assert.ok(tunedOwn.sessions.batch?.path.startsWith(ft), 'its own batched graph');
    await tunedOwn.release();
  });
});
