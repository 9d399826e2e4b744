import { sql } from 'kysely';
import type { RowStore } from '../projections/runner.ts';

/**
 * A row store for read-model tables shaped as `id text PRIMARY KEY, doc jsonb` plus the columns a page
 * filters or sorts by (`columnsOf`). The projection's row is the document; the columns are derived from
 * it on every save, so they can never disagree. One statement upserts a whole batch.
 *
 * Raw SQL: the table is a parameter and the columns come from `columnsOf`, which the query builder can
 * only type for one table named in the code.
 */
export const documentRowStore = <Row>(table: string, columnsOf: (row: Row) => Record<string, unknown> = () => ({})): RowStore<Row> => ({
  load: async (trx, keys) => {
    if (keys.length === 0) return new Map();
    const { rows } = await sql<{ id: string; doc: Row }>`SELECT id, doc FROM ${sql.table(table)} WHERE id = ANY(${keys}::text[])`.execute(trx);
    return new Map(rows.map((r) => [r.id, r.doc]));
  },
  save: async (trx, changes) => {
    const deleted = [...changes].filter(([, row]) => row === null).map(([id]) => id);
    const upserts = [...changes].filter((entry): entry is [string, Row] => entry[1] !== null);
    if (deleted.length > 0) await sql`DELETE FROM ${sql.table(table)} WHERE id = ANY(${deleted}::text[])`.execute(trx);
    if (upserts.length === 0) return;
    const records = upserts.map(([id, row]) => ({ id, doc: JSON.stringify(row), ...columnsOf(row) }));
    const columns = Object.keys(records[0]!);
    await sql`
      INSERT INTO ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))})
      VALUES ${sql.join(records.map((r) => sql`(${sql.join(columns.map((c) => (r as Record<string, unknown>)[c]))})`))}
      ON CONFLICT (id) DO UPDATE SET ${sql.join(columns.filter((c) => c !== 'id').map((c) => sql`${sql.ref(c)} = excluded.${sql.ref(c)}`))}`.execute(trx);
  },
  clear: async (trx) => void (await sql`DELETE FROM ${sql.table(table)}`.execute(trx)),
});
