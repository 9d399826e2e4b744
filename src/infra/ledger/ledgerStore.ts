import { sql, type Kysely, type Selectable } from 'kysely';
import { inBuckets, positionsIn } from '../db/buckets.ts';
import { fromHex } from '../../ledger/bytes.ts';
import { MerkleFrontier } from '../../ledger/merkle.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
import type { VerificationStatus } from '../readModels/pollVerification.ts';
import type { Database } from '../db/schema.ts';
import type { LedgerEntriesTable } from './tables.ts';

/**
 * The ledger tables (migration 0005, typed in ./tables.ts) as plain query functions taking `db | trx`
 * first. Raw SQL only where the query builder cannot say it: the tamper watch's bucket digests
 * (hashtextextended over a computed bucket, ranges OR-ed by inBuckets).
 */
type Q = Kysely<Database>;

export const ANCHOR_CHECKPOINT_NAME = 'anchoring';

export interface StoredEntry {
  leafIndex: number;
  eventId: string;
  pollId: string;
  eventType: string;
  tracker: string | null;
  /** Hex SHA-256 leaf hash (RFC 6962: SHA-256(0x00 || entry)). */
  entryHash: string;
  entryText: string;
  committedAt: Date;
}

type EntryRow = Selectable<LedgerEntriesTable>;

const toEntry = (r: EntryRow): StoredEntry => ({
  leafIndex: Number(r.leaf_index),
  eventId: r.event_id,
  pollId: r.poll_id,
  eventType: r.event_type,
  tracker: r.tracker,
  entryHash: r.entry_hash,
  entryText: r.entry_text,
  committedAt: new Date(r.committed_at),
});

export const readAnchorCheckpoint = async (db: Q): Promise<string | null> => {
  const row = await db.selectFrom('ledger_anchor_checkpoint').select('checkpoint').where('name', '=', ANCHOR_CHECKPOINT_NAME).executeTakeFirst();
  return row?.checkpoint ?? null;
};

/** Stores new leaves and the subscription checkpoint in one transaction: no gap, no duplicate. */
export const appendEntries = async (db: Q, entries: StoredEntry[], checkpoint: string): Promise<void> => {
  await db.transaction().execute(async (trx) => {
    if (entries.length > 0) {
      await trx
        .insertInto('ledger_entries')
        .values(entries.map((e) => ({
          leaf_index: e.leafIndex, event_id: e.eventId, poll_id: e.pollId, event_type: e.eventType, tracker: e.tracker,
          entry_hash: e.entryHash, entry_text: e.entryText, committed_at: e.committedAt.toISOString(),
        })))
        .execute();
    }
    await trx
      .insertInto('ledger_anchor_checkpoint')
      .values({ name: ANCHOR_CHECKPOINT_NAME, checkpoint })
      .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ checkpoint: eb.ref('excluded.checkpoint'), updated_at: sql<string>`now()` })))
      .execute();
  });
};

/** Stored leaves from `fromIndex` in leaf order, at most `limit` (start-up reads the ones not final yet). */
export const loadEntries = async (db: Q, fromIndex = 0, limit?: number): Promise<StoredEntry[]> => {
  const rows = await db
    .selectFrom('ledger_entries')
    .selectAll()
    .where('leaf_index', '>=', fromIndex)
    .orderBy('leaf_index')
    .$if(limit !== undefined, (q) => q.limit(limit!))
    .execute();
  return rows.map(toEntry);
};

/**
 * The Merkle frontier of the first `size` stored leaves, read in pages of `pageSize` hashes (keyset on
 * the primary key), so start-up memory stays flat however long the log is. Throws when a leaf is missing.
 */
export const frontierOfStoredLeaves = async (db: Q, size: number, pageSize = 10_000): Promise<MerkleFrontier> => {
  const frontier = MerkleFrontier.empty(nodeSha256);
  while (frontier.size < size) {
    const rows = await db
      .selectFrom('ledger_entries')
      .select(['leaf_index', 'entry_hash'])
      .where('leaf_index', '>=', frontier.size)
      .where('leaf_index', '<', size)
      .orderBy('leaf_index')
      .limit(pageSize)
      .execute();
    if (rows.length === 0) throw new Error(`stored leaf ${frontier.size} is missing (the final checkpoint covers ${size})`);
    for (const r of rows) {
      const hash = fromHex(r.entry_hash);
      if (Number(r.leaf_index) !== frontier.size || !hash || hash.length !== 32) throw new Error(`stored leaf ${frontier.size} is missing or unreadable`);
      frontier.append(hash);
    }
  }
  return frontier;
};

