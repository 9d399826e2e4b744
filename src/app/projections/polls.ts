import { assertNever } from '../../domain/decider.ts';
import type { RecordedAppEvent } from '../events.ts';
import type { Projection } from '../projection.ts';
import type { PollEvent, PollStatus, Reflection } from '../../domain/poll.ts';
import type { BallotSelections, OnSitePlace, PollDefinition } from '../../domain/pollDefinition.ts';
import type { PollTally } from '../../domain/tally.ts';

/** One poll as the list, card and poll pages show it. */
export interface PollRow {
  pollId: string;
  kind: PollDefinition['kind'];
  title: string;
  tags: string[];
  status: PollStatus;
  opensAt: string;
  closesAt: string;
  createdAt: string;
  creatorKind: 'citizen' | 'official';
  creatorId: string;
  orgId: string | null;
  definition: PollDefinition;
  ballots: number;
  rollSize: number;
  /** Phone numbers on the exclusion list (absent on rows made before the list existed). */
  exclusionSize?: number;
  result: PollTally | null;
  reflection: (Reflection & { updatedAt: string }) | null;
  closedAt: string | null;
  /** When it actually opened (earlier than opensAt when its owner opened it early); absent on rows made before this field. */
  openedAt?: string | null;
}

const withDefinition = (row: PollRow, definition: PollDefinition): PollRow => ({
  ...row,
  definition,
  kind: definition.kind,
  title: definition.title,
  tags: definition.tags,
  opensAt: definition.settings.opensAt,
  closesAt: definition.settings.closesAt,
});

const withOnSitePlace = (definition: PollDefinition, place: OnSitePlace | null): PollDefinition => {
  const settings = { ...definition.settings };
  if (place) settings.onSite = place;
  else delete settings.onSite;
  return { ...definition, settings };
};

type PollRowEvent = PollEvent['type'] | 'BallotCast';

export const pollsProjection: Projection<PollRow, PollRowEvent> = {
  name: 'polls',
  handles: [
    'PollCreated', 'PollDraftUpdated', 'PollScheduled', 'PollOpened', 'PollClosed', 'PollResultPublished',
    'PollReflectionPosted', 'PollReflectionUpdated', 'VoterRollChunkAdded', 'VoterExclusionChunkAdded', 'OnSitePlaceSet', 'BallotCast',
  ],
  keyOf: (event) => (typeof event.data.pollId === 'string' ? event.data.pollId : null),
  evolve: (row, event) => {
    if (event.type === 'PollCreated') {
      const { pollId, createdAt, createdBy, definition } = event.data;
      return withDefinition(
        {
          pollId, status: 'Draft', createdAt, creatorKind: createdBy.kind, creatorId: createdBy.id,
          orgId: createdBy.kind === 'official' ? createdBy.orgId : definition.orgId ?? null,
          ballots: 0, rollSize: 0, result: null, reflection: null, closedAt: null,
        } as PollRow,
        definition,
      );
    }
    if (!row) return null;
    switch (event.type) {
      case 'PollDraftUpdated':
        return withDefinition(row, event.data.definition);
      case 'PollScheduled':
        return { ...row, status: 'Scheduled', opensAt: event.data.opensAt, closesAt: event.data.closesAt };
      case 'PollOpened':
        return { ...row, status: 'Open', openedAt: event.data.openedAt };
      case 'PollClosed':
        return { ...row, status: 'Closed', closedAt: event.data.closedAt };
      case 'PollResultPublished':
        return { ...row, status: 'ResultPublished', result: event.data.result };
      case 'PollReflectionPosted':
        return { ...row, status: 'Reflected', reflection: { ...event.data.reflection, updatedAt: event.data.postedAt } };
      case 'PollReflectionUpdated':
        return { ...row, status: 'Reflected', reflection: { ...event.data.reflection, updatedAt: event.data.updatedAt } };
      case 'VoterRollChunkAdded':
        return { ...row, rollSize: row.rollSize + event.data.entries.length };
      case 'VoterExclusionChunkAdded':
        return { ...row, exclusionSize: (row.exclusionSize ?? 0) + event.data.entries.length };
      case 'OnSitePlaceSet':
        return { ...row, definition: withOnSitePlace(row.definition, event.data.place) };
      case 'BallotCast':
        return event.data.replaces ? row : { ...row, ballots: row.ballots + 1 };
      default:
        return assertNever(event);
    }
  },
};

/** Votes per poll per day (Korea Standard Time), for the daily "Hot" badge. */
export interface PollDailyVotesRow {
  pollId: string;
  day: string;
  votes: number;
}

/** The calendar day in Korea (UTC+9, no daylight saving) of an instant. */
export const kstDay = (iso: string): string => new Date(Date.parse(iso) + 9 * 3_600_000).toISOString().slice(0, 10);

export const pollDailyVotesProjection: Projection<PollDailyVotesRow, 'BallotCast'> = {
  name: 'poll-daily-votes',
  handles: ['BallotCast'],
  keyOf: ({ data }) => (data.replaces ? null : `${data.pollId}|${kstDay(data.castAt)}`),
  evolve: (row, { data }) => (row ? { ...row, votes: row.votes + 1 } : { pollId: data.pollId, day: kstDay(data.castAt), votes: 1 }),
};

