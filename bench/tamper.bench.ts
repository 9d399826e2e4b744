import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ANCHORED_EVENT_TYPES, entryText, ledgerEntryOf } from '../src/app/ledger/entries.ts';
import { compareLeaves } from '../src/app/ledger/verification.ts';
import type { NewEvent } from '../src/app/eventStore.ts';
import { createPostgresEventStore } from '../src/infra/eventStore/postgresEventStore.ts';
import { createLogger } from '../src/infra/logger.ts';
import { leafDigests, loadLeafHashes } from '../src/infra/ledger/ledgerStore.ts';
import { createLedgerVerifier } from '../src/infra/ledger/verification.ts';
import { toHex, utf8 } from '../src/ledger/bytes.ts';
import { hashLeaf } from '../src/ledger/merkle.ts';
import { nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { createPostgresTestDb, postgresUrl } from '../test/support/testDb.ts';
import { fmt, type Bench } from './harness.ts';

/**
 * One tamper-watch pass at the size of the 250,000-voter scenario, on PostgreSQL: the bucket-digest pass
 * (src/infra/ledger/verification.ts) against the full-read pass it replaced, measured in the same run on
 * the same rows. The full-read pass is rebuilt here as it was: read the version of every anchored event
 * and every leaf, then compare them all in the app (its leaf hashes cached, as they were).
 */
const BALLOTS = Number(process.env.BENCH_TAMPER_BALLOTS ?? 240_000);
const OTHER_EVENTS = Number(process.env.BENCH_TAMPER_OTHER ?? 500_000);
const TAIL = 1_000;
const REPEATS = 5;

const ballotEvent = (pollId: string, i: number): NewEvent => ({
  id: randomUUID(),
  type: 'BallotCast',
  data: {
    pollId,
    voterTag: randomBytes(32).toString('hex'),
    ballotId: randomUUID(),
    selections: { selections: { projects: [`p${i % 50}`, `p${(i * 7) % 50}`, `p${(i * 13) % 50}`] } },
    salt: randomBytes(16).toString('hex'),
    tracker: `B${String(i).padStart(11, '0')}`,
    castAt: new Date(1_780_000_000_000 + i).toISOString(),
  },
});

/** App CPU and wall time of one call, in ms. */
const measure = async (fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> => {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  return { wall: performance.now() - t0, cpu: (cpu.user + cpu.system) / 1000 };
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const tamperBench: Bench = {
  name: 'tamper',
  title: 'Tamper watch: one pass at the full scenario size',
  run: async () => {
    if (!postgresUrl) return 'Not run: TEST_DATABASE_URL is not set.';
    const db = await createPostgresTestDb(4);
    try {
      const store = createPostgresEventStore(db);
      const pollId = randomUUID();
      const leafHashes: string[] = [];
      const t0 = performance.now();
      for (let i = 0; i < OTHER_EVENTS; i += 2000) {
        const batch = Array.from({ length: Math.min(2000, OTHER_EVENTS - i) }, () => ({
          streamId: `citizen-${randomUUID()}`,
          events: [{ type: 'CitizenRegistered', data: { citizenId: randomUUID(), sealed: randomBytes(96).toString('base64') } }],
          expected: 'no_stream' as const,
        }));
        await store.appendMany(batch);
      }
      /** Appends ballots and stores their leaves, as the anchoring service would. */
      const addBallots = async (from: number, count: number) => {
        for (let i = from; i < from + count; i += 2000) {
          const events = Array.from({ length: Math.min(2000, from + count - i) }, (_, k) => ballotEvent(pollId, i + k));
          await store.appendMany(events.map((e) => ({ streamId: `ballot-${pollId}-${e.id}`, events: [e], expected: 'no_stream' as const })));
          const rows = events.map((e) => {
            const entry = ledgerEntryOf({ id: e.id!, type: e.type, data: e.data })!;
            const text = entryText(entry);
            const hash = toHex(hashLeaf(nodeSha256, utf8(text)));
            leafHashes.push(hash);
            return { leaf_index: leafHashes.length - 1, event_id: e.id!, poll_id: pollId, event_type: e.type, tracker: e.data.tracker as string, entry_hash: hash, entry_text: text, committed_at: new Date() };
          });
          await (db.kysely as Kysely<any>).insertInto('ledger_entries').values(rows).execute();
        }
      };
      await addBallots(0, BALLOTS);
      await sql`VACUUM ANALYZE events`.execute(db.kysely);
      await sql`VACUUM ANALYZE ledger_entries`.execute(db.kysely);
      const loadSeconds = (performance.now() - t0) / 1000;

      const verifier = createLedgerVerifier({
        db: db.kysely,
        eventStore: store,
        coordinator: { requestTallies: async () => [] },
        logger: createLogger('silent'),
        origin: 'bench',
        quorum: 3,
        verifierKeys: async () => [],
        handedLeafHash: (i) => leafHashes[i],
        renumberings: () => 0,
        bucketSize: 1024,
      });

      // The pass it replaced, with its hash cache warm (it re-hashed only rows whose version changed).
      const cache = new Map<string, { version: string; hash: string | null }>();
      const fullReadPass = async (): Promise<number> => {
        const leaves = await loadLeafHashes(db.kysely);
        const versions = await store.eventVersions!(ANCHORED_EVENT_TYPES);
        const stale = [...versions].filter(([id, v]) => cache.get(id)?.version !== v).map(([id]) => id);
        for (let i = 0; i < stale.length; i += 1000)
          for (const event of await store.readEventsById!(stale.slice(i, i + 1000)))
            cache.set(event.id, { version: versions.get(event.id)!, hash: toHex(hashLeaf(nodeSha256, utf8(entryText(ledgerEntryOf(event)!)))) });
        const derived = new Map<string, string | null>();
        for (const id of versions.keys()) derived.set(id, cache.get(id)?.hash ?? null);
        let problems = compareLeaves(leaves, derived).length;
        for (const leaf of leaves) if (leafHashes[leaf.leafIndex] !== leaf.entryHash) problems++;
        return problems;
      };

      const coldNew = await measure(() => verifier.tamperCheck());
      const coldOld = await measure(fullReadPass);
      const steady = { neu: [] as Array<{ wall: number; cpu: number }>, old: [] as Array<{ wall: number; cpu: number }> };
      for (let r = 0; r < REPEATS; r++) {
        steady.neu.push(await measure(() => verifier.tamperCheck()));
        steady.old.push(await measure(fullReadPass));
      }
      const tail = { neu: [] as Array<{ wall: number; cpu: number }>, old: [] as Array<{ wall: number; cpu: number }> };
      for (let r = 0; r < REPEATS; r++) {
        await addBallots(leafHashes.length, TAIL);
        tail.neu.push(await measure(() => verifier.tamperCheck()));
        tail.old.push(await measure(fullReadPass));
      }

      // Where the steady pass's time goes: the two digest queries, run on their own.
      const medianWall = async (fn: () => Promise<unknown>): Promise<number> => {
        const xs: number[] = [];
        for (let r = 0; r < 3; r++) xs.push((await measure(fn)).wall);
        return median(xs);
      };
      const eventDigestMs = await medianWall(() => store.eventVersionDigests!(ANCHORED_EVENT_TYPES, 1024));
      const leafDigestMs = await medianWall(() => leafDigests(db.kysely, 1024));

      // Both must still see an edit deep in the log: one old ballot rewritten behind the store's back.
      const victim = BALLOTS >> 1;
      const { rows } = await sql<{ event_id: string }>`SELECT event_id FROM ledger_entries WHERE leaf_index = ${victim}`.execute(db.kysely);
      await db.kysely.transaction().execute(async (trx) => {
        await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(trx);
        await sql`UPDATE events SET data = jsonb_set(data, '{selections,selections,projects}', '["p1"]') WHERE id = ${rows[0]!.event_id}::uuid`.execute(trx);
        await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(trx);
      });
      const foundNew = await verifier.tamperCheck();
      const foundOld = await fullReadPass();

      const m = (xs: Array<{ wall: number; cpu: number }>, k: 'wall' | 'cpu') => median(xs.map((x) => x[k]));
      const row = (name: string, neu: Array<{ wall: number; cpu: number }>, old: Array<{ wall: number; cpu: number }>) =>
        `| ${name} | ${fmt(Math.round(m(old, 'wall')))} | ${fmt(Math.round(m(old, 'cpu')))} | ${fmt(Math.round(m(neu, 'wall')))} | ${fmt(Math.round(m(neu, 'cpu')))} | ${(m(old, 'wall') / m(neu, 'wall')).toFixed(1)}× | ${(m(old, 'cpu') / Math.max(1, m(neu, 'cpu'))).toFixed(1)}× |`;
      return [
        `PostgreSQL 15 on loopback. ${fmt(OTHER_EVENTS)} other events (citizens) and ${fmt(BALLOTS)} anchored ballots with their leaves (loaded in ${loadSeconds.toFixed(0)} s), then one pass of each kind, alternating; medians of ${REPEATS}.`,
        'Baseline: the full-read pass it replaced (version of every anchored event and every leaf read into the app and compared there, leaf hashes cached). Bucket pass: digests per 1,024 positions and per 1,024 leaves computed by PostgreSQL, only moved buckets read. Wall includes PostgreSQL; CPU is the app process only.',
        '',
        '| pass | full read: wall ms | full read: app CPU ms | buckets: wall ms | buckets: app CPU ms | wall ratio | app CPU ratio |',
        '|---|---|---|---|---|---|---|',
        `| first pass (nothing seen yet) | ${fmt(Math.round(coldOld.wall))} | ${fmt(Math.round(coldOld.cpu))} | ${fmt(Math.round(coldNew.wall))} | ${fmt(Math.round(coldNew.cpu))} | ${(coldOld.wall / coldNew.wall).toFixed(1)}× | ${(coldOld.cpu / Math.max(1, coldNew.cpu)).toFixed(1)}× |`,
        row('nothing changed', steady.neu, steady.old),
        row(`${fmt(TAIL)} new ballots since the last pass`, tail.neu, tail.old),
        '',
        `Of a steady bucket pass, the event digests (${fmt(OTHER_EVENTS + BALLOTS)} rows scanned, ${fmt(BALLOTS)} summed) take ${fmt(Math.round(eventDigestMs))} ms and the leaf digests ${fmt(Math.round(leafDigestMs))} ms of PostgreSQL time, measured on their own.`,
        `An old ballot (leaf ${fmt(victim)}) rewritten behind the store's back: the bucket pass reported ${foundNew} new problem(s), the full-read pass ${foundOld}.`,
      ].join('\n');
    } finally {
      await db.close();
    }
  },
};