/** Leaf numbers, events and hashes only (the tamper watch reads them every few seconds). */
export const loadLeafHashes = async (db: Q): Promise<Array<Pick<StoredEntry, 'leafIndex' | 'eventId' | 'pollId' | 'entryHash'>>> => {
  const rows = await db.selectFrom('ledger_entries').select(['leaf_index', 'event_id', 'poll_id', 'entry_hash']).orderBy('leaf_index').execute();
  return rows.map((r) => ({ leafIndex: Number(r.leaf_index), eventId: r.event_id, pollId: r.poll_id, entryHash: r.entry_hash }));
};

/**
 * One digest per bucket of `bucketSize` consecutive leaves, over what the tamper watch compares (index,
 * event, poll, entry hash), computed by the database: a bucket whose digest did not move is unchanged.
 */
export const leafDigests = async (db: Q, bucketSize: number, range?: { from: number; to?: number }): Promise<Map<number, string>> => {
  const { rows } = await sql<{ b: string; d: string }>`
    SELECT (leaf_index / ${bucketSize}::bigint)::text AS b,
           count(*)::text || ':' || sum(hashtextextended(leaf_index::text || ':' || event_id || ':' || poll_id || ':' || entry_hash, 0))::text AS d
    FROM ledger_entries WHERE ${positionsIn('leaf_index', bucketSize, range)} GROUP BY 1`.execute(db);
  return new Map(rows.map((r) => [Number(r.b), r.d]));
};

/**
 * A leaf as the tamper watch compares it, with the length of its entry text in bytes (read from the
 * stored value's header, not the text): the watch reads the events of a few large leaves per round trip
 * (a sealed poll's opening entries are about 200 KB each) and of many small ones.
 */
export type LeafHash = Pick<StoredEntry, 'leafIndex' | 'eventId' | 'pollId' | 'entryHash'> & { entryBytes: number };
const entryBytes = sql<string | number>`octet_length(entry_text)`.as('entry_bytes');
/** A leaf's row as the loaders below select it. */
type LeafRow = { leaf_index: string | number; event_id: string; poll_id: string; entry_hash: string; entry_bytes: string | number };
const leafHashOf = (r: LeafRow): LeafHash => ({
  leafIndex: Number(r.leaf_index),
  eventId: r.event_id,
  pollId: r.poll_id,
  entryHash: r.entry_hash,
  entryBytes: Number(r.entry_bytes),
});

/** Primary-key ranges with constant bounds (see inBuckets). Exported for its query-plan spec. */
export const leavesInBucketsQuery = (bucketSize: number, buckets: readonly number[]) => sql<LeafRow>`
  SELECT leaf_index, event_id, poll_id, entry_hash, octet_length(entry_text) AS entry_bytes
  FROM ledger_entries WHERE ${inBuckets('leaf_index', bucketSize, buckets)} ORDER BY leaf_index`;

/** The leaves of these buckets (see leafDigests), for the tamper watch. */
export const loadLeafHashesInBuckets = async (
  db: Q,
  bucketSize: number,
  buckets: readonly number[],
): Promise<LeafHash[]> => {
  if (buckets.length === 0) return [];
  const { rows } = await leavesInBucketsQuery(bucketSize, buckets).execute(db);
  return rows.map(leafHashOf);
};

/** Leaf hashes from `fromIndex` in leaf order, at most `limit` (a primary-key range scan). */
export const loadLeafHashesFrom = async (db: Q, fromIndex: number, limit: number): Promise<LeafHash[]> => {
  const rows = await db
    .selectFrom('ledger_entries')
    .select(['leaf_index', 'event_id', 'poll_id', 'entry_hash', entryBytes])
    .where('leaf_index', '>=', fromIndex)
    .orderBy('leaf_index')
    .limit(limit)
    .execute();
  return rows.map(leafHashOf);
};

/**
 * The leaves at these indexes (primary-key look-ups) or of these events (the unique event_id index), as
 * stored now; one with no leaf is left out.
 */
