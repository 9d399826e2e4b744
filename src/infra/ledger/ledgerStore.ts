import { sql, type Kysely } from 'kysely';
import { inBucket, positionsIn } from '../db/buckets.ts';
import { fromHex } from '../../ledger/bytes.ts';
import { MerkleFrontier } from '../../ledger/merkle.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
import type { VerificationStatus } from '../readModels/pollVerification.ts';

/**
 * The ledger tables (migration 0005) as plain query functions taking `db | trx` first. Raw SQL because
 * the shared kysely schema (src/infra/db/schema.ts) does not list these tables.
 */
type Q = Kysely<any>;

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

interface EntryRow {
  leaf_index: string | number;
  event_id: string;
  poll_id: string;
  event_type: string;
  tracker: string | null;
  entry_hash: string;
  entry_text: string;
  committed_at: Date | string;
}

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
  const { rows } = await sql<{ checkpoint: string }>`SELECT checkpoint FROM ledger_anchor_checkpoint WHERE name = ${ANCHOR_CHECKPOINT_NAME}`.execute(db);
  return rows[0]?.checkpoint ?? null;
};

/** Stores new leaves and the subscription checkpoint in one transaction: no gap, no duplicate. */
export const appendEntries = async (db: Q, entries: StoredEntry[], checkpoint: string): Promise<void> => {
  await db.transaction().execute(async (trx) => {
    if (entries.length > 0) {
      await sql`
        INSERT INTO ledger_entries (leaf_index, event_id, poll_id, event_type, tracker, entry_hash, entry_text, committed_at)
        VALUES ${sql.join(entries.map((e) => sql`(${e.leafIndex}, ${e.eventId}, ${e.pollId}, ${e.eventType}, ${e.tracker}, ${e.entryHash}, ${e.entryText}, ${e.committedAt.toISOString()})`))}`.execute(trx);
    }
    await sql`
      INSERT INTO ledger_anchor_checkpoint (name, checkpoint) VALUES (${ANCHOR_CHECKPOINT_NAME}, ${checkpoint})
      ON CONFLICT (name) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = now()`.execute(trx);
  });
};

/** Stored leaves from `fromIndex` in leaf order, at most `limit` (start-up reads the ones not final yet). */
export const loadEntries = async (db: Q, fromIndex = 0, limit?: number): Promise<StoredEntry[]> => {
  const { rows } = await sql<EntryRow>`SELECT * FROM ledger_entries WHERE leaf_index >= ${fromIndex} ORDER BY leaf_index ${limit === undefined ? sql`` : sql`LIMIT ${limit}`}`.execute(db);
  return rows.map(toEntry);
};

/**
 * The Merkle frontier of the first `size` stored leaves, read in pages of `pageSize` hashes (keyset on
 * the primary key), so start-up memory stays flat however long the log is. Throws when a leaf is missing.
 */
