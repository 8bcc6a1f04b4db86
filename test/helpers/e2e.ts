/**
 * What the end-to-end tests on the tiny model share: the speaker's recording (espeak-ng) and the
 * dataset the tiny model takes, a voice from the fixture's reference clip, the job worker's
 * dependencies, the PyTorch weights the trainer starts from, and polling until something is done.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pino from 'pino';
import type { Engine } from '../../inference/index.ts';
import { localStorage } from '../../infra/index.ts';
import { fileAudioStore } from '../../listening/index.ts';
import { stimulusRenderer } from '../../voices/index.ts';
import type { testApp } from './app.ts';
import { espeakWav } from './speech.ts';
import { type dataDirWithTinyModel, tinyReferenceClip } from './tiny.ts';
import { copyTinyModelFolder, TINY_FIXTURE_SEED } from './tiny-checkpoints.ts';

type TestApp = Awaited<ReturnType<typeof testApp>>;
type TinyDirs = ReturnType<typeof dataDirWithTinyModel>;

// Short sentences: the tiny model's position table holds about 2.7 s of audio codes, so its
// dataset is cut to 1-2.6 s clips (TINY_DATASET_OPTIONS) instead of the 3-11.6 s a real model takes.
export const TINY_SPEECH = [
  'Good morning.',
  'I would like tea.',
  'The rain has stopped.',
  'Please close the door.',
  'My brother is here.',
  'The bread is warm.',
  'We walked home.',
  'Thank you so much.',
  'The birds are singing.',
  'It is getting late.',
  'See you tomorrow.',
  'The garden is green.',
] as const;

/** One long recording of `sentences` with pauses between them, as a speaker would read a page (espeak-ng en-us). */
export const readingWav = (sentences: readonly string[] = TINY_SPEECH): Buffer =>
  Buffer.from(espeakWav(sentences.join(' '), 'en-us', ['-s', '150', '-g', '12']));

/** The dataset build options for the tiny model: 1-2.6 s clips, transcribed by the bundled small Whisper. */
const TINY_DATASET_OPTIONS = {
  asr: { model: 'tiny.en-bundled', device: 'cpu' },
  min_s: 1,
  max_s: 2.6,
  eval_fraction: 0.25,
  seed: 3,
};

/**
 * "june reads": a dataset of `recording` through the HTTP API (TINY_DATASET_OPTIONS, sentence
 * chunker), built by the job worker; resolves with its id and its JSON once it is ready.
 */
export async function buildTinyDataset(t: TestApp, recording: Buffer) {
  const admin = t.auth(t.tokens.admin);
  const res = await t.request
    .post('/v1/datasets')
    .set(admin)
    .field('name', 'june reads')
    .field('language', 'en')
    .field('chunker', 'sentence')
    .field('options', JSON.stringify(TINY_DATASET_OPTIONS))
    .attach('recordings', recording, 'reading.wav');
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.id as string;
  const ready = await pollFor(
    'dataset ready',
    async () => {
      const d = await t.request.get(`/v1/datasets/${id}`).set(admin);
      assert.notEqual(d.body.status, 'failed', JSON.stringify(d.body));
      return d.body.status === 'ready' ? d.body : undefined;
    },
    300,
  );
  return { id, ready };
}

/** A voice named `name` (English) from the tiny fixture's reference clip, through the HTTP API: its JSON. */
export async function createTinyVoice(t: TestApp, name: string) {
  const voice = await t.request
    .post('/v1/voices')
    .set(t.auth(t.tokens.admin))
    .field('name', name)
    .field('language', 'en')
    .attach('clips', Buffer.from(tinyReferenceClip()), 'ref.wav');
  assert.equal(voice.status, 201, JSON.stringify(voice.body));
  return voice.body;
}

/** The job worker's dependencies for `t` on the tiny model's folders, stimuli rendered on `engine`. */
export const tinyJobDeps = (t: TestApp, engine: Engine, dirs: TinyDirs) => ({
  db: t.db.db,
  storage: localStorage(dirs.dataDir),
  modelDir: dirs.modelDir,
  logger: pino({ level: 'silent' }),
  audio: fileAudioStore(join(dirs.dataDir, 'listening')),
  renderStimulus: stimulusRenderer({ db: t.db.db, engine, dataDir: dirs.dataDir, modelDir: dirs.modelDir }),
});

/** The PyTorch weights the tiny package was exported from, where `model:pull` keeps them: what the trainer starts from. */
export async function tinyTrainerWeights(dirs: TinyDirs): Promise<void> {
  await copyTinyModelFolder(`${dirs.packageDir}.download`, TINY_FIXTURE_SEED);
}

/**
 * Calls `poll` until it returns a value, `everyMs` apart and at most `seconds * 1000 / everyMs`
 * times (the polls' own time comes on top); fails with `what` after that.
 */
export async function pollFor<T>(
  what: string,
  poll: () => Promise<T | undefined>,
  seconds: number,
  everyMs = 250,
): Promise<T> {
  for (let i = 0; i < (seconds * 1000) / everyMs; i++) {
    const v = await poll();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}
