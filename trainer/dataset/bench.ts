// Dataset-builder throughput: hours of audio processed per minute of wall time, for each chunker,
// from a cold cache (decode, transcription, cutting, filters, writing: the whole build).
//   node trainer/dataset/bench.ts                               # bundled Whisper tiny.en on this CPU
//   node trainer/dataset/bench.ts --model PATH --device cuda    # a large-v3-sized CTranslate2 folder
// Options: --compute-type T (default: int8 on CPU, float16 on CUDA), --copies N (more audio: N
// distinct copies of the 2-minute speaker recording, beside the two fixture recordings).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runPython } from '../model-package/python.ts';
import { makeRecordings, wavBytes } from './fixture.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'tiny.en-bundled' },
    device: { type: 'string', default: 'cpu' },
    'compute-type': { type: 'string', default: 'default' },
    copies: { type: 'string', default: '0' },
  },
});

const work = mkdtempSync(join(tmpdir(), 'dataset-bench-'));
try {
  const recs = makeRecordings(work);
  const list = recs.map((r) => ({ id: r.id, name: r.path.split('/').pop(), path: r.path, transcript: r.transcript }));
  // Distinct content per copy (a few samples more each), so the content-keyed cache cannot help.
  const wav = readFileSync(recs[0]!.path);
  const pcm = new Int16Array(wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length));
  for (let i = 0; i < Number(values.copies); i++) {
    const copy = new Int16Array(pcm.length + i + 1);
    copy.set(pcm);
    const path = join(work, `copy${i}.wav`);
    writeFileSync(path, wavBytes(copy));
    list.push({ id: `c${i}`, name: `copy${i}.wav`, path, transcript: null });
  }
  const asr = {
    backend: 'faster-whisper',
    model: values.model,
    device: values.device,
    compute_type: values['compute-type'],
  };
  console.log(
    `model ${values.model}, device ${values.device}, compute ${values['compute-type']}, ${list.length} recordings`,
  );
  for (const chunker of ['sentence', 'statistical']) {
    const dir = join(work, chunker);
    const specPath = join(work, `${chunker}.json`);
    const spec = {
      out_dir: join(dir, 'build'),
      work_dir: join(dir, 'work'),
      language: 'en',
      chunker,
      recordings: list,
    };
    writeFileSync(specPath, JSON.stringify({ ...spec, options: { asr } }));
    const t0 = performance.now();
    const r = await runPython('dataset.build', [specPath]);
    const wallS = (performance.now() - t0) / 1000;
    if (r.code !== 0) throw new Error(`build failed (${r.code}): ${r.stdout.slice(-500)} ${r.stderr.slice(-2000)}`);
    const report = JSON.parse(readFileSync(join(dir, 'build', 'report.json'), 'utf8'));
    const hours = report.hours_input as number;
    const t = report.timings_s as Record<string, number>;
    console.log(
      `${chunker.padEnd(11)} ${(hours * 60).toFixed(2)} min of audio in ${wallS.toFixed(1)} s wall ` +
        `(transcribe ${t.transcribe?.toFixed(1)} s, device ${report.asr.device}): ` +
        `${(hours / (wallS / 60)).toFixed(3)} audio hours per wall minute; kept ${report.kept}/${report.clips} clips`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
