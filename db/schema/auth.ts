import { index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { createdAt } from './common.ts';

export const apiKeyScopes = ['admin', 'synth'] as const;
export type ApiKeyScope = (typeof apiKeyScopes)[number];

/**
 * API keys are random 256-bit secrets; only their SHA-256 is stored. A slow password hash
 * buys nothing for secrets of that entropy and would cost every request.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    scope: text('scope', { enum: apiKeyScopes }).notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    /** The first characters of the token, shown in listings so a key can be recognised. */
    prefix: text('prefix').notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [index('api_keys_created_at_idx').on(t.createdAt)],
);
