import { execFile } from 'node:child_process';
import { nobleSha256, utf8 } from '../src/ledger/index.ts';
import { nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { startPortal } from '../verify-portal/server.ts';
import { launchBrowser } from '../test/support/browser.ts';
import { anchorClosedPoll, ORIGIN, startLedgerWithCoordinator } from '../test/portal/fixture.ts';
import { fmt, perSecond, time, type Bench } from './harness.ts';

/** Hashes per second of one SHA-256 over a typical ballot entry's bytes, measured now. */
function hashRate(h: (b: Uint8Array) => Uint8Array, sample: Uint8Array, n: number): number {
  h(sample);
  const started = performance.now();
  for (let i = 0; i < n; i++) h(sample);
  return perSecond(n, performance.now() - started);
}

/**
 * The full-poll audit: in Chromium through the portal (10,000 ballots, noble hashing in the page) and
 * with `npm run audit` (250,000 ballots, node:crypto), each against four real node processes holding
 * entries anchored through the real coordinator. Compared with the raw SHA-256 rate over one entry's
 * bytes: the audit's floor is about two hashes per entry (leaf and interior nodes).
 */
export const portalBench: Bench = {
  name: 'portal',
  title: 'Verification portal: full-poll audit (browser and CLI)',
  async run() {
    const ledger = await startLedgerWithCoordinator();
    try {
      const small = 10_000;
      const large = 250_000;
      await anchorClosedPoll(ledger, 'bench-10k', small);
      const sample = utf8(JSON.stringify({ kind: 'ballot', pollId: 'bench-250k', eventType: 'BallotCast', eventId: 'x'.repeat(36), at: '2025-03-04T12:00:00.000Z', data: { voterTag: 'f'.repeat(64), selections: { selections: { q1: ['a'] } }, salt: 'e'.repeat(64), tracker: 'ABCD-EFGH-JKMN' } }));
      const nobleRate = hashRate(nobleSha256, sample, 50_000);
      const nodeRate = hashRate(nodeSha256, sample, 200_000);

      const portal = await startPortal({ port: 0, nodes: ledger.urls, verifierKeys: ledger.verifierKeys, origin: ORIGIN });
      const browser = await launchBrowser();
      let browserMs = 0;
      let verdict: string | null = null;
      try {
        const page = await browser.newPage();
        await page.goto(`${portal.url}/poll?lang=en`);
        await page.fill('#poll-id', 'bench-10k');
        browserMs = await time(async () => {
          await page.click('#poll-form button[type=submit]');
          await page.waitForSelector('#verdict', { timeout: 600_000 });
        });
        verdict = await page.getAttribute('#verdict', 'data-verdict');
      } finally {
        await browser.close();
        await portal.stop();
      }
      const smallLog = ledger.coordinator.finalSize;
      // The large poll only now, so the browser audited a log of the small poll alone.
      const anchorLarge = await time(() => anchorClosedPoll(ledger, 'bench-250k', large));
      const logSize = ledger.coordinator.finalSize;

      const env = { ...process.env, LEDGER_NODES: ledger.urls.join(','), LEDGER_KEYS: ledger.verifierKeys.join(','), LEDGER_ORIGIN: ORIGIN };
      let cliOut = '';
      const cliMs = await time(
        () =>
          new Promise<void>((resolve, reject) =>
            execFile(process.execPath, ['--import', 'tsx', 'verify-portal/cli/audit.ts', 'bench-250k'], { env, maxBuffer: 1 << 24 }, (e, out) => {
              cliOut = out;
              if (e) reject(new Error(`audit failed: ${out}`));
              else resolve();
            }),
          ),
      );
      const browserFloor = (2 * smallLog * 1000) / nobleRate;
      const cliFloor = (2 * logSize * 1000) / nodeRate;
      return [
        `Logs: ${fmt(smallLog)} entries for the browser audit (the ${fmt(small)}-ballot poll), then ${fmt(logSize)} for the CLI audit (plus the ${fmt(large)}-ballot poll, anchored through the coordinator in ${fmt(Math.round(anchorLarge))} ms).`,
        'Each audit downloads the whole log (1,000 entries a request), recomputes the root, cross-checks the poll listing, recounts, and checks the published result and the signed tallies.',
        '',
        '| audit | ballots | time | entries/s | raw SHA-256 rate (same run) | hashing floor (2 per entry) | time ÷ floor |',
        '|---|---:|---:|---:|---:|---:|---:|',
        `| browser (Chromium, noble) | ${fmt(small)} | ${fmt(Math.round(browserMs))} ms | ${fmt(perSecond(smallLog, browserMs))} | ${fmt(nobleRate)}/s (noble, in Node) | ${fmt(Math.round(browserFloor))} ms | ${(browserMs / browserFloor).toFixed(1)}× |`,
        `| CLI \`npm run audit\` (node:crypto) | ${fmt(large)} | ${fmt(Math.round(cliMs))} ms | ${fmt(perSecond(logSize, cliMs))} | ${fmt(nodeRate)}/s (node:crypto) | ${fmt(Math.round(cliFloor))} ms | ${(cliMs / cliFloor).toFixed(1)}× |`,
        '',
        `Browser verdict: ${verdict}; CLI verdict: ${cliOut.trim().split('\n').at(-1)}. The CLI time includes starting Node and tsx. Both audits hash the whole log up to the latest checkpoint.`,
      ].join('\n');
    } finally {
      await ledger.stop();
    }
  },
};
