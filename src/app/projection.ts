import type { RecordedEvent } from './eventStore.ts';

/**
 * A read-model projection: a pure fold of events into rows keyed by `keyOf`. Returning null from
 * evolve deletes the row. The runner (src/infra/projections/runner.ts) loads rows, applies evolve and
 * saves rows and its checkpoint in one transaction, so a redelivered batch changes nothing.
 */
export interface Projection<Row> {
  name: string;
  /** Event types this projection reads; others never reach evolve. */
  handles: readonly string[];
  /** The row an event belongs to, or null to ignore the event. */
  keyOf(event: RecordedEvent): string | null;
  evolve(row: Row | null, event: RecordedEvent): Row | null;
}
