/**
 * Which events reach the ledger and what exactly each one says there. Pure: the anchoring service maps
 * every recorded event through `ledgerEntryOf`, and the tamper watch maps them again to re-derive the
 * leaf hashes, so both must get the same bytes from the same event.
 *
 * No personal data may leave through here. The mapping is a whitelist per event type: only the fields
 * named below are copied, actors are cut down to their kind (and an official's organisation), and the
 * event metadata (which holds the citizen id of a ballot) is never read.
 */
import type { RecordedEvent } from '../eventStore.ts';
import type { AppEventType, DataOf } from '../events.ts';
import type { SealedOpeningEvent } from '../polls/sealedOpening.ts';
import type { Actor, PollEvent, SystemActor } from '../../domain/poll.ts';
import { canonicalJsonBytes, type LedgerEntry } from '../../ledger/entry.ts';
import { fromUtf8 } from '../../ledger/bytes.ts';

/** An actor as the ledger shows it: who kind of party acted, never which person. */
export type LedgerActor = { kind: 'citizen' } | { kind: 'system' } | { kind: 'official'; orgId: string };

/** The data fields of an event whose values are of type V. */
type FieldsOfType<D, V> = { [K in keyof D]-?: D[K] extends V ? K : never }[keyof D];

/**
 * Poll events the ledger receives. VoterRollChunkAdded is left out on purpose: its entries are keyed
 * hashes of phone numbers, and a published hash of a phone number can be brute-forced over the small
 * space of numbers whenever the key leaks. The nodes do not need the roll (they cannot check it anyway).
 */
type AnchoredPollEventType = Exclude<PollEvent['type'], 'VoterRollChunkAdded' | 'VoterExclusionChunkAdded'> | SealedOpeningEvent['type'];

/** What the ledger takes from one poll event type; field names are checked against the decider's event. */
interface PollEventShape<T extends AnchoredPollEventType> {
  /** Data fields copied as they are. */
  fields: readonly (keyof DataOf<T>)[];
  /** The data field holding the instant that becomes `at`. */
  at: FieldsOfType<DataOf<T>, string>;
  /** The data field holding an actor, copied as a LedgerActor. */
  actor?: FieldsOfType<DataOf<T>, Actor | SystemActor>;
}

/** Every anchored poll event type must be listed: a new poll event fails to compile until it is. */
const POLL_EVENTS: { [T in AnchoredPollEventType]: PollEventShape<T> } = {
  PollCreated: { fields: ['pollId', 'definition', 'createdAt'], at: 'createdAt', actor: 'createdBy' },
  PollDraftUpdated: { fields: ['pollId', 'definition', 'updatedAt'], at: 'updatedAt', actor: 'updatedBy' },
  PollScheduled: { fields: ['pollId', 'opensAt', 'closesAt', 'scheduledAt'], at: 'scheduledAt', actor: 'scheduledBy' },
  PollOpened: { fields: ['pollId', 'openedAt'], at: 'openedAt', actor: 'openedBy' },
  PollClosed: { fields: ['pollId', 'closedAt'], at: 'closedAt', actor: 'closedBy' },
  PollResultPublished: { fields: ['pollId', 'result', 'publishedAt'], at: 'publishedAt', actor: 'publishedBy' },
  PollReflectionPosted: { fields: ['pollId', 'reflection', 'postedAt'], at: 'postedAt', actor: 'postedBy' },
  PollReflectionUpdated: { fields: ['pollId', 'reflection', 'updatedAt'], at: 'updatedAt', actor: 'updatedBy' },
  OnSitePlaceSet: { fields: ['pollId', 'place', 'setAt'], at: 'setAt' },
  // A batch of a sealed poll's opening (src/ledger/sealedOpening.ts): choices only after close.
  SealedBallotsOpened: { fields: ['pollId', 'keyId', 'size', 'batch', 'total', 'openings', 'shares', 'openedAt'], at: 'openedAt' },
};

const isAnchoredPollEventType = (type: string): type is AnchoredPollEventType => Object.hasOwn(POLL_EVENTS, type);

/** Ballot fields the nodes need to check and tally a ballot; `BALLOT_AT` becomes `at`. */
const BALLOT_FIELDS = ['voterTag', 'ballotId', 'selections', 'sealed', 'salt', 'tracker', 'replaces'] as const satisfies readonly (keyof DataOf<'BallotCast'>)[];
const BALLOT_AT = 'castAt' satisfies FieldsOfType<DataOf<'BallotCast'>, string>;

/** Event types that become ledger entries. */
export const ANCHORED_EVENT_TYPES: readonly AppEventType[] = [...(Object.keys(POLL_EVENTS) as AnchoredPollEventType[]), 'BallotCast'];

/** Cuts an actor down to what the ledger may show. Unknown shapes become `system` only if they say so. */
export function ledgerActorOf(actor: unknown): LedgerActor {
  const a = (typeof actor === 'object' && actor !== null ? actor : {}) as { kind?: unknown; orgId?: unknown };
  if (a.kind === 'official' && typeof a.orgId === 'string') return { kind: 'official', orgId: a.orgId };
  if (a.kind === 'system') return { kind: 'system' };
  return { kind: 'citizen' };
}

function pick(data: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (data[f] !== undefined) out[f] = data[f];
  return out;
}

/**
 * The ledger entry of a recorded event, or null when the event is not anchored (other categories,
 * voter rolls, events without a poll id). The event id is the store's event id, so the tamper watch can
 * find the event again and a ballot's tracker (derived from salt and event id) checks out.
 */
export function ledgerEntryOf(event: Pick<RecordedEvent, 'id' | 'type' | 'data'>): LedgerEntry | null {
  const data = event.data;
  const pollId = data.pollId;
  if (typeof pollId !== 'string' || pollId === '') return null;
  if (event.type === 'BallotCast') {
    const at = data[BALLOT_AT];
    if (typeof at !== 'string') return null;
    return { kind: 'ballot', pollId, eventType: event.type, eventId: event.id, at, data: pick(data, BALLOT_FIELDS) };
  }
  if (!isAnchoredPollEventType(event.type)) return null;
  // Widened to plain strings: the table is checked per type above, the stored data is read as it is.
  const shape: { fields: readonly string[]; at: string; actor?: string } = POLL_EVENTS[event.type];
  const at = data[shape.at];
  if (typeof at !== 'string') return null;
  const entryData = pick(data, shape.fields);
  if (shape.actor) entryData[shape.actor] = ledgerActorOf(data[shape.actor]);
  return { kind: 'poll', pollId, eventType: event.type, eventId: event.id, at, data: entryData };
}

/** The canonical JSON text of an entry: what the nodes store and the leaf hashes. */
export function entryText(entry: LedgerEntry): string {
  return fromUtf8(canonicalJsonBytes(entry));
}

/** The ballot tracker an entry carries, or null for poll entries. */
export function trackerOfEntry(entry: LedgerEntry): string | null {
  const tracker = (entry.data as { tracker?: unknown } | null)?.tracker;
  return entry.kind === 'ballot' && typeof tracker === 'string' ? tracker : null;
}
