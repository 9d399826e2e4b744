import { assertNever, type Decider } from './decider.ts';
import {
  EmptyVoterRoll,
  IllegalPollTransition,
  InvalidOnSitePlace,
  InvalidPollDefinition,
  InvalidReflection,
  InvalidVoterRollChunk,
  NotOrgOfficial,
  NotPollOwner,
  PollAlreadyExists,
  PollClosed,
  PollKindNotAllowed,
  PollNotFound,
  PollNotOpen,
  ReflectionNotAllowed,
  ScheduleNotReached,
  type FieldProblem,
} from './errors.ts';
import type { OnSitePlace, PollDefinition } from './pollDefinition.ts';
import type { Reflection } from './pollValidation.ts';
import type { PollTally } from './tally.ts';
import { onSitePlaceProblems, reflectionProblems, validatePollDefinition } from './pollValidation.ts';

/** Stream `poll-<pollId>`. */
export const pollStreamId = (pollId: string): string => `poll-${pollId}`;

export type Actor = { kind: 'citizen'; id: string } | { kind: 'official'; id: string; orgId: string };
/** The app's scheduler, acting at a poll's own open and close times. */
export type SystemActor = { kind: 'system' };

/** A poll's published result: the tally, stored as computed (plain JSON). */
export type PollResult = PollTally;

export type { Reflection } from './pollValidation.ts';

/** At most this many keyed hashes in one VoterRollChunkAdded, so one event stays a few hundred KB. */
export const MAX_VOTER_ROLL_CHUNK = 10_000;

export type PollCommand =
  | { type: 'CreatePoll'; data: { definition: PollDefinition; createdBy: Actor; now: string } }
  | { type: 'UpdateDraft'; data: { pollId: string; definition: PollDefinition; by: Actor; now: string } }
  | { type: 'SchedulePoll'; data: { pollId: string; by: Actor; now: string } }
  | { type: 'OpenPoll'; data: { pollId: string; by: Actor | SystemActor; now: string } }
  | { type: 'ClosePoll'; data: { pollId: string; by: Actor | SystemActor; now: string } }
  | { type: 'PublishResult'; data: { pollId: string; result: PollResult; by: Actor | SystemActor; now: string } }
  | { type: 'PostReflection'; data: { pollId: string; reflection: Reflection; by: Actor; now: string } }
  | { type: 'UpdateReflection'; data: { pollId: string; reflection: Reflection; by: Actor; now: string } }
  | { type: 'AddVoterRollChunk'; data: { pollId: string; entries: string[]; by: Actor; now: string } }
  | { type: 'AddExclusionChunk'; data: { pollId: string; entries: string[]; by: Actor; now: string } }
  | { type: 'SetOnSitePlace'; data: { pollId: string; place: OnSitePlace | null; by: Actor; now: string } };

/** Event type names are a persisted contract: never rename; a breaking change is a new type plus an upcaster. */
export type PollEvent =
  | { type: 'PollCreated'; data: { pollId: string; definition: PollDefinition; createdBy: Actor; createdAt: string } }
  | { type: 'PollDraftUpdated'; data: { pollId: string; definition: PollDefinition; updatedBy: Actor; updatedAt: string } }
  | { type: 'PollScheduled'; data: { pollId: string; opensAt: string; closesAt: string; scheduledBy: Actor; scheduledAt: string } }
  | { type: 'PollOpened'; data: { pollId: string; openedBy: Actor | SystemActor; openedAt: string } }
  | { type: 'PollClosed'; data: { pollId: string; closedBy: Actor | SystemActor; closedAt: string } }
  | { type: 'PollResultPublished'; data: { pollId: string; result: PollResult; publishedBy: Actor | SystemActor; publishedAt: string } }
  | { type: 'PollReflectionPosted'; data: { pollId: string; reflection: Reflection; postedBy: Actor; postedAt: string } }
  | { type: 'PollReflectionUpdated'; data: { pollId: string; reflection: Reflection; updatedBy: Actor; updatedAt: string } }
  | { type: 'VoterRollChunkAdded'; data: { pollId: string; chunkIndex: number; entries: string[]; addedAt: string } }
  /** Keyed phone hashes refused a ballot whatever the roll says (e.g. the staff who ran the vote). */
  | { type: 'VoterExclusionChunkAdded'; data: { pollId: string; chunkIndex: number; entries: string[]; addedAt: string } }
  | { type: 'OnSitePlaceSet'; data: { pollId: string; place: OnSitePlace | null; setAt: string } };

