import { AxeBuilder } from '@axe-core/playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { startPortal, type RunningPortal } from '../../verify-portal/server.ts';
import { hasBrowser, launchBrowser } from '../support/browser.ts';
import { anchorClosedPoll, ORIGIN, startLedgerWithCoordinator, type ClosedPoll, type TestLedger } from '../portal/fixture.ts';
import { tamperings } from '../portal/tamper.ts';

let ledger: TestLedger;
let portal: RunningPortal;
let browser: Browser;
let small: ClosedPoll;
let big: ClosedPoll;

beforeAll(async () => {
  if (!hasBrowser) return;
  ledger = await startLedgerWithCoordinator();
  small = await anchorClosedPoll(ledger, 'poll-small', 12);
  big = await anchorClosedPoll(ledger, 'poll-10k', 10_000);
  portal = await startPortal({ port: 0, nodes: ledger.urls, verifierKeys: ledger.verifierKeys, origin: ORIGIN });
  browser = await launchBrowser();
}, 300_000);
afterAll(async () => {
  await browser?.close();
  await portal?.stop();
  await ledger?.stop();
});

async function openPage(path: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.goto(`${portal.url}${path}`);
  (page as Page & { errors: string[] }).errors = errors;
  return page;
}

/** Serious and critical axe-core violations of the page as it is now (rule id and the first offending node). */
const seriousViolations = async (page: Page) => {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0]?.html ?? ''}`);
};

const lineStates = (page: Page): Promise<[string, string][]> =>
  page.$$eval('ol.checks li', (lis) => lis.map((li) => [li.getAttribute('data-code')!, li.getAttribute('data-ok')!] as [string, string]));

describe.skipIf(!hasBrowser)('the verification portal in a browser', () => {
  it('is Korean first, publishes the trusted keys, and has an English version', async () => {
    const page = await openPage('/');
    expect(await page.getAttribute('html', 'lang')).toBe('ko');
    expect(await page.textContent('h1')).toContain('내 투표');
    const keys = await page.$$eval('.key-list code', (cs) => cs.map((c) => c.textContent));
    expect(keys).toEqual(ledger.verifierKeys);
    await page.click('a[hreflang="en"]');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await page.close();
  });

  it('verifies a real ballot from its tracker code, every check a passed line', async () => {
    const page = await openPage('/?lang=en');
    await page.fill('#tracker', small.trackers[3]!.toLowerCase());
    await page.click('#ballot-form button[type=submit]');
    await page.waitForSelector('#verdict');
    expect(await page.getAttribute('#verdict', 'data-ok')).toBe('true');
    expect(await lineStates(page)).toEqual(['found', 'tracker', 'entry-hash', 'signatures', 'origin', 'inclusion', 'consistency'].map((c) => [c, 'true']));
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it('verifies a real receipt file', async () => {
    const receipt = await createNodeClient(ledger.urls[0]!).tracker(small.trackers[0]!);
    const page = await openPage('/');
    await page.setInputFiles('#receipt-file', { name: 'receipt.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(receipt)) });
    await page.waitForSelector('#verdict');
    expect(await page.getAttribute('#verdict', 'data-ok')).toBe('true');
    expect(await page.textContent('#verdict')).toContain('확인 완료');
    await page.close();
  });

  it.each(Object.keys(tamperings))('a receipt with %s fails with the right reason', async (name) => {
    const receipt = (await createNodeClient(ledger.urls[1]!).tracker(small.trackers[5]!))!;
    const { tampered, expectFailed } = tamperings[name]!(receipt);
    const page = await openPage('/?lang=en');
    await page.setInputFiles('#receipt-file', { name: 'receipt.json', mimeType: 'application/json', buffer: Buffer.from(tampered) });
    await page.waitForSelector('#verdict');
    expect(await page.getAttribute('#verdict', 'data-ok')).toBe('false');
    const failed = (await lineStates(page)).filter(([, ok]) => ok === 'false').map(([code]) => code);
    for (const code of expectFailed) expect(failed).toContain(code);
    await page.close();
  });

  it('recounts a closed 10,000-ballot poll in the browser and finds it verified', async () => {
    const page = await openPage('/poll?lang=en&poll=poll-10k');
    await page.waitForSelector('#verdict', { timeout: 180_000 });
    expect(await page.getAttribute('#verdict', 'data-verdict')).toBe('verified');
    expect((await lineStates(page)).every(([, ok]) => ok === 'true')).toBe(true);
    const counts = await page.$$eval('.recount tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-option'), Number(r.querySelector('td')!.textContent)]));
    expect(counts).toEqual(big.published.questions[0]!.options.map((o) => [o.optionId, o.count]));
    expect(counts.reduce((n, [, c]) => n + Number(c), 0)).toBe(10_000);
    expect(await page.getAttribute('#download', 'download')).toBe('poll-poll-10k-audit.json');
    await page.close();
  }, 240_000);

  it('shows the four nodes agreeing and none misbehaving', async () => {
    const page = await openPage('/nodes?lang=en');
    await page.waitForSelector('#verdict');
    expect(await page.getAttribute('#verdict', 'data-agree')).toBe('true');
    expect(await page.$$eval('.signers li.ok', (lis) => lis.length)).toBe(4);
    expect(await page.$$eval('table.nodes tbody tr', (rows) => rows.length)).toBe(4);
    await page.close();
  });

  it('has no serious axe violation: start page on a phone in Korean, a ballot verdict, a poll recount, node status', async () => {
    // AxeBuilder needs a page from an explicit browser context.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await phone.newPage();
    await page.goto(`${portal.url}/`);
    expect(await seriousViolations(page), 'start page (ko, phone)').toEqual([]);
    await page.fill('#tracker', small.trackers[1]!);
    await page.click('#ballot-form button[type=submit]');
    await page.waitForSelector('#verdict');
    expect(await seriousViolations(page), 'ballot verdict (ko, phone)').toEqual([]);
    await phone.close();
    const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    for (const [path, what] of [['/poll?lang=en&poll=poll-small', 'poll recount'], ['/nodes?lang=en', 'node status']] as const) {
      const tab = await desktop.newPage();
      await tab.goto(`${portal.url}${path}`);
      await tab.waitForSelector('#verdict', { timeout: 60_000 });
      expect(await seriousViolations(tab), `${what} (en, desktop)`).toEqual([]);
    }
    await desktop.close();
  });
});
