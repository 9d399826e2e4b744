import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { sql, type Kysely, type Transaction } from 'kysely';
import {
  StreamConflictError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type NewEvent,
  type RecordedEvent,
  type SubscriptionHandler,
} from '../../app/eventStore.ts';
import type { Db } from '../db/connect.ts';
import type { Database } from '../db/schema.ts';
import { catchUpSubscription, sharedReads } from './catchUpSubscription.ts';

/**
 * Raw SQL throughout: checkpoints are xid8 transaction ids compared with the snapshot horizon
 * (pg_snapshot_xmin) and batches go in through unnest arrays in one statement; neither has a query-builder
 * form. The tamper watch's reads (xmin digests) are in postgresEventIntegrity.ts. The table is typed in ./tables.ts.
 */
export interface EventRow {
  id: string;
  stream_id: string;
  stream_revision: string;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recorded_at: Date | string;
  transaction_id: string;
  global_position: string;
}

/** The columns of an EventRow, in the form toRecorded reads (revision and checkpoint parts as text). */
export const EVENT_COLUMNS = sql`id, stream_id, stream_revision::text, type, data, metadata, recorded_at, transaction_id::text, global_position::text`;

export const toRecorded = (row: EventRow): RecordedEvent => ({
  id: row.id,
  streamId: row.stream_id,
  streamRevision: BigInt(row.stream_revision),
  type: row.type,
  data: row.data,
  metadata: row.metadata ?? {},
  recordedAt: new Date(row.recorded_at),
  checkpoint: `${row.transaction_id}:${row.global_position}`,
});

const parseCheckpoint = (checkpoint: string): [string, string] => {
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) throw new Error(`not a PostgreSQL event store checkpoint: ${checkpoint}`);
  return [match[1]!, match[2]!];
};

const uniqueViolation = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';

type Outcome = AppendResult | StreamConflictError;

/**
 * Checks each request against the streams' current revisions (requests to the same stream in one batch
 * see each other) and returns the rows to insert for the requests that hold.
 */
const planBatch = (requests: AppendRequest[], current: Map<string, bigint>) => {
  const outcomes: Outcome[] = [];
  const rows: Array<{ id: string; stream_id: string; stream_revision: string; type: string; data: string; metadata: string }> = [];
  for (const request of requests) {
    const actual = current.get(request.streamId);
    const { expected } = request;
    const holds =
      expected === 'any' ||
      (expected === 'no_stream' && actual === undefined) ||
      (expected === 'exists' && actual !== undefined) ||
      (typeof expected === 'bigint' && actual === expected);
    if (!holds) {
      outcomes.push(new StreamConflictError(request.streamId, expected, actual ?? 'no_stream'));
      continue;
    }
    let revision = actual ?? -1n;
    for (const event of request.events) {
      revision += 1n;
      rows.push(toRow(request.streamId, revision, event));
    }
    current.set(request.streamId, revision);
    outcomes.push({ nextExpectedRevision: revision });
  }
  return { outcomes, rows };
};

const toRow = (streamId: string, revision: bigint, event: NewEvent) => ({
  id: event.id ?? randomUUID(),
  stream_id: streamId,
  stream_revision: revision.toString(),
  type: event.type,
  data: JSON.stringify(event.data),
  metadata: JSON.stringify(event.metadata ?? {}),
});

/**
 * A stream's current revision (NULL: no stream), as a sub-query per stream: always the newest entry of
 * the (stream_id, stream_revision) index. A `stream_id = ANY(...) GROUP BY` over the batch let the
 * planner choose: on statistics taken before a vote (few streams then, each with many events) it
 * estimated ~390,000 matching rows for 76 new ballot streams and scanned the whole log, in the cast path
 * (BENCHMARKS.md, issue 14).
 */
const streamRevision = (streamId: ReturnType<typeof sql>) =>
  sql`(SELECT max(e.stream_revision) FROM events e WHERE e.stream_id = ${streamId})`;

/**
 * The one statement of appendMany's common batch (see writeOneStatement): the revision check in a CTE,
 * the INSERT of the rows of the requests whose check holds, one row per request back. Exported for its
 * query-plan spec.
 */
