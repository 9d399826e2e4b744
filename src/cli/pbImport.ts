import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { PabulibParseError } from '../domain/pabulib.ts';
import { orgStreamId } from '../domain/organisation.ts';
import { createOrganisation } from '../app/identity/admin.ts';
import { importPabulib, pabulibSources, PabulibImportError, preparePabulibImport, type Official } from '../app/polls/importPabulib.ts';
import { ConfigError, loadConfig } from '../infra/config.ts';

/**
 * `npm run pb:import -- file.pb [--cast] [--close] [--org <orgId>] [--concurrency N] [--timing]`: a budget poll
 * from a Pabulib file, run by an official of the organisation (default `city`, created if missing).
 * --cast casts every ballot through the real casting path, one synthetic citizen per file voter;
 * --close closes, publishes, and compares the funded projects with the file's `selected`.
 */
const usage = 'usage: npm run pb:import -- <file.pb> [--cast] [--close] [--org <orgId>] [--concurrency <n>] [--timing]';

let file = '';

const main = async (): Promise<number> => {
  // Milliseconds since this process started: Node's own start plus loading this command.
  const startedAt = performance.now();
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      cast: { type: 'boolean' }, close: { type: 'boolean' }, org: { type: 'string', default: 'city' }, concurrency: { type: 'string', default: '64' }, timing: { type: 'boolean' },
    },
  });
  const path = positionals[0];
  file = path ?? '';
  const concurrency = Number(values.concurrency);
  if (!path || positionals.length > 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    console.error(usage);
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    console.error(`${path}: ${(error as Error).message}`);
    return 2;
  }

  // The whole file is checked (parsed, the poll definition validated, every ballot dry-run) before the
  // storage is opened: a bad file is refused in milliseconds, and nothing heavy is loaded for it.
  const now = () => new Date().toISOString();
  const by: Official = { kind: 'official', id: 'pabulib-import', orgId: values.org };
  const plan = preparePabulibImport(text, { pollId: randomUUID(), orgId: by.orgId, now: now() });
  for (const w of plan.warnings) console.error(`${path}: warning: ${w}`);
  const checkedAt = performance.now();
  const config = loadConfig({ ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  // Loaded only now: the storage adapters are the heavy part of this command.
  const { openPollServices } = await import('../infra/storage.ts');
  const services = await openPollServices(config);
  const openedAt = performance.now();
  const timing = () => {
    if (!values.timing) return;
    const mb = (process.memoryUsage().rss / 1e6).toFixed(0);
    console.log(
      `timing: start-up ${startedAt.toFixed(0)} ms, reading and checking the file ${(checkedAt - startedAt).toFixed(0)} ms, opening the storage ${(openedAt - checkedAt).toFixed(0)} ms, importing ${(performance.now() - openedAt).toFixed(0)} ms; resident memory now ${mb} MB`,
    );
  };
  try {
    // The organisation must exist for the admin pages; creating it is safe to race (no_stream append).
    const org = await services.eventStore.readStream(orgStreamId(by.orgId));
    if (org.length === 0 && by.orgId === 'city') {
      await createOrganisation({ ...services.eventStore, newId: () => by.orgId, now })({ orgId: by.orgId, name: 'City', kind: 'department', by: 'pb:import' });
    } else if (org.length === 0) {
      console.error(`organisation ${by.orgId} does not exist`);
      return 2;
    }
    const started = performance.now();
    const result = await importPabulib({
      commands: services.polls.commands, cast: services.polls.cast, now, newPollId: () => plan.definition.pollId, keepSource: pabulibSources(services.eventStore).keep,
    })({ text, plan, by, cast: values.cast ?? false, close: values.close ?? false, concurrency });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`poll ${result.pollId}: "${result.definition.title}", ${result.definition.questions[0]!.options.length} projects`);
    if (values.cast) console.log(`cast ${result.ballotsCast} ballots in ${seconds} s`);
    timing();
    if (!result.outcome) return 0;
    const labels = new Map(result.definition.questions[0]!.options.map((o) => [o.id, o]));
    console.log(`closed and published (${result.outcome.tally.budget?.rule}); funded ${result.outcome.funded.length} projects:`);
    for (const id of result.outcome.funded) console.log(`  ${id}  ${labels.get(id)?.cost}  ${labels.get(id)?.label}`);
    console.log(result.outcome.matchesSelected ? 'equals the file\'s selected: yes' : `equals the file's selected: NO (file: ${result.selected.join(',')})`);
    return result.outcome.matchesSelected ? 0 : 1;
  } finally {
    await services.close();
  }
};

main().then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof PabulibParseError || error instanceof PabulibImportError) console.error(`${file}: ${error.message}`);
    else if (error instanceof ConfigError) console.error(error.message);
    else console.error(error);
    process.exit(2);
  },
);
