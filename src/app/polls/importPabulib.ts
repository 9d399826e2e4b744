import { ballotDecider } from '../../domain/ballot.ts';
import { DomainError } from '../../domain/errors.ts';
import {
  exportImportedPabulib,
  parsePabulib,
  pabulibBallotSelections,
  pabulibBudget,
  pabulibToPollDefinition,
  pollToPabulib,
  serializePabulib,
  type PabulibFile,
} from '../../domain/pabulib.ts';
import { recordInNewStream } from '../commandHandler.ts';
import type { AppendToStream, ReadStream } from '../eventStore.ts';
import type { Actor } from '../../domain/poll.ts';
import type { BallotSelections, PollDefinition } from '../../domain/pollDefinition.ts';
import { validatePollDefinition } from '../../domain/pollValidation.ts';
import type { PollTally, TallyBallot } from '../../domain/tally.ts';
import type { CastBallotInput } from './castBallot.ts';
import type { PollCommands } from './pollCommands.ts';

/**
 * Pabulib open data: import a `.pb` file as a budget poll (optionally casting its ballots through the
 * real casting path and closing it), and export a closed budget poll as a `.pb` file. An imported poll
 * keeps the file it came from (stream `pabulib-source-<pollId>`, never anchored on the ledger), so its
 * export gives back the same META, project and vote columns and voter ids.
 */

export type Official = Extract<Actor, { kind: 'official' }>;

/** A file that parses but cannot become a poll (unsupported rule, a ballot outside the limits, ...). */
export class PabulibImportError extends Error {
  readonly code = 'PABULIB_IMPORT';
  constructor(readonly problems: readonly string[]) {
    super(`cannot import: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`);
    this.name = 'PabulibImportError';
  }
}

export interface PabulibImportPlan {
  file: PabulibFile;
  definition: PollDefinition;
  ballots: { voterId: string; selections: BallotSelections }[];
  /** The official outcome as the file states it, in file order. */
  selected: string[];
  /** Said to whoever imports: e.g. a rule that cannot be reproduced and is counted with greedy. */
  warnings: string[];
}

export interface PrepareOptions {
  pollId: string;
  orgId: string;
  now: string;
  /** How long the poll stays open if nobody closes it. */
  openForMs?: number;
  /** Overrides for the demo: a local title, description and tags. */
  title?: string;
  description?: string;
  tags?: string[];
}

const DAY_MS = 86_400_000;
const DUMMY_SALT = '0'.repeat(64);

/**
 * Parses and validates everything before any event is written, so a bad file leaves nothing behind:
 * the poll definition by the same rules the poll decider applies, and every ballot by a dry run of the
 * ballot decider against the would-be open poll. Throws PabulibParseError (with the line) for a
 * malformed file and {@link PabulibImportError} for one that cannot become a poll.
 */