export const frontierOfStoredLeaves = async (db: Q, size: number, pageSize = 10_000): Promise<MerkleFrontier> => {
  const frontier = MerkleFrontier.empty(nodeSha256);
  while (frontier.size < size) {
    const { rows } = await sql<{ leaf_index: string | number; entry_hash: string }>`
      SELECT leaf_index, entry_hash FROM ledger_entries WHERE leaf_index >= ${frontier.size} AND leaf_index < ${size}
      ORDER BY leaf_index LIMIT ${pageSize}`.execute(db);
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
  const { rows } = await sql<{ leaf_index: string | number; event_id: string; poll_id: string; entry_hash: string }>`
    SELECT leaf_index, event_id, poll_id, entry_hash FROM ledger_entries ORDER BY leaf_index`.execute(db);
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

/** The leaves of these buckets (see leafDigests), for the tamper watch. */
export const loadLeafHashesInBuckets = async (
  db: Q,
  bucketSize: number,
  buckets: readonly number[],
): Promise<Array<Pick<StoredEntry, 'leafIndex' | 'eventId' | 'pollId' | 'entryHash'>>> => {
  if (buckets.length === 0) return [];
  const { rows } = await sql<{ leaf_index: string | number; event_id: string; poll_id: string; entry_hash: string }>`
    SELECT e.leaf_index, e.event_id, e.poll_id, e.entry_hash FROM unnest(${[...buckets]}::bigint[]) AS k(b)
    CROSS JOIN LATERAL (SELECT * FROM ledger_entries WHERE ${inBucket('leaf_index', bucketSize, sql`k.b`)}) e
    ORDER BY e.leaf_index`.execute(db);
  return rows.map((r) => ({ leafIndex: Number(r.leaf_index), eventId: r.event_id, pollId: r.poll_id, entryHash: r.entry_hash }));
};

export const entryByTracker = async (db: Q, tracker: string): Promise<StoredEntry | null> => {
  const { rows } = await sql<EntryRow>`SELECT * FROM ledger_entries WHERE tracker = ${tracker}`.execute(db);
  return rows[0] ? toEntry(rows[0]) : null;
};

export const pollEntries = async (db: Q, pollId: string): Promise<StoredEntry[]> => {
  const { rows } = await sql<EntryRow>`SELECT * FROM ledger_entries WHERE poll_id = ${pollId} ORDER BY leaf_index`.execute(db);
  return rows.map(toEntry);
};

export interface FinalCheckpoint {
  size: number;
  note: string;
  finalizedAt: Date;
}

export const lastFinalCheckpoint = async (db: Q): Promise<FinalCheckpoint | null> => {
  const { rows } = await sql<{ size: string | number; note: string; finalized_at: Date | string }>`
    SELECT size, note, finalized_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1`.execute(db);
  const r = rows[0];
  return r ? { size: Number(r.size), note: r.note, finalizedAt: new Date(r.finalized_at) } : null;
};

/**
 * Records a final checkpoint. The leaves it covers are anchored by that fact (leaf_index < size): no row
 * of theirs is touched, so a final round costs one insert however many leaves it made final.
 */
export const recordFinal = async (db: Q, size: number, note: string): Promise<void> => {
  await sql`INSERT INTO ledger_checkpoints (size, note) VALUES (${size}, ${note}) ON CONFLICT (size) DO NOTHING`.execute(db);
};

/**
 * PollResultPublished leaves the node tallies have yet to verify: those in [from, to) (what new final
 * checkpoints added) and those of polls whose verification is still pending, below `to`. Both read
 * the partial indexes of migration 0008, so the cost follows published polls, never ballots.
 */
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
  await sql`
    INSERT INTO poll_verification (poll_id, status, detail, tally, tally_size) VALUES (${pollId}, ${status}, ${detail}, ${tallyJson}::jsonb, ${size})
    ON CONFLICT (poll_id) DO UPDATE SET status = excluded.status, detail = excluded.detail,
      tally = COALESCE(excluded.tally, poll_verification.tally), tally_size = COALESCE(excluded.tally_size, poll_verification.tally_size), updated_at = now()
    WHERE poll_verification.status <> 'failed'`.execute(db);
};

export interface VerificationRow {
  pollId: string;
  status: VerificationStatus;
  detail: string;
  tally: unknown;
  tallySize: number | null;
}

export const verificationRows = async (db: Q, status?: VerificationStatus): Promise<VerificationRow[]> => {
  const { rows } = await sql<{ poll_id: string; status: VerificationStatus; detail: string; tally: unknown; tally_size: string | number | null }>`
    SELECT poll_id, status, detail, tally, tally_size FROM poll_verification ${status ? sql`WHERE status = ${status}` : sql``}`.execute(db);
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
  const { rows } = await sql<{ id: string }>`
    INSERT INTO ledger_alerts (alert_key, kind, poll_id, leaf_index, event_id, message)
    VALUES (${alert.key}, ${alert.kind}, ${alert.pollId ?? null}, ${alert.leafIndex ?? null}, ${alert.eventId ?? null}, ${alert.message})
    ON CONFLICT (alert_key) DO NOTHING RETURNING id`.execute(db);
  return rows.length > 0;
};

export const listAlerts = async (db: Q, limit = 100): Promise<LedgerAlert[]> => {
  const { rows } = await sql<{ id: string; kind: string; poll_id: string | null; leaf_index: string | null; event_id: string | null; message: string; raised_at: Date | string }>`
    SELECT * FROM ledger_alerts ORDER BY id DESC LIMIT ${limit}`.execute(db);
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
    await sql`DELETE FROM ledger_entries WHERE leaf_index = ${index}`.execute(trx);
    // Two steps through negative numbers: the primary key is checked row by row, so a direct shift collides.
    await sql`UPDATE ledger_entries SET leaf_index = -leaf_index WHERE leaf_index > ${index}`.execute(trx);
    await sql`UPDATE ledger_entries SET leaf_index = -leaf_index - 1 WHERE leaf_index < 0`.execute(trx);
  });
};
