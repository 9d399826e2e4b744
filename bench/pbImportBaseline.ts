import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { importPabulib, type Official } from '../src/app/polls/importPabulib.ts';
import { loadConfig } from '../src/infra/config.ts';
// Imported up front, as pb:import did before the file was checked first: the whole composition root (web server, ledger,
// portal, EventStoreDB client) loads before the file is even read.
import { openPollServices } from '../src/infra/compositionRoot.ts';

/**
 * The `pb:import` flow as it was before the file was checked first, kept for the benchmark's same-run baseline: open the
 * storage first, then parse and check the file, then create, schedule and open the poll (the point
 * where the first ballot could be cast). Run only by bench/pabulib.bench.ts.
 */
const path = process.argv[2]!;
const services = await openPollServices(loadConfig({ ...process.env, LOG_LEVEL: 'warn' }));
try {
  const by: Official = { kind: 'official', id: 'pabulib-import', orgId: 'city' };
  const result = await importPabulib({ commands: services.polls.commands, cast: services.polls.cast, now: () => new Date().toISOString(), newPollId: () => randomUUID() })({
    text: readFileSync(path, 'utf8'), by,
  });
  console.log(`poll ${result.pollId}`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 2;
} finally {
  await services.close();
  process.exit();
}
