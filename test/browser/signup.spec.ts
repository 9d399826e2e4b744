import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { lastCodeSentTo } from '../../src/infra/sms/outbox.ts';
import { hasBrowser, launchBrowser } from '../support/browser.ts';
import { startTestApp } from '../support/testApp.ts';

describe.skipIf(!hasBrowser)('a new citizen signs up in a browser', () => {
  let app: RunningApp;
  let browser: Browser;
  beforeAll(async () => {
    app = await startTestApp();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('enters a number, reads the code from the outbox, confirms and lands signed in on their account', async () => {
    const page = await browser.newPage({ locale: 'ko-KR' });
    await page.goto(`${app.url}/account`);
    // Anonymous: sent to sign in, coming back to the account afterwards.
    expect(new URL(page.url()).pathname).toBe('/signin');
    await page.getByLabel('휴대전화 번호').fill('010-7000-0001');
    await page.getByRole('button', { name: '인증번호 받기' }).click();
    await page.waitForURL(/\/signin\/code$/);
    const code = await lastCodeSentTo(app.db.kysely, '+821070000001');
    expect(code).toMatch(/^\d{6}$/);
    await page.getByLabel('인증번호 6자리').fill(code!);
    await page.getByLabel('표시 이름 (선택, 처음 가입할 때만)').fill('브라우저 시민');
    await page.getByRole('button', { name: '확인' }).click();
    await page.waitForURL(/\/account$/);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('내 계정');
    await expect(page.locator('[data-field="phone"]').textContent()).resolves.toBe('010-7000-0001');
    await expect(page.locator('[data-field="displayName"]').textContent()).resolves.toBe('브라우저 시민');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'sid');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  });
});
