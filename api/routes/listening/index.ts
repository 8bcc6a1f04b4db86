import { join } from 'node:path';
import type { Db } from '../../../db/index.ts';
import type { AudioSandbox } from '../../../inference/index.ts';
import { type AudioStore, fileAudioStore, type RenderStimulus } from '../../../listening/index.ts';
import { listeningAdminRoutes } from './admin.ts';
import { completionCodeRoutes } from './completion.ts';
import { type CrowdLimits, listeningCrowdRoutes } from './crowd.ts';

export type ListeningAppDeps = {
  /** Where stimuli are kept; a folder under DATA_DIR when left out. */
  audio?: AudioStore;
  renderStimulus?: RenderStimulus;
  crowdLimits?: CrowdLimits;
};

type Deps = { db: Db; dataDir: string; localSecret?: string | undefined; listening?: ListeningAppDeps | undefined };
type AdminDeps = Deps & { audioSandbox: AudioSandbox; maxUploadBytes: number };

/** Stimuli live under DATA_DIR/listening unless another store is given. */
const audioOf = (deps: Deps): AudioStore => deps.listening?.audio ?? fileAudioStore(join(deps.dataDir, 'listening'));

/** Listening-test administration (admin key), part of the OpenAPI document. */
export function listeningAdmin(deps: AdminDeps) {
  const admin = listeningAdminRoutes({
    db: deps.db,
    audio: audioOf(deps),
    audioSandbox: deps.audioSandbox,
    maxUploadBytes: deps.maxUploadBytes,
    dataDir: deps.dataDir,
    renderStimulus: deps.listening?.renderStimulus,
    localSecret: deps.localSecret,
  });
  return admin.route('/', completionCodeRoutes({ db: deps.db, localSecret: deps.localSecret }));
}

/** The crowd pages and their JSON (no key). */
export function listeningCrowd(deps: Deps) {
  return listeningCrowdRoutes({ db: deps.db, audio: audioOf(deps), limits: deps.listening?.crowdLimits });
}

export { type CrowdLimits, DEFAULT_CROWD_LIMITS } from './crowd.ts';
