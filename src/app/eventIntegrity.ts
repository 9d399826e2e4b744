import type { RecordedEvent } from './eventStore.ts';

/**
 * Integrity reads of stored events, for the tamper watch only (nothing on the command or query path
 * uses them): where stored events can be rewritten in place (PostgreSQL, PGlite), a version stamp per
 * row that changes when the row is rewritten (the row's xmin), digested per bucket of log positions by
 * the database, and the stored events by id. An event store whose events cannot be rewritten in place
 * has no adapter for this port.
 */
export interface EventIntegrity {
  /**
   * One digest per bucket of `bucketSize` consecutive log positions, over the ids and version stamps of
   * the events of `types` in it, as `count:sum` (the count of those events first). A bucket whose digest
   * did not move holds the same rows, unrewritten. With `range`, only buckets `from` up to (not
   * including) `to`, or all from `from` on.
   */
  versionDigests(types: readonly string[], bucketSize: number, range?: { from: number; to?: number }): Promise<Map<number, string>>;
  /** The ids and version stamps of the events of `types` in these buckets (primary-key range scans). */
  versionsInBuckets(types: readonly string[], bucketSize: number, buckets: readonly number[]): Promise<Array<{ id: string; version: string; bucket: number }>>;
  /** The version stamps of the stored events with these ids, by id (an id with no stored event is left out). */
  versionsById(ids: readonly string[]): Promise<Map<string, string>>;
  /** The stored events with these ids, in any order (an id with no stored event is left out). */
  eventsById(ids: readonly string[]): Promise<RecordedEvent[]>;
}

/** The count of events a `versionDigests` digest covers. */
export const digestCount = (digest: string | undefined): number => (digest === undefined ? 0 : Number(digest.slice(0, digest.indexOf(':'))));
