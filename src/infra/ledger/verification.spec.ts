import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createPGliteTestDb, type TestDb } from '../../../test/support/testDb.ts';
import { createPostgresEventIntegrity } from '../eventStore/postgresEventIntegrity.ts';
import { createLogger } from '../logger.ts';
import { createLedgerVerifier } from './verification.ts';

/** The tamper watch with and without the EventIntegrity port, on leaves whose events are not stored. */
describe('tamper watch ports', () => {
  let db: TestDb | null = null;
  afterEach(async () => {
    await db?.close();
    db = null;
  });

  const withLeaves = async (n: number, entryText = '{}'): Promise<{ db: TestDb; hashes: string[] }> => {
    db = await createPGliteTestDb();
    const hashes = Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, '0'));
    for (const [i, hash] of hashes.entries()) {
      await sql`INSERT INTO ledger_entries (leaf_index, event_id, poll_id, event_type, entry_hash, entry_text, committed_at)
        VALUES (${i}, ${randomUUID()}, 'p', 'BallotCast', ${hash}, ${entryText}, now())`.execute(db.kysely);
    }
    return { db, hashes };
  };

  const verifier = (d: TestDb, hashes: string[], integrity: ReturnType<typeof createPostgresEventIntegrity> | null) =>
    createLedgerVerifier({
      db: d.kysely, integrity, coordinator: { requestTallies: async () => [] }, logger: createLogger('silent'), origin: 'test', quorum: 3,
      verifierKeys: async () => [], handedLeafHash: (i) => hashes[i], checkedAtStart: () => 0, finalSize: () => hashes.length,
      anchoredEntries: async () => [], renumberings: () => 0, bucketSize: 2, sweepWindow: 4,
    });

  it('without the port (EventStoreDB) checks the stored rows only and reports no event as missing', async () => {
    const { db: d, hashes } = await withLeaves(5);
    expect(await verifier(d, hashes, null).tamperCheck()).toBe(0);
  });

  it('with the port reports every leaf whose event is not stored, once', async () => {
    const { db: d, hashes } = await withLeaves(5);
    const watch = verifier(d, hashes, createPostgresEventIntegrity(d.kysely));
    expect(await watch.tamperCheck()).toBe(5);
    expect(await watch.tamperCheck()).toBe(0);
  });

  it("reads the events of large entries a few per round trip (an opening's entries are about 200 KB each)", async () => {
    // 1.5 MB entries: at most 4 MiB of entry text per read, so two leaves per read, not all five.
    const { db: d, hashes } = await withLeaves(5, 'x'.repeat(1_500_000));
    const integrity = createPostgresEventIntegrity(d.kysely);
    const reads: number[] = [];
    const counting = { ...integrity, eventsById: (ids: readonly string[]) => (reads.push(ids.length), integrity.eventsById(ids)) };
    expect(await verifier(d, hashes, counting).tamperCheck()).toBe(5);
    expect(reads).toEqual([2, 2, 1]);
  });
});
