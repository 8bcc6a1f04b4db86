/**
 * HiFi-GAN padding buckets on a real device: a package's HiFi-GAN decoded unpadded (one session, each
 * length as it is) and padded to the engine's buckets (one session per bucket, as the engine runs
 * them on CUDA), at lengths around every bucket edge; prints the max abs difference per length.
 *
 *   node inference/bench/hifigan-pad.ts PACKAGE_DIR [--device cuda|cpu] [--lengths 1,2,31,33,...]
 *                                       [--buckets 8,16,32,...]   (default: the engine's, DEFAULT_BUCKETS)
 *
 * On CUDA it sets NVIDIA_TF32_OVERRIDE=0 unless the environment sets it (onnxruntime-node's sessions
 * take no per-session TF32 setting), so convolutions are fp32 in both paths and the difference is the
 * padding's own (with TF32 it is 2e-4 to 3e-4: cuDNN picks other kernels for other lengths). Latents are seeded (xorshift32) in [-2, 2]; the speaker
 * embedding is seeded too (unit length).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cudaFp32WithoutTf32 } from '../../infra/index.ts';
import { openSession } from '../runtime/index.ts';
import { bucketFor, DEFAULT_BUCKETS, Hifigan } from '../xtts/hifigan.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    device: { type: 'string', default: 'cuda' },
    lengths: {
      type: 'string',
      default: '1,2,7,8,9,15,16,17,20,31,32,33,63,64,65,127,129,255,257,383,385,511,513,639,641',
    },
    buckets: { type: 'string' },
  },
});
const pkg = positionals[0];
if (!pkg) {
  console.error('usage: node inference/bench/hifigan-pad.ts PACKAGE_DIR [--device cuda|cpu] [--lengths 1,2,...]');
  process.exit(2);
}
const device = args.device === 'cpu' ? 'cpu' : 'cuda';
if (device === 'cuda' && cudaFp32WithoutTf32())
  console.log('hifigan-pad.ts: NVIDIA_TF32_OVERRIDE=0 (fp32 in both paths)');
else if (device === 'cuda') console.log(`hifigan-pad.ts: NVIDIA_TF32_OVERRIDE is set by the environment`);
const path = join(pkg, 'hifigan.onnx');
const base = await openSession(path, { device });
const width = base.inputs.find((i) => i.name === 'latents')?.shape[2];
const speakerDim = base.inputs.find((i) => i.name === 'speaker')?.shape[1];
if (typeof width !== 'number' || typeof speakerDim !== 'number')
  throw new Error(`${path}: latents/speaker widths unknown`);
const exact = new Hifigan(base, null);
const buckets = args.buckets ? args.buckets.split(',').map(Number) : DEFAULT_BUCKETS;
if (!buckets.every((b, i) => Number.isInteger(b) && b >= 1 && (i === 0 || b > (buckets[i - 1] as number))))
  throw new Error(`--buckets ${args.buckets}: whole numbers from 1, ascending`);
const bucketed = new Hifigan(base, buckets, () => openSession(path, { device }));
console.log(
  `${path} on ${device}: width ${width}, takes frames: ${bucketed.takesFrames}, buckets ${buckets.join(', ')}`,
);

let s = 7;
const rand = () => {
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  s >>>= 0;
  return s / 2 ** 32;
};
const lengths = (args.lengths ?? '').split(',').map(Number);
const maxLen = Math.max(...lengths);
const lat = new Float32Array(maxLen * width).map(() => rand() * 4 - 2);
const speaker = new Float32Array(speakerDim).map(() => rand() - 0.5);
const norm = Math.hypot(...speaker);
for (let i = 0; i < speaker.length; i++) speaker[i] = (speaker[i] as number) / norm;

let worst = 0;
for (const n of lengths) {
  const a = await exact.decode(lat, n, width, speaker);
  const b = await bucketed.decode(lat, n, width, speaker);
  let err = a.length === b.length ? 0 : Number.POSITIVE_INFINITY;
  let peak = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs((a[i] as number) - (b[i] as number)));
    peak = Math.max(peak, Math.abs(a[i] as number));
  }
  worst = Math.max(worst, err);
  console.log(
    `${n} latents → bucket ${bucketFor(n, buckets)}: max abs diff ${err.toExponential(2)} (peak ${peak.toFixed(3)})`,
  );
}
console.log(`worst: ${worst.toExponential(2)} (limit 1e-5: ${worst <= 1e-5 ? 'met' : 'NOT met'})`);
