import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { apiKeys } from './auth.ts';
import { createdAt } from './common.ts';

/**
 * Browser sessions of owners, opened by signing in with an admin key. The cookie carries a
 * random 256-bit id; only its SHA-256 is stored, so a copy of this table opens no session.
 * The CSRF token is the synchroniser token the session's forms carry; it is worthless without
 * the cookie. Revoking the key ends its sessions (they are checked against it on every request).
 */
export const ownerSessions = pgTable(
  'owner_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tokenHash: text('token_hash').notNull().unique(),
    keyId: uuid('key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    csrfToken: text('csrf_token').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('owner_sessions_expires_idx').on(t.expiresAt)],
);
