import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import {
  type Checkpoint,
  type Db,
  defaultBaseCheckpoint,
  getCheckpoint,
  getConditioning,
  insertVoice,
  listVoiceClips,
  putConditioning,
  type Voice,
  type VoiceClip,
} from '../../db/index.ts';
import {
  AudioInputError,
  decodeAudio,
  type Engine,
  EngineError,
  type VoiceConditioning,
  voiceFromBytes,
  voiceToBytes,
} from '../../inference/index.ts';
import { ApiError } from '../errors.ts';
import { readPackage, registerModelDir } from './packages.ts';

export type Upload = { filename: string; bytes: Uint8Array };

export type VoiceDeps = {
  db: Db;
  engine: Engine | undefined;
  dataDir: string;
  /** Where base packages are looked for when none is registered yet (e.g. pulled while running). */
  modelDir?: string | undefined;
};

const voicesDir = (dataDir: string) => join(dataDir, 'voices');

export function requireEngine(engine: Engine | undefined): Engine {
  if (!engine) throw new ApiError('MODEL_NOT_READY', 'No inference engine is configured on this server');
  return engine;
}

/**
 * The checkpoint a voice speaks with: its promoted one, else the newest base model. With none
 * registered yet, MODEL_DIR is looked at once more, so a model pulled while the server runs is
 * used without a restart.
 */
export async function checkpointOf(
  db: Db,
  voice: Pick<Voice, 'checkpointId'>,
  modelDir?: string | undefined,
): Promise<Checkpoint> {
  let checkpoint = voice.checkpointId ? await getCheckpoint(db, voice.checkpointId) : await defaultBaseCheckpoint(db);
  if (!checkpoint && !voice.checkpointId && modelDir) {
    await registerModelDir(db, modelDir);
    checkpoint = await defaultBaseCheckpoint(db);
  }
  if (!checkpoint?.packagePath || checkpoint.status !== 'ready') {
    throw new ApiError(
      'MODEL_NOT_READY',
      'No model package is registered yet: pull one with `npm run model:pull`, or import one with `npm run model:import`',
    );
  }
  return checkpoint;
}

/** Engine errors about one clip name it as `body.clips.N`. */
function clipError(err: unknown, index: number): never {
  if (err instanceof AudioInputError) {
    const code = err.code === 'AUDIO_TOO_SHORT' || err.code === 'AUDIO_SILENT' ? err.code : 'AUDIO_INVALID';
    throw new ApiError(code, `clips[${index}]: ${err.message}`, { field: `body.clips.${index}` });
  }
  throw err;
}

/**
 * Creates a voice: checks and measures every clip, computes its conditioning with the base
 * model, then stores clips, voice and conditioning. Files are written to a temporary folder
 * and renamed into place before the database transaction; if that fails they are removed,
 * so a failed upload leaves nothing behind.
 */
export async function createVoice(
  deps: VoiceDeps,
  input: { name: string; language: string; description?: string | undefined; clips: Upload[] },
): Promise<{ voice: Voice; clips: VoiceClip[] }> {
  const engine = requireEngine(deps.engine);
  const checkpoint = await checkpointOf(deps.db, { checkpointId: null }, deps.modelDir);
  const pkg = await readPackage(checkpoint.packagePath!);
  if (pkg.languages.length && !pkg.languages.includes(input.language)) {
    throw new ApiError(
      'LANGUAGE_UNSUPPORTED',
      `body.language: "${input.language}" is not one of ${pkg.languages.join(', ')}`,
      {
        field: 'body.language',
      },
    );
  }
  const measured = await Promise.all(
    input.clips.map(async (clip, i) => {
      const audio = await decodeAudio(clip.bytes).catch((err) => clipError(err, i));
      return { ...clip, durationS: audio.samples.length / audio.sampleRate, sampleRate: audio.sampleRate };
    }),
  );
  let conditioning: VoiceConditioning;
  try {
    conditioning = await engine.computeVoice(
      checkpoint.packagePath!,
      measured.map((c) => c.bytes),
    );
  } catch (err) {
    if (err instanceof EngineError && err.field?.startsWith('clips.')) {
      throw new ApiError(
        err.code === 'AUDIO_SILENT' || err.code === 'AUDIO_TOO_SHORT' ? err.code : 'AUDIO_INVALID',
        err.message,
        {
          field: `body.${err.field}`,
        },
      );
    }
    throw err;
  }

  const id = randomUUID();
  const finalDir = join(voicesDir(deps.dataDir), id);
  const tmpDir = join(voicesDir(deps.dataDir), `.tmp-${id}`);
  await mkdir(tmpDir, { recursive: true });
  try {
    const clips = await Promise.all(
      measured.map(async (c, i) => {
        const file = `${i}${safeExt(c.filename)}`;
        await writeFile(join(tmpDir, file), c.bytes);
        return {
          path: join(finalDir, file),
          sha256: createHash('sha256').update(c.bytes).digest('hex'),
          durationS: c.durationS,
          sampleRate: c.sampleRate,
        };
      }),
    );
    await rename(tmpDir, finalDir);
    const bytes = voiceToBytes(conditioning);
    try {
      return await insertVoice(
        deps.db,
        { id, name: input.name, language: input.language, description: input.description ?? null },
        clips,
        {
          packageKey: conditioning.packageKey,
          gptCondLatent: bytes.gptCondLatent,
          gptCondShape: conditioning.gptCondShape,
          speakerEmbedding: bytes.speakerEmbedding,
          speakerShape: conditioning.speakerShape,
        },
      );
    } catch (err) {
      await rm(finalDir, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

function safeExt(filename: string): string {
  const ext = extname(filename).toLowerCase();
  return /^\.(wav|flac|mp3|ogg|oga|opus|m4a)$/.test(ext) ? ext : '.audio';
}

/**
 * The voice's conditioning for a package: from the cache, or computed from its stored clips
 * (the first time a newly promoted checkpoint speaks with this voice) and cached.
 */
export async function conditioningFor(
  deps: VoiceDeps,
  voice: Voice,
  checkpoint: Checkpoint,
): Promise<VoiceConditioning> {
  const key = checkpoint.packageKey;
  if (key) {
    const row = await getConditioning(deps.db, voice.id, key);
    if (row) return voiceFromBytes(key, row.gptCondLatent, row.gptCondShape, row.speakerEmbedding, row.speakerShape);
  }
  const clips = await listVoiceClips(deps.db, voice.id);
  const bytes = await Promise.all(clips.map((c) => readFile(c.path)));
  const conditioning = await requireEngine(deps.engine).computeVoice(
    checkpoint.packagePath!,
    bytes.map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength)),
  );
  const raw = voiceToBytes(conditioning);
  await putConditioning(deps.db, {
    voiceId: voice.id,
    packageKey: conditioning.packageKey,
    gptCondLatent: raw.gptCondLatent,
    gptCondShape: conditioning.gptCondShape,
    speakerEmbedding: raw.speakerEmbedding,
    speakerShape: conditioning.speakerShape,
  });
  return conditioning;
}

/** Removes a voice's stored clips (after its rows are deleted). */
export async function removeVoiceFiles(dataDir: string, voiceId: string): Promise<void> {
  await rm(join(voicesDir(dataDir), voiceId), { recursive: true, force: true });
}