/** What every existing poll knows. The roll itself lives in events and a read model, not in the state. */
interface PollFacts {
  pollId: string;
  definition: PollDefinition;
  createdBy: Actor;
  voterRollSize: number;
  voterRollChunks: number;
  exclusionChunks: number;
}

export type PollState =
  | { status: 'Initial' }
  | ({ status: 'Draft' } & PollFacts)
  | ({ status: 'Scheduled' } & PollFacts)
  | ({ status: 'Open'; openedAt: string } & PollFacts)
  | ({ status: 'Closed'; closedAt: string } & PollFacts)
  | ({ status: 'ResultPublished'; closedAt: string; result: PollResult } & PollFacts)
  | ({ status: 'Reflected'; closedAt: string; result: PollResult; reflection: Reflection } & PollFacts);

export type PollStatus = PollState['status'];
type ExistingPoll = Exclude<PollState, { status: 'Initial' }>;

export const initialState: PollState = { status: 'Initial' };

/**
 * The status that counts at `now`: a Scheduled poll whose opensAt has passed is Open, and an Open or
 * Scheduled poll whose closesAt has passed is Closed, whether or not the scheduler has written the event
 * yet. Ballots are judged by this, so none is accepted after the close time. Drafts never open by the clock.
 */
export function pollStatusAt(state: PollState, now: string): PollStatus {
  if (state.status !== 'Scheduled' && state.status !== 'Open') return state.status;
  const { opensAt, closesAt } = state.definition.settings;
  if (isAtOrAfter(now, closesAt)) return 'Closed';
  if (state.status === 'Scheduled' && isAtOrAfter(now, opensAt)) return 'Open';
  return state.status;
}

export function decide(command: PollCommand, state: PollState): PollEvent[] {
  switch (command.type) {
    case 'CreatePoll':
      return createPoll(command.data, state);
    case 'UpdateDraft':
      return updateDraft(command.data, state);
    case 'SchedulePoll':
      return schedulePoll(command.data, state);
    case 'OpenPoll':
      return openPoll(command.data, state);
    case 'ClosePoll':
      return closePoll(command.data, state);
    case 'PublishResult':
      return publishResult(command.data, state);
    case 'PostReflection':
      return postReflection(command.data, state);
    case 'UpdateReflection':
      return updateReflection(command.data, state);
    case 'AddVoterRollChunk':
      return addVoterRollChunk(command.data, state);
    case 'AddExclusionChunk':
      return addExclusionChunk(command.data, state);
    case 'SetOnSitePlace':
      return setOnSitePlace(command.data, state);
    default:
      return assertNever(command);
  }
}

type Data<T extends PollCommand['type']> = Extract<PollCommand, { type: T }>['data'];

function createPoll({ definition, createdBy, now }: Data<'CreatePoll'>, state: PollState): PollEvent[] {
  if (state.status !== 'Initial') throw new PollAlreadyExists(definition.pollId);
  assertCreatorMayRun(createdBy, definition);
  return [{ type: 'PollCreated', data: { pollId: definition.pollId, definition, createdBy, createdAt: now } }];
}

function updateDraft(data: Data<'UpdateDraft'>, state: PollState): PollEvent[] {
  const { definition, by, now } = data;
  const poll = managedPoll(state, data);
  if (poll.status !== 'Draft') throw new IllegalPollTransition('edit', poll.status);
  if (definition.pollId !== poll.pollId) throw new InvalidPollDefinition([{ field: 'pollId', problem: 'cannot change' }]);
  assertCreatorMayRun(poll.createdBy, definition);
  return [{ type: 'PollDraftUpdated', data: { pollId: poll.pollId, definition, updatedBy: by, updatedAt: now } }];
}

