import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { claimJob, DATASET_BUILD_JOB, type Db, finishDatasetBuild, type NewDatasetClip } from '../../db/index.ts';
import type { Storage } from '../../infra/index.ts';

export type FakeClip = {
  key: string;
  text: string;
  wav: Uint8Array;
  durationS: number;
  status?: NewDatasetClip['status'];
  reasons?: string[];
  split?: 'train' | 'eval' | null;
  cps?: number;
};

/**
 * Does what the dataset-build worker does when a build succeeds: claims the build job, writes
 * the clips' wavs into storage under the dataset's build folder, and stores the clips and the
 * report with the lease.
 */
export async function finishBuildAsWorker(db: Db, storage: Storage, datasetId: string, clips: FakeClip[]) {
  const claim = await claimJob(db, { workerId: 'test-worker', kinds: [DATASET_BUILD_JOB], leaseMs: 60_000 });
  assert.ok(claim.job, 'a queued build job');
  assert.equal(claim.job.payload.datasetId, datasetId, 'the build job of this dataset');
  const dir = `datasets/${datasetId}/build`;
  for (const c of clips) await storage.write(`${dir}/wavs/${c.key}.wav`, Readable.from([Buffer.from(c.wav)]));
  const ok = await finishDatasetBuild(db, claim.lease, datasetId, {
    path: dir,
    report: { clips: clips.length, built_by: 'test' },
    clips: clips.map((c) => ({
      clipKey: c.key,
      path: `${dir}/wavs/${c.key}.wav`,
      recording: 'a.wav',
      startS: 0,
      endS: c.durationS,
      text: c.text,
      normalizedText: c.text.toLowerCase(),
      durationS: c.durationS,
      sampleRate: 22050,
      cps: c.cps ?? c.text.length / c.durationS,
      status: c.status ?? 'kept',
      reasons: c.reasons ?? [],
      split: c.split === undefined ? 'train' : c.split,
    })),
  });
  assert.ok(ok, 'the build is stored with the lease');
}

/**
 * Reads server-sent events from a streaming response until `until` names an event (or the stream
 * ends). `events`, when given, receives each event as it arrives, so a test can wait for one.
 */
export async function readEvents(
  res: Response,
  until: (event: string) => boolean,
  events: Array<{ event: string; data: Record<string, unknown> }> = [],
) {
  assert.ok(res.body);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop() ?? '';
    for (const block of blocks) {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!event || data === undefined) continue;
      events.push({ event, data: JSON.parse(data) });
      if (until(event)) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}
