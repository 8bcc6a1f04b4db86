// Fine-tunes the tiny fixture model through the real Python trainer (`python -m finetune.train`):
// a small espeak-ng dataset, a few epochs, every checkpoint exported as a package the engine loads,
// kill-and-resume equality, and the user errors. Needs espeak-ng and sox on the host.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { loadPackage } from '../../inference/index.ts';
import { EMBEDDED_PASS_ONLY } from '../../test/helpers/db.ts';
import { copyTinyModelFolder } from '../../test/helpers/tiny-checkpoints.ts';
import { repoRoot, runPython } from '../model-package/python.ts';

// More test files run at once than there are cores, so the Python processes this file starts
// (torch, CTranslate2) run on one thread each: OMP_NUM_THREADS, which both honour. On two threads
// they spend CPU spinning for work the tiny model and short clips cannot share out.
process.env.OMP_NUM_THREADS ??= '1';

describe('fine-tuning the tiny model with the Python trainer', { skip: EMBEDDED_PASS_ONLY }, () => {
  const run = promisify(execFile);
  const BASE_PACKAGE = join(repoRoot, 'test', 'fixtures', 'tiny', 'package');
  // Short (the tiny model's position tables hold at most 58 codes, about 2.7 s) and spelled only with
  // letters the tiny vocabulary has (no f, q or x), so no clip is rejected.
  const SENTENCES = [
    'hello world.',
    'this is a test.',
    'the cat sat on the mat.',
    'good morning to you.',
    'where are you going?',
    'i like green apples.',
    'the sun is bright today.',
    'we walk in the park.',
    'she sings a song.',
    'open the window please.',
    'it is a warm day.',
    'my dog runs away.',
  ];

  type Event = { event: string; [k: string]: unknown };
  let work = '';
  let model = '';
  let dataset = '';

  async function speak(text: string, out: string): Promise<void> {
    const raw = `${out}.raw.wav`;
    await run('espeak-ng', ['-s', '190', '-w', raw, text]);
    await run('sox', [raw, '-r', '22050', '-c', '1', '-b', '16', out]);
    rmSync(raw);
  }

  async function makeDataset(dir: string, rows: { id: string; text: string; seconds?: number }[]) {
    mkdirSync(join(dir, 'wavs'), { recursive: true });
    for (const r of rows) {
      await speak(r.text.replaceAll(/[xq]/g, 'k'), join(dir, 'wavs', `${r.id}.wav`));
      if (r.seconds !== undefined) {
        const p = join(dir, 'wavs', `${r.id}.wav`);
        await run('sox', [p, `${p}.cut.wav`, 'trim', '0', String(r.seconds)]);
        cpSync(`${p}.cut.wav`, p);
        rmSync(`${p}.cut.wav`);
      }
    }
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'finetune-'));
    model = join(work, 'tiny');
    // xtts.fixtures.tiny's folder for seed 1234, built once per source version (test/helpers/tiny-checkpoints.ts).
    await copyTinyModelFolder(model, 1234);
    dataset = join(work, 'ds');
    const rows = SENTENCES.map((text, i) => ({ id: `clip${String(i + 1).padStart(2, '0')}`, text }));
    await makeDataset(dataset, rows);
    const line = (r: { id: string; text: string }) => `${r.id}|${r.text}|${r.text}\n`;
    writeFileSync(join(dataset, 'metadata_train.csv'), rows.slice(0, 10).map(line).join(''));
    writeFileSync(join(dataset, 'metadata_eval.csv'), rows.slice(10).map(line).join(''));
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  function spec(name: string, config: Record<string, unknown>, over: Record<string, string> = {}): string {
    const s = {
      run_dir: join(work, 'runs', name),
      base_model_dir: model,
      base_package: BASE_PACKAGE,
      dataset_dir: dataset,
      language: 'en',
      export_dir: join(work, 'exports', name),
      config: { batch_size: 2, grad_accum: 1, lr: 1e-3, seed: 7, ...config },
      ...over,
    };
    const path = join(work, `${name}.json`);
    writeFileSync(path, JSON.stringify(s));
    return path;
  }

  async function train(specPath: string): Promise<{ code: number; events: Event[]; stderr: string }> {
    const r = await runPython('finetune.train', [specPath]);
    // stdout is the event stream: every line must be one JSON object.
    const events = r.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Event);
    return { code: r.code, events, stderr: r.stderr };
  }

  const of = (events: Event[], kind: string) => events.filter((e) => e.event === kind);
  const first = (events: Event[], kind: string): Event => {
    const e = events.find((x) => x.event === kind);
    assert.ok(e, `no ${kind} event`);
    return e;
  };

  // One uninterrupted run, shared by the first two tests (each Python trainer process costs seconds
  // of CPU before it trains a step): 5 micro-batches per epoch, 2 per optimizer step, so steps 1-3 in
  // epoch 1 and 4-6 in epoch 2. A checkpoint every 4 steps puts one mid-epoch (step 4) beside the
  // epochs' own (3 and 6), which the resume test needs; every checkpoint is exported and checked, so
  // no more of them than that.
  const LEARN = { epochs: 2, grad_accum: 2, save_every_steps: 4, seed: 3 };
  let learning: Promise<{ path: string; r: Awaited<ReturnType<typeof train>> }> | undefined;
  const learned = () => {
    learning ??= (async () => {
      const path = spec('learn', LEARN);
      return { path, r: await train(path) };
    })();
    return learning;
  };

  test('trains the tiny model: eval loss falls and every checkpoint is exported as a package the engine loads', async () => {
    const { path, r } = await learned();
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    const ds = first(r.events, 'dataset');
    assert.deepEqual(ds, {
      event: 'dataset',
      train_clips: 10,
      eval_clips: 2,
      train_hours: ds.train_hours,
      rejected: {},
    });
    const evals = of(r.events, 'eval').map((e) => e.loss as number);
    assert.equal(evals.length, 3, 'before training and after each epoch');
    assert.ok((evals[2] as number) < (evals[0] as number), `eval loss ${evals.join(' -> ')}`);
    const progress = of(r.events, 'progress');
    assert.deepEqual(
      progress.map((e) => [e.epoch, e.step]),
      [
        [1, 1],
        [1, 2],
        [1, 3],
        [2, 4],
        [2, 5],
        [2, 6],
      ],
      '3 optimizer steps per epoch',
    );
    for (const k of ['step', 'epoch', 'loss_text', 'loss_mel', 'loss', 'lr', 'samples_per_s', 'gpu_mem_mb', 'eta_s']) {
      assert.ok(k in first(r.events, 'progress'), k);
    }
    const ckpts = of(r.events, 'checkpoint');
    assert.deepEqual(
      ckpts.map((c) => [c.epoch, c.step]),
      [
        [1, 3],
        [2, 4],
        [2, 6],
      ],
    );
    for (const c of ckpts) {
      const pkg = c.package as string;
      assert.equal(pkg, join(work, 'exports', 'learn', `learn-e${c.epoch}-s${c.step}`));
      const manifest = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
      assert.equal(manifest.kind, 'fine-tuned');
      assert.equal(manifest.base.path, BASE_PACKAGE);
      for (const f of Object.keys(manifest.files)) assert.ok(existsSync(join(pkg, f)), f);
      assert.equal(typeof c.train_loss, 'number');
      // An epoch's checkpoint carries the evaluation after it; the mid-epoch one (step 4) none.
      if (c.step === 4) assert.equal(c.eval_loss, null);
      else assert.equal(typeof c.eval_loss, 'number');
      const loaded = await loadPackage(pkg);
      await loaded.release();
    }
    assert.deepEqual(r.events.at(-1), { event: 'done' });
    assert.deepEqual(readdirSync(join(work, 'exports', 'learn')).sort(), ['learn-e1-s3', 'learn-e2-s4', 'learn-e2-s6']);
    // Checkpoint folders are complete Coqui-layout folders; only the newest keeps the optimizer state.
    const ckptRoot = join(work, 'runs', 'learn', 'checkpoints');
    for (const name of ['learn-e1-s3', 'learn-e2-s4', 'learn-e2-s6']) {
      for (const f of ['model.pth', 'config.json', 'vocab.json', 'mel_stats.pth', 'dvae.pth', 'meta.json']) {
        assert.ok(existsSync(join(ckptRoot, name, f)), `${name}/${f}`);
      }
      assert.equal(existsSync(join(ckptRoot, name, 'training_state.pt')), name === 'learn-e2-s6', name);
    }

    // Rerunning a finished run trains nothing, re-announces its checkpoints and is done.
    const again = await train(path);
    assert.equal(again.code, 0, again.stderr.slice(-2000));
    assert.equal(of(again.events, 'progress').length, 0);
    assert.deepEqual(
      of(again.events, 'checkpoint').map((c) => c.package),
      ckpts.map((c) => c.package),
    );
    assert.deepEqual(again.events.at(-1), { event: 'done' });
  });

  test('a run stopped mid-epoch and resumed ends with the same weights as an uninterrupted one', async () => {
    // The uninterrupted run is the shared one (LEARN); this one has the same configuration.
    const whole = (await learned()).r;
    assert.equal(whole.code, 0, whole.stderr.slice(-3000));
    // Stopped abruptly after step 5: the last checkpoint is the mid-epoch one at step 4, and step 5 is redone.
    const killed = await train(spec('resumed', { ...LEARN, stop_after_steps: 5 }));
    assert.equal(killed.code, 3, killed.stderr.slice(-3000));
    assert.equal(of(killed.events, 'done').length, 0);
    assert.deepEqual(
      of(killed.events, 'checkpoint').map((c) => c.step),
      [3, 4],
    );
    assert.deepEqual(of(killed.events, 'start'), [{ event: 'start', step: 0, epoch: 0, checkpoint: null }]);
    // What a process killed while saving or exporting leaves: a checkpoint under its temporary
    // name, the exporter's temporary folder. The next process clears them before it starts.
    const partial = [
      join(work, 'runs', 'resumed', 'checkpoints', '.tmp-resumed-e2-s6'),
      join(work, 'exports', 'resumed', '.export-k1ll3d'),
    ];
    for (const d of partial) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'model.pth'), 'half');
    }
    const resumed = await train(spec('resumed', LEARN));
    assert.equal(resumed.code, 0, resumed.stderr.slice(-3000));
    assert.deepEqual(
      of(resumed.events, 'start'),
      [{ event: 'start', step: 4, epoch: 2, checkpoint: 'resumed-e2-s4' }],
      'announces the checkpoint it resumes from before anything else it trains',
    );
    assert.ok(
      resumed.events.findIndex((e) => e.event === 'start') < resumed.events.findIndex((e) => e.event === 'progress'),
    );
    for (const d of partial) assert.ok(!existsSync(d), `${d} is removed`);
    assert.deepEqual(
      of(resumed.events, 'progress').map((e) => e.step),
      [5, 6],
    );
    assert.deepEqual(
      of(resumed.events, 'progress').map((e) => e.loss),
      of(whole.events, 'progress')
        .slice(4)
        .map((e) => e.loss),
    );
    const last = (name: string, ev: Event[]) => {
      const c = of(ev, 'checkpoint').at(-1) as Event;
      return join(work, 'runs', name, 'checkpoints', `${name}-e${c.epoch}-s${c.step}`);
    };
    const cmp = await runPython('finetune.compare', [last('learn', whole.events), last('resumed', resumed.events)]);
    const result = JSON.parse(cmp.stdout);
    assert.equal(result.equal, true, cmp.stdout);
    assert.ok(result.tensors > 100);
  });

  test('a dataset with no usable clip fails with NO_USABLE_CLIPS, counting the reasons, and exports nothing', async () => {
    const dir = join(work, 'bad-ds');
    await makeDataset(dir, [
      { id: 'a', text: 'hello world.' },
      { id: 'b', text: 'hello there.', seconds: 0.3 },
    ]);
    writeFileSync(
      join(dir, 'metadata.csv'),
      'a|xylophone quiz|xylophone quiz\nb|hello there.|hello there.\nc|gone|gone\n',
    );
    const r = await train(spec('nothing', { epochs: 1 }, { dataset_dir: dir }));
    assert.equal(r.code, 2, r.stderr.slice(-2000));
    const rejected = first(r.events, 'dataset').rejected;
    assert.deepEqual(rejected, { missing_audio: 1, text_has_unk: 1, too_short: 1 });
    const err = r.events.at(-1) as Event;
    assert.equal(err.event, 'error');
    assert.equal(err.code, 'NO_USABLE_CLIPS');
    const out = join(work, 'exports', 'nothing');
    assert.ok(!existsSync(out) || readdirSync(out).length === 0);

    writeFileSync(join(dir, 'metadata.csv'), '');
    const empty = await train(spec('empty', { epochs: 1 }, { dataset_dir: dir }));
    assert.equal(empty.code, 2);
    assert.equal((empty.events.at(-1) as Event).code, 'NO_USABLE_CLIPS');

    const invalid = await train(spec('invalid', { epochs: 1 }, { dataset_dir: join(work, 'nowhere') }));
    assert.equal(invalid.code, 2);
    assert.equal((invalid.events.at(-1) as Event).code, 'DATASET_INVALID');
  });

  test('a base package that is not the export of the base model fails with BASE_MISMATCH before training', async () => {
    const other = join(work, 'other-tiny'); // same sizes and vocabulary, other weights and mel statistics
    await copyTinyModelFolder(other, 99);
    const r = await train(spec('mismatch', { epochs: 1 }, { base_model_dir: other }));
    assert.equal(r.code, 2, r.stderr.slice(-2000));
    const err = r.events.at(-1) as Event;
    assert.equal(err.code, 'BASE_MISMATCH');
    assert.match(err.message as string, /mel_stats/);
    assert.equal(of(r.events, 'progress').length, 0);
    assert.ok(!existsSync(join(work, 'exports', 'mismatch')));

    const pkg = join(work, 'wrong-config-package');
    cpSync(BASE_PACKAGE, pkg, { recursive: true });
    const m = JSON.parse(readFileSync(join(pkg, 'manifest.json'), 'utf8'));
    m.model.config.gpt_layers = 3;
    writeFileSync(join(pkg, 'manifest.json'), JSON.stringify(m));
    const r2 = await train(spec('mismatch2', { epochs: 1 }, { base_package: pkg }));
    assert.equal((r2.events.at(-1) as Event).code, 'BASE_MISMATCH');
    assert.match((r2.events.at(-1) as Event).message as string, /gpt_layers/);
  });

  /** A small tmpfs (root only): a real full disk. undefined where mounting is not allowed. */
  function smallDisk(bytes: number): string | undefined {
    const dir = mkdtempSync(join(tmpdir(), 'full-disk-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
    if (r.status === 0) return dir;
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }

  test('a disk that fills up ends the run with DISK_FULL and leaves no half-written checkpoint or package', async (t) => {
    const disk = smallDisk(768 * 1024);
    if (!disk) return t.skip('needs root to mount a small tmpfs');
    try {
      const path = spec('full', { epochs: 1 }, { run_dir: join(disk, 'run'), export_dir: join(disk, 'exports') });
      const r = await train(path);
      assert.equal(r.code, 2, r.stderr.slice(-2000));
      const err = first(r.events, 'error');
      assert.equal(err.code, 'DISK_FULL', JSON.stringify(err));
      assert.deepEqual(of(r.events, 'checkpoint'), [], 'no checkpoint was announced');
      const exported = existsSync(join(disk, 'exports')) ? readdirSync(join(disk, 'exports')) : [];
      assert.deepEqual(exported, [], 'no package, whole or partial');
      const ckdir = join(disk, 'run', 'checkpoints');
      const complete = existsSync(ckdir)
        ? readdirSync(ckdir).filter((n) => !n.includes('.tmp') && !n.startsWith('.'))
        : [];
      assert.deepEqual(complete, [], 'no checkpoint folder under its final name');
    } finally {
      spawnSync('umount', [disk]);
      rmSync(disk, { recursive: true, force: true });
    }
  });
});
