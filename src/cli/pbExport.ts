import { writeFileSync } from 'node:fs';
import { exportPabulib, PabulibExportError } from '../app/polls/importPabulib.ts';
import { ConfigError, loadConfig } from '../infra/config.ts';
import { openPollServices } from '../infra/compositionRoot.ts';

/**
 * `npm run pb:export -- <pollId> [out.pb]`: a closed budget poll with a published result as a Pabulib
 * file (to stdout without a path). Voter ids are index numbers, never citizen ids or voter tags.
 */
const main = async (): Promise<number> => {
  const [pollId, out, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
  if (!pollId || rest.length > 0) {
    console.error('usage: npm run pb:export -- <pollId> [out.pb]');
    return 2;
  }
  const services = await openPollServices(loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }));
  try {
    await services.projections.settled();
    const text = await exportPabulib({ loadPoll: services.polls.get, loadBallots: (id) => services.polls.queries.loadCurrentBallots(services.db.kysely, id) })(pollId);
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
