/**
 * The rules a ledger node applies to each entry before it signs a tree that holds it, from what its own
 * log shows: the poll exists and was open at the ballot's time, the choices fit the poll, one counted
 * ballot per voter tag (a re-vote must name the ballot it replaces), the first-come cap, the tracker,
 * and canonical bytes. No I/O of its own: what it needs of earlier entries it reads through the
 * {@link EntryLog} it is given (the node's own log on disk). Checks run inside a transaction so a refused
 * proposal leaves the node's view exactly as it was.
 */
import { ballotDecider, type BallotState } from '../../domain/ballot.ts';
import { DomainError } from '../../domain/errors.ts';
import { evolve as evolvePoll, initialState as initialPoll, pollStatusAt, type PollEvent, type PollState, type PollStatus } from '../../domain/poll.ts';
import type { BallotSelections, PollDefinition } from '../../domain/pollDefinition.ts';
import { validatePollDefinition } from '../../domain/pollValidation.ts';
import type { TallyBallot } from '../../domain/tally.ts';
import { utf8 } from '../bytes.ts';
import { ballotTrackerCode, canonicalJsonText, ledgerEntryProblem, type LedgerEntry } from '../entry.ts';
import type { Sha256 } from '../hash.ts';
import { countedSealedBallots, OPENING_EVENT, openedTallyBallots, openingProblem, type CountedSealed, type OpeningData } from '../sealedOpening.ts';
import type { SealedBallot } from '../threshold/seal.ts';
import type { PublicKeySet } from '../threshold/vss.ts';
import { VoterTable } from './compactIndex.ts';

/**
 * What a node knows beyond its entries to judge sealed polls: the nodes' key sets (a sealed ballot must
 * be sealed to one of them, not to a key the app made itself) and the counted sealed ballots of a poll
 * as its stored log shows them up to a size (null when it holds fewer entries), read a batch at a time.
 */
export interface SealedContext {
  keySet(keyId: string): PublicKeySet | null;
  sealedBallots(pollId: string, definition: PollDefinition, size: number): CountedSealed | null;
}

/**
 * The entry texts a checker has committed, by log position: the node's own log (read from disk). The
 * checker keeps no text and no voter tag; it reads a voter's last ballot back when it needs it (a re-vote).
 */
export interface EntryLog {
  entry(position: number): string;
}

/** The last ballot a voter tag cast in a poll. */
interface VoterBallot {
  ballotId: string;
  at: string;
  casts: number;
}

/** A voter as a transaction sees them: their table key, and where their last ballot is in the committed log. */
interface VoterLookup {
  key: Uint32Array;
  previous: VoterBallot | undefined;
  /** Log position of the voter's last committed ballot (their slot in the poll's table), or null for a voter new to the table. */
  committedAt: number | null;
}

/** A voter's ballot recorded by a transaction, not yet in the poll's table. */
interface PendingVoter extends VoterBallot {
  pollId: string;
  key: Uint32Array;
  committedAt: number | null;
  position: number;
}

/** Why an entry is refused: a stable code and plain English. */
export interface EntryRefusal {
  code: string;
  reason: string;
}

const refusal = (code: string, reason: string): EntryRefusal => ({ code, reason });

/**
 * Parses entry text; returns the entry or why it is not canonical, well-formed entry JSON. One JSON.parse
 * and one canonicalisation (compared as strings, no UTF-8 round trip): a value JSON.parse made is plain
 * JSON already, so the shape check need not canonicalise its data a second time.
 */
export function parseEntryText(text: string): LedgerEntry | EntryRefusal {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refusal('malformed', 'entry is not JSON');
  }
  const problem = ledgerEntryProblem(value, { parsedFromJson: true });
  if (problem) return refusal('malformed', problem);
  // Leaves hash the text as given, so it must be the one canonical form of the entry it encodes.
  if (canonicalJsonText(value) !== text) {
    return refusal('not-canonical', 'entry text is not the RFC 8785 canonical form of its JSON');
  }
  return value as LedgerEntry;
}

export const isRefusal = (v: LedgerEntry | EntryRefusal): v is EntryRefusal => 'reason' in v;

