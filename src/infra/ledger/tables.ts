import type { ColumnType, Generated } from 'kysely';

/** The app's side of the ledger (migration 0005): leaves handed to the nodes, final checkpoints, badges, alerts. */
/** bigint arrives as text from node-postgres and as a number from PGlite. */
type BigInt8 = ColumnType<string | number, number, number>;
/** timestamptz the database fills in (or the code sets with now()). */
type Stamp = ColumnType<Date | string, string | undefined, string>;

/** A poll's ledger badge. */
export type VerificationStatus = 'pending' | 'completed' | 'failed';

export interface LedgerAnchorCheckpointTable {
  name: string;
  checkpoint: string;
  updated_at: Stamp;
}

export interface LedgerEntriesTable {
  leaf_index: BigInt8;
  event_id: string;
  poll_id: string;
  event_type: string;
  tracker: string | null;
  entry_hash: string;
  entry_text: string;
  committed_at: ColumnType<Date | string, Date | string, Date | string>;
}

export interface LedgerCheckpointsTable {
  size: BigInt8;
  note: string;
  finalized_at: Stamp;
}

export interface PollVerificationTable {
  poll_id: string;
  status: VerificationStatus;
  detail: string;
  /** The tally the nodes signed, written as JSON text. */
  tally: ColumnType<unknown, string | null, string | null>;
  tally_size: ColumnType<string | number | null, number | null, number | null>;
  updated_at: Stamp;
}

export interface LedgerAlertsTable {
  id: Generated<string>;
  alert_key: string;
  kind: string;
  poll_id: string | null;
  leaf_index: ColumnType<string | number | null, number | null, number | null>;
  event_id: string | null;
  message: string;
  raised_at: Stamp;
}

export interface LedgerTables {
  ledger_anchor_checkpoint: LedgerAnchorCheckpointTable;
  ledger_entries: LedgerEntriesTable;
  ledger_checkpoints: LedgerCheckpointsTable;
  poll_verification: PollVerificationTable;
  ledger_alerts: LedgerAlertsTable;
}
