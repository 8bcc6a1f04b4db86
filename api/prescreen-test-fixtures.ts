/**
 * What the pre-screen's tests through the database share: a voice with a base checkpoint and two
 * candidates whose renderings are planted espeak-ng audio (the trainer's `makePlantedSets`), and a
 * draft listening test of them with the speaker's recordings in place, ready to render.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type Db, insertCheckpoint, insertVoice } from '../db/index.ts';
import { type AudioStore, createTest, putRecording } from '../listening/index.ts';
import { makePlantedSets, type PlantedSet } from '../trainer/index.ts';

export const SENTENCES = [
  'The garden was quiet after the rain had stopped.',
  'She opened the window and listened to the birds outside.',
  'Nobody knew where the old map had come from.',
];

/**
 * Planted renderings of SENTENCES under `dir`, and a voice named `voiceName` with the base
 * checkpoint and two candidates, run-e1 (step 10) and run-e2 (step 20), which speak the planted
 * sets `sets` (the base speaks the `base` set). `rendering` is a checkpoint's rendering of a
 * sentence, the bytes of its planted file; `render` gives it as the engine would.
 */
export async function plantedCheckpoints(db: Db, dir: string, voiceName: string, sets: [PlantedSet, PlantedSet]) {
  const { references, items } = makePlantedSets(dir, SENTENCES, [...new Set(sets)]);
  const { voice } = await insertVoice(db, { name: voiceName, language: 'en' }, []);
  const at = (name: string) => `${voiceName}/${name}`;
  const base = await insertCheckpoint(db, { name: 'base', kind: 'base', status: 'ready', packagePath: at('base') });
  const e1 = await insertCheckpoint(db, { name: 'run-e1', status: 'ready', packagePath: at('e1'), step: 10 });
  const e2 = await insertCheckpoint(db, { name: 'run-e2', status: 'ready', packagePath: at('e2'), step: 20 });
  const setOf = new Map<string, string>([
    [base.id, 'base'],
    [e1.id, sets[0]],
    [e2.id, sets[1]],
  ]);
  const rendering = (c: { id: string }, text: string) => {
    const item = items.find((i) => i.group === setOf.get(c.id) && i.text === text);
    assert.ok(item, `a planted rendering for ${c.id}`);
    return new Uint8Array(readFileSync(item.path));
  };
  const render = async (c: { id: string }, text: string) => rendering(c, text);
  return { voice, base, candidates: [e1, e2] as const, references, rendering, render };
}

export type PlantedCheckpoints = Awaited<ReturnType<typeof plantedCheckpoints>>;

/** A draft test of the candidates against the base, with the speaker's recordings stored: its id. */
export async function draftTest(deps: { db: Db; audio: AudioStore }, planted: PlantedCheckpoints): Promise<string> {
  const { test } = await createTest(deps.db, {
    voiceId: planted.voice.id,
    name: 'run: checkpoints by ear',
    checkpointIds: planted.candidates.map((c) => c.id),
    baseCheckpointId: planted.base.id,
    sentences: SENTENCES.map((text) => ({ text })),
    trialsPerRater: { ab_naturalness: 4 },
    goldPerRater: 0,
    trapPerRater: 0,
    autoPromote: false,
  });
  for (const [i, r] of planted.references.entries()) await putRecording(deps, test.id, i, readFileSync(r.path));
  return test.id;
}