/**
 * An entry text from the node's own log, parsed without checking it again: every entry was checked by
 * {@link parseEntryText} (shape, canonical form) and by the entry checker before it was appended. For the
 * reads that go over a whole poll (its counted sealed ballots, its tally): re-checking 250,000 entries'
 * shape and canonical form there cost more than parsing them.
 */
export function parseStoredEntryText(text: string): LedgerEntry | EntryRefusal {
  try {
    return JSON.parse(text) as LedgerEntry;
  } catch {
    return refusal('malformed', 'entry is not JSON');
  }
}

const voterKey = (pollId: string, voterTag: string): string => `${pollId}\u0000${voterTag}`;

/**
 * The node's view of every poll in its log. `begin()` opens a transaction whose writes stay in an
 * overlay until `commit()`; dropping it is the rollback.
 *
 * What it keeps grows with polls, not ballots, except one {@link VoterTable} per poll still taking
 * ballots (24 bytes a slot, 32-64 bytes a voter; dropped when the poll closes): the voters' tags, ballot
 * ids and times stay in the log and are read back by position for a re-vote.
 */
export class EntryChecker {
  private readonly polls = new Map<string, PollState>();
  private readonly voterTables = new Map<string, VoterTable>();
  /** Per sealed poll: the log size its opening reads the ballots at, and the batches opened so far. */
  private readonly openings = new Map<string, PollOpening>();
  /** Entries in the committed view: the log position the next committed entry takes. */
  size = 0;
  /** The committed texts, kept here only by a checker given no log of its own (tests, one-off checks). */
  private readonly ownTexts: string[] | null;
  private readonly log: EntryLog;

  constructor(
    private readonly h: Sha256,
    /** Without it (tests of live polls) sealed ballots and openings are refused. */
    private readonly sealed: SealedContext | null = null,
    /** The log the committed entries are in (a node passes its store); without it the checker keeps the texts itself. */
    log: EntryLog | null = null,
  ) {
    this.ownTexts = log ? null : [];
    this.log = log ?? { entry: (position) => this.ownTexts![position]! };
  }

  begin(): CheckTransaction {
    return new CheckTransaction(this.h, this, this.sealed);
  }

  /** @internal used by CheckTransaction */
  read(): { polls: Map<string, PollState>; voterTables: Map<string, VoterTable>; openings: Map<string, PollOpening> } {
    return { polls: this.polls, voterTables: this.voterTables, openings: this.openings };
  }

  /** @internal The voter's last committed ballot in a poll, confirmed from the log (a key may collide). */
  committedVoter(pollId: string, voterTag: string, key: Uint32Array): { ballot: VoterBallot; position: number } | undefined {
    const table = this.voterTables.get(pollId);
    if (!table) return undefined;
    let found: LedgerEntry | undefined;
    const slot = table.find(key, (position) => {
      const entry = parseStoredEntryText(this.log.entry(position));
      if (isRefusal(entry) || entry.pollId !== pollId || (entry.data as { voterTag?: unknown } | null)?.voterTag !== voterTag) return false;
      found = entry;
      return true;
    });
    if (slot < 0) return undefined;
    return { ballot: { ballotId: ballotIdOf(found!), at: found!.at, casts: table.casts(slot) }, position: table.position(slot) };
  }

  /** @internal Whether the checker keeps the committed texts itself (it was given no log). */
  get keepsTexts(): boolean {
    return this.ownTexts !== null;
  }

  /** @internal used by CheckTransaction.commit */
  appended(count: number, texts: readonly string[]): void {
    this.size += count;
    this.ownTexts?.push(...texts);
  }

  /** Batches of a sealed poll's opening anchored so far, and the size they read the ballots at. */
  opening(pollId: string): PollOpening | undefined {
    return this.openings.get(pollId);
  }

  /** The poll as its entries so far define it, or undefined if the log has no PollCreated for it. */
  poll(pollId: string): Extract<PollState, { pollId: string }> | undefined {
    const state = this.polls.get(pollId);
    return state && state.status !== 'Initial' ? state : undefined;
  }
}

interface PollOpening {
  size: number;
  total: number;
  batches: ReadonlySet<number>;
}

