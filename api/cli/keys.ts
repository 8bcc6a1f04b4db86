import { parseArgs } from 'node:util';
import {
  type ApiKeyScope,
  type ApiKeyView,
  apiKeyScopes,
  createApiKey,
  listApiKeys,
  migrate,
  openDb,
  pgliteDirFor,
  revokeApiKey,
} from '../../db/index.ts';
import { type Config, loadConfig } from '../../infra/index.ts';
import { readLock, takeLock } from '../local-admin.ts';

const usage = `Manage API keys.

  npm run keys -- create --scope admin|synth [--name NAME]
  npm run keys -- list
  npm run keys -- revoke KEY_ID

Keys are sent as "Authorization: Bearer <token>". The token is printed once, at creation.
With the embedded database and a server running on it, the command goes through that server.`;

type Ops = {
  create(name: string, scope: ApiKeyScope): Promise<{ key: ApiKeyView; token: string }>;
  list(): Promise<ApiKeyView[]>;
  revoke(id: string): Promise<ApiKeyView | undefined>;
  close(): Promise<void>;
};

async function directOps(config: Config): Promise<Ops> {
  const lock = config.databaseUrl ? undefined : takeLock(config.dataDir);
  const handle = await openDb({
    databaseUrl: config.databaseUrl,
    pgliteDir: pgliteDirFor(config.dataDir),
    maxConnections: 1,
  });
  await migrate(handle, config.databaseUrl);
  return {
    create: (name, scope) => createApiKey(handle.db, { name, scope }),
    list: () => listApiKeys(handle.db),
    revoke: (id) => revokeApiKey(handle.db, id),
    close: async () => {
      await handle.close();
      lock?.release();
    },
  };
}

type KeyJson = {
  id: string;
  name: string;
  scope: ApiKeyScope;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
};
const fromJson = (k: KeyJson): ApiKeyView => ({
  id: k.id,
  name: k.name,
  scope: k.scope,
  prefix: k.prefix,
  createdAt: new Date(k.created_at),
  lastUsedAt: k.last_used_at ? new Date(k.last_used_at) : null,
  revokedAt: k.revoked_at ? new Date(k.revoked_at) : null,
});

function serverOps(url: string, secret: string): Ops {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${secret}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`${res.status} ${json.code}: ${json.message}`);
    return json;
  };
  return {
    create: async (name, scope) => {
      const body = (await call('POST', '/v1/keys', { name, scope })) as { key: KeyJson; token: string };
      return { key: fromJson(body.key), token: body.token };
    },
    list: async () => ((await call('GET', '/v1/keys')) as { data: KeyJson[] }).data.map(fromJson),
    revoke: async (id) => {
      const body = (await call('DELETE', `/v1/keys/${encodeURIComponent(id)}`)) as KeyJson | undefined;
      return body ? fromJson(body) : undefined;
    },
    close: async () => {},
  };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { scope: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(usage);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  const lock = config.databaseUrl ? undefined : readLock(config.dataDir);
  const ops = lock?.url ? serverOps(lock.url, lock.secret) : await directOps(config);
  try {
    switch (command) {
      case 'create': {
        const scope = values.scope as ApiKeyScope | undefined;
        if (!scope || !apiKeyScopes.includes(scope)) {
          console.error(`--scope must be one of: ${apiKeyScopes.join(', ')}`);
          return 2;
        }
        const { key, token } = await ops.create(values.name ?? `${scope} key`, scope);
        console.log(
          `Created ${key.scope} key "${key.name}" (id ${key.id}). Its token, shown this once:\n\n  ${token}\n`,
        );
        console.log(
          `Use it as:  curl -H "Authorization: Bearer ${token}" ${lock?.url ?? 'http://localhost:8080'}/v1/keys`,
        );
        return 0;
      }
      case 'list': {
        for (const k of await ops.list()) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
          console.log(`${k.id}  ${k.scope.padEnd(5)}  ${k.prefix}…  ${state}  ${k.name}`);
        }
        return 0;
      }
      case 'revoke': {
        if (!arg) {
          console.error('revoke needs a key id (see: npm run keys -- list)');
          return 2;
        }
        if (!/^[0-9a-f-]{36}$/i.test(arg)) {
          console.error(`"${arg}" is not a key id (see: npm run keys -- list)`);
          return 2;
        }
        const key = await ops.revoke(arg);
        if (!key) {
          console.error(`No key with id ${arg}`);
          return 1;
        }
        console.log(`Revoked ${key.id} (${key.name})`);
        return 0;
      }
      default:
        console.error(`Unknown command "${command}".\n\n${usage}`);
        return 2;
    }
  } finally {
    await ops.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
