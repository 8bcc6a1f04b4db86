/**
 * HiFi-GAN's precisions on one device, in one run (`npm run bench:vocoder`), through the native addon
 * with the settings the engine's GPU server gives it (xtts/package.ts: cuDNN's heuristic algorithm
 * choice, TF32 per session, the arena growing by what is asked):
 *
 *   1. speed: ms per run of the batched graph at each (rows × bucket) shape, and seconds of audio per
 *      second of GPU time, in fp32 and in fp32 with TF32 (`use_tf32`);
 *   2. agreement with fp32: the largest sample difference and the SNR of TF32's samples against fp32's
 *      at the largest shape;
 *   3. padding: for each precision, windows of lengths around every bucket edge decoded unpadded (one
 *      session, each length as it is) and padded to their bucket (the batched graph, as the server runs
 *      them), the largest sample difference per length and overall (the limit: 1e-5).
 *
 *   node inference/bench/vocoder.ts PACKAGE_DIR [--device cuda|cpu] [--variants fp32,tf32]
 *        [--shapes 1x16,64x16,8x128] [--runs 10] [--lengths 1,2,15,16,17,...] [--algo HEURISTIC]
 *        [--json OUT]
 *
 * --algo sets cudnn_conv_algo_search (HEURISTIC, the engine's; EXHAUSTIVE; DEFAULT) for every session,
 * --cuda-options more CUDA provider options (a JSON object of strings, as INFERENCE_CUDA_OPTIONS).
 * TF32 is a CUDA setting; on a CPU the tf32 variant is fp32.
 *
 * Not here: HiFi-GAN in float16. Exported from a float16 copy of the decoder (frame arithmetic kept in
 * float32) it ran on a CPU within 8e-4 of fp32, but on an H200 (onnxruntime 1.29, cuDNN 9.19, 2026-12-01)
 * cuDNN's heuristics found no plan for its dilated convolutions (HEURISTIC_QUERY_FAILED, in NCHW, NHWC
 * and `cudnn_conv1d_pad_to_nc1d` alike) and the exhaustive search's fallback took 43 ms for one window of
 * 32 codes against 6.7 in TF32; the default algorithm gave 180 ms for 8 × 128, no faster than fp32. Latents are seeded (the project's Rng, seed 7) in [-2, 2],
 * speakers seeded unit vectors, one per row.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '../generation/rng.ts';
import { DeviceSession, type HostTensor } from '../native/index.ts';
import { readManifest } from '../xtts/manifest.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cuda' },
    variants: { type: 'string', default: 'fp32,tf32' },
    shapes: { type: 'string', default: '1x16,64x16,1x32,1x128,8x128,16x128' },
    runs: { type: 'string', default: '10' },
    lengths: { type: 'string', default: '1,2,8,15,16,17,20,31,32,33,63,64,65,100,127,128' },
    algo: { type: 'string', default: 'HEURISTIC' },
    'cuda-options': { type: 'string', default: '{}' },
    json: { type: 'string' },
  },
});
const pkg = positionals[0];
if (!pkg) {
  console.error('usage: node inference/bench/vocoder.ts PACKAGE_DIR [--device cuda|cpu] [--variants fp32,tf32]');
  process.exit(2);
}
const device = args.device === 'cpu' ? 'cpu' : 'cuda';
const runs = Number(args.runs);
const shapes = (args.shapes as string).split(',').map((s) => {
  const [rows, bucket] = s.split('x').map(Number);
  if (!Number.isInteger(rows) || !Number.isInteger(bucket)) throw new Error(`--shapes: ${s} is not ROWSxBUCKET`);
  return { rows: rows as number, bucket: bucket as number };
});
const lengths = (args.lengths as string).split(',').map(Number);
const buckets = [...new Set(shapes.map((s) => s.bucket))].sort((a, b) => a - b);

const { manifest } = await readManifest(pkg);
const config = manifest.model.config;
const width = config.gpt_n_model_channels;
const speakerDim = config.d_vector_dim;
const codesPerSecond = Number(manifest.sample_rates.codes_per_second);

const variants = (args.variants as string).split(',').map((v) => {
  if (v !== 'fp32' && v !== 'tf32') {
    console.error(`--variants: ${v} is not fp32 or tf32`);
    process.exit(2);
  }
  return { name: v, tf32: v === 'tf32' };
});
if (!manifest.graphs.hifigan_batch) {
  console.error(`${pkg}: no hifigan_batch graph (python3 -m xtts.export ... --batch makes one)`);
  process.exit(2);
}

// More CUDA provider options for every session, as INFERENCE_CUDA_OPTIONS gives the server's.
const cudaOptions = JSON.parse(args['cuda-options'] as string) as Record<string, string>;
const open = (graph: string, tf32: boolean) =>
  DeviceSession.open(join(pkg, manifest.graphs[graph]?.file ?? `${graph}.onnx`), {
    device,
    threads: 1,
    ...(device === 'cuda'
      ? {
          providerOptions: {
            arena_extend_strategy: 'kSameAsRequested',
            use_tf32: tf32 ? '1' : '0',
            cudnn_conv_algo_search: args.algo as string,
            ...cudaOptions,
          },
        }
      : {}),
  });

const rng = Rng.fromSeed(7);
const rand = () => rng.next();
const maxRows = Math.max(...shapes.map((s) => s.rows), 1);
const maxFed = Math.max(...buckets, ...lengths);
const latents = Float32Array.from({ length: maxRows * maxFed * width }, () => rand() * 4 - 2);
const speakers = new Float32Array(maxRows * speakerDim);
for (let r = 0; r < maxRows; r++) {
  const v = Float32Array.from({ length: speakerDim }, () => rand() - 0.5);
  const n = Math.hypot(...v);
  speakers.set(
    v.map((x) => x / n),
    r * speakerDim,
  );
}

/** Rows [0, rows) of the seeded latents, each `fed` long (row r starts at r * maxFed), `frames` real. */
function feeds(rows: number, fed: number, frames: number[]) {
  const lat = new Float32Array(rows * fed * width);
  for (let r = 0; r < rows; r++)
    lat.set(latents.subarray(r * maxFed * width, (r * maxFed + fed) * width), r * fed * width);
  return {
    latents: { type: 'float32', dims: [rows, fed, width], data: lat },
    speaker: { type: 'float32', dims: [rows, speakerDim, 1], data: speakers.slice(0, rows * speakerDim) },
    frames: { type: 'int64', dims: [rows], data: BigInt64Array.from(frames, (f) => BigInt(f)) },
  };
}
function feedsOne(fed: number, frames: number) {
  const f = feeds(1, fed, [frames]);
  return { ...f, frames: { type: 'int64', dims: [], data: BigInt64Array.of(BigInt(frames)) } };
}
async function wav(s: DeviceSession, input: ReturnType<typeof feeds>): Promise<Float32Array> {
  const out = (await s.run(input, { wav: 'cpu' })) as { wav: HostTensor };
  return out.wav.data as Float32Array;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const report: Record<string, unknown> = { package: pkg, device, algo: args.algo, cudaOptions, variants: {} };
const outputs = new Map<string, Float32Array>(); // `${variant} ${rows}x${bucket}` → samples
console.log(
  `HiFi-GAN on ${device} (cudnn_conv_algo_search ${args.algo}${Object.keys(cudaOptions).length ? `, ${JSON.stringify(cudaOptions)}` : ''}), ${runs} timed runs a shape`,
);
for (const v of variants) {
  const batch = open('hifigan_batch', v.tf32);
  const speed: Record<string, unknown>[] = [];
  for (const { rows, bucket } of shapes) {
    const input = feeds(rows, bucket, Array(rows).fill(bucket));
    outputs.set(`${v.name} ${rows}x${bucket}`, await wav(batch, input));
    await wav(batch, input);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await wav(batch, input);
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    const audio = (rows * bucket) / codesPerSecond;
    speed.push({ rows, bucket, ms, audioPerSecond: audio / (ms / 1000) });
    console.log(
      `${v.name.padEnd(5)} ${String(rows).padStart(2)} x ${String(bucket).padStart(3)}: ${ms.toFixed(2)} ms a run (min ${Math.min(...times).toFixed(2)}), ${(audio / (ms / 1000)).toFixed(0)} s of audio per s`,
    );
  }
  // Padding: unpadded through the batch-1 graph, each length as it is, against the padded batched run.
  const single = open('hifigan', v.tf32);
  const pad: Record<string, number> = {};
  let worst = 0;
  for (const n of lengths) {
    const bucket = buckets.find((b) => b >= n);
    if (bucket === undefined) continue;
    const a = await wav(single, feedsOne(n, n));
    const b = (await wav(batch, feeds(1, bucket, [n]))).subarray(0, a.length);
    let err = 0;
    for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    pad[n] = err;
    worst = Math.max(worst, err);
  }
  console.log(
    `${v.name.padEnd(5)} padded to buckets ${buckets.join('/')} against unpadded, lengths ${lengths.join(',')}: worst ${worst.toExponential(2)} (limit 1e-5: ${worst <= 1e-5 ? 'met' : 'NOT met'}); by length ${Object.entries(
      pad,
    )
      .map(([n, e]) => `${n}:${e.toExponential(1)}`)
      .join(' ')}`,
  );
  single.release();
  batch.release();
  (report.variants as Record<string, unknown>)[v.name] = { speed, padding: { worst, byLength: pad } };
}

// Agreement with fp32 at the largest shape, row by row.
const big = shapes.reduce((a, b) => (b.rows * b.bucket > a.rows * a.bucket ? b : a));
const ref = outputs.get(`fp32 ${big.rows}x${big.bucket}`);
if (ref)
  for (const v of variants.filter((x) => x.name !== 'fp32')) {
    const got = outputs.get(`${v.name} ${big.rows}x${big.bucket}`) as Float32Array;
    let err = 0;
    let sig = 0;
    let noise = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = (got[i] as number) - (ref[i] as number);
      err = Math.max(err, Math.abs(d));
      sig += (ref[i] as number) ** 2;
      noise += d * d;
    }
    const snr = 10 * Math.log10(sig / Math.max(noise, 1e-30));
    (report.variants as Record<string, Record<string, unknown>>)[v.name] = {
      ...(report.variants as Record<string, Record<string, unknown>>)[v.name],
      againstFp32: { shape: `${big.rows}x${big.bucket}`, maxAbs: err, snrDb: snr },
    };
    console.log(
      `${v.name.padEnd(5)} against fp32 at ${big.rows} x ${big.bucket}: max abs ${err.toExponential(2)}, SNR ${snr.toFixed(1)} dB`,
    );
  }
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 1));