/** A batch of checks against an EntryChecker; see EntryChecker.begin. */
export class CheckTransaction {
  private readonly polls = new Map<string, PollState>();
  private readonly voters = new Map<string, PendingVoter>();
  private readonly distinctVoters = new Map<string, number>();
  private readonly openings = new Map<string, PollOpening>();
  /** How many entries this transaction accepted or replayed: they take log positions base.size, base.size + 1, ... */
  private accepted = 0;
  /** Their texts, only for a checker that keeps them itself (a node's are in its log already). */
  private readonly texts: string[] = [];

  constructor(
    private readonly h: Sha256,
    private readonly base: EntryChecker,
    private readonly sealed: SealedContext | null,
  ) {}

  private opening(pollId: string): PollOpening | undefined {
    return this.openings.get(pollId) ?? this.base.read().openings.get(pollId);
  }

  private pollState(pollId: string): PollState {
    return this.polls.get(pollId) ?? this.base.read().polls.get(pollId) ?? initialPoll;
  }

  private voter(pollId: string, tag: string): VoterLookup {
    const pending = this.voters.get(voterKey(pollId, tag));
    if (pending) return { key: pending.key, previous: pending, committedAt: pending.committedAt };
    const key = VoterTable.key(this.h(utf8(tag)));
    const committed = this.base.committedVoter(pollId, tag, key);
    return { key, previous: committed?.ballot, committedAt: committed?.position ?? null };
  }

  private distinct(pollId: string): number {
    return this.distinctVoters.get(pollId) ?? this.base.read().voterTables.get(pollId)?.count ?? 0;
  }

  /**
   * Checks one entry text against the view so far (including earlier entries of this transaction) and,
   * if it passes, records it in the transaction. Returns the refusal, or undefined when accepted.
   */
  check(text: string): EntryRefusal | undefined {
    const checked = this.checkEntry(text);
    return isRefusal(checked) ? checked : undefined;
  }

