import type { AppEventType, RecordedAppEvent } from './events.ts';

/**
 * A read-model projection: a pure fold of events into rows keyed by `keyOf`. Returning null from
 * evolve deletes the row. The runner (src/infra/projections/runner.ts) loads rows, applies evolve and
 * saves rows and its checkpoint in one transaction, so a redelivered batch changes nothing.
 *
 * `Handled` is the union of event types the projection reads: `keyOf` and `evolve` see exactly those
 * events, typed as their deciders define them.
 */
export interface Projection<Row, Handled extends AppEventType = AppEventType> {
  name: string;
  /** Event types this projection reads; others never reach evolve. */
  handles: readonly Handled[];
  /** The row an event belongs to, or null to ignore the event. */
  keyOf(event: RecordedAppEvent<Handled>): string | null;
  evolve(row: Row | null, event: RecordedAppEvent<Handled>): Row | null;
}

/** Whether a projection reads an event of this type (narrows the event to what it handles). */
export const handledBy = <Handled extends AppEventType>(
  projection: Pick<Projection<unknown, Handled>, 'handles'>,
  event: RecordedAppEvent,
): event is RecordedAppEvent<Handled> => (projection.handles as readonly string[]).includes(event.type);
