/**
 * `npm run load:provision -- --voters 250000 [--create-poll] [--out load-tests/.data/voters.jsonl]`
 *
 * Makes N verified test citizens and a signed-in session for each, through the identity use case
 * (`ensureCitizen`: phone claim, per-citizen key, encrypted profile, RegisterCitizen) and the sessions
 * table that koa-session reads, then writes the voters file the load runners read (load-tests/README.md).
 * Refused when NODE_ENV=production: it mints sessions without an SMS code.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Kysely } from 'kysely';
import type { EventStore } from '../app/eventStore.ts';
import { ensureCitizen } from '../app/identity/citizens.ts';
import { pollCommands } from '../app/polls/pollCommands.ts';
import type { Actor } from '../domain/poll.ts';
import type { PollDefinition } from '../domain/pollDefinition.ts';
import type { Database } from '../infra/db/schema.ts';
import { deriveKey, phoneHasher } from '../infra/identity/crypto.ts';
import { createVault } from '../infra/identity/stores.ts';

export const SESSION_COOKIE = 'sid';
const SESSION_MAX_AGE_MS = 7 * 86_400_000;

export interface ProvisionDeps {
  db: Kysely<Database>;
  /** Group-committed (withGroupCommit), so that concurrent registrations share transactions. */
  eventStore: Pick<EventStore, 'readStream' | 'append'>;
  serverSecret: Buffer;
  nodeEnv: string;
}

export interface ProvisionedVoter {
  citizenId: string;
  /** The `Cookie` header value of a signed-in session. */
  cookie: string;
  csrf: string;
}

export class ProvisioningRefused extends Error {}

/** The cookie-signing key the app uses (identity wiring: deriveKey(secret, 'session-cookie'), base64url). */
export const sessionCookieKey = (serverSecret: Buffer): string => deriveKey(serverSecret, 'session-cookie').toString('base64url');

/** Keygrip's signature (HMAC-SHA1, base64url without padding), as `cookies` checks `sid.sig`. */
export const signCookie = (nameEqualsValue: string, key: string): string =>
  createHmac('sha1', key).update(nameEqualsValue).digest('base64').replace(/\/|\+|=/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c]!);

/**
 * Many sessions in one INSERT: the same rows koa-session's store.set writes (data with `_expire` and
 * `_maxAge`, as koa-session stores them), for provisioning only. Batches of 1,000 keep statements small.
 */
export const insertSessions = async (db: Kysely<Database>, sessions: Array<{ id: string; citizenId: string; csrf: string }>, now = Date.now()): Promise<void> => {
  const expires = now + SESSION_MAX_AGE_MS;
  for (let i = 0; i < sessions.length; i += 1000)
    await db
      .insertInto('sessions')
      .values(sessions.slice(i, i + 1000).map((s) => ({ id: s.id, citizen_id: s.citizenId, expires_at: new Date(expires), data: JSON.stringify({ citizenId: s.citizenId, csrf: s.csrf, _expire: expires, _maxAge: SESSION_MAX_AGE_MS }) })))
      .execute();
};

/** Test phone numbers: +82 10-9xxx-xxxx, one per index (up to 10 million), never a real subscriber's pattern in our tests. */
export const testPhone = (index: number, prefix = 9): string => `+8210${prefix}${String(index).padStart(7, '0')}`;

/**
 * Registers `count` citizens (running `concurrency` registrations at once so that group commit batches
 * their appends) and opens a session for each. Returns the voters in index order.
 */
export const provisionVoters = async (deps: ProvisionDeps, options: { count: number; concurrency?: number; phonePrefix?: number; onProgress?: (done: number) => void }): Promise<ProvisionedVoter[]> => {
  if (deps.nodeEnv === 'production') throw new ProvisioningRefused('refused: provisioning test voters mints sessions without SMS codes and never runs with NODE_ENV=production');
  const ensure = ensureCitizen({
    readStream: deps.eventStore.readStream,
    append: deps.eventStore.append,
    vault: createVault(deps.db),
    phoneHashOf: phoneHasher(deps.serverSecret),
    newId: randomUUID,
    now: () => new Date().toISOString(),
  });
  const citizenIds: string[] = new Array(options.count);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.concurrency ?? 256, options.count) }, async () => {
      while (next < options.count) {
        const i = next++;
        citizenIds[i] = (await ensure(testPhone(i, options.phonePrefix))).citizenId;
        if (++done % 10_000 === 0) options.onProgress?.(done);
      }
    }),
  );
  const key = sessionCookieKey(deps.serverSecret);
  const sessions = citizenIds.map((citizenId) => ({ id: randomBytes(24).toString('base64url'), citizenId, csrf: randomBytes(32).toString('base64url') }));
  await insertSessions(deps.db, sessions);
  return sessions.map((s) => ({ citizenId: s.citizenId, csrf: s.csrf, cookie: `${SESSION_COOKIE}=${s.id}; ${SESSION_COOKIE}.sig=${signCookie(`${SESSION_COOKIE}=${s.id}`, key)}` }));
};