function schedulePoll(data: Data<'SchedulePoll'>, state: PollState): PollEvent[] {
  const { by, now } = data;
  const poll = managedPoll(state, data);
  if (poll.status !== 'Draft') throw new IllegalPollTransition('schedule', poll.status);
  const { opensAt, closesAt, voterRollRequired } = poll.definition.settings;
  if (isAtOrAfter(now, closesAt)) {
    throw new InvalidPollDefinition([{ field: 'settings.closesAt', problem: 'has already passed' }]);
  }
  if (voterRollRequired && poll.voterRollSize === 0) throw new EmptyVoterRoll(poll.pollId);
  return [{ type: 'PollScheduled', data: { pollId: poll.pollId, opensAt, closesAt, scheduledBy: by, scheduledAt: now } }];
}

/** An owner may open early; the system only from opensAt. Either way openedAt is never after opensAt. */
function openPoll(data: Data<'OpenPoll'>, state: PollState): PollEvent[] {
  const { by, now } = data;
  const poll = managedPoll(state, data);
  const status = pollStatusAt(poll, now);
  if (status === 'Closed' || status === 'ResultPublished' || status === 'Reflected') throw new PollClosed(poll.pollId);
  if (poll.status !== 'Scheduled') throw new IllegalPollTransition('open', poll.status);
  const { opensAt } = poll.definition.settings;
  if (by.kind === 'system' && status !== 'Open') throw new ScheduleNotReached('open', opensAt);
  return [{ type: 'PollOpened', data: { pollId: poll.pollId, openedBy: by, openedAt: earlier(now, opensAt) } }];
}

/** An owner may close early; the system only from closesAt. closedAt is never after closesAt. */
function closePoll(data: Data<'ClosePoll'>, state: PollState): PollEvent[] {
  const { by, now } = data;
  const poll = managedPoll(state, data);
  const status = pollStatusAt(poll, now);
  if (status === 'Draft' || status === 'Scheduled') throw new PollNotOpen(poll.pollId);
  if (poll.status !== 'Open' && poll.status !== 'Scheduled') throw new PollClosed(poll.pollId);
  const { closesAt } = poll.definition.settings;
  if (by.kind === 'system' && status !== 'Closed') throw new ScheduleNotReached('close', closesAt);
  return [
    ...openedByTheClock(poll),
    { type: 'PollClosed', data: { pollId: poll.pollId, closedBy: by, closedAt: earlier(now, closesAt) } },
  ];
}

/** Publishing after the close time closes the poll first if the scheduler has not yet. */
function publishResult(data: Data<'PublishResult'>, state: PollState): PollEvent[] {
  const { result, by, now } = data;
  const poll = managedPoll(state, data);
  const status = pollStatusAt(poll, now);
  if (status !== 'Closed') throw new IllegalPollTransition('publish the result of', status);
  const closedByTheClock: PollEvent[] =
    poll.status === 'Closed'
      ? []
      : [
          ...openedByTheClock(poll),
          { type: 'PollClosed', data: { pollId: poll.pollId, closedBy: SYSTEM, closedAt: poll.definition.settings.closesAt } },
        ];
  return [
    ...closedByTheClock,
    { type: 'PollResultPublished', data: { pollId: poll.pollId, result, publishedBy: by, publishedAt: now } },
  ];
}

/** A reflection reports what the city did with the result, so it follows the published result. */
function postReflection(data: Data<'PostReflection'>, state: PollState): PollEvent[] {
  const { reflection, by, now } = data;
  const poll = reflectablePoll(state, data);
  if (poll.status !== 'ResultPublished') throw new IllegalPollTransition('post a reflection on', poll.status);
  return [{ type: 'PollReflectionPosted', data: { pollId: poll.pollId, reflection, postedBy: by, postedAt: now } }];
}

