/**
 * Fine-tuning throughput: runs `python -m finetune.bench` (full-size random weights on CUDA, the
 * tiny model on a CPU-only host) and prints samples/s, peak GPU memory and the time one epoch over
 * an hour of audio takes, for fp32, bf16, bf16 with gradient checkpointing and Coqui's recipe
 * (fp32, batch 3, grad_accum 84). Extra arguments pass through (e.g. --batch 16 --steps 30).
 *
 *   npm run bench:train [-- --size full --batch 8]
 */
import { runPython } from '../model-package/python.ts';

type Row = Record<string, string | number | boolean | null>;

const r = await runPython('finetune.bench', process.argv.slice(2));
if (r.code !== 0) {
  process.stderr.write(r.stderr);
  process.exit(r.code);
}
const lines = r.stdout
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l) as Row);
const [head, ...rows] = lines;
console.log(`model ${head?.model} (${head?.gpt_params_m} M GPT parameters), torch ${head?.torch}, ${head?.device}`);
const cols = [
  'setting',
  'batch_size',
  'grad_accum',
  'samples_per_s',
  'audio_seconds_per_s',
  'epoch_seconds_per_audio_hour',
  'peak_gpu_mem_mb',
];
console.log(cols.join('\t'));
for (const row of rows) {
  if (row.skipped || row.error) console.log(`${row.setting}\t${row.skipped ?? `${row.error}: ${row.message}`}`);
  else console.log(cols.map((c) => String(row[c] ?? '-')).join('\t'));
}
