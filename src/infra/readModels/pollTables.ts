import type { ColumnType } from 'kysely';
import type { CommentRow, CurrentBallotRow, MyVoteRow, PollDailyVotesRow, PollRow, VoterRollChunkRow } from '../../app/projections/polls.ts';

/**
 * The poll read models' tables (migrations 0003 and 0006). Document tables hold the projection's row as
 * `doc` (written as JSON text, read back parsed) beside the columns pages filter and sort by.
 */
type Doc<Row> = ColumnType<Row, string, string>;
/** timestamptz: read as a Date, written as ISO text. */
type Instant = ColumnType<Date, Date | string, Date | string>;
/** bigint arrives as text from node-postgres and as a number from PGlite. */
type BigInt8 = ColumnType<string | number, number, number>;

export interface PollsTable {
  id: string;
  doc: Doc<PollRow>;
  kind: string;
  status: string;
  official: boolean;
  org_id: string | null;
  creator_id: string;
  tags: string[];
  search: string;
  opens_at: Instant;
  closes_at: Instant;
  created_at: Instant;
  ballots: number;
}

export interface PollDailyVotesTable {
  id: string;
  doc: Doc<PollDailyVotesRow>;
  poll_id: string;
  day: ColumnType<Date | string, string, string>;
  votes: number;
}

export interface CurrentBallotsTable {
  id: string;
  doc: Doc<CurrentBallotRow>;
  poll_id: string;
  tracker: string;
}

export interface MyVotesTable {
  id: string;
  doc: Doc<MyVoteRow>;
  citizen_id: string;
  poll_id: string;
  cast_at: Instant;
}

export interface VoterRollChunksTable {
  id: string;
  doc: Doc<VoterRollChunkRow>;
  poll_id: string;
  entries: string[];
}

export interface CommentsTable {
  id: string;
  doc: Doc<CommentRow>;
  poll_id: string;
  posted_at: Instant;
  hidden: boolean;
}

/** First-come seats of capped polls (a concurrency guard, not an event). */
export interface PollCapSeatsTable {
  poll_id: string;
  taken: number;
}

/** Live counts per option, moved by increments as ballots are projected. */
export interface PollOptionCountsTable {
  poll_id: string;
  question_id: string;
  option_id: string;
  n: BigInt8;
}

export interface PollTables {
  polls: PollsTable;
  poll_daily_votes: PollDailyVotesTable;
  current_ballots: CurrentBallotsTable;
  my_votes: MyVotesTable;
  voter_roll_chunks: VoterRollChunksTable;
  comments: CommentsTable;
  poll_cap_seats: PollCapSeatsTable;
  poll_option_counts: PollOptionCountsTable;
}