/** The scenario's poll: a participatory budget with `projects` projects, approve up to `maxChoices`. */
export const budgetPollDefinition = (options: { projects?: number; maxChoices?: number; closesAt?: string } = {}): Omit<PollDefinition, 'pollId'> => {
  const projects = options.projects ?? 50;
  return {
    kind: 'budget',
    title: 'Load test: participatory budget',
    tags: ['load-test'],
    questions: [
      {
        id: 'q1',
        text: 'Approve up to 5 projects',
        minChoices: 1,
        maxChoices: options.maxChoices ?? 5,
        options: Array.from({ length: projects }, (_, i) => ({ id: `p${i + 1}`, label: `Project ${i + 1}`, cost: 10_000_000 * (1 + (i % 7)), district: `district-${1 + (i % 25)}` })),
      },
    ],
    settings: {
      opensAt: new Date(Date.now() - 60_000).toISOString(),
      closesAt: options.closesAt ?? new Date(Date.now() + 6 * 3_600_000).toISOString(),
      resultsVisibility: 'sealed',
      allowRevote: false,
    },
    budget: { total: 1_000_000_000, currency: 'KRW', rule: 'greedy' },
  };
};

/** Creates, schedules and opens the scenario's budget poll as `official`; returns its id. */
export const openBudgetPoll = async (eventStore: Pick<EventStore, 'readStream' | 'append'>, official: Extract<Actor, { kind: 'official' }>, definition = budgetPollDefinition()): Promise<string> => {
  const commands = pollCommands({
    readStream: eventStore.readStream,
    append: eventStore.append,
    now: () => new Date().toISOString(),
    newPollId: randomUUID,
    loadBallots: async () => {
      throw new Error('not needed to open a poll');
    },
  });
  const pollId = await commands.create(definition, official);
  await commands.schedule(pollId, official);
  await commands.open(pollId, official);
  return pollId;
};

/** Writes the voters file (JSON lines, header first) that load-tests/runner and the k6 scripts read. */
export const writeVotersFile = async (path: string, header: Record<string, unknown>, voters: ProvisionedVoter[]): Promise<void> => {
  mkdirSync(dirname(path), { recursive: true });
  const out = createWriteStream(path, { mode: 0o600 });
  out.write(`${JSON.stringify({ kind: 'civic-vote-voters', version: 1, ...header, count: voters.length })}\n`);
  for (const v of voters) if (!out.write(`${JSON.stringify({ cookie: v.cookie, csrf: v.csrf })}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
};

const main = async () => {
  const { values } = parseArgs({
    options: {
      voters: { type: 'string', default: '1000' },
      out: { type: 'string', default: 'load-tests/.data/voters.jsonl' },
      'create-poll': { type: 'boolean', default: false },
      poll: { type: 'string' },
      concurrency: { type: 'string', default: '256' },
      'phone-prefix': { type: 'string', default: '9' },
    },
  });
  const [{ loadConfig }, { openInfrastructure }, { withGroupCommit }] = await Promise.all([
    import('../infra/config.ts'),
    import('../infra/compositionRoot.ts'),
    import('../infra/eventStore/groupCommit.ts'),
  ]);
  const config = loadConfig();
  if (config.NODE_ENV === 'production') throw new ProvisioningRefused('refused: NODE_ENV=production');
  const secretFile = join(config.DATA_DIR, 'server-secret.hex');
  const hex = config.SERVER_SECRET ?? (existsSync(secretFile) ? readFileSync(secretFile, 'utf8').trim() : undefined);
  if (!hex) throw new Error(`no SERVER_SECRET and no ${secretFile}: start the app once (or set SERVER_SECRET as the app has it)`);
  const { db, eventStore: raw } = await openInfrastructure(config);
  const eventStore = withGroupCommit(raw, { maxBatch: 1000 });
  const started = performance.now();
  const count = Number(values.voters);
  const voters = await provisionVoters(
    { db: db.kysely, eventStore, serverSecret: Buffer.from(hex, 'hex'), nodeEnv: config.NODE_ENV },
    { count, concurrency: Number(values.concurrency), phonePrefix: Number(values['phone-prefix']), onProgress: (n) => console.log(`${n} voters registered`) },
  );
  const definition = budgetPollDefinition();
  const pollId = values['create-poll'] ? await openBudgetPoll(eventStore, { kind: 'official', id: `load-test-${randomUUID()}`, orgId: 'load-test' }, definition) : values.poll;
  const q = definition.questions[0]!;
  await writeVotersFile(values.out!, { baseUrl: `http://${config.HOST}:${config.PORT}`, ...(pollId ? { pollId } : {}), questionId: q.id, optionIds: q.options.map((o) => o.id), maxChoices: q.maxChoices }, voters);
  console.log(`${voters.length} voters with sessions in ${((performance.now() - started) / 1000).toFixed(1)} s -> ${values.out}${pollId ? ` (poll ${pollId})` : ''}`);
  await raw.close();
  await db.close();
};

if (import.meta.url === `file://${process.argv[1]}`) await main();
