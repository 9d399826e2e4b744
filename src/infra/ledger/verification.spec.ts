import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createPGliteTestDb, type TestDb } from '../../../test/support/testDb.ts';
import { createPostgresEventIntegrity } from '../eventStore/postgresEventIntegrity.ts';
import { createPostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { entryText, ledgerEntryOf } from '../../app/ledger/entries.ts';
import { toHex, utf8 } from '../../ledger/bytes.ts';
import { hashLeaf } from '../../ledger/merkle.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
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

  it('reads only the new and moved leaves after the log grew by several buckets between passes', async () => {
    db = await createPGliteTestDb();
    const d = db;
    const store = createPostgresEventStore(d);
    const hashes: string[] = [];
    const firstEvents: string[] = [];
    // Ballot events with their leaves (hashes as the anchoring service makes them).
    const add = async (n: number) => {
      for (let k = 0; k < n; k++) {
        const i = hashes.length;
        await store.append(`ballot-p_${i}`, [{ type: 'BallotCast', data: { pollId: 'p', voterTag: `v${i}`, ballotId: `b${i}`, castAt: '2026-11-30T00:00:00.000Z' } }], 'no_stream');
        const [event] = await store.readStream(`ballot-p_${i}`);
        const text = entryText(ledgerEntryOf(event!)!);
        const hash = toHex(hashLeaf(nodeSha256, utf8(text)));
        hashes.push(hash);
        if (i === 0) firstEvents.push(event!.id);
        await sql`INSERT INTO ledger_entries (leaf_index, event_id, poll_id, event_type, entry_hash, entry_text, committed_at)
          VALUES (${i}, ${event!.id}, 'p', 'BallotCast', ${hash}, ${text}, now())`.execute(d.kysely);
      }
    };
    const integrity = createPostgresEventIntegrity(d.kysely);
    const reads: string[] = [];
    const counting = { ...integrity, eventsById: (ids: readonly string[]) => (reads.push(...ids), integrity.eventsById(ids)) };
    const watch = createLedgerVerifier({
      db: d.kysely, integrity: counting, coordinator: { requestTallies: async () => [] }, logger: createLogger('silent'), origin: 'test', quorum: 3,
      verifierKeys: async () => [], handedLeafHash: (i) => hashes[i], checkedAtStart: () => 0, finalSize: () => hashes.length,
      anchoredEntries: async () => [], renumberings: () => 0, bucketSize: 4, sweepWindow: 1,
    });
    // 6 events: the newest bucket of 4 log positions is part-filled when the first pass looks.
    await add(6);
    expect(await watch.tamperCheck()).toBe(0);
    expect(reads).toContain(firstEvents[0]);
    reads.length = 0;
    // 12 more: that bucket filled up and is no longer one of the two newest. Its digest moved by appends,
    // which its known versions show: no leaf of the untouched first bucket is read again.
    await add(12);
    expect(await watch.tamperCheck()).toBe(0);
    expect(reads.length).toBeGreaterThanOrEqual(12);
    expect(reads).not.toContain(firstEvents[0]);
  });
});
