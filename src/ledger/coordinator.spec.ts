/**
 * The coordinator's requests to the nodes, with a fake fetch: a tally (a node reads every entry of the
 * poll to answer it) is given its own, longer timeout than a round's requests.
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
