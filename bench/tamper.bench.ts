import { randomBytes, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { ANCHORED_EVENT_TYPES, entryText, ledgerEntryOf } from '../src/app/ledger/entries.ts';
import { compareLeaves } from '../src/app/ledger/verification.ts';
import type { NewEvent } from '../src/app/eventStore.ts';
import { createPostgresEventStore } from '../src/infra/eventStore/postgresEventStore.ts';
import { loadConfig } from '../src/infra/config.ts';
import { createLogger } from '../src/infra/logger.ts';
import { loadLeafHashes } from '../src/infra/ledger/ledgerStore.ts';
import { createLedgerVerifier } from '../src/infra/ledger/verification.ts';
import { createPostgresEventIntegrity } from '../src/infra/eventStore/postgresEventIntegrity.ts';
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
const BUCKET = 1024;
const WINDOW = loadConfig({}).TAMPER_WATCH_WINDOW;
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
          await db.kysely.insertInto('ledger_entries').values(rows).execute();
        }
      };
      await addBallots(0, BALLOTS);
      await sql`VACUUM ANALYZE events`.execute(db.kysely);
      await sql`VACUUM ANALYZE ledger_entries`.execute(db.kysely);
      const loadSeconds = (performance.now() - t0) / 1000;

      const integrity = createPostgresEventIntegrity(db.kysely);
      const verifierWith = (sweepWindow: number) =>
        createLedgerVerifier({
          db: db.kysely,
          integrity,
          coordinator: { requestTallies: async () => [] },
          logger: createLogger('silent'),
          origin: 'bench',
          quorum: 3,
          verifierKeys: async () => [],
          handedLeafHash: (i) => leafHashes[i],
          checkedAtStart: () => 0,
          finalSize: () => leafHashes.length,
          anchoredEntries: async () => [],
          renumberings: () => 0,
          bucketSize: BUCKET,
          sweepWindow,
        });
      const everyBucket = verifierWith(Number.MAX_SAFE_INTEGER);
      const windowed = verifierWith(WINDOW);

      // The pass it replaced, with its hash cache warm (it re-hashed only rows whose version changed).
      const cache = new Map<string, { version: string; hash: string | null }>();
      const fullReadPass = async (): Promise<number> => {
        const leaves = await loadLeafHashes(db.kysely);
        // Every anchored event's id and version, as the event store port used to offer (eventVersions).
        const { rows } = await sql<{ id: string; v: string }>`SELECT id::text AS id, xmin::text AS v FROM events WHERE type = ANY(${[...ANCHORED_EVENT_TYPES]}::text[])`.execute(db.kysely);
        const versions = new Map(rows.map((r) => [r.id, r.v]));
        const stale = [...versions].filter(([id, v]) => cache.get(id)?.version !== v).map(([id]) => id);
        for (let i = 0; i < stale.length; i += 1000)
          for (const event of await integrity.eventsById(stale.slice(i, i + 1000)))
            cache.set(event.id, { version: versions.get(event.id)!, hash: toHex(hashLeaf(nodeSha256, utf8(entryText(ledgerEntryOf(event)!)))) });
        const derived = new Map<string, string | null>();
        for (const id of versions.keys()) derived.set(id, cache.get(id)?.hash ?? null);
        let problems = compareLeaves(leaves, derived).length;
        for (const leaf of leaves) if (leafHashes[leaf.leafIndex] !== leaf.entryHash) problems++;
        return problems;
      };
      const kinds: Array<[string, () => Promise<number>]> = [
        ['full read', fullReadPass],
        ['every bucket', () => everyBucket.tamperCheck()],
        [`window of ${WINDOW}`, () => windowed.tamperCheck()],
      ];
      type Sample = { wall: number; cpu: number };
      const runs = { first: new Map<string, Sample[]>(), steady: new Map<string, Sample[]>(), tail: new Map<string, Sample[]>() };
      const sample = async (phase: keyof typeof runs) => {
        for (const [name, pass] of kinds) runs[phase].set(name, [...(runs[phase].get(name) ?? []), await measure(pass)]);
      };
      await sample('first');
      // The windowed watch's first pass compares only the newest leaf buckets; the older ones follow a
      // window a pass until one sweep has gone round (the "first sweep" row): steady state after that.
      const positionsNow = Number((await sql<{ n: string }>`SELECT max(global_position)::text AS n FROM events`.execute(db.kysely)).rows[0]!.n);
      const firstSweep: Sample[] = [];
      for (let k = 0; k < Math.ceil(positionsNow / BUCKET / WINDOW); k++) firstSweep.push(await measure(() => windowed.tamperCheck()));
      for (let r = 0; r < REPEATS; r++) await sample('steady');
      for (let r = 0; r < REPEATS; r++) {
        await addBallots(leafHashes.length, TAIL);
        await sample('tail');
      }

      // Every kind must still see an edit deep in the log: for each, another old ballot rewritten behind
      // the store's back, then passes until it reports the edit (an alert is raised once, so one victim each).
      const edit = async (leafIndex: number) => {
        const { rows } = await sql<{ event_id: string }>`SELECT event_id FROM ledger_entries WHERE leaf_index = ${leafIndex}`.execute(db.kysely);
        await db.kysely.transaction().execute(async (trx) => {
          await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(trx);
          await sql`UPDATE events SET data = jsonb_set(data, '{selections,selections,projects}', '["p1"]') WHERE id = ${rows[0]!.event_id}::uuid`.execute(trx);
          await sql`ALTER TABLE events ENABLE TRIGGER events_append_only`.execute(trx);
        });
      };
      const found: Record<string, { leaf: number; passes: number }> = {};
      for (const [i, [name, pass]] of kinds.entries()) {
        const leaf = Math.floor((BALLOTS * (i + 1)) / 4);
        await edit(leaf);
        let passes = 0;
        while (passes < 1000 && (passes++, (await pass()) === 0));
        found[name] = { leaf, passes };
      }

      const positions = Number((await sql<{ n: string }>`SELECT max(global_position)::text AS n FROM events`.execute(db.kysely)).rows[0]!.n);
      const sweepPasses = Math.ceil(positions / BUCKET / WINDOW);
      const base = (phase: keyof typeof runs, k: 'wall' | 'cpu') => median(runs[phase].get('full read')!.map((x) => x[k]));
      const cell = (phase: keyof typeof runs, name: string) => {
        const xs = runs[phase].get(name)!;
        const wall = median(xs.map((x) => x.wall));
        const cpu = median(xs.map((x) => x.cpu));
        return name === 'full read'
          ? `${fmt(Math.round(wall))} / ${fmt(Math.round(cpu))}`
          : `${fmt(Math.round(wall))} / ${fmt(Math.round(cpu))} (${(base(phase, 'wall') / wall).toFixed(1)}× / ${(base(phase, 'cpu') / Math.max(1, cpu)).toFixed(0)}×)`;
      };
      const line = (label: string, phase: keyof typeof runs) => `| ${label} | ${kinds.map(([name]) => cell(phase, name)).join(' | ')} |`;
      return [
        `PostgreSQL 15 on loopback. ${fmt(OTHER_EVENTS)} other events (citizens) and ${fmt(BALLOTS)} anchored ballots with their leaves (loaded in ${loadSeconds.toFixed(0)} s); the three kinds of pass take turns on the same rows; medians of ${REPEATS}.`,
        `Baseline (full read): the pass this replaced, which read the version of every anchored event and every leaf into the app and compared them there (leaf hashes cached). Every bucket: PostgreSQL digests every bucket of ${fmt(BUCKET)} positions and of ${fmt(BUCKET)} leaves each pass and the app reads only moved buckets. Window of ${WINDOW} (the default): digests only the newest buckets and ${WINDOW} older ones per pass, sweeping the log in ${sweepPasses} passes.`,
        'Each cell: wall ms (PostgreSQL included) / app CPU ms, and the ratios against the full read (higher is cheaper).',
        '',
        `| pass | ${kinds.map(([name]) => name).join(' | ')} |`,
        '|---|---|---|---|',
        line('first pass (nothing seen yet)', 'first'),
        `| the window's first sweep after that (${fmt(firstSweep.length)} passes: the older leaf buckets compared with their events, ${WINDOW} a pass), median | - | - | ${fmt(Math.round(median(firstSweep.map((x) => x.wall))))} / ${fmt(Math.round(median(firstSweep.map((x) => x.cpu))))}, ${fmt(Math.round(firstSweep.reduce((a, x) => a + x.wall, 0)))} ms in all |`,
        line('nothing changed', 'steady'),
        line(`${fmt(TAIL)} new ballots since the last pass`, 'tail'),
        '',
        `An old ballot rewritten behind the store's back (a different one for each kind) was reported by ${kinds.map(([name]) => `${name} in pass ${found[name]!.passes} (leaf ${fmt(found[name]!.leaf)})`).join(', ')}; the window finds an edit within one sweep of ${sweepPasses} passes, ${sweepPasses * 2} s or more at the default 2 s between passes.`,
      ].join('\n');
    } finally {
      await db.close();
    }
  },
};
