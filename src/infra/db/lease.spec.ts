import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import { createPostgresTestDb, createPGliteTestDb, postgresUrl, type TestDb } from '../../../test/support/testDb.ts';
import { LEASE_LOCK_NAMESPACE, startLease, type Lease } from './lease.ts';

const logger = createLogger('silent');
const waitUntil = async (what: string, probe: () => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** A lease that records when its work starts and stops, in one shared log. */
const recordedLease = (db: TestDb, who: string, log: string[], name = 'test-lease'): Lease =>
  startLease({
    pool: db.pool ?? null, name, retryMs: 100, logger,
    onAcquired: async () => void log.push(`${who} started`),
    onReleased: async () => void log.push(`${who} stopped`),
  });

it('on embedded PGlite, holds the lease at once and stops the work on stop', async () => {
  const db = await createPGliteTestDb();
  const log: string[] = [];
  const lease = recordedLease(db, 'only', log);
  await lease.firstTry;
  expect(lease.held()).toBe(true);
  await lease.stop();
  expect(lease.held()).toBe(false);
  expect(log).toEqual(['only started', 'only stopped']);
  await db.close();
});

if (!postgresUrl) console.log('lease on PostgreSQL skipped: TEST_DATABASE_URL is not set');
describe.skipIf(!postgresUrl)('the lease on PostgreSQL', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  /** A fresh database with a holder ('first') and a standby ('second') of 'test-lease', in that order. */
  const holderAndStandby = async () => {
    const db = await createPostgresTestDb();
    cleanups.push(() => db.close());
    const log: string[] = [];
    const first = recordedLease(db, 'first', log);
    await first.firstTry;
    const second = recordedLease(db, 'second', log);
    await second.firstTry;
    cleanups.push(() => Promise.all([first.stop(), second.stop()]));
    return { db, log, first, second };
  };

  it('one holder per name; the work stops before a successor starts; other names are independent', async () => {
    const { db, log, first, second } = await holderAndStandby();
    const other = recordedLease(db, 'other', log, 'another-lease');
    await other.firstTry;
    expect([first.held(), second.held(), other.held()]).toEqual([true, false, true]);

    await first.stop();
    await waitUntil('the second to take over', () => second.held());
    expect(log.filter((l) => !l.startsWith('other'))).toEqual(['first started', 'first stopped', 'second started']);
    await Promise.all([second.stop(), other.stop()]);
  });

  it('a holder whose session is ended stops its work and backs off, so the standby takes the lease', async () => {
    const { db, log, first, second } = await holderAndStandby();
    await sql`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${LEASE_LOCK_NAMESPACE}
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(db.kysely);
    await waitUntil('the second to take over', () => second.held());
    expect(first.held()).toBe(false);
    expect(log).toEqual(['first started', 'first stopped', 'second started']);
  });

  it('takes the lease from a holder frozen as a hung host would be (its socket stays open)', async () => {
    const db = await createPostgresTestDb();
    cleanups.push(() => db.close());
    const script = fileURLToPath(new URL('../../../test/support/leaseHolder.ts', import.meta.url));
    const holder = spawn(process.execPath, ['--import', 'tsx', script, db.url!, 'frozen-lease'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => holder.kill('SIGKILL'));
    let output = '';
    holder.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitUntil('the child to hold the lease', () => output.includes('held'));

    const log: string[] = [];
    const standby = recordedLease(db, 'standby', log, 'frozen-lease');
    cleanups.push(() => standby.stop());
    await standby.firstTry;
    expect(standby.held()).toBe(false);
    holder.kill('SIGSTOP'); // no exit, no FIN: only the server's idle_session_timeout can end its session
    await waitUntil('the standby to take over from the frozen holder', () => standby.held(), 60_000);
    expect(log).toEqual(['standby started']);
  });
});