export const appendBatchStatement = (requests: AppendRequest[]) => {
  const kinds = requests.map((r) => (typeof r.expected === 'bigint' ? 'revision' : r.expected));
  const expectedRevisions = requests.map((r) => (typeof r.expected === 'bigint' ? r.expected.toString() : null));
  const ev = { ids: [] as string[], request: [] as number[], n: [] as number[], types: [] as string[], data: [] as string[], metadata: [] as string[] };
  requests.forEach((request, i) =>
    request.events.forEach((event, n) => {
      ev.ids.push(event.id ?? randomUUID());
      ev.request.push(i);
      ev.n.push(n);
      ev.types.push(event.type);
      ev.data.push(JSON.stringify(event.data));
      ev.metadata.push(JSON.stringify(event.metadata ?? {}));
    }),
  );
  return sql<{ i: number; revision: string | null; holds: boolean }>`
    WITH req AS (
      SELECT * FROM unnest(${requests.map((r) => r.streamId)}::text[], ${kinds}::text[], ${expectedRevisions}::bigint[])
        WITH ORDINALITY AS r(stream_id, kind, expected, i)
    ), cur AS (
      SELECT req.stream_id, ${streamRevision(sql`req.stream_id`)} AS revision FROM req
    ), ok AS (
      SELECT req.i, req.stream_id, cur.revision FROM req LEFT JOIN cur USING (stream_id)
      WHERE req.kind = 'any' OR (req.kind = 'no_stream' AND cur.revision IS NULL)
         OR (req.kind = 'exists' AND cur.revision IS NOT NULL) OR (req.kind = 'revision' AND cur.revision = req.expected)
    ), ins AS (
      INSERT INTO events (id, stream_id, stream_revision, type, data, metadata)
      SELECT e.id, ok.stream_id, coalesce(ok.revision, -1) + e.n + 1, e.type, e.data, e.metadata
      FROM unnest(${ev.ids}::uuid[], ${ev.request}::int[], ${ev.n}::int[], ${ev.types}::text[], ${ev.data}::jsonb[], ${ev.metadata}::jsonb[])
        AS e(id, request, n, type, data, metadata)
      JOIN ok ON ok.i = e.request + 1
      ORDER BY e.request, e.n
      RETURNING 1
    )
    SELECT req.i::int AS i, cur.revision::text AS revision, ok.i IS NOT NULL AS holds
    FROM req LEFT JOIN cur USING (stream_id) LEFT JOIN ok USING (i)`;
};

/**
 * Event store on PostgreSQL or PGlite (same SQL). appendMany writes a whole batch at once: one statement
 * when every request is to a different stream (the revision check in a CTE), else one transaction (read
 * the streams' revisions, one multi-row INSERT). A unique violation means another
 * writer raced us on some stream; the batch is then retried request by request, so each request still
 * gets its own honest outcome and no request is half-written.
 */
