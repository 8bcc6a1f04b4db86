// Exports through the real Python exporter and the onnxruntime-node check (needs python3-torch,
// python3-onnx and python3-numpy; see trainer/model-package/python.ts for the interpreter).
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { copyTinyModelFolder } from '../../test/helpers/tiny-checkpoints.ts';
import { runPython } from './python.ts';

// More test files run at once than there are cores, so the Python processes this file starts
// (torch, CTranslate2) run on one thread each: OMP_NUM_THREADS, which both honour. On two threads
// they spend CPU spinning for work the tiny model and short clips cannot share out.
process.env.OMP_NUM_THREADS ??= '1';

describe('importing a Coqui model folder as a package', { skip: EMBEDDED_PASS_ONLY }, () => {
  let work = '';
  let model = '';

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'import-'));
    model = join(work, 'tiny');
    // xtts.fixtures.tiny's folder for seed 99, built once per source version (test/helpers/tiny-checkpoints.ts).
    await copyTinyModelFolder(model, 99);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  function variant(name: string, change: (dir: string) => void): string {
    const dir = join(work, name);
    cpSync(model, dir, { recursive: true });
    change(dir);
    return dir;
  }

  async function exportFails(dir: string, file: string) {
    const out = join(work, `out-${file}-${Math.random().toString(36).slice(2)}`);
    const r = await runPython('xtts.export', [dir, out]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`${join(dir, file).replace(/[.]/g, '\\.')}: `));
    assert.equal(existsSync(out), false, 'nothing written');
  }

  test('a missing file fails the export, naming the file, and writes nothing', async () => {
    await exportFails(
      variant('missing', (d) => rmSync(join(d, 'dvae.pth'))),
      'dvae.pth',
    );
  });

  test('an unreadable pickle fails the export, naming the file', async () => {
    await exportFails(
      variant('truncated', (d) => truncateSync(join(d, 'model.pth'), 1000)),
      'model.pth',
    );
  });

  test('weights of the wrong shape for config.json fail the export, naming model.pth', async () => {
    await exportFails(
      variant('shapes', (d) => {
        const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
        cfg.model_args.gpt_layers = 3;
        cfg.model_args.gpt_n_model_channels = 64;
        writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
      }),
      'model.pth',
    );
  });

  test('a corrupt vocab.json fails the export, naming it', async () => {
    await exportFails(
      variant('vocab', (d) => writeFileSync(join(d, 'vocab.json'), '{"model": ')),
      'vocab.json',
    );
  });

  test('the tiny model exports, and every graph passes the onnxruntime check on CPU', async () => {
    const out = join(work, 'package');
    const r = await runPython('xtts.export', [model, out]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.format_version, 1);
    const graphs = Object.keys(manifest.graphs).sort();
    assert.deepEqual(graphs, [
      'cond_encoder',
      'gpt_decode_fp16',
      'gpt_decode_fp32',
      'gpt_prefill_fp16',
      'gpt_prefill_fp32',
      'hifigan',
      'speaker_encoder',
    ]);
    for (const g of graphs) {
      const checks = manifest.graphs[g].checks as {
        outputs: Record<string, { max_abs_err: number; tolerance: number }>;
      }[];
      assert.ok(checks.length > 0, `${g} was checked`);
      for (const c of checks)
        for (const [name, o] of Object.entries(c.outputs)) assert.ok(o.max_abs_err <= o.tolerance, `${g}.${name}`);
    }
    for (const [file, info] of Object.entries(manifest.files as Record<string, { bytes: number }>))
      assert.equal(readFileSync(join(out, file)).length, info.bytes);
  });

  test('a fine-tuned checkpoint exports only the GPT-side graphs and names its base', async () => {
    const base = join(work, 'package');
    if (!existsSync(base)) return;
    const out = join(work, 'finetuned');
    const r = await runPython('xtts.export', [model, out, '--base', base]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.kind, 'fine-tuned');
    assert.deepEqual(manifest.base.graphs, ['hifigan', 'speaker_encoder']);
    assert.equal(existsSync(join(out, 'hifigan.onnx')), false);
  });
});
