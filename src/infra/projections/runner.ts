import { sql, type Kysely, type Transaction } from 'kysely';
import { compareCheckpoints, hasReached, type EventStore, type RecordedEvent, type Subscription } from '../../app/eventStore.ts';
import { readAllCommitted } from '../../app/readAllCommitted.ts';
import { handledBy, type Projection } from '../../app/projection.ts';
import { asAppEvent, type AppEventType, type RecordedAppEvent } from '../../app/events.ts';
import type { Database } from '../db/schema.ts';
import type { Logger } from '../logger.ts';

/** Where a projection's rows live: the table-specific half of a projection, written per read model. */
export interface RowStore<Row> {
  load(trx: Transaction<Database>, keys: string[]): Promise<Map<string, Row>>;
  /**
   * Writes the rows the batch changed (null: delete the row). `before` holds the same keys' rows as
   * they were loaded before the batch (absent: no row), for stores that keep increments beside rows.
   */
  save(trx: Transaction<Database>, rows: Map<string, Row | null>, before: ReadonlyMap<string, Row>): Promise<void>;
  /** Empties the read model, for rebuilds. */
  clear(trx: Transaction<Database>): Promise<void>;
}

export interface ReadModel<Row, Handled extends AppEventType = AppEventType> {
  projection: Projection<Row, Handled>;
  store: RowStore<Row>;
}

/**
 * Read models of different rows and event types side by side, as the runner holds them: each one's
 * projection is typed where it is written; the runner only passes it the events it handles.
 */
export type AnyReadModel = ReadModel<any, any>;

/** A read model: a projection and the store of its rows (the row types must match). */
export const readModel = <Row, Handled extends AppEventType>(projection: Projection<Row, Handled>, store: RowStore<Row>): ReadModel<Row, Handled> => ({ projection, store });

export const CHECKPOINT_NAME = 'read-models';
/** pg_advisory_xact_lock key of the read-model runner (any constant unique within the app). */
const PROJECTION_LOCK_KEY = 7_401_001;

/** Applies one batch of events to every read model, with the checkpoint, in one transaction. */
export const applyBatch = async (db: Kysely<Database>, readModels: AnyReadModel[], batch: RecordedEvent[]): Promise<void> => {
  if (batch.length === 0) return;
  await db.transaction().execute(async (trx) => {
    // Every app instance runs a runner on the shared database: batches apply one at a time and skip
    // what the stored checkpoint has passed, so two runners never count an event twice.
    // Raw SQL: a function call with no table, which the query builder has no statement for.
    await sql`SELECT pg_advisory_xact_lock(${PROJECTION_LOCK_KEY})`.execute(trx);
    const stored = await readCheckpoint(trx);
    const events = stored === null ? batch : batch.filter((e) => compareCheckpoints(e.checkpoint, stored) > 0);
    if (events.length === 0) return;
    for (const { projection, store } of readModels) {
      const handled = events.map(asAppEvent).filter((e) => handledBy(projection, e));
      const keyed = handled.map((e) => [projection.keyOf(e), e] as const).filter((pair): pair is readonly [string, RecordedAppEvent] => pair[0] !== null);
      if (keyed.length === 0) continue;
      const rows: Map<string, any> = await store.load(trx, [...new Set(keyed.map(([k]) => k))]);
      const before = new Map(rows);
      const changed = new Map<string, any>();
      for (const [key, event] of keyed) {
        const next = projection.evolve(rows.get(key) ?? null, event);
        rows.set(key, next);
        changed.set(key, next);
      }
      await store.save(trx, changed, before);
    }
    const checkpoint = events[events.length - 1]!.checkpoint;
    await trx
      .insertInto('projection_checkpoints')
      .values({ projection: CHECKPOINT_NAME, checkpoint })
      .onConflict((oc) => oc.column('projection').doUpdateSet({ checkpoint, updated_at: sql`now()` }))
      .execute();
  });
};

export const readCheckpoint = async (db: Kysely<Database>): Promise<string | null> => {
  const row = await db.selectFrom('projection_checkpoints').select('checkpoint').where('projection', '=', CHECKPOINT_NAME).executeTakeFirst();
  return row?.checkpoint ?? null;
};

export interface ProjectionRunner {
  readonly caughtUp: Promise<void>;
  /** Milliseconds from an event's commit to its projection, for the last batch. */
  lagMs(): number;
  /** The checkpoint of the last event projected: read models change only when it does. */
  checkpoint(): string | null;
  /** Resolves when every event appended before the call is projected (for tests and read-your-writes). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** Default pause between the starts of two batches: see startProjectionRunner. */
export const MIN_BATCH_INTERVAL_MS = 50;

/**
 * Runs every read model off one catch-up subscription, resuming from the stored checkpoint.
 *
 * A batch costs about fourteen statements whatever its size (a load and a save per read model, the
 * checkpoint, the read). Under a steady 500 ballots/s, batching by itself gave batches of ~4 events
 * (3 statements per ballot); so after a batch the runner waits until `minBatchIntervalMs` have passed
 * since it started: events that arrive meanwhile go in the next batch. The lag this adds is at most
 * that interval; a backlog (a full batch) is read without pausing.
 */
export const startProjectionRunner = async (deps: {
  db: Kysely<Database>;
  eventStore: EventStore;
  readModels: AnyReadModel[];
  logger: Logger;
  minBatchIntervalMs?: number;
}): Promise<ProjectionRunner> => {
  const from = await readCheckpoint(deps.db);
  const minInterval = deps.minBatchIntervalMs ?? MIN_BATCH_INTERVAL_MS;
  let lastLag = 0;
  let lastCheckpoint = from;
  let stopping = false;
  const subscription: Subscription = deps.eventStore.subscribeAll(from, async (batch) => {
    const started = Date.now();
    await applyBatch(deps.db, deps.readModels, batch);
    const last = batch[batch.length - 1]!;
    lastCheckpoint = last.checkpoint;
    lastLag = Date.now() - last.recordedAt.getTime();
    const wait = minInterval - (Date.now() - started);
    if (wait > 0 && batch.length < FULL_BATCH && !stopping) await new Promise((r) => setTimeout(r, wait));
  });
  return {
    caughtUp: subscription.caughtUp,
    lagMs: () => lastLag,
    checkpoint: () => lastCheckpoint,
    settled: async () => {
      // Wait until the runner passed the newest event committed now. Asking "is anything left to read?"
      // is not enough on a shared PostgreSQL server: readAll holds back everything behind the oldest
      // running transaction of the whole cluster, so it can look empty while events wait.
      const target = await deps.eventStore.headCheckpoint();
      for (let i = 0; i < 1200; i++) {
        if (hasReached(lastCheckpoint, target)) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('projections did not settle within 30 s');
    },
    stop: () => {
      stopping = true;
      return subscription.stop();
    },
  };
};

/** The catch-up subscription's batch size: a batch this full means a backlog, read on at once. */
const FULL_BATCH = 500;

/** Clears every read model and replays all events into them (npm run projections:rebuild). */
export const rebuildReadModels = async (db: Kysely<Database>, eventStore: EventStore, readModels: AnyReadModel[]): Promise<number> => {
  await db.transaction().execute(async (trx) => {
    for (const { store } of readModels) await store.clear(trx);
    await trx.deleteFrom('projection_checkpoints').where('projection', '=', CHECKPOINT_NAME).execute();
  });
  let count = 0;
  await readAllCommitted(eventStore, async (batch) => {
    await applyBatch(db, readModels, batch);
    count += batch.length;
  });
  return count;
};
