import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/infra/compositionRoot.ts';
import { loadConfig } from '../../src/infra/config.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { listAlerts } from '../../src/infra/ledger/ledgerStore.ts';
import { getVerification } from '../../src/infra/readModels/pollVerification.ts';
import { signedInClient } from '../support/session.ts';
import { testDatabaseKinds, postgresUrl } from '../support/testDb.ts';
import { citizen } from '../support/pollFixtures.ts';
import { closeAndPublish, openPoll, startAppOn, waitFor } from './support.ts';

if (!postgresUrl) console.log('tamper watch on real PostgreSQL skipped: TEST_DATABASE_URL is not set (PGlite runs)');

/** Changes the events table behind the app's back, as a superuser could: trigger off, change, trigger on. */
const behindTheAppsBack = async (app: RunningApp, change: ReturnType<typeof sql>) => {
  await app.db.kysely.transaction().execute(async (trx) => {
    await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(trx);
    await change.execute(trx);
    await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(trx);
  });
};

const statusOf = async (app: RunningApp, pollId: string) => (await getVerification(app.db.kysely, pollId)).status;

describe.each(testDatabaseKinds())('tamper watch on $name', ({ create }) => {
  let app: RunningApp;
  beforeAll(async () => {
    // Buckets of 4 positions and leaves, and a sweep of 2 older buckets a pass: every poll here spans
    // several buckets and a sweep several passes, as with 1,024 and 32 in a big vote. Passes every 500 ms.
    app = await startAppOn(create, { ANCHOR_INTERVAL_MS: '200', TAMPER_WATCH_BUCKET: '4', TAMPER_WATCH_WINDOW: '2', TAMPER_WATCH_MS: '500' });
  });
  afterAll(async () => app?.stop());

  /** A published poll whose result the nodes verified. */
  const verifiedPoll = async (voters: string) => {
    const author = citizen(`author-${voters}`);
    const pollId = await openPoll(app, undefined, author);
    const ballots = [];
    for (let i = 0; i < 3; i++) ballots.push(await app.polls.cast({ pollId, citizenId: `${voters}-${i}`, selections: { selections: { q1: ['a'] } } }));
    await closeAndPublish(app, pollId, 3, author);
    await waitFor('verification completed', async () => (await statusOf(app, pollId)) === 'completed');
    // The nodes verify from the ledger; the read model may still be writing the result.
    await app.projections.settled();
    return { pollId, ballots };
  };

  it('turns a poll failed within seconds when a ballot event is edited, and names the leaf on the admin page', async () => {
    const { pollId, ballots } = await verifiedPoll('edit');
    const target = ballots[1]!;
    await behindTheAppsBack(app, sql`UPDATE events SET data = jsonb_set(data, '{selections,selections,q1}', '["b"]') WHERE id = ${target.eventId}`);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    const alert = (await listAlerts(app.db.kysely)).find((a) => a.eventId === target.eventId);
    expect(alert).toMatchObject({ kind: 'event-edited', pollId });
    expect(alert!.leafIndex).toBeGreaterThan(0);
    expect(alert!.message).not.toContain('edit-1'); // the citizen id never appears

    await app.identity.grantAdmin({ phone: '010-7000-0001', by: 'cli' });
    const admin = await signedInClient(app, '010-7000-0001', '+821070000001');
    // Roles come from the citizens read model: wait for the grant to be projected.
    const page = await waitFor('the admin role', async () => {
      const res = await admin.fetch('/admin/ledger?lang=en');
      return res.status === 200 ? res : null;
    });
    const html = await page.text();
    expect(html).toContain(target.eventId);
    expect(html).toContain('event-edited');
    expect(html).toContain('ledger-node-4');
    const anonymous = await fetch(`${app.url}/admin/ledger`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
  });

  it('turns a poll failed when a ballot event is deleted', async () => {
    const { pollId, ballots } = await verifiedPoll('delete');
    // After a pass has seen the event: the watch must notice it gone from a bucket it knew.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await behindTheAppsBack(app, sql`DELETE FROM events WHERE id = ${ballots[0]!.eventId}`);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    expect((await listAlerts(app.db.kysely)).find((a) => a.eventId === ballots[0]!.eventId)).toMatchObject({ kind: 'event-deleted' });
  });

  it('turns a poll failed when a ballot event is disguised as another type (the watch reads anchored types only)', async () => {
    const { pollId, ballots } = await verifiedPoll('retype');
    await behindTheAppsBack(app, sql`UPDATE events SET type = 'CommentPosted' WHERE id = ${ballots[2]!.eventId}`);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    expect((await listAlerts(app.db.kysely)).find((a) => a.eventId === ballots[2]!.eventId)).toMatchObject({ kind: 'event-deleted' });
  });

  it('turns a poll failed when an early ballot is edited after later polls filled many more buckets', async () => {
    const { pollId, ballots } = await verifiedPoll('early');
    await verifiedPoll('later-1');
    await verifiedPoll('later-2');
    // Passes have read the early buckets and keep only their digests; the edit comes after.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await statusOf(app, pollId)).toBe('completed');
    await behindTheAppsBack(app, sql`UPDATE events SET data = jsonb_set(data, '{selections,selections,q1}', '["b"]') WHERE id = ${ballots[0]!.eventId}`);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    expect((await listAlerts(app.db.kysely)).find((a) => a.eventId === ballots[0]!.eventId)).toMatchObject({ kind: 'event-edited' });
  });

  it('turns a poll failed when the stored copy of a leaf is edited', async () => {
    const { pollId, ballots } = await verifiedPoll('leafrow');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await statusOf(app, pollId)).toBe('completed');
    await sql`UPDATE ledger_entries SET entry_hash = repeat('0', 64) WHERE event_id = ${ballots[1]!.eventId}`.execute(app.db.kysely);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    // The leaf no longer matches its event (found by the event side of a pass) nor what the nodes were
    // handed (the row check, which may come a pass later): both are reported.
    const kinds = async () => (await listAlerts(app.db.kysely)).filter((a) => a.eventId === ballots[1]!.eventId).map((a) => a.kind).sort();
    await waitFor('both alerts', async () => (await kinds()).length >= 2);
    expect(await kinds()).toEqual(['event-edited', 'ledger-row-edited']);
  });

  it('turns a poll failed when a counted ballot in the read model is edited after passes found it sound', async () => {
    const { pollId, ballots } = await verifiedPoll('rowedit');
    // Let the watch check the poll's ballots (and remember their fingerprint) before tampering.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await statusOf(app, pollId)).toBe('completed');
    await sql`UPDATE current_ballots SET doc = jsonb_set(doc, '{selections,selections,q1}', '["b"]') WHERE tracker = ${ballots[0]!.tracker}`.execute(app.db.kysely);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    expect((await listAlerts(app.db.kysely)).find((a) => a.pollId === pollId)).toMatchObject({ kind: 'read-model-tally' });
  });

  it('turns a poll failed when the read-model tally is edited', async () => {
    const { pollId } = await verifiedPoll('readmodel');
    await sql`UPDATE polls SET doc = jsonb_set(doc, '{result,questions,0,options,0,count}', '99') WHERE id = ${pollId}`.execute(app.db.kysely);
    await waitFor('failed', async () => (await statusOf(app, pollId)) === 'failed');
    expect((await listAlerts(app.db.kysely)).find((a) => a.pollId === pollId)).toMatchObject({ kind: 'read-model-tally' });
  });
});