function updateReflection(data: Data<'UpdateReflection'>, state: PollState): PollEvent[] {
  const { reflection, by, now } = data;
  const poll = reflectablePoll(state, data);
  if (poll.status !== 'Reflected') throw new IllegalPollTransition('update the reflection of', poll.status);
  return [{ type: 'PollReflectionUpdated', data: { pollId: poll.pollId, reflection, updatedBy: by, updatedAt: now } }];
}

/** A chunk of keyed phone hashes (a roll or an exclusion list): the same bounds for both. */
function checkHashChunk(entries: string[]): void {
  if (entries.length === 0) throw new InvalidVoterRollChunk('it is empty');
  if (entries.length > MAX_VOTER_ROLL_CHUNK) throw new InvalidVoterRollChunk(`it has more than ${MAX_VOTER_ROLL_CHUNK} entries`);
  // Entries are keyed hashes (HMAC of the phone number), never phone numbers; a length bound keeps the event small.
  if (!entries.every((e) => typeof e === 'string' && e.length > 0 && e.length <= 128)) {
    throw new InvalidVoterRollChunk('every entry must be a keyed hash of 1 to 128 characters');
  }
}

function addVoterRollChunk(data: Data<'AddVoterRollChunk'>, state: PollState): PollEvent[] {
  const { entries, now } = data;
  const poll = beforeOpening(state, data, 'add voters to');
  checkHashChunk(entries);
  return [{ type: 'VoterRollChunkAdded', data: { pollId: poll.pollId, chunkIndex: poll.voterRollChunks, entries, addedAt: now } }];
}

/** Like the roll, the exclusion list is fixed before anyone votes, so every voter is judged by one list. */
function addExclusionChunk(data: Data<'AddExclusionChunk'>, state: PollState): PollEvent[] {
  const { entries, now } = data;
  const poll = beforeOpening(state, data, 'exclude voters from');
  checkHashChunk(entries);
  return [{ type: 'VoterExclusionChunkAdded', data: { pollId: poll.pollId, chunkIndex: poll.exclusionChunks, entries, addedAt: now } }];
}

/** `place: null` removes the on-site requirement. */
function setOnSitePlace(data: Data<'SetOnSitePlace'>, state: PollState): PollEvent[] {
  const { place, now } = data;
  const poll = beforeOpening(state, data, 'set the voting place of');
  const problems = place ? onSitePlaceProblems(place, 'place') : [];
  if (problems.length > 0) throw new InvalidOnSitePlace(problems);
  return [{ type: 'OnSitePlaceSet', data: { pollId: poll.pollId, place, setAt: now } }];
}

export function evolve(state: PollState, event: PollEvent): PollState {
  if (event.type === 'PollCreated') {
    if (state.status !== 'Initial') return state;
    const { pollId, definition, createdBy } = event.data;
    return { status: 'Draft', pollId, definition, createdBy, voterRollSize: 0, voterRollChunks: 0, exclusionChunks: 0 };
  }
  if (state.status === 'Initial') return state;
  switch (event.type) {
    case 'PollDraftUpdated':
      return state.status === 'Draft' ? { ...state, definition: event.data.definition } : state;
    case 'PollScheduled':
      return state.status === 'Draft' ? { ...state, status: 'Scheduled' } : state;
    case 'PollOpened':
      return state.status === 'Scheduled' ? { ...state, status: 'Open', openedAt: event.data.openedAt } : state;
    case 'PollClosed':
      return state.status === 'Open' || state.status === 'Scheduled'
        ? { ...facts(state), status: 'Closed', closedAt: event.data.closedAt }
        : state;
    case 'PollResultPublished':
      return state.status === 'Closed' ? { ...state, status: 'ResultPublished', result: event.data.result } : state;
    case 'PollReflectionPosted':
    case 'PollReflectionUpdated':
      return state.status === 'ResultPublished' || state.status === 'Reflected'
        ? { ...state, status: 'Reflected', reflection: event.data.reflection }
        : state;
    case 'VoterRollChunkAdded':
      return { ...state, voterRollSize: state.voterRollSize + event.data.entries.length, voterRollChunks: state.voterRollChunks + 1 };
    case 'VoterExclusionChunkAdded':
      return { ...state, exclusionChunks: state.exclusionChunks + 1 };
    case 'OnSitePlaceSet': {
      const { onSite: _previous, ...settings } = state.definition.settings;
      const place = event.data.place;
      return { ...state, definition: { ...state.definition, settings: place ? { ...settings, onSite: place } : settings } };
    }
    default:
      return state;
  }
}

