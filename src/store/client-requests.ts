/**
 * Requests submitted with a client token, one function per query (replication/client-tokens.ts says how
 * they are used).
 * @module
 */
import type { Db } from './db.js';
import type { ClientRequestsTable } from './schema.js';

export type ClientRequestRow = ClientRequestsTable;

export async function findClientRequest(
  db: Db,
  accountId: string,
  clientToken: string,
): Promise<ClientRequestRow | undefined> {
  return db
    .selectFrom('client_requests')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('client_token', '=', clientToken)
    .executeTakeFirst();
}

/** Records a request now running under its token; false if the token has a row already (a race lost). */
export async function claimClientToken(db: Db, row: Omit<ClientRequestRow, 'answer'>): Promise<boolean> {
  const result = await db
    .insertInto('client_requests')
    .values({ ...row, answer: null })
    .onConflict((conflict) => conflict.columns(['account_id', 'client_token']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function recordClientAnswer(
  db: Db,
  accountId: string,
  clientToken: string,
  answer: string,
): Promise<void> {
  await db
    .updateTable('client_requests')
    .set({ answer })
    .where('account_id', '=', accountId)
    .where('client_token', '=', clientToken)
    .execute();
}

/** Forgets a token: its request failed (a retry runs anew), or its row is older than tokens are kept. */
export async function releaseClientToken(db: Db, accountId: string, clientToken: string): Promise<void> {
  await db
    .deleteFrom('client_requests')
    .where('account_id', '=', accountId)
    .where('client_token', '=', clientToken)
    .execute();
}

/** Deletes every token recorded before `before` (kept 24 hours). */
export async function deleteClientRequestsBefore(db: Db, before: string): Promise<number> {
  const result = await db.deleteFrom('client_requests').where('created_at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
