import type { Kysely } from 'kysely';
import type { PlatformStats } from '../../app/projections/platformStats.ts';
import { platformStatsProjection } from '../../app/projections/platformStats.ts';
import type { Database } from '../db/schema.ts';
import { readModel } from '../projections/runner.ts';

export const platformStatsReadModel = readModel(platformStatsProjection, {
  load: async (trx, keys) => {
    const rows = await trx.selectFrom('platform_stats').selectAll().where('id', 'in', keys).execute();
    return new Map(rows.map((r) => [r.id, { polls: r.polls, ballots: r.ballots }]));
  },
  save: async (trx, rows) => {
    for (const [id, row] of rows) {
      if (row === null) await trx.deleteFrom('platform_stats').where('id', '=', id).execute();
      else
        await trx
          .insertInto('platform_stats')
          .values({ id, ...row })
          .onConflict((oc) => oc.column('id').doUpdateSet(row))
          .execute();
    }
  },
  clear: async (trx) => void (await trx.deleteFrom('platform_stats').execute()),
});

export const getPlatformStats = async (db: Kysely<Database>): Promise<PlatformStats> => {
  const row = await db.selectFrom('platform_stats').select(['polls', 'ballots']).where('id', '=', 'all').executeTakeFirst();
  return row ?? { polls: 0, ballots: 0 };
};
