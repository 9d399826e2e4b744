import { isLowerHex } from './hex.ts';
import { assertNever, type Decider } from './decider.ts';
import {
  AlreadyVoted,
  DuplicateChoice,
  FirstComeCapReached,
  FreeTextNotAllowed,
  FreeTextTooLong,
  InvalidBallot,
  LocationRequired,
  ExcludedVoter,
  NotOnVoterRoll,
  OutsideOnSiteArea,
  PollClosed,
  PollMismatch,
  PollNotOpen,
  TooFewChoices,
  TooManyChoices,
  UnknownOption,
  UnknownQuestion,
} from './errors.ts';
import { haversineMeters, isValidLatLng, type LatLng } from './geo.ts';
import type { PollStatus } from './poll.ts';
import type { BallotSelections, PollDefinition } from './pollDefinition.ts';

/**
 * Stream `ballot-<pollId>_<voterTag>`: one stream per voter per poll, so appending the first ballot with
 * `no_stream` is what makes "one person, one vote" hold, without a hot per-poll stream.
 */
export const ballotStreamId = (pollId: string, voterTag: string): string => `ballot-${pollId}_${voterTag}`;

export const MAX_FREE_TEXT = 1000;

/** The poll as the app saw it when the command was made: its definition and `pollStatusAt(poll, now)`. */
export interface PollSnapshot {
  definition: PollDefinition;
  status: PollStatus;
}

/** Facts about the voter that need lookups, computed by the app. */
export interface Eligibility {
  /** Whether the voter's keyed phone hash is on the poll's roll; needed when the poll requires a roll. */
  onRoll?: boolean;
  /** Whether the voter's keyed phone hash is on the poll's exclusion list (the app looks only where one exists). */
  excluded?: boolean;
  /** Reported by the browser, so it can be spoofed (see geo.ts); needed when the poll is on site. */
  location?: LatLng;
  /** Whether the first-come cap is already full. The app enforces the cap atomically; this is a second line. */
  capReached?: boolean;
}

/**
 * The choices of a ballot in a sealed poll, committed to and encrypted to the ledger nodes' joint key
 * (src/ledger/threshold/seal.ts makes and opens it; the domain only carries it). Nobody reads the
 * choices until 3 of the 4 nodes open the poll after its close.
 */
export interface SealedChoices {
  keyId: string;
  commitment: string;
  ephemeral: string;
  ciphertext: string;
}

export const isSealedPoll = (definition: PollDefinition): boolean => definition.settings.resultsVisibility === 'sealed';

export type BallotCommand = {
  type: 'CastBallot';
  data: {
    pollId: string;
    /** HMAC(serverSecret, pollId || citizenId): unlinkable across polls. */
    voterTag: string;
    ballotId: string;
    /**
     * The choices. In a sealed poll the app still passes them (they are judged here, then dropped: the
     * event carries `sealed` only); a ledger node judging a sealed ballot before close has none.
     */
    selections?: BallotSelections;
    /** Required in a sealed poll, refused in a live one. */
    sealed?: SealedChoices;
    /** 32 random bytes, lowercase hex, so the anchored entry cannot be guessed from the choices. */
    salt: string;
    /** Short human-typable code the voter uses to find their receipt. */
    tracker: string;
    now: string;
    poll: PollSnapshot;
    eligibility: Eligibility;
  };
};

/**
 * Re-voting is one event type, not two: a BallotCast whose `replaces` names the ballot it supersedes
 * (null on a first ballot). Every ballot entry on the ledger has the same shape, and a tally or a ledger
 * node counts, per voter tag, only the ballot that no later BallotCast replaces. A sealed poll's ballot
 * carries `sealed` instead of `selections`: its plaintext is never stored.
 * Event type names are a persisted contract: never rename.
 */
export type BallotEvent = {
  type: 'BallotCast';
  data: {
    pollId: string;
    voterTag: string;
    ballotId: string;
    salt: string;
    tracker: string;
    castAt: string;
    replaces: string | null;
  } & ({ selections: BallotSelections; sealed?: undefined } | { sealed: SealedChoices; selections?: undefined });
};

export type BallotState =
  | { status: 'NotCast' }
  | { status: 'Cast'; pollId: string; voterTag: string; ballotId: string; castAt: string; casts: number };

export const initialState: BallotState = { status: 'NotCast' };

export function decide(command: BallotCommand, state: BallotState): BallotEvent[] {
  switch (command.type) {
    case 'CastBallot':
      return castBallot(command.data, state);
    default:
      return assertNever(command.type);
  }
}

