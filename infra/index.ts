export { type Config, ConfigError, configVariables, loadConfig } from './config.ts';
