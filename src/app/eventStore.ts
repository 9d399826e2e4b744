/**
 * The event store port. Two adapters implement it (PostgreSQL/PGlite and EventStoreDB) and pass one
 * contract suite (src/infra/eventStore/contract.ts).
 *
 * Stream revisions start at 0 for the first event, as in EventStoreDB. Global order is given by an
 * opaque, totally ordered checkpoint string that a reader may store and resume from.
 */
export type ExpectedRevision = 'no_stream' | 'exists' | 'any' | bigint;

export interface NewEvent {
  type: string;
  data: Record<string, unknown>;
  /** Correlation, causation, actor: never personal data. */
  metadata?: Record<string, unknown>;
  /** A UUID chosen by the caller; the adapter makes one when absent. */
  id?: string;
}

export interface RecordedEvent {
  id: string;
  streamId: string;
  streamRevision: bigint;
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  recordedAt: Date;
  /** Opaque global position; compare only through the adapter. */
  checkpoint: string;
}

export interface AppendResult {
  /** The revision of the last event appended: pass it as `expected` to append again. */
  nextExpectedRevision: bigint;
}

export interface AppendRequest {
  streamId: string;
  events: NewEvent[];
  expected: ExpectedRevision;
}

export type AppendToStream = (streamId: string, events: NewEvent[], expected: ExpectedRevision) => Promise<AppendResult>;

/** Reads one stream in order. An absent stream reads as []. */
export type ReadStream = (streamId: string) => Promise<RecordedEvent[]>;

/**
 * Reads up to `limit` events after `checkpoint` (null: from the start) in global order, never returning
 * an event that a later call could place before one already returned (no skips, no repeats).
 */
export type ReadAll = (after: string | null, limit: number) => Promise<RecordedEvent[]>;

export interface Subscription {
  /** Resolves once the subscription has caught up with everything committed when it started. */
  readonly caughtUp: Promise<void>;
  stop(): Promise<void>;
}

export type SubscriptionHandler = (events: RecordedEvent[]) => Promise<void>;

/** A catch-up subscription over all events, delivered in batches, in order, each exactly once. */
export type SubscribeAll = (from: string | null, handler: SubscriptionHandler) => Subscription;

export interface EventStore {
  append: AppendToStream;
  /**
   * The checkpoint of the last event committed now (null: no events). A reader that has passed it has
   * seen every event committed before the call, whatever order transactions commit in.
   */
  headCheckpoint(): Promise<string | null>;
  /**
   * Appends to many streams in one durable transaction where the adapter can (group commit); each
   * request succeeds or fails on its own. Adapters without multi-stream transactions append one by one.
   */
  appendMany(requests: AppendRequest[]): Promise<Array<AppendResult | StreamConflictError>>;
  readStream: ReadStream;
  readAll: ReadAll;
  subscribeAll: SubscribeAll;
  close(): Promise<void>;
}

/** Thrown (or returned by appendMany) when the expected revision does not hold. */
export class StreamConflictError extends Error {
  readonly code = 'stream-conflict';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | 'no_stream',
  ) {
    super(`Stream ${streamId}: expected ${String(expected)}, found ${String(actual)}`);
    this.name = 'StreamConflictError';
  }
}

/** The category of a stream: the text before its first '-'. */
export const categoryOf = (streamId: string): string => {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
};

/**
 * Orders two checkpoints. Both adapters write checkpoints as two decimal numbers `a:b` compared as a
 * pair: (transaction id, position) for PostgreSQL, (commit, prepare) for EventStoreDB.
 */
export const compareCheckpoints = (a: string, b: string): number => {
  const [a1, a2] = a.split(':').map(BigInt) as [bigint, bigint];
  const [b1, b2] = b.split(':').map(BigInt) as [bigint, bigint];
  return a1 !== b1 ? (a1 < b1 ? -1 : 1) : a2 === b2 ? 0 : a2 < b2 ? -1 : 1;
};

/** Whether a reader at `checkpoint` has passed `head` (from headCheckpoint; null: there was nothing). */
export const hasReached = (checkpoint: string | null, head: string | null): boolean =>
  head === null || (checkpoint !== null && compareCheckpoints(checkpoint, head) >= 0);
