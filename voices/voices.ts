import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
} from '../db/index.ts';
import {
  AudioInputError,
  type AudioSandbox,
  type Engine,
  EngineError,
  type PreparedReference,
  SandboxBusyError,
  SandboxCancelledError,
  type VoiceConditioning,
  voiceFromBytes,
  voiceToBytes,
} from '../inference/index.ts';
import { VoiceError, type VoiceErrorCode } from './errors.ts';
import { readPackage, registerModelDir } from './packages.ts';

/** A reference clip, already on disk (an upload is streamed there by the API). */
export type Upload = { filename: string; path: string };

export type VoiceDeps = {
  db: Db;
  engine: Engine | undefined;
  dataDir: string;
  /** Where base packages are looked for when none is registered yet (e.g. pulled while running). */
  modelDir?: string | undefined;
};

export const voicesDir = (dataDir: string) => join(dataDir, 'voices');

export function requireEngine(engine: Engine | undefined): Engine {
  if (!engine) throw new VoiceError('MODEL_NOT_READY', 'No inference engine is configured on this server');
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
  maxAgeMs = 0,
): Promise<Checkpoint> {
  let checkpoint = voice.checkpointId
    ? await getCheckpoint(db, voice.checkpointId, maxAgeMs)
    : await defaultBaseCheckpoint(db, maxAgeMs);
  if (!checkpoint && !voice.checkpointId && modelDir) {
    await registerModelDir(db, modelDir);
    checkpoint = await defaultBaseCheckpoint(db);
  }
  if (!checkpoint?.packagePath || checkpoint.status !== 'ready') {
    throw new VoiceError(
      'MODEL_NOT_READY',
      'No model package is registered yet: pull one with `npm run model:pull`, or import one with `npm run model:import`',
    );
  }
  return checkpoint;
}

/** The stable code of an audio input error: most keep their own; undecodable input is AUDIO_INVALID. */
export function audioErrorCode(err: AudioInputError): VoiceErrorCode {
  return err.code === 'AUDIO_NOT_AUDIO' || err.code === 'AUDIO_CORRUPT' ? 'AUDIO_INVALID' : err.code;
}

/** Sandbox failures as voice errors naming the field at fault. */
export function audioInputError(err: unknown, field: string): never {
  if (err instanceof AudioInputError) {
    throw new VoiceError(audioErrorCode(err), `${field}: ${err.message}`, { field });
  }
  if (err instanceof SandboxBusyError) {
    throw new VoiceError('OVERLOADED', err.message, { retryAfterS: 5 });
  }
  if (err instanceof SandboxCancelledError) throw new VoiceError('NOT_READY', err.message);
  throw err;
}

export type ReferenceJson = {
  clip: number;
  examined_s: number;
  speech_s: number;
  kept: { start_s: number; end_s: number };
  trimmed: boolean;
  peak_dbfs: number;
  snr_db: number;
  clipped_fraction: number;
};
export type WarningJson = { field: string; code: string; message: string };

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

/**
 * Creates a voice: checks and measures every clip, computes its conditioning with the base
 * model, then stores clips, voice and conditioning. Files are written to a temporary folder
 * and renamed into place before the database transaction; if that fails they are removed,
 * so a failed upload leaves nothing behind.
 */
export async function createVoice(
  deps: VoiceDeps & { audio: AudioSandbox },
  input: { name: string; language: string; description?: string | undefined; clips: Upload[] },
  signal?: AbortSignal,
): Promise<{ voice: Voice; clips: VoiceClip[]; references: ReferenceJson[]; warnings: WarningJson[] }> {
  const engine = requireEngine(deps.engine);
  const checkpoint = await checkpointOf(deps.db, { checkpointId: null }, deps.modelDir);
  const pkg = await readPackage(checkpoint.packagePath!);
  if (pkg.languages.length && !pkg.languages.includes(input.language)) {
    throw new VoiceError(
      'LANGUAGE_UNSUPPORTED',
      `body.language: "${input.language}" is not one of ${pkg.languages.join(', ')}`,
      {
        field: 'body.language',
      },
    );
  }
  // Decoded and checked in the audio sandbox, one after the other (its workers are few); what
  // is kept is each clip's best speech as a 22,050 Hz float WAV, which the engine then reads.
  const measured: PreparedReference[] = [];
  for (const [i, clip] of input.clips.entries()) {
    measured.push(
      await deps.audio
        .prepareReference({ path: clip.path }, signal)
        .catch((err) => audioInputError(err, `body.clips.${i}`)),
    );
  }
  const references = measured.map((m, i) => ({
    clip: i,
    examined_s: round(m.report.examinedS),
    speech_s: round(m.report.speechS),
    kept: { start_s: round(m.report.kept.startS), end_s: round(m.report.kept.endS) },
    trimmed: m.report.trimmed,
    peak_dbfs: round(m.report.peakDbfs, 1),
    snr_db: round(m.report.snrDb, 1),
    clipped_fraction: round(m.report.clippedFraction, 5),
  }));
  const warnings = measured.flatMap((m, i) =>
    m.report.warnings.map((w) => ({ field: `body.clips.${i}`, code: w.code, message: `clips[${i}]: ${w.message}` })),
  );
  let conditioning: VoiceConditioning;
  try {
    conditioning = await engine.computeVoice(
      checkpoint.packagePath!,
      measured.map((c) => c.wav),
    );
  } catch (err) {
    if (err instanceof EngineError && err.field?.startsWith('clips.')) {
      throw new VoiceError(
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
        const file = `${i}.wav`;
        await writeFile(join(tmpDir, file), c.wav);
        return {
          path: join(finalDir, file),
          sha256: createHash('sha256').update(c.wav).digest('hex'),
          durationS: c.durationS,
          sampleRate: c.sampleRate,
        };
      }),
    );
    await rename(tmpDir, finalDir);
    const bytes = voiceToBytes(conditioning);
    try {
      const created = await insertVoice(
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
      return { ...created, references, warnings };
    } catch (err) {
      await rm(finalDir, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/**
 * Conditioning read from the database, by voice id and package key, the most recently used kept. A
 * voice's conditioning for a package is written once and never changed (putConditioning keeps the first
 * row; a voice's clips are fixed when it is made), so a kept copy is never stale; the voice itself is still
 * looked up on every request, so a deleted voice is refused. Why: the full-size conditioning is 130 KB,
 * and reading it took 7.5 ms of the embedded database (which runs on the server's main thread) per
 * request on a 2-core CPU, 17–25 ms of each request's time to first audio on a GPU host, and 64 requests
 * arriving together waited for each other's.
 */
const CONDITIONING_KEPT = 256;
const keptConditioning = new Map<string, VoiceConditioning>();

function keepConditioning(key: string, c: VoiceConditioning): VoiceConditioning {
  keptConditioning.delete(key);
  keptConditioning.set(key, c);
  if (keptConditioning.size > CONDITIONING_KEPT)
    keptConditioning.delete(keptConditioning.keys().next().value as string);
  return c;
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
    const keptKey = `${voice.id} ${key}`;
    const kept = keptConditioning.get(keptKey);
    if (kept) return keepConditioning(keptKey, kept);
    const row = await getConditioning(deps.db, voice.id, key);
    if (row)
      return keepConditioning(
        keptKey,
        voiceFromBytes(key, row.gptCondLatent, row.gptCondShape, row.speakerEmbedding, row.speakerShape),
      );
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
