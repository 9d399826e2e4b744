import { sql } from 'kysely';

// Conditions over a bucket number computed from a bigint column, shared by the event store's and the
// ledger's digest queries: raw SQL because those queries group by computed buckets (see there).

/** A primary-key range condition for buckets `from` up to `to` (or all from `from` on) of `size` rows. */
export const positionsIn = (column: string, size: number, range?: { from: number; to?: number }) => {
  const from = sql`${sql.ref(column)} >= ${(range?.from ?? 0) * size}::bigint`;
  return range?.to === undefined ? from : sql`${from} AND ${sql.ref(column)} < ${range.to * size}::bigint`;
};

/** A join condition: `column` falls in the bucket numbered by the SQL expression `bucket` (buckets of `size`). */
export const inBucket = (column: string, size: number, bucket: ReturnType<typeof sql>) =>
  sql`${sql.ref(column)} >= ${bucket} * ${size}::bigint AND ${sql.ref(column)} < (${bucket} + 1) * ${size}::bigint`;
