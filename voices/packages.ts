import { readdir } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  type Checkpoint,
  type Db,
  findCheckpointByPackage,
  insertCheckpoint,
  listCheckpoints,
  setCheckpointKind,
} from '../db/index.ts';
import { EngineError, readManifestJson } from '../inference/index.ts';
import { VoiceError } from './errors.ts';

export type PackageSummary = {
  dir: string;
  /** sha256 of manifest.json: the key of cached voice conditioning. */
  key: string;
  kind: 'base' | 'fine-tuned';
  languages: string[];
};

const packageCodes = {
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  MODEL_CORRUPT: 'MODEL_CORRUPT',
  MODEL_FORMAT_UNSUPPORTED: 'MODEL_FORMAT_UNSUPPORTED',
} as const;

/** Reads a package's manifest (through the engine's one reader), checking what the studio relies on. */
export async function readPackage(dir: string): Promise<PackageSummary> {
  const { json, key } = await readManifestJson(dir).catch((err: unknown) => {
    const code = err instanceof EngineError ? packageCodes[err.code as keyof typeof packageCodes] : undefined;
    if (!code) throw err;
    throw new VoiceError(code, err instanceof Error ? err.message : String(err), { field: 'body.package_path' });
  });
  return {
    dir,
    key,
    kind: json.kind === 'fine-tuned' ? 'fine-tuned' : 'base',
    languages: Array.isArray(json.languages) ? json.languages.map(String) : [],
  };
}

/** Model packages live under MODEL_DIR; a path outside it is refused. */
export function packagePathIn(modelDir: string, path: string): string {
  const root = resolve(modelDir);
  const full = resolve(root, path);
  if (full !== root && !full.startsWith(root + sep)) {
    throw new VoiceError('VALIDATION_FAILED', `body.package_path: must be inside the model folder (${root})`, {
      field: 'body.package_path',
    });
  }
  return full;
}

/** Registers a package as a checkpoint; registering the same folder again returns the existing row. */
export async function registerPackage(
  db: Db,
  dir: string,
  meta: {
    name: string;
    runId?: string | null;
    epoch?: number | null;
    step?: number | null;
    trainLoss?: number | null;
    evalLoss?: number | null;
    trainingConfig?: Record<string, unknown> | null;
  },
): Promise<{ checkpoint: Checkpoint; created: boolean }> {
  const pkg = await readPackage(dir);
  const existing = await findCheckpointByPackage(db, dir);
  if (existing) return { checkpoint: existing, created: false };
  const checkpoint = await insertCheckpoint(db, {
    name: meta.name,
    runId: meta.runId ?? null,
    epoch: meta.epoch ?? null,
    step: meta.step ?? null,
    trainingConfig: meta.trainingConfig ?? null,
    trainLoss: meta.trainLoss ?? null,
    evalLoss: meta.evalLoss ?? null,
    kind: pkg.kind,
    packagePath: dir,
    packageKey: pkg.key,
    status: 'ready',
  });
  return { checkpoint, created: true };
}

/**
 * Brings each registered checkpoint's kind in line with its package manifest: rows written
 * before the kind was recorded got a default, and only the manifest knows the truth.
 */
export async function reconcileCheckpointKinds(db: Db): Promise<number> {
  let fixed = 0;
  for (const k of await listCheckpoints(db)) {
    if (!k.packagePath) continue;
    const kind = await readPackage(k.packagePath).then(
      (p) => p.kind,
      () => undefined,
    );
    if (kind && kind !== k.kind) {
      await setCheckpointKind(db, k.id, kind);
      fixed++;
    }
  }
  return fixed;
}

/**
 * Registers every base package found directly under MODEL_DIR (a folder with a manifest.json),
 * so a freshly pulled model is usable without an API call. Returns what was added.
 */
export async function registerModelDir(db: Db, modelDir: string): Promise<Checkpoint[]> {
  let entries: string[];
  try {
    entries = (await readdir(modelDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
  const added: Checkpoint[] = [];
  for (const name of entries.sort()) {
    const dir = join(resolve(modelDir), name);
    try {
      const pkg = await readPackage(dir);
      if (pkg.kind !== 'base') continue;
      const { checkpoint, created } = await registerPackage(db, dir, { name });
      if (created) added.push(checkpoint);
    } catch {
      // Not a package (or not one this server reads): leave it alone.
    }
  }
  return added;
}