/** The ballot that currently counts for each voter of each poll (a re-vote replaces it). */
export interface CurrentBallotRow {
  pollId: string;
  voterTag: string;
  ballotId: string;
  tracker: string;
  /** Absent for a sealed poll's ballot: no read model holds a sealed ballot's choices. */
  selections?: BallotSelections;
  castAt: string;
  casts: number;
}

export const currentBallotsProjection: Projection<CurrentBallotRow, 'BallotCast'> = {
  name: 'current-ballots',
  handles: ['BallotCast'],
  keyOf: ({ data }) => `${data.pollId}|${data.voterTag}`,
  evolve: (row, { data }) => ({
    pollId: data.pollId, voterTag: data.voterTag, ballotId: data.ballotId, tracker: data.tracker, selections: data.selections, castAt: data.castAt,
    casts: (row?.casts ?? 0) + 1,
  }),
};

/** One option's change in live count: `${pollId}`, question, option and the signed difference. */
export interface OptionCountDelta {
  pollId: string;
  questionId: string;
  optionId: string;
  delta: number;
}

/**
 * How a batch of current-ballot changes moves the live option counts: each replaced or deleted
 * ballot's choices count -1, each new one's +1; options whose changes cancel out are left out.
 */
export const optionCountDeltas = (changes: ReadonlyMap<string, CurrentBallotRow | null>, before: ReadonlyMap<string, CurrentBallotRow>): OptionCountDelta[] => {
  const deltas = new Map<string, OptionCountDelta>();
  const add = (row: CurrentBallotRow | null | undefined, sign: 1 | -1) => {
    if (!row) return;
    // A projection must never stop on a malformed event: a ballot without selections moves no count.
    for (const [questionId, optionIds] of Object.entries(row.selections?.selections ?? {})) {
      if (!Array.isArray(optionIds)) continue;
      for (const optionId of optionIds) {
        const key = JSON.stringify([row.pollId, questionId, optionId]);
        const entry = deltas.get(key) ?? { pollId: row.pollId, questionId, optionId, delta: 0 };
        entry.delta += sign;
        deltas.set(key, entry);
      }
    }
  };
  for (const [key, row] of changes) {
    add(before.get(key), -1);
    add(row, 1);
  }
  return [...deltas.values()].filter((d) => d.delta !== 0);
};

/** A citizen's own ballots, for "My page". The citizen id comes from the event's metadata, never the ledger. */
export interface MyVoteRow {
  citizenId: string;
  pollId: string;
  ballotId: string;
  tracker: string;
  castAt: string;
}

const citizenOf = (event: RecordedAppEvent): string | null => (typeof event.metadata.citizenId === 'string' ? event.metadata.citizenId : null);

/** A my-votes row's key: one row per citizen and poll (readers look rows up by it, the primary key). */
export const myVoteKey = (citizenId: string, pollId: string): string => `${citizenId}|${pollId}`;

/** A ballot without a citizen in its metadata is keyed to no row, so evolve never sees one. */
export const myVotesProjection: Projection<MyVoteRow, 'BallotCast'> = {
  name: 'my-votes',
  handles: ['BallotCast'],
  keyOf: (event) => {
    const citizenId = citizenOf(event);
    return citizenId ? myVoteKey(citizenId, event.data.pollId) : null;
  },
  evolve: (_row, event) => ({
    citizenId: String(citizenOf(event)),
    pollId: event.data.pollId,
    ballotId: event.data.ballotId,
    tracker: event.data.tracker,
    castAt: event.data.castAt,
  }),
};

/** Keyed phone hashes of a poll's voter roll, one row per uploaded chunk. */
export interface VoterRollChunkRow {
  pollId: string;
  chunkIndex: number;
  entries: string[];
}

export const voterRollProjection: Projection<VoterRollChunkRow, 'VoterRollChunkAdded'> = {
  name: 'voter-roll',
  handles: ['VoterRollChunkAdded'],
  keyOf: ({ data }) => `${data.pollId}|${data.chunkIndex}`,
  evolve: (_row, { data }) => ({ pollId: data.pollId, chunkIndex: data.chunkIndex, entries: data.entries }),
};

/** Keyed phone hashes of a poll's exclusion list, one row per uploaded chunk (kept like the roll). */
export const voterExclusionProjection: Projection<VoterRollChunkRow, 'VoterExclusionChunkAdded'> = {
  name: 'voter-exclusions',
  handles: ['VoterExclusionChunkAdded'],
  keyOf: ({ data }) => `${data.pollId}|${data.chunkIndex}`,
  evolve: (_row, { data }) => ({ pollId: data.pollId, chunkIndex: data.chunkIndex, entries: data.entries }),
};

export interface CommentRow {
  commentId: string;
  pollId: string;
  authorId: string;
  text: string;
  postedAt: string;
  hidden: boolean;
}

export const commentsProjection: Projection<CommentRow, 'CommentPosted' | 'CommentHidden'> = {
  name: 'comments',
  handles: ['CommentPosted', 'CommentHidden'],
  keyOf: ({ data }) => data.commentId,
  evolve: (row, event) => {
    switch (event.type) {
      case 'CommentPosted': {
        const { commentId, pollId, authorId, text, postedAt } = event.data;
        return { commentId, pollId, authorId, text, postedAt, hidden: false };
      }
      case 'CommentHidden':
        return row ? { ...row, hidden: true } : null;
      default:
        return assertNever(event);
    }
  },
};