export function preparePabulibImport(text: string, opts: PrepareOptions): PabulibImportPlan {
  const file = parsePabulib(text);
  let definition: PollDefinition;
  try {
    const closesAt = new Date(Date.parse(opts.now) + (opts.openForMs ?? 30 * DAY_MS)).toISOString();
    definition = { ...pabulibToPollDefinition(file, { pollId: opts.pollId, opensAt: opts.now, closesAt }), orgId: opts.orgId };
  } catch (error) {
    if (error instanceof RangeError) throw new PabulibImportError([error.message]);
    throw error;
  }
  if (opts.title !== undefined) definition.title = opts.title;
  if (opts.description !== undefined) definition.description = opts.description;
  if (opts.tags !== undefined) definition.tags = opts.tags;
  const definitionProblems = validatePollDefinition(definition);
  if (definitionProblems.length > 0) throw new PabulibImportError(definitionProblems.map((p) => `${p.field} ${p.problem}`));

  const ballots = pabulibBallotSelections(file);
  const problems: string[] = [];
  for (const { voterId, selections } of ballots) {
    try {
      ballotDecider.decide(
        {
          type: 'CastBallot',
          data: {
            pollId: definition.pollId, voterTag: 'dry-run', ballotId: 'dry-run', selections, salt: DUMMY_SALT, tracker: 'dry-run',
            now: opts.now, poll: { definition, status: 'Open' }, eligibility: {},
          },
        },
        ballotDecider.initialState,
      );
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      problems.push(`voter ${voterId}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new PabulibImportError(problems);
  const budget = pabulibBudget(file);
  const warnings = budget.reproduces
    ? []
    : [`the file's rule ${budget.ruleName} is not one this project can compute: the poll is counted with greedy, so its outcome may differ from the file's selected`];
  return { file, definition, ballots, selected: file.projects.filter((p) => p.selected === true).map((p) => p.id), warnings };
}

/** Stream that keeps the file a poll was imported from (not anchored: it is open data, not a vote). */
export const pabulibSourceStreamId = (pollId: string): string => `pabulib-source-${pollId}`;
/** Characters per event, so that a 90,000-voter file stays a handful of modest events. */
const SOURCE_CHUNK = 256 * 1024;

/** Keeps and reads back the `.pb` text a poll was imported from. */
export const pabulibSources = (store: { append: AppendToStream; readStream: ReadStream }) => ({
  keep: async (pollId: string, text: string): Promise<void> => {
    const count = Math.max(1, Math.ceil(text.length / SOURCE_CHUNK));
    const events = Array.from({ length: count }, (_, i) => ({
      type: 'PabulibSourceChunkKept',
      data: { pollId, chunkIndex: i, chunkCount: count, text: text.slice(i * SOURCE_CHUNK, (i + 1) * SOURCE_CHUNK) },
    }));
    await recordInNewStream(store, pabulibSourceStreamId(pollId), events, { duplicate: 'refuse' });
  },
  load: async (pollId: string): Promise<string | null> => {
    const events = await store.readStream(pabulibSourceStreamId(pollId));
    const chunks = events.filter((e) => e.type === 'PabulibSourceChunkKept').map((e) => e.data as { chunkIndex: number; chunkCount: number; text: string });
    if (chunks.length === 0 || chunks.length !== chunks[0]!.chunkCount) return null;
    return chunks.sort((a, b) => a.chunkIndex - b.chunkIndex).map((c) => c.text).join('');
  },
});

export interface ImportPabulibDeps {
  commands: Pick<PollCommands, 'create' | 'schedule' | 'open' | 'close' | 'publishResult'>;
  cast: (input: CastBallotInput) => Promise<unknown>;
  now: () => string;
  newPollId: () => string;
  /** Keeps the file with the poll, for a faithful export (see {@link pabulibSources}). */
  keepSource?: (pollId: string, text: string) => Promise<void>;
}

export interface ImportPabulibInput {
  text: string;
  by: Official;
  /** Cast the file's ballots (all, or the first `castLimit`) through the real casting path. */
  cast?: boolean;
  castLimit?: number;
  /** Close the poll and publish the result (implies nothing about casting). */
  close?: boolean;
  /** Ballots in flight at once; group commit batches them into shared transactions. Default 64. */
  concurrency?: number;
  /** The synthetic citizen who casts a file voter's ballot. */
  citizenIdOf?: (pollId: string, voterId: string) => string;
  overrides?: Pick<PrepareOptions, 'title' | 'description' | 'tags' | 'openForMs'>;
  /** A plan already made from `text` (the CLI checks the file before it opens the database). */
  plan?: PabulibImportPlan;
}

export interface ImportPabulibResult {
  pollId: string;
  definition: PollDefinition;
  ballotsCast: number;
  /** The file's official outcome. */
  selected: string[];
  warnings: string[];
  /** After close: the published tally and whether its funded projects equal `selected` as sets. */
  outcome?: { tally: PollTally; funded: string[]; matchesSelected: boolean };
}

/** Synthetic citizens, one per file voter and poll: never a real account. */
export const pabulibCitizenId = (pollId: string, voterId: string): string => `pabulib:${pollId}:${voterId}`;

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first failure. */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/**
 * Creates, schedules and opens a budget poll from a Pabulib file in the official's organisation; then,
 * as asked, casts the file's ballots (one synthetic citizen per voter) and closes and publishes.
 */
export const importPabulib = (deps: ImportPabulibDeps) => async (input: ImportPabulibInput): Promise<ImportPabulibResult> => {
  const plan = input.plan ?? preparePabulibImport(input.text, { pollId: deps.newPollId(), orgId: input.by.orgId, now: deps.now(), ...input.overrides });
  const pollId = await deps.commands.create(plan.definition, input.by);
  await deps.keepSource?.(pollId, input.text);
  await deps.commands.schedule(pollId, input.by);
  await deps.commands.open(pollId, input.by);

  const toCast = input.cast ? plan.ballots.slice(0, input.castLimit ?? plan.ballots.length) : [];
  const citizenIdOf = input.citizenIdOf ?? pabulibCitizenId;
  await forEachBounded(toCast, input.concurrency ?? 64, async ({ voterId, selections }) => {
    await deps.cast({ pollId, citizenId: citizenIdOf(pollId, voterId), selections });
  });

  const result: ImportPabulibResult = { pollId, definition: plan.definition, ballotsCast: toCast.length, selected: plan.selected, warnings: plan.warnings };
  if (input.close) {
    await deps.commands.close(pollId, input.by);
    const tally = await deps.commands.publishResult(pollId, input.by);
    const funded = tally.budget?.funded ?? [];
    result.outcome = { tally, funded, matchesSelected: sameSet(funded, plan.selected) };
  }
  return result;
};

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && new Set([...a, ...b]).size === a.length;

/** Why a poll cannot be exported. */
export class PabulibExportError extends Error {
  readonly code = 'PABULIB_EXPORT';
  constructor(message: string) {
    super(message);
    this.name = 'PabulibExportError';
  }
}

export interface ExportPabulibDeps {
  /** The poll's definition and published tally (null when there is no such poll). */
  loadPoll: (pollId: string) => Promise<{ definition: PollDefinition; result: PollTally | null } | null>;
  /** Every counted ballot of the poll. */
  loadBallots: (pollId: string) => Promise<TallyBallot[]>;
  /** The file the poll was imported from, or null (see {@link pabulibSources}). */
  loadSource?: (pollId: string) => Promise<string | null>;
  /** The voter tag a citizen's ballot in a poll carries, to find which file voter cast a ballot. */
  voterTagOf?: (pollId: string, citizenId: string) => string;
  /** The synthetic citizen who cast a file voter's ballot (as at import). */
  citizenIdOf?: (pollId: string, voterId: string) => string;
}

/**
 * A closed budget poll with a published result as `.pb` text. A poll imported from a file gives back
 * that file (META, every project and vote column, the voters' ids, the official dates) with what the
 * poll counted (see exportImportedPabulib). Any other poll gets voter ids that are index numbers in
 * cast order: never citizen ids or voter tags, so the file links nobody to a ballot.
 */
export const exportPabulib = (deps: ExportPabulibDeps) => async (pollId: string): Promise<string> => {
  const poll = await deps.loadPoll(pollId);
  if (!poll) throw new PabulibExportError(`poll ${pollId} does not exist`);
  const { definition, result } = poll;
  if (definition.kind !== 'budget') throw new PabulibExportError(`poll ${pollId} is a ${definition.kind} poll, not a budget poll`);
  if (!result?.budget) throw new PabulibExportError(`poll ${pollId} has no published result yet: close it and publish first`);
  const questionId = definition.questions[0]!.id;
  const counted = [...(await deps.loadBallots(pollId))].sort((a, b) => Date.parse(a.castAt) - Date.parse(b.castAt));
  const sourceText = (await deps.loadSource?.(pollId)) ?? null;
  if (sourceText !== null && deps.voterTagOf) {
    const source = parsePabulib(sourceText);
    const citizenIdOf = deps.citizenIdOf ?? pabulibCitizenId;
    const voterOfTag = new Map(source.votes.map((v) => [deps.voterTagOf!(pollId, citizenIdOf(pollId, v.voterId)), v.voterId]));
    const ballots = counted.map((b) => ({ fileVoterId: voterOfTag.get(b.voterTag) ?? null, approved: b.selections.selections[questionId] ?? [] }));
    return serializePabulib(exportImportedPabulib(source, ballots, result.budget.funded));
  }
  const ballots = counted.map((b, i) => ({ voterId: String(i + 1), approved: b.selections.selections[questionId] ?? [] }));
  return serializePabulib(pollToPabulib(definition, ballots, result.budget.funded));
};