export const pollDecider: Decider<PollCommand, PollEvent, PollState> = { decide, evolve, initialState };

// ---- rules shared by several commands ---------------------------------------------------------------

const SYSTEM: SystemActor = { kind: 'system' };

/** Citizens run general and VS polls only; an official poll belongs to the official's organisation. */
function assertCreatorMayRun(creator: Actor, definition: PollDefinition): void {
  const problems: FieldProblem[] = validatePollDefinition(definition);
  if (creator.kind === 'citizen') {
    if (definition.kind !== 'general' && definition.kind !== 'vs') throw new PollKindNotAllowed(definition.kind);
    if (definition.orgId !== undefined) problems.push({ field: 'orgId', problem: 'must be absent on a citizen poll' });
  } else if (definition.orgId !== creator.orgId) {
    throw new NotOrgOfficial(definition.orgId);
  }
  if (problems.length > 0) throw new InvalidPollDefinition(problems);
}

/** The poll, if it exists and `by` may manage it: its citizen creator, any official of its organisation, or the system. */
function managedPoll(state: PollState, { pollId, by }: { pollId: string; by: Actor | SystemActor }): ExistingPoll {
  if (state.status === 'Initial') throw new PollNotFound(pollId);
  if (!mayManage(state, by)) throw new NotPollOwner(state.pollId);
  return state;
}

function mayManage(poll: ExistingPoll, by: Actor | SystemActor): boolean {
  if (by.kind === 'system') return true;
  if (poll.createdBy.kind === 'citizen') return by.kind === 'citizen' && by.id === poll.createdBy.id;
  return by.kind === 'official' && by.orgId === poll.definition.orgId;
}

function reflectablePoll(state: PollState, data: Data<'PostReflection' | 'UpdateReflection'>): ExistingPoll {
  const poll = managedPoll(state, data);
  const kind = poll.definition.kind;
  if (kind !== 'policy' && kind !== 'budget') throw new ReflectionNotAllowed(kind);
  const problems = reflectionProblems(data.reflection);
  if (problems.length > 0) throw new InvalidReflection(problems);
  return poll;
}

/** The roll and the place must be fixed before anyone can vote, or early voters would be judged by other rules. */
function beforeOpening(state: PollState, data: { pollId: string; by: Actor; now: string }, action: string): ExistingPoll {
  const poll = managedPoll(state, data);
  const status = pollStatusAt(poll, data.now);
  if (status !== 'Draft' && status !== 'Scheduled') throw new IllegalPollTransition(action, status);
  return poll;
}

/** A Scheduled poll closed after its opensAt was open in effect; say so, so projections see Open before Closed. */
function openedByTheClock(poll: ExistingPoll): PollEvent[] {
  if (poll.status !== 'Scheduled') return [];
  return [{ type: 'PollOpened', data: { pollId: poll.pollId, openedBy: SYSTEM, openedAt: poll.definition.settings.opensAt } }];
}

function facts({ pollId, definition, createdBy, voterRollSize, voterRollChunks, exclusionChunks }: ExistingPoll): PollFacts {
  return { pollId, definition, createdBy, voterRollSize, voterRollChunks, exclusionChunks };
}

const isAtOrAfter = (instant: string, reference: string): boolean => Date.parse(instant) >= Date.parse(reference);
const earlier = (a: string, b: string): string => (Date.parse(a) <= Date.parse(b) ? a : b);
