import type { ColumnType } from 'kysely';
import type { Role } from '../../domain/citizen.ts';

/** The identity and statistics read models' tables (kept apart from their projections, so schema.ts imports no runner). */
export interface CitizensTable {
  id: string;
  roles: ColumnType<Role[], string, string>;
  org_id: string | null;
  status: 'active' | 'deleted';
  official_status: 'active' | 'suspended' | null;
  created_at: ColumnType<Date, string, string>;
}

export interface OrganisationsTable {
  id: string;
  name: string;
  kind: string;
  created_by: string;
  created_at: ColumnType<Date, string, string>;
}

export interface PlatformStatsTable {
  id: string;
  polls: number;
  ballots: number;
}
