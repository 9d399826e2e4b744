import { sql } from 'kysely';

// Conditions over a bucket number computed from a bigint column, shared by the event store's and the
// ledger's digest queries: raw SQL because those queries group by computed buckets (see there).

/** A primary-key range condition for buckets `from` up to `to` (or all from `from` on) of `size` rows. */
export const positionsIn = (column: string, size: number, range?: { from: number; to?: number }) => {
  const from = sql`${sql.ref(column)} >= ${(range?.from ?? 0) * size}::bigint`;
  return range?.to === undefined ? from : sql`${from} AND ${sql.ref(column)} < ${range.to * size}::bigint`;
};

/**
 * The rows of these buckets (of `size` rows each), as primary-key ranges written out as constants: one
 * range per run of consecutive buckets, OR-ed. The planner then sees each range's bounds and reads those
 * rows by index. A join over the bucket numbers (unnest + LATERAL) hid the bounds from it: with a
 * column statistic gone stale under a vote (a type "rare" at the last ANALYZE), it planned a parallel
 * sequential scan of the whole table for the two newest buckets, every pass (BENCHMARKS.md, issue 14).
 * No buckets: `false`.
 */
export const inBuckets = (column: string, size: number, buckets: readonly number[]) => {
  const sorted = [...new Set(buckets)].sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const bucket of sorted) {
    const last = runs[runs.length - 1];
    if (last && last[1] === bucket) last[1] = bucket + 1;
    else runs.push([bucket, bucket + 1]);
  }
  // No buckets: no rows (sql.join of nothing would be empty parentheses).
  if (runs.length === 0) return sql`false`;
  const ref = sql.ref(column);
  return sql`(${sql.join(runs.map(([from, to]) => sql`(${ref} >= ${from * size}::bigint AND ${ref} < ${to * size}::bigint)`), sql` OR `)})`;
};