  /** As check, but returns the parsed entry when accepted, so the caller need not parse it again. */
  checkEntry(text: string): LedgerEntry | EntryRefusal {
    const entry = parseEntryText(text);
    if (isRefusal(entry)) return entry;
    let refused: EntryRefusal | undefined;
    try {
      refused = entry.kind === 'poll' ? this.checkPoll(entry) : this.checkBallot(entry);
    } catch (e) {
      // Entry data of an unexpected shape that slipped past the checks above: refused, never a crash.
      return refusal('malformed', `entry data has an unexpected shape: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (refused) return refused;
    this.took(text);
    return entry;
  }

  /**
   * Records an entry without judging it, for rebuilding the view from a log the node already accepted:
   * one JSON.parse, no canonical check (the node wrote the text after checking it). Returns the entry,
   * or null for unreadable text (the caller logs it).
   */
  replay(text: string): LedgerEntry | null {
    const entry = this.replayed(text);
    // Even an unreadable line holds its log position.
    this.took(text);
    return entry;
  }

  private took(text: string): void {
    this.accepted++;
    if (this.base.keepsTexts) this.texts.push(text);
  }

  private replayed(text: string): LedgerEntry | null {
    let entry: LedgerEntry;
    try {
      entry = JSON.parse(text) as LedgerEntry;
    } catch {
      return null;
    }
    if (typeof entry !== 'object' || entry === null || typeof entry.pollId !== 'string' || typeof entry.data !== 'object' || entry.data === null) return null;
    if (entry.kind === 'poll') {
      if (entry.eventType === OPENING_EVENT) this.recordOpening(entry.pollId, entry.data as OpeningData);
      this.recordPoll(entry);
    } else {
      const d = entry.data as { voterTag?: unknown; ballotId?: unknown };
      if (typeof d.voterTag === 'string') this.recordBallot(entry, this.voter(entry.pollId, d.voterTag), d.voterTag, ballotIdOf(entry));
    }
    return entry;
  }

  private checkPoll(entry: LedgerEntry): EntryRefusal | undefined {
    const state = this.pollState(entry.pollId);
    const data = entry.data as { pollId?: unknown; definition?: PollDefinition } | null;
    if (typeof data !== 'object' || data === null) return refusal('malformed', 'poll entry data must be an object');
    if (data.pollId !== undefined && data.pollId !== entry.pollId) {
      return refusal('poll-mismatch', `poll entry data names poll ${String(data.pollId)}, not ${entry.pollId}`);
    }
    if (entry.eventType === 'PollCreated' && state.status !== 'Initial') {
      return refusal('poll.already-exists', `poll ${entry.pollId} is already in the log`);
    }
    if (entry.eventType !== 'PollCreated' && state.status === 'Initial') {
      return refusal('poll.not-found', `poll ${entry.pollId} has no PollCreated entry before this one`);
    }
    if (entry.eventType === 'PollCreated' || entry.eventType === 'PollDraftUpdated') {
      const problem = definitionProblem(data.definition, entry.pollId);
      if (problem) return refusal('poll.invalid-definition', problem);
    }
    if (entry.eventType === OPENING_EVENT) {
      const refused = this.checkOpening(entry, state as Extract<PollState, { pollId: string }>);
      if (refused) return refused;
      this.recordOpening(entry.pollId, entry.data as OpeningData);
    }
    this.recordPoll(entry);
    return undefined;
  }

  /**
   * An opening batch of a sealed poll: after its close, once per batch, all batches reading the ballots
   * at one log size, every opened ballot matching its commitment and fitting the poll (the full decider
   * check the node could not do before), a claimed unopenable ballot re-checked from the shares.
   */
  private checkOpening(entry: LedgerEntry, poll: Extract<PollState, { pollId: string }>): EntryRefusal | undefined {
    if (!this.sealed) return refusal('opening.unsupported', 'this checker has no sealed-poll context');
    if (poll.definition.settings.resultsVisibility !== 'sealed') return refusal('opening.not-sealed', `poll ${entry.pollId} is not sealed`);
    const status = statusAt(poll, entry.at);
    if (status === 'Open' || status === 'Scheduled' || status === 'Draft') return refusal('opening.poll-open', `poll ${entry.pollId} is not closed at ${entry.at}`);
    const data = entry.data as OpeningData;
    if (!Number.isSafeInteger(data.size) || data.size < 0) return refusal('malformed', 'an opening names the log size it read the ballots at');
    const previous = this.opening(entry.pollId);
    if (previous && previous.size !== data.size) return refusal('opening.size', `this poll's opening reads the ballots at size ${previous.size}, not ${data.size}`);
    if (previous?.batches.has(data.batch)) return refusal('opening.duplicate', `batch ${data.batch} of poll ${entry.pollId} is already opened`);
    const counted = this.sealed.sealedBallots(entry.pollId, poll.definition, data.size);
    if (!counted) return refusal('opening.behind', `this node holds fewer than ${data.size} entries`);
    const problem = openingProblem(poll.definition, this.sealed.keySet(String(data.keyId)), counted, data, false);
    return problem ? refusal('opening.invalid', problem) : undefined;
  }

  private recordOpening(pollId: string, data: OpeningData): void {
    const previous = this.opening(pollId);
    this.openings.set(pollId, { size: data.size, total: data.total, batches: new Set([...(previous?.batches ?? []), data.batch]) });
  }

  private recordPoll(entry: LedgerEntry): void {
    const event = { type: entry.eventType, data: entry.data } as PollEvent;
    this.polls.set(entry.pollId, evolvePoll(this.pollState(entry.pollId), event));
  }

  private checkBallot(entry: LedgerEntry): EntryRefusal | undefined {
    if (entry.eventType !== 'BallotCast') return refusal('malformed', `ballot entries must be BallotCast, not ${entry.eventType}`);
    const poll = this.pollState(entry.pollId);
    if (poll.status === 'Initial') return refusal('poll.not-found', `poll ${entry.pollId} is not in the log`);
    const data = entry.data as { voterTag: string; selections?: BallotSelections; sealed?: SealedBallot; salt: string; tracker: string; replaces?: unknown };
    if (data.sealed) {
      // Sealed to the nodes' own key, so that only 3 of them together can open it.
      if (!this.sealed?.keySet(data.sealed.keyId)) return refusal('ballot.sealed-key', `the ballot is sealed to key ${data.sealed.keyId}, which is not the nodes' key`);
    } else if (!isSelections(data.selections)) {
      return refusal('ballot.invalid', 'selections must be { selections: { question: option ids }, freeText?: { question: text } }');
    }
    const ballotId = ballotIdOf(entry);
    const voter = this.voter(entry.pollId, data.voterTag);
    const previous = voter.previous;
    const cap = poll.definition.settings.firstComeCap;
    const state: BallotState = previous
      ? { status: 'Cast', pollId: entry.pollId, voterTag: data.voterTag, ballotId: previous.ballotId, castAt: previous.at, casts: previous.casts }
      : ballotDecider.initialState;
    let replaces: string | null;
    try {
      const [event] = ballotDecider.decide(
        {
          type: 'CastBallot',
          data: {
            pollId: entry.pollId,
            voterTag: data.voterTag,
            ballotId,
            ...(data.sealed ? { sealed: data.sealed } : { selections: data.selections }),
            salt: data.salt,
            tracker: data.tracker,
            now: entry.at,
            poll: { definition: nodeDefinition(poll.definition), status: statusAt(poll, entry.at) },
            eligibility: { capReached: cap !== undefined && this.distinct(entry.pollId) >= cap },
          },
        },
        state,
      );
      replaces = event!.data.replaces;
    } catch (e) {
      if (e instanceof DomainError) return refusal(e.code, e.message);
      return refusal('ballot.invalid', e instanceof Error ? e.message : String(e));
    }
    if ((data.replaces ?? null) !== replaces) {
      return refusal(
        'ballot.replaces',
        replaces === null ? 'a first ballot must not name a ballot it replaces' : `a re-vote must name the voter's previous ballot ${replaces}`,
      );
    }
    let expected: string;
    try {
      expected = ballotTrackerCode(data.salt, entry.eventId, this.h);
    } catch {
      return refusal('ballot.tracker', 'the salt is not 32 bytes of lower-case hex');
    }
    if (data.tracker !== expected) return refusal('ballot.tracker', 'the tracker does not derive from the salt and event id');
    this.recordBallot(entry, voter, data.voterTag, ballotId);
    return undefined;
  }

  /** Records the entry about to take the next log position as the voter's last ballot. */
  private recordBallot(entry: LedgerEntry, voter: VoterLookup, voterTag: string, ballotId: string): void {
    const { key, previous, committedAt } = voter;
    const position = this.base.size + this.accepted;
    this.voters.set(voterKey(entry.pollId, voterTag), { pollId: entry.pollId, ballotId, at: entry.at, casts: (previous?.casts ?? 0) + 1, key, committedAt, position });
    if (!previous) this.distinctVoters.set(entry.pollId, this.distinct(entry.pollId) + 1);
  }

  /**
   * Makes every check of this transaction part of the checker's view. The node calls it once the
   * entries are in its log: the voters' tables point at their positions there.
   */
  commit(): void {
    const base = this.base.read();
    for (const [k, v] of this.polls) base.polls.set(k, v);
    for (const v of this.voters.values()) {
      let table = base.voterTables.get(v.pollId);
      if (!table) base.voterTables.set(v.pollId, (table = new VoterTable()));
      if (v.committedAt === null) table.insert(v.key, v.position, v.casts);
      else {
        const slot = table.slotOf(v.key, v.committedAt);
        if (slot < 0) throw new Error(`the voter table of poll ${v.pollId} lost the voter at position ${v.committedAt}`);
        table.update(slot, v.position, v.casts);
      }
    }
    // A poll past voting refuses every ballot as closed before its voters matter (the decider checks
    // that first), so its voter table goes: the tables held are those of the polls still taking ballots.
    for (const [k, v] of this.polls) if (v.status === 'Closed' || v.status === 'ResultPublished' || v.status === 'Reflected') base.voterTables.delete(k);
    for (const [k, v] of this.openings) base.openings.set(k, v);
    this.base.appended(this.accepted, this.texts);
  }
}

const isRecordOf = (value: unknown, item: (v: unknown) => boolean): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every(item);

/** The domain's checks assume this shape (a string would pass as a list of its characters). */
function isSelections(value: unknown): value is BallotSelections {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { selections?: unknown; freeText?: unknown };
  const isIds = (ids: unknown): boolean => Array.isArray(ids) && ids.every((id) => typeof id === 'string');
  return isRecordOf(v.selections, isIds) && (v.freeText === undefined || isRecordOf(v.freeText, (t) => typeof t === 'string'));
}

/** Why a poll entry's definition cannot be the definition of `pollId`, by the domain's own rules. */
function definitionProblem(def: unknown, pollId: string): string | undefined {
  if (typeof def !== 'object' || def === null) return 'the entry needs a poll definition';
  const d = def as PollDefinition;
  if (d.pollId !== pollId) return `the definition is of poll ${String(d.pollId)}, not ${pollId}`;
  if (!Array.isArray(d.questions) || typeof d.settings !== 'object' || d.settings === null) return 'the definition needs questions and settings';
  const problems = validatePollDefinition(d);
  return problems.length > 0 ? problems.map((p) => `${p.field} ${p.problem}`).join('; ') : undefined;
}

/**
 * The definition the decider sees on a node, made once per definition (not per ballot, so the domain's
 * per-definition caches, such as each question's option set, hold across ballots). The node cannot see
 * the voter roll or the voter's location: those stay with the app, so it leaves them out and judges
 * everything else. Weakly keyed: a definition a poll no longer has is dropped with it.
 */
const nodeDefinitions = new WeakMap<PollDefinition, PollDefinition>();
function nodeDefinition(definition: PollDefinition): PollDefinition {
  let made = nodeDefinitions.get(definition);
  if (!made) {
    const { onSite: _onSite, voterRollRequired: _roll, ...settings } = definition.settings;
    made = { ...definition, settings };
    nodeDefinitions.set(definition, made);
  }
  return made;
}

/**
 * pollStatusAt only moves a poll forward by the clock; a ballot dated before the poll's recorded opening
 * was cast while it was not open, whatever came after it.
 */
function statusAt(poll: Extract<PollState, { pollId: string }>, at: string): PollStatus {
  if (poll.status === 'Open' && Date.parse(at) < Date.parse(poll.openedAt)) return 'Scheduled';
  return pollStatusAt(poll, at);
}

/** A ballot entry names its ballot by `data.ballotId` when it carries one, else by its event id. */
export function ballotIdOf(entry: LedgerEntry): string {
  const d = entry.data as { ballotId?: unknown };
  return typeof d.ballotId === 'string' && d.ballotId !== '' ? d.ballotId : entry.eventId;
}

/**
 * The poll's definition and ballots as a tally wants them, from entry texts in log order. Throws if the
 * poll has no PollCreated entry among them.
 */
export function pollBallotsFromEntries(
  entries: Iterable<string>,
  pollId: string,
  /** Log index of each entry (a sealed poll's opening names the log size its ballots were read at). */
  indexes?: readonly number[],
  /** A node reading its own log passes {@link parseStoredEntryText}; others' texts are checked. */
  parse: (text: string) => LedgerEntry | EntryRefusal = parseEntryText,
): { definition: PollDefinition; ballots: TallyBallot[] } {
  let state: PollState = initialPoll;
  const ballots: TallyBallot[] = [];
  const ballotEntries: { entry: LedgerEntry; index: number }[] = [];
  const openings = new Map<number, OpeningData>();
  let k = -1;
  for (const text of entries) {
    k++;
    const entry = parse(text);
    if (isRefusal(entry) || entry.pollId !== pollId) continue;
    if (entry.kind === 'poll') {
      if (entry.eventType === OPENING_EVENT) openings.set((entry.data as OpeningData).batch, entry.data as OpeningData);
      state = evolvePoll(state, { type: entry.eventType, data: entry.data } as PollEvent);
    } else {
      ballotEntries.push({ entry, index: indexes?.[k] ?? k });
      const d = entry.data as { voterTag: string; selections?: BallotSelections };
      if (d.selections) ballots.push({ voterTag: d.voterTag, selections: d.selections, castAt: entry.at });
    }
  }
  if (state.status === 'Initial') throw new Error(`poll ${pollId} is not in the log`);
  if (state.definition.settings.resultsVisibility !== 'sealed') return { definition: state.definition, ballots };
  // A sealed poll counts its opened ballots, read at the size its opening names (throws until opened).
  const size = openings.values().next().value?.size;
  const counted = countedSealedBallots(state.definition, ballotEntries.filter((b) => size === undefined || b.index < size).map((b) => b.entry));
  return { definition: state.definition, ballots: openedTallyBallots(counted, openings) };
}
