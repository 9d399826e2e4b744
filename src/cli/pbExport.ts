import { writeFileSync } from 'node:fs';
import { exportPabulib, pabulibSources, PabulibExportError } from '../app/polls/importPabulib.ts';
import { ConfigError, loadConfig } from '../infra/config.ts';
import { loadServerSecret, openPollServices } from '../infra/storage.ts';
import { voterTagOf } from '../infra/polls/ballotIdentity.ts';

/**
 * `npm run pb:export -- <pollId> [out.pb]`: a closed budget poll with a published result as a Pabulib
 * file (to stdout without a path). A poll imported from a file gives that file back (META, columns,
 * voter ids, dates) with what the poll counted; other polls get index voter ids, never citizen ids or
 * voter tags.
 */
const main = async (): Promise<number> => {
  const [pollId, out, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
  if (!pollId || rest.length > 0) {
    console.error('usage: npm run pb:export -- <pollId> [out.pb]');
    return 2;
  }
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const services = await openPollServices(config);
  try {
    await services.projections.settled();
    const text = await exportPabulib({
      loadPoll: services.polls.get,
      loadBallots: (id) => services.polls.queries.loadCurrentBallots(services.db.kysely, id),
      loadSource: pabulibSources(services.eventStore).load,
      voterTagOf: voterTagOf(loadServerSecret(config)),
    })(pollId);
    if (out) {
      writeFileSync(out, text);
      console.error(`wrote ${out}`);
    } else process.stdout.write(text);
    return 0;
  } finally {
    await services.close();
  }
};

main().then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof PabulibExportError || error instanceof ConfigError) console.error(error.message);
    else console.error(error);
    process.exit(2);
  },
);