export const loadLeafHashesBy = async (db: Q, column: 'leaf_index' | 'event_id', values: readonly (number | string)[]): Promise<LeafHash[]> => {
  if (values.length === 0) return [];
  const rows = await db
    .selectFrom('ledger_entries')
    .select(['leaf_index', 'event_id', 'poll_id', 'entry_hash', entryBytes])
    .where(column, 'in', [...values] as never)
    .orderBy('leaf_index')
    .execute();
  return rows.map(leafHashOf);
};

export const entryByTracker = async (db: Q, tracker: string): Promise<StoredEntry | null> => {
  const row = await db.selectFrom('ledger_entries').selectAll().where('tracker', '=', tracker).executeTakeFirst();
  return row ? toEntry(row) : null;
};

export const pollEntries = async (db: Q, pollId: string): Promise<StoredEntry[]> => {
  const rows = await db.selectFrom('ledger_entries').selectAll().where('poll_id', '=', pollId).orderBy('leaf_index').execute();
  return rows.map(toEntry);
};

/** A page of a poll's entry texts by leaf index: after `after`, below `below`, at most `limit` (index ledger_entries_poll). */
export const pollEntryTextsPage = async (db: Q, pollId: string, after: number, below: number, limit: number): Promise<{ leafIndex: number; entryText: string }[]> => {
  const rows = await db
    .selectFrom('ledger_entries')
    .select(['leaf_index', 'entry_text'])
    .where('poll_id', '=', pollId)
    .where('leaf_index', '>', after)
    .where('leaf_index', '<', below)
    .orderBy('leaf_index')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ leafIndex: Number(r.leaf_index), entryText: r.entry_text }));
};

/** The entry texts at these leaf indexes, in leaf order. */
export const entryTextsAt = async (db: Q, leafIndexes: readonly number[]): Promise<{ leafIndex: number; entryText: string }[]> => {
  if (leafIndexes.length === 0) return [];
  const rows = await db.selectFrom('ledger_entries').select(['leaf_index', 'entry_text']).where('leaf_index', 'in', [...leafIndexes]).orderBy('leaf_index').execute();
  return rows.map((r) => ({ leafIndex: Number(r.leaf_index), entryText: r.entry_text }));
};

export interface FinalCheckpoint {
  size: number;
  note: string;
  finalizedAt: Date;
}

export const lastFinalCheckpoint = async (db: Q): Promise<FinalCheckpoint | null> => {
  const r = await db.selectFrom('ledger_checkpoints').select(['size', 'note', 'finalized_at']).orderBy('size', 'desc').limit(1).executeTakeFirst();
  return r ? { size: Number(r.size), note: r.note, finalizedAt: new Date(r.finalized_at) } : null;
};

/**
 * Records a final checkpoint. The leaves it covers are anchored by that fact (leaf_index < size): no row
 * of theirs is touched, so a final round costs one insert however many leaves it made final.
 */
export const recordFinal = async (db: Q, size: number, note: string): Promise<void> => {
  await db.insertInto('ledger_checkpoints').values({ size, note }).onConflict((oc) => oc.column('size').doNothing()).execute();
};

/**
 * PollResultPublished leaves the node tallies have yet to verify: those in [from, to) (what new final
 * checkpoints added) and those of polls whose verification is still pending, below `to`. Both read
 * the partial indexes of migration 0008, so the cost follows published polls, never ballots.
 */
// Raw SQL: a UNION of two joins, each matching a partial index of migration 0008 as written.
export const publishedResultsToVerify = async (db: Q, from: number, to: number): Promise<Array<{ pollId: string; entryText: string; leafIndex: number }>> => {
  const { rows } = await sql<{ poll_id: string; entry_text: string; leaf_index: string | number }>`
    SELECT e.poll_id, e.entry_text, e.leaf_index FROM ledger_entries e LEFT JOIN poll_verification v ON v.poll_id = e.poll_id
    WHERE e.event_type = 'PollResultPublished' AND e.leaf_index >= ${from} AND e.leaf_index < ${to} AND (v.status IS NULL OR v.status = 'pending')
    UNION
    SELECT e.poll_id, e.entry_text, e.leaf_index FROM poll_verification v JOIN ledger_entries e ON e.poll_id = v.poll_id AND e.event_type = 'PollResultPublished'
    WHERE v.status = 'pending' AND e.leaf_index < ${to}
    ORDER BY leaf_index`.execute(db);
  return rows.map((r) => ({ pollId: r.poll_id, entryText: r.entry_text, leafIndex: Number(r.leaf_index) }));
};