export const createPostgresEventStore = (db: Db, options: { pollIntervalMs?: number; wakeEveryMs?: number } = {}): EventStore => {
  const kysely = db.kysely;
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  // Subscribers (projections, anchoring) are woken at once after a quiet spell, then at most every
  // `wakeEveryMs` while appends keep coming: each wake costs every subscriber a read and a batch of
  // statements, and under a steady 500 ballots/s a wake per append meant batches of one or two events.
  const wakeEveryMs = options.wakeEveryMs ?? 50;
  let lastWake = 0;
  let wakeTimer: NodeJS.Timeout | undefined;
  const wake = () => {
    if (wakeTimer) return;
    const due = lastWake + wakeEveryMs - Date.now();
    const fire = () => {
      wakeTimer = undefined;
      lastWake = Date.now();
      appended.emit('appended');
    };
    if (due <= 0) fire();
    else wakeTimer = setTimeout(fire, due);
  };

  const writeBatch = async (trx: Transaction<Database>, requests: AppendRequest[]) => {
    const streamIds = [...new Set(requests.map((r) => r.streamId))];
    const { rows: revisions } = await sql<{ stream_id: string; revision: string | null }>`
      SELECT s.stream_id, ${streamRevision(sql`s.stream_id`)}::text AS revision FROM unnest(${streamIds}::text[]) AS s(stream_id)`.execute(trx);
    const current = new Map(revisions.flatMap((r) => (r.revision === null ? [] : [[r.stream_id, BigInt(r.revision)] as const])));
    const plan = planBatch(requests, current);
    if (plan.rows.length > 0) {
      // One INSERT through unnest keeps the parameter count constant whatever the batch size.
      await sql`
        INSERT INTO events (id, stream_id, stream_revision, type, data, metadata)
        SELECT * FROM unnest(
          ${plan.rows.map((r) => r.id)}::uuid[], ${plan.rows.map((r) => r.stream_id)}::text[],
          ${plan.rows.map((r) => r.stream_revision)}::bigint[], ${plan.rows.map((r) => r.type)}::text[],
          ${plan.rows.map((r) => r.data)}::jsonb[], ${plan.rows.map((r) => r.metadata)}::jsonb[])`.execute(trx);
    }
    return plan.outcomes;
  };

  /**
   * The common batch (every request to a different stream, each with events) in ONE statement, without
   * BEGIN/COMMIT: the revision check runs in a CTE and the INSERT takes only the rows of requests whose
   * check holds. A single statement is atomic on its own, so no request is half-written; a racing writer
   * still ends in a unique violation, handled like the transaction's. Saves three round trips a batch.
   */
  const writeOneStatement = async (requests: AppendRequest[]): Promise<Outcome[]> => {
    const { rows } = await appendBatchStatement(requests).execute(kysely);
    const byIndex = new Map(rows.map((r) => [Number(r.i) - 1, r]));
    return requests.map((request, i) => {
      const row = byIndex.get(i)!;
      const actual = row.revision === null ? undefined : BigInt(row.revision);
      if (!row.holds) return new StreamConflictError(request.streamId, request.expected, actual ?? 'no_stream');
      return { nextExpectedRevision: (actual ?? -1n) + BigInt(request.events.length) };
    });
  };

  const oneStatementFits = (requests: AppendRequest[]) =>
    requests.every((r) => r.events.length > 0) && new Set(requests.map((r) => r.streamId)).size === requests.length;

  /**
   * On a unique violation (another writer raced us) every request is retried alone: the re-read then
   * sees the winner, so no_stream and exact revisions fail honestly and 'any'/'exists' succeed.
   */
  const appendMany = async (requests: AppendRequest[], attempt = 0): Promise<Outcome[]> => {
    if (requests.length === 0) return [];
    let outcomes: Outcome[];
    try {
      outcomes = oneStatementFits(requests) ? await writeOneStatement(requests) : await kysely.transaction().execute((trx) => writeBatch(trx, requests));
    } catch (error) {
      if (!uniqueViolation(error) || attempt >= 5) throw error;
      outcomes = [];
      for (const request of requests) outcomes.push(...(await appendMany([request], attempt + 1)));
      return outcomes;
    }
    if (outcomes.some((o) => !(o instanceof StreamConflictError))) wake();
    return outcomes;
  };

  const readAll = async (after: string | null, limit: number): Promise<RecordedEvent[]> => {
    const [tx, position] = after ? parseCheckpoint(after) : ['0', '0'];
    // Only transactions older than every running one are read: a later commit with a smaller position
    // can then never appear behind a checkpoint we have handed out.
    const { rows } = await sql<EventRow>`
      SELECT ${EVENT_COLUMNS}
      FROM events
      WHERE (transaction_id, global_position) > (${tx}::xid8, ${position}::bigint)
        AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      ORDER BY events.transaction_id, events.global_position
      LIMIT ${limit}`.execute(kysely);
    return rows.map(toRecorded);
  };
  // The read models and the anchoring service follow the log in step: one read serves both.
  const subscriptionReads = sharedReads(readAll);

  return {
    appendMany: (requests) => appendMany(requests),
    append: async (streamId, events, expected) => {
      const [outcome] = await appendMany([{ streamId, events, expected }]);
      if (outcome instanceof StreamConflictError) throw outcome;
      return outcome!;
    },
    readStream: async (streamId) => {
      const { rows } = await sql<EventRow>`
        SELECT ${EVENT_COLUMNS}
        FROM events WHERE stream_id = ${streamId} ORDER BY events.stream_revision`.execute(kysely);
      return rows.map(toRecorded);
    },
    readAll,
    headCheckpoint: async () => {
      const { rows } = await sql<{ transaction_id: string; global_position: string }>`
        SELECT transaction_id::text, global_position::text FROM events
        ORDER BY events.transaction_id DESC, events.global_position DESC LIMIT 1`.execute(kysely);
      return rows[0] ? `${rows[0].transaction_id}:${rows[0].global_position}` : null;
    },
    subscribeAll: (from: string | null, handler: SubscriptionHandler) =>
      catchUpSubscription({ readAll: subscriptionReads(), from, handler, wake: appended, pollIntervalMs: options.pollIntervalMs ?? 100 }),
    close: async () => {
      clearTimeout(wakeTimer);
      appended.removeAllListeners();
    },
  };
};
