import { unlinkSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';

/**
 * One inference pod per GPU. Pods on one device know nothing of each other's admission: each
 * admits its own `INFERENCE_WORKERS` streams, so N pods put N times that on the device, every
 * stream slows down, and requests that the pods had admitted run slower than real time (four
 * pods on one GPU: 3.7 s of work per second of audio). A pod's own workers share its one
 * limiter, so more streams on a GPU means more workers in its one pod, and a second pod on the
 * same device is refused at start instead of being made to share admission across processes.
 *
 * The claim is a Unix socket that the pod listens on, named after the device in a directory
 * every pod on the host sees (INFERENCE_LOCK_DIR, the system's temporary directory by default):
 * the kernel closes it when the pod exits however it exits, so a crashed pod leaves no claim
 * behind (a socket file nobody listens on is stale and taken over), and a second pod that
 * connects to a live one learns who holds the device.
 */
export class DeviceClaimedError extends Error {
  override name = 'DeviceClaimedError';
}

export type DeviceClaim = { path: string; release(): void };

const holderOf = (path: string): Promise<string | undefined> =>
  new Promise((resolve) => {
    const socket = connect(path);
    let said = '';
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (d) => {
      said += d;
    });
    socket.on('end', () => resolve(said || 'another process'));
    socket.on('error', () => resolve(undefined));
    socket.on('close', () => resolve(said || undefined));
  });

function listen(server: Server, path: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => resolve(err);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve(undefined);
    });
  });
}

/**
 * Claims CUDA device `device` for this process, or throws DeviceClaimedError naming the pod that
 * holds it and what to do instead. `describe` is what a refused pod is told about this one.
 */
export async function claimCudaDevice(dir: string, device: string, describe: string): Promise<DeviceClaim> {
  await mkdir(dir, { recursive: true });
  const safe = device.replace(/[^A-Za-z0-9._-]/g, '_');
  const path = join(dir, `xtts-pod-cuda-${safe}.sock`);
  const whoAmI = `pid ${process.pid} on ${hostname()}, ${describe}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = createServer((socket) => socket.end(whoAmI));
    const err = await listen(server, path);
    if (!err) {
      server.unref();
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        server.close();
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      };
      process.once('exit', release);
      return { path, release };
    }
    if (err.code !== 'EADDRINUSE') throw err;
    const holder = await holderOf(path);
    if (holder) {
      throw new DeviceClaimedError(
        `CUDA device ${device} on ${hostname()} is already served by an inference pod (${holder}).\n` +
          "One pod per GPU serves all of that GPU's streams: pods on one device do not share admission, so a second " +
          'one would oversubscribe it and make every stream slower than real time.\n' +
          'For more streams at once on this GPU, raise INFERENCE_STREAMS (requests one worker generates at once, ' +
          'their decode runs batched with INFERENCE_BATCH_GRAPH) or INFERENCE_WORKERS, and INFERENCE_QUEUE on that pod, and INFERENCE_PER_POD on the API; for more GPUs, run one pod on each ' +
          `(CUDA_VISIBLE_DEVICES). The claim is ${path}.`,
      );
    }
    // Nobody listens: the pod that made it is gone.
    await unlink(path).catch(() => {});
  }
  throw new DeviceClaimedError(`could not claim CUDA device ${device} at ${path}: another pod is starting on it`);
}