/**
 * Sets a poll's verification. `failed` is sticky: once a poll failed, nothing but an operator (by hand,
 * after an investigation) may change it back.
 */
export const setVerification = async (
  db: Q,
  pollId: string,
  status: VerificationStatus,
  detail: string,
  tally?: { tally: unknown; size: number },
): Promise<void> => {
  const tallyJson = tally ? JSON.stringify(tally.tally) : null;
  const size = tally?.size ?? null;
  await db
    .insertInto('poll_verification')
    .values({ poll_id: pollId, status, detail, tally: tallyJson, tally_size: size })
    .onConflict((oc) =>
      oc
        .column('poll_id')
        .doUpdateSet((eb) => ({
          status: eb.ref('excluded.status'),
          detail: eb.ref('excluded.detail'),
          tally: eb.fn.coalesce('excluded.tally', 'poll_verification.tally'),
          tally_size: eb.fn.coalesce('excluded.tally_size', 'poll_verification.tally_size'),
          updated_at: sql<string>`now()`,
        }))
        .where('poll_verification.status', '<>', 'failed'),
    )
    .execute();
};

export interface VerificationRow {
  pollId: string;
  status: VerificationStatus;
  detail: string;
  tally: unknown;
  tallySize: number | null;
}

export const verificationRows = async (db: Q, status?: VerificationStatus): Promise<VerificationRow[]> => {
  const rows = await db
    .selectFrom('poll_verification')
    .select(['poll_id', 'status', 'detail', 'tally', 'tally_size'])
    .$if(status !== undefined, (q) => q.where('status', '=', status!))
    .execute();
  return rows.map((r) => ({ pollId: r.poll_id, status: r.status, detail: r.detail, tally: r.tally, tallySize: r.tally_size === null ? null : Number(r.tally_size) }));
};

export interface LedgerAlert {
  id: number;
  kind: string;
  pollId: string | null;
  leafIndex: number | null;
  eventId: string | null;
  message: string;
  raisedAt: Date;
}

/** Records an alert once per key; true when it is new (so the caller logs it once). */
export const raiseAlert = async (db: Q, alert: { key: string; kind: string; pollId?: string; leafIndex?: number; eventId?: string; message: string }): Promise<boolean> => {
  const inserted = await db
    .insertInto('ledger_alerts')
    .values({ alert_key: alert.key, kind: alert.kind, poll_id: alert.pollId ?? null, leaf_index: alert.leafIndex ?? null, event_id: alert.eventId ?? null, message: alert.message })
    .onConflict((oc) => oc.column('alert_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
};

export const listAlerts = async (db: Q, limit = 100): Promise<LedgerAlert[]> => {
  const rows = await db.selectFrom('ledger_alerts').selectAll().orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id), kind: r.kind, pollId: r.poll_id, leafIndex: r.leaf_index === null ? null : Number(r.leaf_index),
    eventId: r.event_id, message: r.message, raisedAt: new Date(r.raised_at),
  }));
};

/**
 * Takes a leaf that was never final out of the log and moves every later leaf down by one, in one
 * transaction. Only for leaves at or after the last final size (the anchoring service checks).
 */
export const dropLeaf = async (db: Q, index: number): Promise<void> => {
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('ledger_entries').where('leaf_index', '=', index).execute();
    // Two steps through negative numbers: the primary key is checked row by row, so a direct shift collides.
    // (The column reads as text or a number by driver; in SQL it is a bigint, hence the casts.)
    await trx.updateTable('ledger_entries').set((eb) => ({ leaf_index: eb.neg(eb.ref('leaf_index')).$castTo<number>() })).where('leaf_index', '>', index).execute();
    await trx.updateTable('ledger_entries').set((eb) => ({ leaf_index: eb(eb.neg(eb.ref('leaf_index')), '-', 1).$castTo<number>() })).where('leaf_index', '<', 0).execute();
  });
};
