export { type Config, ConfigError, childEnv, configVariables, cudaFp32WithoutTf32, loadConfig } from './config.ts';
export { limits } from './limits.ts';
export { localStorage, type Storage, StorageError } from './storage.ts';
