export { type Config, ConfigError, childEnv, configVariables, loadConfig } from './config.ts';
