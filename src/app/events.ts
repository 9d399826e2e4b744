/**
 * Every event the app records, as its deciders define them: the one union that projections, the ledger's
 * entry mapping and the command handler read stored events as. Renaming a field in a decider's event type
 * then fails to compile wherever the field is read (src/app/events.spec.ts proves it).
 *
 * The event store itself stays untyped (its contract suite stores arbitrary events); `asAppEvent` is the
 * one place a stored event is taken to be what its type says, because only this app writes these streams
 * and only through its deciders.
 */
import type { BallotEvent } from '../domain/ballot.ts';
import type { CitizenEvent, PhoneEvent } from '../domain/citizen.ts';
import type { CommentEvent } from '../domain/comment.ts';
import type { OrganisationEvent } from '../domain/organisation.ts';
import type { PollEvent } from '../domain/poll.ts';
import type { RecordedEvent } from './eventStore.ts';
import type { SealedOpeningEvent } from './polls/sealedOpening.ts';

export type AppEvent = PollEvent | BallotEvent | CitizenEvent | PhoneEvent | CommentEvent | OrganisationEvent | SealedOpeningEvent;
export type AppEventType = AppEvent['type'];
/** The event of one type (or of a union of types). */
export type EventOf<T extends AppEventType> = Extract<AppEvent, { type: T }>;
/** The data of the event of one type. */
export type DataOf<T extends AppEventType> = EventOf<T>['data'];

/** A stored event read as one of the app's events: the store's fields with the decider's type and data. */
export type RecordedAppEvent<T extends AppEventType = AppEventType> = Omit<RecordedEvent, 'type' | 'data'> & EventOf<T>;

/** Reads a stored event as the app event its type names (see the file comment for why this may cast). */
export const asAppEvent = (event: RecordedEvent): RecordedAppEvent => event as unknown as RecordedAppEvent;

/** The decider events of a stream, for folding into its state. */
export const decidedEvents = <E extends AppEvent>(recorded: readonly RecordedEvent[]): E[] =>
  recorded.map((e) => ({ type: e.type, data: e.data }) as unknown as E);
