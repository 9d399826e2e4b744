import { sql, type Kysely, type Selectable } from 'kysely';
import { citizensProjection, type CitizenRow } from '../../app/projections/citizens.ts';
import { organisationsProjection, type OrganisationRow } from '../../app/projections/organisations.ts';
import type { Role } from '../../domain/citizen.ts';
import type { Database } from '../db/schema.ts';
import { readModel, type AnyReadModel } from '../projections/runner.ts';
import type { CitizensTable } from './tables.ts';

const toCitizenRow = (r: { roles: Role[]; org_id: string | null; status: 'active' | 'deleted'; official_status: 'active' | 'suspended' | null; created_at: Date }): CitizenRow => ({
  roles: r.roles,
  orgId: r.org_id,
  status: r.status,
  officialStatus: r.official_status,
  createdAt: r.created_at.toISOString(),
});

export const citizensReadModel = readModel(citizensProjection, {
  load: async (trx, keys) => new Map((await trx.selectFrom('citizens').selectAll().where('id', 'in', keys).execute()).map((r) => [r.id, toCitizenRow(r)])),
  save: async (trx, rows) => {
    for (const [id, row] of rows) {
      if (row === null) {
        await trx.deleteFrom('citizens').where('id', '=', id).execute();
        continue;
      }
      const values = { roles: JSON.stringify(row.roles), org_id: row.orgId, status: row.status, official_status: row.officialStatus, created_at: row.createdAt };
      await trx.insertInto('citizens').values({ id, ...values }).onConflict((oc) => oc.column('id').doUpdateSet(values)).execute();
    }
  },
  clear: async (trx) => void (await trx.deleteFrom('citizens').execute()),
});

export const organisationsReadModel = readModel(organisationsProjection, {
  load: async (trx, keys) =>
    new Map(
      (await trx.selectFrom('organisations').selectAll().where('id', 'in', keys).execute()).map((r) => [
        r.id,
        { name: r.name, kind: r.kind, createdBy: r.created_by, createdAt: r.created_at.toISOString() },
      ]),
    ),
  save: async (trx, rows) => {
    for (const [id, row] of rows) {
      if (row === null) {
        await trx.deleteFrom('organisations').where('id', '=', id).execute();
        continue;
      }
      const values = { name: row.name, kind: row.kind, created_by: row.createdBy, created_at: row.createdAt };
      await trx.insertInto('organisations').values({ id, ...values }).onConflict((oc) => oc.column('id').doUpdateSet(values)).execute();
    }
  },
  clear: async (trx) => void (await trx.deleteFrom('organisations').execute()),
});

export const identityReadModels: AnyReadModel[] = [citizensReadModel, organisationsReadModel];

export interface CitizenRoles {
  id: string;
  roles: Role[];
  orgId: string | null;
  status: 'active' | 'deleted';
  officialStatus: 'active' | 'suspended' | null;
  createdAt: Date;
}

/** One citizen's roles, or undefined before the projection saw them (a moment after sign-up). */
export const getCitizenRoles = async (db: Kysely<Database>, citizenId: string): Promise<CitizenRoles | undefined> => {
  const r = await db.selectFrom('citizens').selectAll().where('id', '=', citizenId).executeTakeFirst();
  return r && toRoles(r);
};

/** The roles of many citizens in one query (the per-request user look-up, coalesced). */
export const getCitizenRolesMany = async (db: Kysely<Database>, citizenIds: string[]): Promise<Map<string, CitizenRoles>> => {
  if (citizenIds.length === 0) return new Map();
  // ANY of one array parameter: the same statement text whatever the number of ids.
  const rows = await db.selectFrom('citizens').selectAll().where('id', '=', sql<string>`ANY(${citizenIds}::text[])`).execute();
  return new Map(rows.map((r) => [r.id, toRoles(r)]));
};

/**
 * Session rows with their citizen's roles, in one query (the first thing every request reads).
 * `citizen` is undefined when the session has no citizen or the read model does not have it yet.
 */
export const sessionsWithRoles = async (
  db: Kysely<Database>,
  sessionIds: string[],
): Promise<Array<{ id: string; data: Record<string, unknown>; expiresAt: Date; citizenId: string | null; citizen: CitizenRoles | undefined }>> => {
  const { rows } = await sql<{ sid: string; data: Record<string, unknown>; expires_at: Date; citizen_id: string | null } & Partial<Selectable<CitizensTable>>>`
    SELECT s.id AS sid, s.data, s.expires_at, s.citizen_id, c.*
    FROM sessions s LEFT JOIN citizens c ON c.id = s.citizen_id
    WHERE s.id = ANY(${sessionIds}::text[])`.execute(db);
  return rows.map((r) => ({
    id: r.sid,
    data: r.data,
    expiresAt: r.expires_at,
    citizenId: r.citizen_id,
    citizen: r.id ? toRoles(r as Selectable<CitizensTable>) : undefined,
  }));
};

const toRoles = (r: Selectable<CitizensTable>): CitizenRoles => ({ id: r.id, roles: r.roles, orgId: r.org_id, status: r.status, officialStatus: r.official_status, createdAt: r.created_at });

/** Everyone who holds or held an official role, newest first. */
export const listOfficials = async (db: Kysely<Database>): Promise<CitizenRoles[]> =>
  (await db.selectFrom('citizens').selectAll().where('official_status', 'is not', null).where('status', '=', 'active').orderBy('created_at', 'desc').execute()).map(toRoles);

export interface Organisation {
  id: string;
  name: string;
  kind: string;
  createdAt: Date;
}

export const listOrganisations = async (db: Kysely<Database>): Promise<Organisation[]> =>
  (await db.selectFrom('organisations').select(['id', 'name', 'kind', 'created_at']).orderBy('name').execute()).map((r) => ({ id: r.id, name: r.name, kind: r.kind, createdAt: r.created_at }));
