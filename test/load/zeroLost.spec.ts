import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';
import { runEndToEnd } from './scenarioDriver.ts';

/**
 * The CI-sized issue-8 scenario: 2,000 provisioned voters each load the poll page and cast one ballot
 * through the JSON API under an open-model schedule, then the poll closes and publishes. It checks the
 * accounting, not the speed: every arrival started (none dropped), every ballot accepted, and accepted =
 * events stored = ballot entries on every ledger node = ballots in the published tally, option by option.
 */
describe('zero lost ballots (CI-sized budget scenario)', () => {
  const serverSecret = randomBytes(32);
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp({ SERVER_SECRET: serverSecret.toString('hex') });
  });
  afterAll(async () => app?.stop());

  it('accounts for every ballot from the API to the published tally', async () => {
    const voters = 2000;
    const result = await runEndToEnd(app, serverSecret, {
      voters,
      rate: 200,
      peakRate: 400,
      // As many in flight as voters: nothing is ever dropped, so a slow CI machine cannot fail this.
      maxInFlight: voters,
      // The other suites share these cores in a full test run: a slow answer is fine here, a lost one is not.
      timeoutMs: 300_000,
      thresholds: { ballotP99Ms: Number.POSITIVE_INFINITY, pageP99Ms: Number.POSITIVE_INFINITY, maxErrorRate: 0, maxDropped: 0 },
      childRunner: false,
    });
    expect(result.report.run.dropped).toBe(0);
    expect(result.report.errors).toEqual({});
    expect(result.report.checks).toEqual({ 'page 200': { passes: voters, fails: 0 }, 'ballot 201': { passes: voters, fails: 0 } });
    const { ledgerEntries, ...counts } = result.accounting;
    expect(counts).toEqual({ accepted: voters, eventsStored: voters, tallyBallots: voters, mismatchedOptions: [], lost: 0 });
    // Every ballot is an entry in every one of the four nodes' final logs.
    expect(Object.values(ledgerEntries)).toEqual([voters, voters, voters, voters]);
  }, 600_000);
});
