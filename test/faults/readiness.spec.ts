/**
 * /readyz says what works: ready; then, with two of the four ledger nodes down, still 200
 * (the instance serves general polls) but `degraded`, naming the part (ledger quorum lost, anchoring
 * behind by N) once policy polls refuse ballots; ready again when the nodes return. Without its
 * database the instance is not ready (503): test/faults/processes.spec.ts restarts the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';
import { openPoll, waitFor } from '../ledger/support.ts';

describe('/readyz with the ledger degraded', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp({ ANCHOR_INTERVAL_MS: '200', POLICY_QUORUM_GRACE_MS: '500' });
  });
  afterAll(async () => app?.stop());

  const readyz = async () => {
    const res = await fetch(`${app.url}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; degraded?: { part: string; reason: string }[] } };
  };

  it('is ready, then degraded with the reasons while no quorum can sign, then ready again', async () => {
    await waitFor('ready', async () => (await readyz()).body.status === 'ready');
    const local = app.ledger!.local!;
    await local.kill(0);
    await local.kill(1);
    const pollId = await openPoll(app);
    await app.polls.cast({ pollId, citizenId: 'readyz-voter', selections: { selections: { q1: ['a'] } } });
    const degraded = await waitFor('degraded', async () => {
      const r = await readyz();
      return r.body.status === 'degraded' && /anchoring behind by [1-9]/.test(JSON.stringify(r.body)) ? r : null;
    });
    expect(degraded.status).toBe(200);
    expect(degraded.body.degraded!.map((d) => d.part)).toEqual(['ledger', 'ledger']);
    expect(degraded.body.degraded![0]!.reason).toMatch(/^ledger quorum lost since .*: policy polls refuse ballots$/);
    await local.restart(0);
    await local.restart(1);
    let last: unknown;
    await waitFor('ready again', async () => {
      const r = await readyz();
      last = r.body;
      return r.body.status === 'ready';
    }, 120_000).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(last)} ${JSON.stringify(app.ledger!.anchoring.status())}`);
    });
  });
});
