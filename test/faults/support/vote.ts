/**
 * What the fault tests share: voters with sessions, a steady stream of ballots over HTTP, and the
 * README's accounting, checked after the fault: every ballot that got a 201 is stored, every stored
 * ballot is an entry on every ledger node, and the read model's tally equals the one recounted from
 * each node's own entries.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { pollCommands } from '../../../src/app/polls/pollCommands.ts';
import { tallyPoll } from '../../../src/domain/tally.ts';
import type { Database } from '../../../src/infra/db/schema.ts';
import type { EventStore } from '../../../src/app/eventStore.ts';
import { provisionVoters, type ProvisionedVoter } from '../../../src/cli/provisionVoters.ts';
import { getPoll, liveCounts, loadCurrentBallots } from '../../../src/infra/readModels/polls.ts';
import { pollBallotsFromEntries } from '../../../src/ledger/node/entryChecker.ts';
import { openGeneralPoll } from '../../support/pollFixtures.ts';

export const SERVER_SECRET = 'ab'.repeat(32);

export const makeVoters = (db: Kysely<Database>, eventStore: EventStore, count: number, phonePrefix = 8): Promise<ProvisionedVoter[]> =>
  provisionVoters({ db, eventStore, serverSecret: Buffer.from(SERVER_SECRET, 'hex'), nodeEnv: 'test' }, { count, concurrency: 16, phonePrefix });

export const openVotePoll = async (eventStore: EventStore): Promise<string> => {
  const commands = pollCommands({
    readStream: eventStore.readStream, append: eventStore.append, now: () => new Date().toISOString(), newPollId: randomUUID,
    loadBallots: async () => [],
  });
  const by = { kind: 'citizen' as const, id: `fault-author-${randomUUID()}` };
  const pollId = await commands.create(openGeneralPoll(), by);
  await commands.schedule(pollId, by);
  await commands.open(pollId, by);
  return pollId;
};

export interface CastOutcome {
  status: number;
  tracker?: string;
  code?: string;
}

/** One ballot over the JSON API; a network failure is status 0 with its message as the code. */
export const castOne = async (url: string, pollId: string, voter: ProvisionedVoter, choice: string): Promise<CastOutcome> => {
  try {
    const res = await fetch(`${url}/api/polls/${pollId}/ballots`, {
      method: 'POST',
      headers: { cookie: voter.cookie, 'x-csrf-token': voter.csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ selections: { q1: [choice] } }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = (await res.json().catch(() => ({}))) as { tracker?: string; error?: { code?: string } };
    return { status: res.status, tracker: body.tracker, code: body.error?.code };
  } catch (error) {
    return { status: 0, code: (error as Error).message };
  }
};

const CHOICES = ['a', 'b', 'c'];
export const choiceOf = (i: number) => CHOICES[i % CHOICES.length]!;

/**
 * Casts one ballot per voter, starting one every `intervalMs` without waiting for earlier ones (a
 * steady arrival rate, as voters arrive), and calls `during` once `faultAfter` ballots were started.
 */
export const castDuringFault = async (
  url: string,
  pollId: string,
  voters: ProvisionedVoter[],
  options: { intervalMs: number; faultAfter: number; during: () => Promise<void> },
): Promise<CastOutcome[]> => {
  const inFlight: Promise<CastOutcome>[] = [];
  let fault: Promise<void> = Promise.resolve();
  for (let i = 0; i < voters.length; i++) {
    if (i === options.faultAfter) fault = options.during();
    inFlight.push(castOne(url, pollId, voters[i]!, choiceOf(i)));
    await new Promise((r) => setTimeout(r, options.intervalMs));
  }
  const outcomes = await Promise.all(inFlight);
  await fault;
  return outcomes;
};

/**
 * Casts again for every voter whose ballot was refused during the fault, until the app takes it (201)
 * or says it already has it (409: the refused request had committed after all). Bounded.
 */
export const castRefusedAgain = async (url: string, pollId: string, voters: ProvisionedVoter[], outcomes: CastOutcome[]): Promise<void> => {
  for (let i = 0; i < voters.length; i++) {
    if (outcomes[i]!.status === 201) continue;
    for (let attempt = 0; ; attempt++) {
      const again = await castOne(url, pollId, voters[i]!, choiceOf(i));
      if (again.status === 201 || (again.status === 409 && again.code === 'ballot.already-voted')) {
        outcomes[i] = { ...again, code: again.code ?? 'retried' };
        break;
      }
      if (attempt >= 60) throw new Error(`voter ${i} still refused after the fault: ${again.status} ${again.code}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
};

/** Polls `probe` until it returns true; throws with `what` after `timeoutMs`. */
export const eventually = async (what: string, probe: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
};

const storedTrackers = async (db: Kysely<Database>, pollId: string): Promise<string[]> => {
  const { rows } = await sql<{ tracker: string }>`SELECT data->>'tracker' AS tracker FROM events WHERE type = 'BallotCast' AND data->>'pollId' = ${pollId}`.execute(db);
  return rows.map((r) => r.tracker).sort();
};

const nodeEntries = async (nodeUrl: string, pollId: string): Promise<string[]> => {
  const out: string[] = [];
  // The node answers a page at a time, naming where the next starts.
  for (let start: number | null = 0; start !== null; ) {
    const res = await fetch(`${nodeUrl}/v1/polls/${pollId}/entries?start=${start}`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${nodeUrl} answered ${res.status}`);
    const page = (await res.json()) as { entries: { entry: string }[]; next: number | null };
    out.push(...page.entries.map((e) => e.entry));
    start = page.next;
  }
  return out;
};

const trackersIn = (entries: string[]) =>
  entries.flatMap((t) => {
    const e = JSON.parse(t) as { kind?: string; data?: { tracker?: string } };
    return e.kind === 'ballot' && e.data?.tracker ? [e.data.tracker] : [];
  }).sort();

/**
 * The accounting after a fault: accepted (201) ⊆ stored, one stored ballot per voter, every node holds
 * exactly the stored ballots, and the tally from the read model equals each node's recount.
 */
export const expectAccountingHolds = async (db: Kysely<Database>, pollId: string, voters: number, outcomes: CastOutcome[], nodeUrls: string[], context: () => string = () => ''): Promise<void> => {
  const stored = await storedTrackers(db, pollId);
  const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.tracker!);
  expect(accepted.filter((t) => !stored.includes(t)), 'ballots that got a 201 but are not stored').toEqual([]);
  expect(stored.length, 'one stored ballot per voter').toBe(voters);
  await eventually('the read model counts every stored ballot', async () => (await liveCounts(db, pollId)).ballots === stored.length);
  for (const node of nodeUrls) {
    await eventually(`${node} holds every stored ballot`, async () => trackersIn(await nodeEntries(node, pollId)).join() === stored.join()).catch((error: Error) => {
      throw new Error(`${error.message}\n${context()}`);
    });
  }
  const definition = (await getPoll(db, pollId))!.definition;
  const fromReadModel = tallyPoll(definition, await loadCurrentBallots(db, pollId));
  for (const node of nodeUrls) {
    const { definition: onLedger, ballots } = pollBallotsFromEntries(await nodeEntries(node, pollId), pollId);
    expect(tallyPoll(onLedger, ballots), `the tally recounted from ${node}'s entries`).toEqual(fromReadModel);
  }
};
