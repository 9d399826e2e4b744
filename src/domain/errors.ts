/**
 * Every rule violation in the domain throws a subclass of DomainError. `code` is stable (the UI
 * translates by code, clients branch on it); `message` is plain English for logs and developers.
 * Messages never carry personal data: ids at most, never phone numbers or names.
 */
export type DomainErrorKind = 'validation' | 'illegal-state' | 'not-found' | 'conflict' | 'forbidden';

export abstract class DomainError extends Error {
  abstract readonly code: string;
  abstract readonly kind: DomainErrorKind;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** One problem with one field of a submitted document, e.g. `{ field: 'questions[0].options', problem: '...' }`. */
export interface FieldProblem {
  field: string;
  problem: string;
}

const HTTP_STATUS_BY_KIND = {
  validation: 422,
  'illegal-state': 409,
  'not-found': 404,
  conflict: 409,
  forbidden: 403,
} as const satisfies Record<DomainErrorKind, number>;

export type DomainHttpStatus = (typeof HTTP_STATUS_BY_KIND)[DomainErrorKind];

/** The one place that maps domain errors to HTTP statuses: by kind, so a new error class needs no new entry. */
export function httpStatusOf(error: DomainError): DomainHttpStatus {
  return HTTP_STATUS_BY_KIND[error.kind];
}

// ---- validation (422) -------------------------------------------------------------------------------

export class InvalidPollDefinition extends DomainError {
  readonly code = 'poll.invalid-definition';
  readonly kind = 'validation';
  constructor(readonly problems: readonly FieldProblem[]) {
    super(`Invalid poll definition: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`);
  }
}

export class InvalidReflection extends DomainError {
  readonly code = 'poll.invalid-reflection';
  readonly kind = 'validation';
  constructor(readonly problems: readonly FieldProblem[]) {
    super(`Invalid reflection: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`);
  }
}

export class ReflectionNotAllowed extends DomainError {
  readonly code = 'poll.reflection-not-allowed';
  readonly kind = 'validation';
  constructor(kind: string) {
    super(`Only policy and budget polls take a reflection, not a ${kind} poll`);
  }
}

export class InvalidVoterRollChunk extends DomainError {
  readonly code = 'poll.invalid-voter-roll-chunk';
  readonly kind = 'validation';
  constructor(reason: string) {
    super(`Invalid voter roll chunk: ${reason}`);
  }
}

export class InvalidOnSitePlace extends DomainError {
  readonly code = 'poll.invalid-on-site-place';
  readonly kind = 'validation';
  constructor(readonly problems: readonly FieldProblem[]) {
    super(`Invalid on-site place: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`);
  }
}

export class PollMismatch extends DomainError {
  readonly code = 'ballot.poll-mismatch';
  readonly kind = 'validation';
  constructor(expected: string, actual: string) {
    super(`The command is for poll ${expected} but carries poll ${actual}`);
  }
}

export class InvalidBallot extends DomainError {
  readonly code = 'ballot.invalid';
  readonly kind = 'validation';
  constructor(reason: string) {
    super(`Invalid ballot: ${reason}`);
  }
}

export class UnknownQuestion extends DomainError {
  readonly code = 'ballot.unknown-question';
  readonly kind = 'validation';
  constructor(readonly questionId: string) {
    super(`The poll has no question ${questionId}`);
  }
}

export class UnknownOption extends DomainError {
  readonly code = 'ballot.unknown-option';
  readonly kind = 'validation';
  constructor(readonly questionId: string, readonly optionId: string) {
    super(`Question ${questionId} has no option ${optionId}`);
  }
}

export class DuplicateChoice extends DomainError {
  readonly code = 'ballot.duplicate-choice';
  readonly kind = 'validation';
  constructor(readonly questionId: string, readonly optionId: string) {
    super(`Option ${optionId} is chosen more than once in question ${questionId}`);
  }
}

export class TooFewChoices extends DomainError {
  readonly code = 'ballot.too-few-choices';
  readonly kind = 'validation';
  constructor(readonly questionId: string, readonly min: number, readonly actual: number) {
    super(`Question ${questionId} needs at least ${min} choice(s), got ${actual}`);
  }
}

export class TooManyChoices extends DomainError {
  readonly code = 'ballot.too-many-choices';
  readonly kind = 'validation';
  constructor(readonly questionId: string, readonly max: number, readonly actual: number) {
    super(`Question ${questionId} takes at most ${max} choice(s), got ${actual}`);
  }
}

export class FreeTextNotAllowed extends DomainError {
  readonly code = 'ballot.free-text-not-allowed';
  readonly kind = 'validation';
  constructor(readonly questionId: string) {
    super(`Question ${questionId} does not take free text`);
  }
}

export class FreeTextTooLong extends DomainError {
  readonly code = 'ballot.free-text-too-long';
  readonly kind = 'validation';
  constructor(readonly questionId: string, readonly max: number) {
    super(`The free text for question ${questionId} is longer than ${max} characters`);
  }
}

export class LocationRequired extends DomainError {
  readonly code = 'ballot.location-required';
  readonly kind = 'validation';
  constructor() {
    super('This poll is voted on site: the voter location is required');
  }
}

export class InvalidComment extends DomainError {
  readonly code = 'comment.invalid';
  readonly kind = 'validation';
  constructor(reason: string) {
    super(`Invalid comment: ${reason}`);
  }
}

// ---- illegal state (409) ----------------------------------------------------------------------------

/** A lifecycle command given in a status that does not allow it, e.g. scheduling a closed poll. */
export class IllegalPollTransition extends DomainError {
  readonly code = 'poll.illegal-transition';
  readonly kind = 'illegal-state';
  constructor(readonly action: string, readonly status: string) {
    super(`Cannot ${action} a poll that is ${status}`);
  }
}

export class PollNotOpen extends DomainError {
  readonly code = 'poll.not-open';
  readonly kind = 'illegal-state';
  constructor(pollId: string) {
    super(`Poll ${pollId} is not open yet`);
  }
}

export class PollClosed extends DomainError {
  readonly code = 'poll.closed';
  readonly kind = 'illegal-state';
  constructor(pollId: string) {
    super(`Poll ${pollId} is closed`);
  }
}

/** The system opens and closes polls by the clock; it may not act before the poll's own time. */
export class ScheduleNotReached extends DomainError {
  readonly code = 'poll.schedule-not-reached';
  readonly kind = 'illegal-state';
  constructor(readonly action: 'open' | 'close', at: string) {
    super(`The system may ${action} this poll only from ${at}`);
  }
}

export class EmptyVoterRoll extends DomainError {
  readonly code = 'poll.empty-voter-roll';
  readonly kind = 'illegal-state';
  constructor(pollId: string) {
    super(`Poll ${pollId} requires a voter roll but none was added`);
  }
}

// ---- not found (404) --------------------------------------------------------------------------------

export class PollNotFound extends DomainError {
  readonly code = 'poll.not-found';
  readonly kind = 'not-found';
  constructor(pollId: string) {
    super(`Poll ${pollId} does not exist`);
  }
}

export class CommentNotFound extends DomainError {
  readonly code = 'comment.not-found';
  readonly kind = 'not-found';
  constructor(commentId: string) {
    super(`Comment ${commentId} does not exist`);
  }
}

// ---- conflict (409) ---------------------------------------------------------------------------------

export class PollAlreadyExists extends DomainError {
  readonly code = 'poll.already-exists';
  readonly kind = 'conflict';
  constructor(pollId: string) {
    super(`Poll ${pollId} already exists`);
  }
}

export class AlreadyVoted extends DomainError {
  readonly code = 'ballot.already-voted';
  readonly kind = 'conflict';
  constructor(pollId: string) {
    super(`This voter has already voted in poll ${pollId} and the poll does not allow re-voting`);
  }
}

export class FirstComeCapReached extends DomainError {
  readonly code = 'ballot.first-come-cap-reached';
  readonly kind = 'conflict';
  constructor(pollId: string) {
    super(`Poll ${pollId} has reached its first-come limit of voters`);
  }
}

export class CommentAlreadyExists extends DomainError {
  readonly code = 'comment.already-exists';
  readonly kind = 'conflict';
  constructor(commentId: string) {
    super(`Comment ${commentId} already exists`);
  }
}

/**
 * Another writer appended to the stream first (expected revision mismatch). Event store adapters
 * translate their vendor errors into this, so the HTTP layer maps it like any other domain error.
 */
export class ConcurrencyConflict extends DomainError {
  readonly code = 'stream.concurrency-conflict';
  readonly kind = 'conflict';
  constructor(streamId: string) {
    super(`Stream ${streamId} was changed by another writer; retry`);
  }
}

// ---- forbidden (403) --------------------------------------------------------------------------------

export class NotPollOwner extends DomainError {
  readonly code = 'poll.not-owner';
  readonly kind = 'forbidden';
  constructor(pollId: string) {
    super(`Only the poll's creator or an official of its organisation may manage poll ${pollId}`);
  }
}

export class PollKindNotAllowed extends DomainError {
  readonly code = 'poll.kind-not-allowed';
  readonly kind = 'forbidden';
  constructor(kind: string) {
    super(`Citizens may create general and VS polls only, not ${kind} polls`);
  }
}

export class NotOrgOfficial extends DomainError {
  readonly code = 'poll.not-org-official';
  readonly kind = 'forbidden';
  constructor(orgId: string | undefined) {
    super(`Only an official of organisation ${orgId ?? '(none)'} may create this poll`);
  }
}

export class ExcludedVoter extends DomainError {
  readonly code = 'ballot.excluded-voter';
  readonly kind = 'forbidden';
  constructor(pollId: string) {
    super(`This voter is on the exclusion list of poll ${pollId}`);
  }
}

export class NotOnVoterRoll extends DomainError {
  readonly code = 'ballot.not-on-voter-roll';
  readonly kind = 'forbidden';
  constructor(pollId: string) {
    super(`This voter is not on the voter roll of poll ${pollId}`);
  }
}

export class OutsideOnSiteArea extends DomainError {
  readonly code = 'ballot.outside-on-site-area';
  readonly kind = 'forbidden';
  constructor(readonly distanceMeters: number, readonly radiusMeters: number) {
    super(`The voter is ${Math.round(distanceMeters)} m from the voting place; the limit is ${radiusMeters} m`);
  }
}

export class NotModerator extends DomainError {
  readonly code = 'comment.not-moderator';
  readonly kind = 'forbidden';
  constructor() {
    super("Only the poll's author or an official of its organisation may hide comments");
  }
}

// ---- service state (the app decides these from the outside world) ------------------------------------

/**
 * Policy polls refuse ballots while fewer than three ledger nodes can sign (safety first, as Seoul does):
 * a ballot that cannot be anchored soon must not count in a binding decision.
 */
export class LedgerUnavailable extends DomainError {
  readonly code = 'ledger.unavailable';
  readonly kind = 'illegal-state';
  constructor(pollId: string) {
    super(`Poll ${pollId} is a policy poll and the ledger cannot reach a quorum right now: try again in a few minutes`);
  }
}

/**
 * A sealed poll takes ballots only once the ledger nodes' joint key exists (their key ceremony ran):
 * a sealed ballot is encrypted to that key, never stored in the clear while waiting for it.
 */
export class SealingUnavailable extends DomainError {
  readonly code = 'ballot.sealing-unavailable';
  readonly kind = 'illegal-state';
  constructor(pollId: string) {
    super(`Poll ${pollId} is sealed and the ledger nodes' key is not available yet: try again in a few minutes`);
  }
}

/** A sealed poll's result waits for its opening: 3 of the 4 ledger nodes give decryption shares after close. */
export class SealedPollNotOpened extends DomainError {
  readonly code = 'poll.sealed-not-opened';
  readonly kind = 'illegal-state';
  constructor(pollId: string) {
    super(`Poll ${pollId} is sealed and its ballots are not opened yet: that needs 3 of the 4 ledger nodes after close`);
  }
}

// ---- identity: citizens, phone claims, organisations ------------------------------------------------

export class CitizenNotFound extends DomainError {
  readonly code = 'citizen.not-found';
  readonly kind = 'not-found';
  constructor(citizenId: string) {
    super(`Citizen ${citizenId} does not exist`);
  }
}

export class CitizenAlreadyRegistered extends DomainError {
  readonly code = 'citizen.already-registered';
  readonly kind = 'conflict';
  constructor(citizenId: string) {
    super(`Citizen ${citizenId} is already registered`);
  }
}

export class CitizenIsDeleted extends DomainError {
  readonly code = 'citizen.deleted';
  readonly kind = 'illegal-state';
  constructor(citizenId: string) {
    super(`Citizen ${citizenId} deleted their account`);
  }
}

export class NotAnOfficial extends DomainError {
  readonly code = 'citizen.not-official';
  readonly kind = 'illegal-state';
  constructor(citizenId: string) {
    super(`Citizen ${citizenId} holds no official role`);
  }
}

export class InvalidDisplayName extends DomainError {
  readonly code = 'citizen.invalid-display-name';
  readonly kind = 'validation';
  constructor(reason: string) {
    super(`Invalid display name: ${reason}`);
  }
}

export class PhoneAlreadyClaimed extends DomainError {
  readonly code = 'phone.already-claimed';
  readonly kind = 'conflict';
  constructor(readonly citizenId: string) {
    super(`This number already belongs to citizen ${citizenId}`);
  }
}

export class InvalidOrganisation extends DomainError {
  readonly code = 'org.invalid';
  readonly kind = 'validation';
  constructor(readonly problems: readonly FieldProblem[]) {
    super(`Invalid organisation: ${problems.map((p) => `${p.field} ${p.problem}`).join('; ')}`);
  }
}

export class OrganisationAlreadyExists extends DomainError {
  readonly code = 'org.already-exists';
  readonly kind = 'conflict';
  constructor(orgId: string) {
    super(`Organisation ${orgId} already exists`);
  }
}

export class OrganisationNotFound extends DomainError {
  readonly code = 'org.not-found';
  readonly kind = 'not-found';
  constructor(orgId: string) {
    super(`Organisation ${orgId} does not exist`);
  }
}