describe.each(testDatabaseKinds())('tamper watch after a restart on $name', ({ create }) => {
  it('reads the older buckets a window a pass after a restart, and finds an event edited while the app was down', async () => {
    const db = await create();
    const config = loadConfig({
      NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', LEDGER_BASE_PORT: '0', SEED_DEMO_DATA: 'false', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'civic-vote-tamper-restart-')),
      ANCHOR_INTERVAL_MS: '200', TAMPER_WATCH_BUCKET: '4', TAMPER_WATCH_WINDOW: '2', TAMPER_WATCH_MS: '500',
    });
    const logger = createLogger(config.LOG_LEVEL);
    try {
      const first = await startApp(config, { db, logger });
      const polls: Array<{ pollId: string; eventIds: string[] }> = [];
      // Five published polls of about 8 leaves each: leaf buckets of 4 from 0 to about 10.
      for (let k = 0; k < 5; k++) {
        const author = citizen(`restart-author-${k}`);
        const pollId = await openPoll(first, undefined, author);
        const eventIds = [];
        for (let i = 0; i < 3; i++) eventIds.push((await first.polls.cast({ pollId, citizenId: `restart-${k}-${i}`, selections: { selections: { q1: ['a'] } } })).eventId);
        await closeAndPublish(first, pollId, 3, author);
        polls.push({ pollId, eventIds });
      }
      await waitFor('every poll verified', async () => (await Promise.all(polls.map((p) => statusOf(first, p.pollId)))).every((s) => s === 'completed'));
      await first.ledger!.anchoring.settled();
      await first.stop();

      // While the app is down, a ballot of the fourth poll (leaves about 24-31: buckets 6-7, below the
      // newest two and three windows of 2 into the sweep) is edited in place.
      const target = polls[3]!;
      await db.kysely.transaction().execute(async (trx) => {
        await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(trx);
        await sql`UPDATE events SET data = jsonb_set(data, '{selections,selections,q1}', '["b"]') WHERE id = ${target.eventIds[0]!}`.execute(trx);
        await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(trx);
      });
      const second = await startApp(config, { db, logger });
      try {
        // The first pass after the restart reads the newest buckets and the oldest window, not the edited
        // bucket (reading every bucket at once, as before, it found the edit here already) ...
        await waitFor('the first pass after the restart', async () => second.ledger!.tamperPasses() >= 1);
        expect(await statusOf(second, target.pollId)).toBe('completed');
        // ... and a later pass of the sweep does.
        await waitFor('failed after the restart', async () => (await statusOf(second, target.pollId)) === 'failed');
        expect((await listAlerts(db.kysely)).find((a) => a.eventId === target.eventIds[0])).toMatchObject({ kind: 'event-edited', pollId: target.pollId });
        for (const other of polls.filter((p) => p !== target)) expect(await statusOf(second, other.pollId)).toBe('completed');
      } finally {
        await second.stop();
      }
    } finally {
      await db.close();
    }
  });
});
