export {
  type Config,
  ConfigError,
  childEnv,
  configVariables,
  type JobKind,
  jobKinds,
  loadConfig,
} from './config.ts';
export { type Limits, limits } from './limits.ts';
export { localStorage, type Storage, StorageError } from './storage.ts';
