import type { RecordedEvent } from '../eventStore.ts';
import type { Projection } from '../projection.ts';
import type { Actor, PollStatus, Reflection } from '../../domain/poll.ts';
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
  result: PollTally | null;
  reflection: (Reflection & { updatedAt: string }) | null;
  closedAt: string | null;
}

const POLL_EVENTS = [
  'PollCreated', 'PollDraftUpdated', 'PollScheduled', 'PollOpened', 'PollClosed', 'PollResultPublished',
  'PollReflectionPosted', 'PollReflectionUpdated', 'VoterRollChunkAdded', 'OnSitePlaceSet', 'BallotCast',
] as const;

const withDefinition = (row: PollRow, definition: PollDefinition): PollRow => ({
  ...row,
  definition,
  kind: definition.kind,
  title: definition.title,
  tags: definition.tags,
  opensAt: definition.settings.opensAt,
  closesAt: definition.settings.closesAt,
});

export const pollsProjection: Projection<PollRow> = {
  name: 'polls',
  handles: POLL_EVENTS,
  keyOf: (event) => (typeof event.data.pollId === 'string' ? event.data.pollId : null),
  evolve: (row, event) => {
    const d = event.data as Record<string, any>;
    if (event.type === 'PollCreated') {
      const createdBy = d.createdBy as Actor;
      const definition = d.definition as PollDefinition;
      return withDefinition(
        {
          pollId: d.pollId, status: 'Draft', createdAt: d.createdAt, creatorKind: createdBy.kind, creatorId: createdBy.id,
          orgId: createdBy.kind === 'official' ? createdBy.orgId : definition.orgId ?? null,
          ballots: 0, rollSize: 0, result: null, reflection: null, closedAt: null,
        } as PollRow,
        definition,
      );
    }
    if (!row) return null;
    switch (event.type) {
      case 'PollDraftUpdated':
        return withDefinition(row, d.definition);
      case 'PollScheduled':
        return { ...row, status: 'Scheduled', opensAt: d.opensAt, closesAt: d.closesAt };
      case 'PollOpened':
        return { ...row, status: 'Open' };
      case 'PollClosed':
        return { ...row, status: 'Closed', closedAt: d.closedAt };
      case 'PollResultPublished':
        return { ...row, status: 'ResultPublished', result: d.result };
      case 'PollReflectionPosted':
        return { ...row, status: 'Reflected', reflection: { ...d.reflection, updatedAt: d.postedAt } };
      case 'PollReflectionUpdated':
        return { ...row, status: 'Reflected', reflection: { ...d.reflection, updatedAt: d.updatedAt } };
      case 'VoterRollChunkAdded':
        return { ...row, rollSize: row.rollSize + (d.entries as string[]).length };
      case 'OnSitePlaceSet': {
        const settings = { ...row.definition.settings } as PollDefinition['settings'];
        if (d.place) settings.onSite = d.place as OnSitePlace;
        else delete settings.onSite;
        return { ...row, definition: { ...row.definition, settings } };
      }
      case 'BallotCast':
        return d.replaces ? row : { ...row, ballots: row.ballots + 1 };
      default:
        return row;
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

export const pollDailyVotesProjection: Projection<PollDailyVotesRow> = {
  name: 'poll-daily-votes',
  handles: ['BallotCast'],
  keyOf: (event) => (event.data.replaces ? null : `${event.data.pollId}|${kstDay(String(event.data.castAt))}`),
  evolve: (row, event) => row ? { ...row, votes: row.votes + 1 } : { pollId: String(event.data.pollId), day: kstDay(String(event.data.castAt)), votes: 1 },
};

/** The ballot that currently counts for each voter of each poll (a re-vote replaces it). */
export interface CurrentBallotRow {
  pollId: string;
  voterTag: string;
  ballotId: string;
  tracker: string;
  selections: BallotSelections;
  castAt: string;
  casts: number;
}

export const currentBallotsProjection: Projection<CurrentBallotRow> = {
  name: 'current-ballots',
  handles: ['BallotCast'],
  keyOf: (event) => `${event.data.pollId}|${event.data.voterTag}`,
  evolve: (row, event) => {
    const d = event.data as Record<string, any>;
    return { pollId: d.pollId, voterTag: d.voterTag, ballotId: d.ballotId, tracker: d.tracker, selections: d.selections, castAt: d.castAt, casts: (row?.casts ?? 0) + 1 };
  },
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

const citizenOf = (event: RecordedEvent): string | null => (typeof event.metadata.citizenId === 'string' ? event.metadata.citizenId : null);

export const myVotesProjection: Projection<MyVoteRow> = {
  name: 'my-votes',
  handles: ['BallotCast'],
  keyOf: (event) => {
    const citizenId = citizenOf(event);
    return citizenId ? `${citizenId}|${event.data.pollId}` : null;
  },
  evolve: (_row, event) => ({
    citizenId: citizenOf(event)!,
    pollId: String(event.data.pollId),
    ballotId: String(event.data.ballotId),
    tracker: String(event.data.tracker),
    castAt: String(event.data.castAt),
  }),
};

/** Keyed phone hashes of a poll's voter roll, one row per uploaded chunk. */
export interface VoterRollChunkRow {
  pollId: string;
  chunkIndex: number;
  entries: string[];
}

export const voterRollProjection: Projection<VoterRollChunkRow> = {
  name: 'voter-roll',
  handles: ['VoterRollChunkAdded'],
  keyOf: (event) => `${event.data.pollId}|${event.data.chunkIndex}`,
  evolve: (_row, event) => ({ pollId: String(event.data.pollId), chunkIndex: Number(event.data.chunkIndex), entries: event.data.entries as string[] }),
};

export interface CommentRow {
  commentId: string;
  pollId: string;
  authorId: string;
  text: string;
  postedAt: string;
  hidden: boolean;
}

export const commentsProjection: Projection<CommentRow> = {
  name: 'comments',
  handles: ['CommentPosted', 'CommentHidden'],
  keyOf: (event) => String(event.data.commentId),
  evolve: (row, event) => {
    const d = event.data as Record<string, any>;
    if (event.type === 'CommentPosted') return { commentId: d.commentId, pollId: d.pollId, authorId: d.authorId, text: d.text, postedAt: d.postedAt, hidden: false };
    return row ? { ...row, hidden: true } : null;
  },
};
