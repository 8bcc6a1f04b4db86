export { type Config, ConfigError, childEnv, configVariables, loadConfig } from './config.ts';
export { limits } from './limits.ts';
export { localStorage, type Storage, StorageError } from './storage.ts';
