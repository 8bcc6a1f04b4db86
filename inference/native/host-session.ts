/**
 * A runtime Session (runtime/session.ts: feeds and results as onnxruntime-node tensors in host memory)
 * whose runs go through the native addon instead of onnxruntime-node: the same onnxruntime library,
 * graph and kernels, but onnxruntime-node's run() holds the calling thread for the whole run (it is
 * synchronous under its Promise), while the addon's runs on a libuv pool thread. A worker serving
 * several streams opens its package's graphs this way (PackageOptions.nativeBatch), so one stream's
 * prefill or HiFi-GAN no longer stops the thread that feeds the batched decode its next steps, and on
 * a GPU their kernels run beside the decode's.
 */
import { checkedRun, RuntimeError, type Session, tensorOf } from '../runtime/index.ts';
import { DeviceSession, type DeviceSessionOptions, type HostInput, type HostTensor } from './index.ts';

export function openHostSession(path: string, options: DeviceSessionOptions = {}): Session {
  let s: DeviceSession;
  try {
    s = DeviceSession.open(path, options);
  } catch (e) {
    throw new RuntimeError(
      path,
      `could not open on ${options.device ?? 'cpu'} through the native addon: ${(e as Error).message}`,
    );
  }
  const inputs = s.inputs.map((i) => ({ name: i.name, dtype: i.type, shape: i.shape }));
  const outputs = s.outputs.map((o) => ({ name: o.name, dtype: o.type, shape: o.shape }));
  const wanted = Object.fromEntries(outputs.map((o) => [o.name, 'cpu' as const]));
  return {
    path,
    inputs,
    outputs,
    async run(feeds) {
      const out = await checkedRun(path, inputs, feeds, () => s.run(feeds as Record<string, HostInput>, wanted));
      const result: Record<string, ReturnType<typeof tensorOf>> = {};
      for (const o of outputs) {
        const t = out[o.name] as HostTensor | undefined;
        if (!t) throw new RuntimeError(path, `run returned no output ${o.name}`);
        result[o.name] = tensorOf(t.type as 'float32', t.data as Float32Array, t.dims);
      }
      return result;
    },
    release: async () => s.release(),
    native: s,
  } as Session;
}

/**
 * The addon's session under a Session that openHostSession made (also through a copy of it, as the
 * package's shared sessions are), for runs that leave outputs in device memory; null for any other.
 */
export function nativeSessionOf(session: Session): DeviceSession | null {
  const n = (session as { native?: unknown }).native;
  return n instanceof DeviceSession ? n : null;
}
