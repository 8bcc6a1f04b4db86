import { createHash, randomBytes } from 'node:crypto';
import { and, desc, eq, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { type ApiKeyScope, apiKeys } from '../schema/auth.ts';
import { forgetLookups, remembered } from './lookups.ts';

export type ApiKey = typeof apiKeys.$inferSelect;
/** A key as listings show it: never the hash. */
export type ApiKeyView = Omit<ApiKey, 'tokenHash'>;

const TOKEN_PREFIX = 'xvs_';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

const view = ({ tokenHash: _, ...rest }: ApiKey): ApiKeyView => rest;

/** Creates a key and returns its token, which is shown this once and never stored. */
export async function createApiKey(
  db: Db,
  input: { name: string; scope: ApiKeyScope },
): Promise<{ key: ApiKeyView; token: string }> {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const [row] = await db
    .insert(apiKeys)
    .values({ name: input.name, scope: input.scope, tokenHash: hashToken(token), prefix: token.slice(0, 12) })
    .returning();
  if (!row) throw new Error('insert into api_keys returned no row');
  return { key: view(row), token };
}

/**
 * The unrevoked key a bearer token belongs to, or undefined. With `maxAgeMs`, a key found that recently
 * may be given again (lookups.ts: a key revoked through this process is refused at once).
 */
export async function findActiveKey(db: Db, token: string, maxAgeMs = 0): Promise<ApiKeyView | undefined> {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const hash = hashToken(token);
  return remembered(db, `key ${hash}`, maxAgeMs, async () => {
    const [row] = await db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.tokenHash, hash), isNull(apiKeys.revokedAt)))
      .limit(1);
    return row ? view(row) : undefined;
  });
}

export async function listApiKeys(db: Db): Promise<ApiKeyView[]> {
  const rows = await db.select().from(apiKeys).orderBy(desc(apiKeys.createdAt));
  return rows.map(view);
}

/** Revokes a key; revoking twice keeps the first time. Undefined when no such key. */
export async function revokeApiKey(db: Db, id: string): Promise<ApiKeyView | undefined> {
  await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
  forgetLookups(db);
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  return row ? view(row) : undefined;
}

/** Records use at most once a minute per key, so authentication does not write on every request. */
export async function touchApiKey(db: Db, id: string, now = new Date()): Promise<void> {
  const minuteAgo = new Date(now.getTime() - 60_000);
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(apiKeys.id, id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, minuteAgo))));
}
