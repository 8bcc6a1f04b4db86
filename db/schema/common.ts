import { customType, timestamp } from 'drizzle-orm/pg-core';

/** Raw bytes (conditioning latents, speaker embeddings) stored as `bytea`. */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

export const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
export const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
