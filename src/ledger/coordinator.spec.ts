/**
 * The coordinator's requests to the nodes, with a fake fetch: a tally (a node reads every entry of the
 * poll to answer it) is given its own, longer timeout than a round's requests; a round's proposal is
 * bounded by its entries' bytes as well as their count.
 */
import { describe, expect, it } from 'vitest';
import { createCoordinator } from './coordinator.ts';

/** A node that answers /v1/tally only after `tallyMs`, and honours the request's abort signal. */
const slowTallyFetch =
  (tallyMs: number): typeof fetch =>
  (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init?.signal;
      const timer = setTimeout(() => resolve(new Response(JSON.stringify({ tally: { ballots: 1 }, note: 'signed' }), { status: 200 })), String(input).endsWith('/v1/tally') ? tallyMs : 0);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      });
    });

describe('coordinator tally requests', () => {
  const nodes = ['http://n1.test', 'http://n2.test', 'http://n3.test', 'http://n4.test'];

  it('wait for a tally longer than for a round request', async () => {
    const coordinator = createCoordinator({ nodes, token: 't', origin: 'test', timeoutMs: 20, tallyTimeoutMs: 60_000, fetch: slowTallyFetch(300) });
    const answers = await coordinator.requestTallies('p', 10);
    expect(answers.map((a) => a.ok)).toEqual([true, true, true, true]);
  });

  it('still give up on a node that does not answer a tally within its timeout, and say how long it waited', async () => {
    const coordinator = createCoordinator({ nodes, token: 't', origin: 'test', timeoutMs: 20, tallyTimeoutMs: 40, fetch: slowTallyFetch(60_000) });
    const answers = await coordinator.requestTallies('p', 10);
    expect(answers.every((a) => !a.ok && /within 40 ms/.test(String(a.reason)))).toBe(true);
  });
});

/** Nodes that hold no final checkpoint and refuse every proposal; the bodies proposed, parsed. */
const refusingNodes = (): { fetch: typeof fetch; proposals: { start: number; entries: string[] }[] } => {
  const proposals: { start: number; entries: string[] }[] = [];
  const fake: typeof fetch = async (input, init) => {
    if (String(input).endsWith('/v1/propose')) {
      proposals.push(JSON.parse(String(init?.body)) as { start: number; entries: string[] });
      return new Response(JSON.stringify({ code: 'bad-request', reason: 'refused for the test' }), { status: 422 });
    }
    return new Response(JSON.stringify({ code: 'not-found', reason: 'none' }), { status: 404 });
  };
  return { fetch: fake, proposals };
};

describe('coordinator rounds', () => {
  const nodes = ['http://n1.test', 'http://n2.test', 'http://n3.test', 'http://n4.test'];

  it('propose at most maxRoundBytes of entry text at once, and an entry larger than that alone', async () => {
    // A node holds a proposal several times over while it checks it: a backlog of a sealed poll's
    // opening entries (75-190 KB each) made rounds of up to 2,000 of them.
    const small = Array.from({ length: 30 }, (_, k) => `${String(k).padStart(4, '0')}${'x'.repeat(996)}`);
    const fake = refusingNodes();
    const coordinator = createCoordinator({ nodes, token: 't', origin: 'test', verifierKeys: [], maxRoundBytes: 10_000, fetch: fake.fetch });
    expect((await coordinator.anchor(small, 0)).status).toBe('pending');
    expect(fake.proposals.length).toBeGreaterThan(0);
    for (const p of fake.proposals) expect(p).toEqual({ start: 0, entries: small.slice(0, 10), checkpoint: expect.any(String) });

    const large = refusingNodes();
    const first = createCoordinator({ nodes, token: 't', origin: 'test', verifierKeys: [], maxRoundBytes: 10_000, fetch: large.fetch });
    await first.anchor(['y'.repeat(20_000), ...small], 0);
    for (const p of large.proposals) expect(p.entries).toEqual(['y'.repeat(20_000)]);
  });
});
