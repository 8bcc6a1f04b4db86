import { randomBytes } from 'node:crypto';
import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Db } from '../client.ts';
import { apiKeys } from '../schema/auth.ts';
import { ownerSessions } from '../schema/sessions.ts';
import { type ApiKeyView, hashToken } from './api-keys.ts';

export type OwnerSession = { id: string; csrfToken: string; expiresAt: Date; key: ApiKeyView };

const SESSION_PREFIX = 'xvss_';

/** Opens a session for `keyId` with a fresh random id and CSRF token; the id is returned this once. */
export async function createOwnerSession(
  db: Db,
  input: { keyId: string; ttlMs: number; now?: Date },
): Promise<{ token: string; csrfToken: string; expiresAt: Date }> {
  const now = input.now ?? new Date();
  const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + input.ttlMs);
  // Expired sessions are swept here, so the table stays the size of the live ones.
  await db.delete(ownerSessions).where(lt(ownerSessions.expiresAt, now));
  await db.insert(ownerSessions).values({ tokenHash: hashToken(token), keyId: input.keyId, csrfToken, expiresAt });
  return { token, csrfToken, expiresAt };
}

/** The live session a cookie value names: unexpired, its key unrevoked. */
export async function findOwnerSession(db: Db, token: string, now = new Date()): Promise<OwnerSession | undefined> {
  if (!token.startsWith(SESSION_PREFIX) || token.length > 100) return undefined;
  const [row] = await db
    .select({ session: ownerSessions, key: apiKeys })
    .from(ownerSessions)
    .innerJoin(apiKeys, eq(apiKeys.id, ownerSessions.keyId))
    .where(
      and(eq(ownerSessions.tokenHash, hashToken(token)), gt(ownerSessions.expiresAt, now), isNull(apiKeys.revokedAt)),
    )
    .limit(1);
  if (!row) return undefined;
  const { tokenHash: _, ...key } = row.key;
  return { id: row.session.id, csrfToken: row.session.csrfToken, expiresAt: row.session.expiresAt, key };
}

/** Ends the session a cookie value names (nothing when there is none). */
export async function deleteOwnerSession(db: Db, token: string): Promise<void> {
  await db.delete(ownerSessions).where(eq(ownerSessions.tokenHash, hashToken(token)));
}
