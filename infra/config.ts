import { resolve } from 'node:path';
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Comma-separated list of base URLs, e.g. `http://pod-a:8000,http://pod-b:8000`. */
const urlList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u.length > 0),
  )
  .pipe(z.array(z.url({ protocol: /^https?$/ })));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** When unset, an embedded PGlite database lives under DATA_DIR. */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  /** Model packages; defaults to DATA_DIR/models. */
  MODEL_DIR: z.string().min(1).optional(),
  /** Inference pods; when unset the engine runs in-process. */
  INFERENCE_URLS: urlList.optional(),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  /** Largest JSON request body accepted, in bytes. Uploads have their own limit. */
  MAX_JSON_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Largest upload (multipart audio), in bytes. */
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(512 * 1024 * 1024),
  /** Python interpreter holding torch, for model export and training. */
  PYTHON: z.string().min(1).default('python3'),
});

/** Every variable the configuration reads. */
export const configVariables: readonly string[] = Object.keys(envSchema.shape);

export type Config = {
  nodeEnv: 'development' | 'production' | 'test';
  host: string;
  port: number;
  databaseUrl: string | undefined;
  dataDir: string;
  modelDir: string;
  inferenceUrls: string[];
  logLevel: (typeof logLevels)[number];
  maxJsonBodyBytes: number;
  maxUploadBytes: number;
  python: string;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The one reader of the environment. Everything else receives a `Config`.
 * Empty strings count as unset, so `DATABASE_URL= npm start` means "embedded".
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of configVariables) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `${name}: ${issue.message} (got ${JSON.stringify(input[name])})`;
    });
    throw new ConfigError(`Invalid environment variable${lines.length > 1 ? 's' : ''}:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const dataDir = resolve(e.DATA_DIR);
  return {
    nodeEnv: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir,
    modelDir: resolve(e.MODEL_DIR ?? `${dataDir}/models`),
    inferenceUrls: e.INFERENCE_URLS ?? [],
    logLevel: e.LOG_LEVEL,
    maxJsonBodyBytes: e.MAX_JSON_BODY_BYTES,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    python: e.PYTHON,
  };
}
