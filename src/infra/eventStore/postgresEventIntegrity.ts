import { sql, type Kysely } from 'kysely';
import type { EventIntegrity } from '../../app/eventIntegrity.ts';
import { inBuckets, positionsIn } from '../db/buckets.ts';
import type { Database } from '../db/schema.ts';
import { EVENT_COLUMNS, toRecorded, type EventRow } from './postgresEventStore.ts';

/**
 * The version stamps of the events of these buckets of log positions: primary-key ranges with constant
 * bounds (see inBuckets), so only those buckets' rows are read. Exported for its query-plan spec.
 */
export const versionsInBucketsQuery = (types: readonly string[], bucketSize: number, buckets: readonly number[]) => sql<{ id: string; v: string; b: string }>`
  SELECT id::text AS id, xmin::text AS v, (global_position / ${bucketSize}::bigint)::text AS b
  FROM events WHERE ${inBuckets('global_position', bucketSize, buckets)} AND type = ANY(${[...types]}::text[])`;

/**
 * The tamper watch's reads of the events table (PostgreSQL and PGlite): raw SQL because they read the
 * system column xmin and group by a computed bucket.
 */
export const createPostgresEventIntegrity = (kysely: Kysely<Database>): EventIntegrity => ({
  versionDigests: async (types, bucketSize, range) => {
    // Order-free (a count and a sum of 64-bit hashes), so PostgreSQL digests a bucket without sorting it;
    // the range condition is on the primary key (global_position), so only those buckets are read.
    const { rows } = await sql<{ b: string; d: string }>`
      SELECT (global_position / ${bucketSize}::bigint)::text AS b,
             count(*)::text || ':' || sum(hashtextextended(id::text || ':' || xmin::text, 0))::text AS d
      FROM events WHERE type = ANY(${[...types]}::text[]) AND ${positionsIn('global_position', bucketSize, range)}
      GROUP BY 1`.execute(kysely);
    return new Map(rows.map((r) => [Number(r.b), r.d]));
  },
  versionsInBuckets: async (types, bucketSize, buckets) => {
    if (buckets.length === 0) return [];
    const { rows } = await versionsInBucketsQuery(types, bucketSize, buckets).execute(kysely);
    return rows.map((r) => ({ id: r.id, version: r.v, bucket: Number(r.b) }));
  },
  versionsById: async (ids) => {
    if (ids.length === 0) return new Map();
    const { rows } = await sql<{ id: string; v: string }>`SELECT id::text AS id, xmin::text AS v FROM events WHERE id = ANY(${[...ids]}::uuid[])`.execute(kysely);
    return new Map(rows.map((r) => [r.id, r.v]));
  },
  eventsById: async (ids) => {
    if (ids.length === 0) return [];
    const { rows } = await sql<EventRow>`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ANY(${[...ids]}::uuid[])`.execute(kysely);
    return rows.map(toRecorded);
  },
});