function castBallot(data: BallotCommand['data'], state: BallotState): BallotEvent[] {
  const { pollId, voterTag, ballotId, selections, salt, tracker, now, poll } = data;
  const { definition } = poll;
  if (definition.pollId !== pollId) throw new PollMismatch(pollId, definition.pollId);
  assertOpen(poll, now);
  const revote = state.status === 'Cast';
  if (revote && !definition.settings.allowRevote) throw new AlreadyVoted(pollId);
  assertEligible(definition, data.eligibility, revote);
  const sealedPoll = isSealedPoll(definition);
  if (sealedPoll && !data.sealed) throw new InvalidBallot('a ballot of a sealed poll must be sealed');
  if (!sealedPoll && data.sealed) throw new InvalidBallot('only a sealed poll takes sealed ballots');
  // A ledger node judges a sealed ballot before close without its choices; everyone else judges them.
  if (selections !== undefined) assertValidSelections(definition, selections);
  else if (!sealedPoll) throw new InvalidBallot('the ballot has no choices');
  if (!isLowerHex(salt, 64)) throw new InvalidBallot('the salt must be 32 bytes in lowercase hex');
  if (!isShortText(tracker, 64)) throw new InvalidBallot('the tracker must have 1 to 64 characters');
  if (!isShortText(ballotId, 128) || !isShortText(voterTag, 128)) throw new InvalidBallot('the ballot id and voter tag are required');
  if (revote && state.ballotId === ballotId) throw new InvalidBallot('a replacement ballot needs a new ballot id');
  const base = { pollId, voterTag, ballotId, salt, tracker, castAt: now, replaces: revote ? state.ballotId : null };
  return [{ type: 'BallotCast', data: data.sealed ? { ...base, sealed: data.sealed } : { ...base, selections: selections! } }];
}

export function evolve(state: BallotState, event: BallotEvent): BallotState {
  switch (event.type) {
    case 'BallotCast': {
      const { pollId, voterTag, ballotId, castAt } = event.data;
      return { status: 'Cast', pollId, voterTag, ballotId, castAt, casts: state.status === 'Cast' ? state.casts + 1 : 1 };
    }
    default:
      return state;
  }
}

export const ballotDecider: Decider<BallotCommand, BallotEvent, BallotState> = { decide, evolve, initialState };

/** The snapshot's status already follows the clock; the close time is checked again so no caller can skip it. */
function assertOpen({ definition, status }: PollSnapshot, now: string): void {
  if (status === 'Closed' || status === 'ResultPublished' || status === 'Reflected') throw new PollClosed(definition.pollId);
  if (status !== 'Open') throw new PollNotOpen(definition.pollId);
  if (Date.parse(now) >= Date.parse(definition.settings.closesAt)) throw new PollClosed(definition.pollId);
}

/** A replacement ballot is from a voter already counted, so the first-come cap does not apply to it. */
function assertEligible(definition: PollDefinition, eligibility: Eligibility, revote: boolean): void {
  const { pollId, settings } = definition;
  if (eligibility.excluded === true) throw new ExcludedVoter(pollId);
  if (settings.voterRollRequired && eligibility.onRoll !== true) throw new NotOnVoterRoll(pollId);
  if (settings.onSite) {
    const location = eligibility.location;
    if (!location || !isValidLatLng(location)) throw new LocationRequired();
    const distance = haversineMeters(settings.onSite, location);
    if (distance > settings.onSite.radiusMeters) throw new OutsideOnSiteArea(distance, settings.onSite.radiusMeters);
  }
  if (settings.firstComeCap !== undefined && eligibility.capReached === true && !revote) throw new FirstComeCapReached(pollId);
}

/**
 * Free text does not count towards minChoices: it is a remark next to the choices, not a choice.
 * Exported for the ledger nodes' check of a sealed ballot once it is opened.
 */
export function assertValidSelections(definition: PollDefinition, { selections, freeText = {} }: BallotSelections): void {
  const { questions, optionIds: optionSets } = questionIndex(definition);
  for (const questionId of Object.keys(selections)) if (!questions.has(questionId)) throw new UnknownQuestion(questionId);
  for (const questionId of Object.keys(freeText)) if (!questions.has(questionId)) throw new UnknownQuestion(questionId);
  for (const [k, question] of definition.questions.entries()) {
    const chosen = selections[question.id] ?? [];
    const optionIds = optionSets[k]!;
    const seen = new Set<string>();
    for (const optionId of chosen) {
      if (!optionIds.has(optionId)) throw new UnknownOption(question.id, optionId);
      if (seen.has(optionId)) throw new DuplicateChoice(question.id, optionId);
      seen.add(optionId);
    }
    if (chosen.length < question.minChoices) throw new TooFewChoices(question.id, question.minChoices, chosen.length);
    if (chosen.length > question.maxChoices) throw new TooManyChoices(question.id, question.maxChoices, chosen.length);
    const text = freeText[question.id];
    if (text !== undefined) {
      if (!question.allowFreeText) throw new FreeTextNotAllowed(question.id);
      // Counted in code points, as a person counts characters (an emoji is one, not two).
      if ([...text].length > MAX_FREE_TEXT) throw new FreeTextTooLong(question.id, MAX_FREE_TEXT);
    }
  }
}

/**
 * Each definition's question ids and option-id sets, built once per definition object rather than for
 * every ballot (a ledger node checks every ballot of a poll against the same definition). Definitions are
 * never mutated (evolve makes new ones); weakly keyed, so the cache holds only definitions still in use.
 */
const questionIndexes = new WeakMap<PollDefinition, { questions: ReadonlySet<string>; optionIds: ReadonlySet<string>[] }>();
function questionIndex(definition: PollDefinition): { questions: ReadonlySet<string>; optionIds: ReadonlySet<string>[] } {
  let index = questionIndexes.get(definition);
  if (!index) {
    index = { questions: new Set(definition.questions.map((q) => q.id)), optionIds: definition.questions.map((q) => new Set(q.options.map((o) => o.id))) };
    questionIndexes.set(definition, index);
  }
  return index;
}

const isShortText = (value: string, max: number): boolean => value.length > 0 && value.length <= max;
