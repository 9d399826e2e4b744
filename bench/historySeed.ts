import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { openBudgetPoll, budgetPollDefinition } from '../src/cli/provisionVoters.ts';
import { ANCHORED_EVENT_TYPES, entryText, ledgerEntryOf } from '../src/app/ledger/entries.ts';
import type { EventStore, RecordedEvent } from '../src/app/eventStore.ts';
import { toBase64, toHex, utf8 } from '../src/ledger/bytes.ts';
import { formatCheckpoint, GENESIS_PREV } from '../src/ledger/checkpoint.ts';
import { ballotTrackerCode } from '../src/ledger/entry.ts';
import { hashLeaf, MerkleFrontier } from '../src/ledger/merkle.ts';
import { nodeEd25519, nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { generateSignerKey, parseSignerKey, signatureLine } from '../src/ledger/note.ts';
import { LEDGER_ORIGIN } from '../src/infra/ledger/ledgerServices.ts';
import type { Database } from '../src/infra/db/schema.ts';
import { versionsInBucketsQuery } from '../src/infra/eventStore/postgresEventIntegrity.ts';
import { appendBatchStatement } from '../src/infra/eventStore/postgresEventStore.ts';
import { leavesInBucketsQuery } from '../src/infra/ledger/ledgerStore.ts';
import { pageFactsQuery } from '../src/infra/readModels/pageReads.ts';

/**
 * A store that already holds a long history, made fast: `events` events in PostgreSQL of which
 * `ballots` are anchored ballots of one (live) poll, with the ledger side consistent with them. The
 * poll's own events go through the real poll commands; the filler (citizen registrations) is one
 * INSERT ... SELECT generate_series in the database; the ballots go in through unnest batches with their
 * ledger_entries rows. The four nodes' directories get the same entries.log, one final checkpoint at the
 * log's size signed by all four (signed.log, finals.log, state.json), and the app's subscription and
 * projection checkpoints are set to the head, as after years of running. Returns how long it took.
 */
export const seedHistory = async (
  kysely: Kysely<Database>,
  eventStore: EventStore,
  dataDir: string,
  counts: { events: number; ballots: number },
): Promise<{ seconds: number; leaves: number }> => {
  const started = performance.now();
  const official = { kind: 'official' as const, id: 'history-official', orgId: 'history' };
  const definition = { ...budgetPollDefinition(), settings: { ...budgetPollDefinition().settings, resultsVisibility: 'live' as const } };
  const pollId = await openBudgetPoll(eventStore, official, definition);
  const filler = Math.max(0, counts.events - counts.ballots - 3);
  // Filler first, then the ballots, in batches of 50,000 rows a statement (one transaction each).
  for (let done = 0; done < filler; done += 50_000) {
    const n = Math.min(50_000, filler - done);
    await sql`
      INSERT INTO events (id, stream_id, stream_revision, type, data)
      SELECT gen_random_uuid(), 'citizen-h' || (${done}::bigint + g), 0, 'CitizenRegistered',
             jsonb_build_object('citizenId', 'h' || (${done}::bigint + g), 'phoneHash', md5(g::text), 'profile', 'v1:seed', 'registeredAt', now()::text)
      FROM generate_series(1, ${n}::bigint) AS g`.execute(kysely);
  }
  const salt = toHex(new Uint8Array(randomBytes(32)));
  const at = new Date().toISOString();
  const BATCH = 10_000;
  for (let done = 0; done < counts.ballots; done += BATCH) {
    const n = Math.min(BATCH, counts.ballots - done);
    const ids: string[] = [];
    const streams: string[] = [];
    const data: string[] = [];
    for (let k = 0; k < n; k++) {
      const id = randomUUID();
      const voterTag = toHex(new Uint8Array(randomBytes(32)));
      ids.push(id);
      streams.push(`ballot-${pollId}-${voterTag}`);
      const choice = `p${1 + ((done + k) % 50)}`;
      data.push(JSON.stringify({ pollId, voterTag, ballotId: id, selections: { selections: { q1: [choice] } }, salt, tracker: ballotTrackerCode(salt, id, nodeSha256), castAt: at, replaces: null }));
    }
    await sql`
      INSERT INTO events (id, stream_id, stream_revision, type, data)
      SELECT id, s, 0, 'BallotCast', d FROM unnest(${ids}::uuid[], ${streams}::text[], ${data}::jsonb[]) AS b(id, s, d)`.execute(kysely);
  }
  // The anchored events in the order the anchoring service reads them, with their leaves.
  const frontier = MerkleFrontier.empty(nodeSha256);
  const texts: string[] = [];
  let after: [string, string] = ['0', '0'];
  for (;;) {
    const { rows } = await sql<{ id: string; type: string; data: Record<string, unknown>; tx: string; pos: string }>`
      SELECT id::text, type, data, transaction_id::text AS tx, global_position::text AS pos FROM events
      WHERE (transaction_id, global_position) > (${after[0]}::xid8, ${after[1]}::bigint) AND type IN ('BallotCast', 'PollCreated', 'PollScheduled', 'PollOpened')
      ORDER BY transaction_id, global_position LIMIT ${BATCH}`.execute(kysely);
    if (rows.length === 0) break;
    const values = { leaf: [] as number[], event: [] as string[], type: [] as string[], tracker: [] as (string | null)[], hash: [] as string[], text: [] as string[] };
    for (const r of rows) {
      const entry = ledgerEntryOf({ id: r.id, type: r.type, data: r.data } as Pick<RecordedEvent, 'id' | 'type' | 'data'>);
      if (!entry) continue;
      const text = entryText(entry);
      const hash = hashLeaf(nodeSha256, utf8(text));
      values.leaf.push(texts.length);
      values.event.push(r.id);
      values.type.push(r.type);
      values.tracker.push(r.type === 'BallotCast' ? (r.data.tracker as string) : null);
      values.hash.push(toHex(hash));
      values.text.push(text);
      texts.push(text);
      frontier.append(hash);
    }
    await sql`
      INSERT INTO ledger_entries (leaf_index, event_id, poll_id, event_type, tracker, entry_hash, entry_text, committed_at)
      SELECT l, e, ${pollId}, t, k, h, x, now()
      FROM unnest(${values.leaf}::bigint[], ${values.event}::text[], ${values.type}::text[], ${values.tracker}::text[], ${values.hash}::text[], ${values.text}::text[]) AS u(l, e, t, k, h, x)`.execute(kysely);
    after = [rows[rows.length - 1]!.tx, rows[rows.length - 1]!.pos];
  }
  // One final checkpoint over every leaf, signed by all four nodes.
  const body = formatCheckpoint({ origin: LEDGER_ORIGIN, size: frontier.size, rootHash: frontier.root(), prev: GENESIS_PREV, extensions: [] });
  const signers = [1, 2, 3, 4].map((i) => {
    const seed = new Uint8Array(randomBytes(32));
    const dir = join(dataDir, `ledger-node-${i}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'seed'), seed, { mode: 0o600 });
    return { dir, signer: parseSignerKey(nodeSha256, nodeEd25519, generateSignerKey(nodeSha256, nodeEd25519, `ledger-node-${i}`, seed).signerKey) };
  });
  const lines = signers.map((s) => signatureLine(nodeEd25519, body, s.signer));
  const note = `${body}\n${lines.join('')}`;
  const log = texts.length > 0 ? `${texts.join('\n')}\n` : '';
  signers.forEach((s, k) => {
    writeFileSync(join(s.dir, 'entries.log'), log);
    writeFileSync(join(s.dir, 'signed.log'), `${JSON.stringify(`${body}\n${lines[k]}`)}\n`);
    writeFileSync(join(s.dir, 'finals.log'), `${JSON.stringify(note)}\n`);
    writeFileSync(join(s.dir, 'state.json'), JSON.stringify({ size: frontier.size, root: toBase64(frontier.root()), lastSignedBody: body, lastFinalNote: note }));
  });
  await sql`INSERT INTO ledger_checkpoints (size, note) VALUES (${frontier.size}, ${note})`.execute(kysely);
  const head = await eventStore.headCheckpoint();
  await sql`INSERT INTO ledger_anchor_checkpoint (name, checkpoint) VALUES ('anchoring', ${head})`.execute(kysely);
  await sql`INSERT INTO projection_checkpoints (projection, checkpoint) VALUES ('read-models', ${head}) ON CONFLICT (projection) DO UPDATE SET checkpoint = excluded.checkpoint`.execute(kysely);
  await sql`VACUUM ANALYZE events`.execute(kysely);
  await sql`VACUUM ANALYZE ledger_entries`.execute(kysely);
  return { seconds: (performance.now() - started) / 1000, leaves: frontier.size };
};

/**
 * EXPLAIN (ANALYZE, BUFFERS) of the queries a tamper-watch pass and an anchoring round run, with the
 * values a pass would use on this database now (the newest bucket of 1,024, a chunk of event ids), as
 * markdown: each plan should be an index or primary-key range scan bounded by what changed.
 */
export const explainWatchQueries = async (kysely: Kysely<Database>): Promise<string> => {
  const B = 1024;
  const { rows: top } = await sql<{ leaf: string | null; pos: string | null }>`
    SELECT (SELECT max(leaf_index)::text FROM ledger_entries) AS leaf, (SELECT max(global_position)::text FROM events) AS pos`.execute(kysely);
  const leafBucket = Math.floor(Number(top[0]?.leaf ?? 0) / B);
  const eventBucket = Math.floor(Number(top[0]?.pos ?? 0) / B);
  const { rows: ids } = await sql<{ id: string; event_id: string }>`
    SELECT e.id::text AS id, l.event_id FROM ledger_entries l JOIN events e ON e.id = l.event_id::uuid WHERE l.leaf_index >= ${leafBucket * B} ORDER BY l.leaf_index LIMIT 1000`.execute(kysely);
  const idList = ids.map((r) => `'${r.id}'`).join(',') || `'00000000-0000-0000-0000-000000000000'`;
  // The types the tamper watch digests (it passes ANCHORED_EVENT_TYPES), not a list of some of them.
  const types = `ARRAY[${ANCHORED_EVENT_TYPES.map((t) => `'${t}'`).join(',')}]`;
  const { rows: voters } = await sql<{ citizen_id: string; poll_id: string }>`
    SELECT citizen_id, poll_id FROM my_votes ORDER BY cast_at DESC LIMIT 8`.execute(kysely);
  // The statements the app sends are built by the app's own query builders where it has them (the
  // digests are inline in their functions: their text is copied here).
  const queries: Array<[string, string | RawBuilder<unknown>]> = [
    ['leaf digests, newest bucket on (leafDigests)', `SELECT (leaf_index / ${B})::text AS b, count(*)::text || ':' || sum(hashtextextended(leaf_index::text || ':' || event_id || ':' || poll_id || ':' || entry_hash, 0))::text FROM ledger_entries WHERE leaf_index >= ${leafBucket * B} GROUP BY 1`],
    ['event version digests, newest bucket on (EventIntegrity.versionDigests)', `SELECT (global_position / ${B})::text AS b, count(*)::text || ':' || sum(hashtextextended(id::text || ':' || xmin::text, 0))::text FROM events WHERE type = ANY(${types}) AND global_position >= ${eventBucket * B} GROUP BY 1`],
    ['leaves of a moved bucket (loadLeafHashesInBuckets)', leavesInBucketsQuery(B, [leafBucket])],
    ['versions of the newest event buckets (EventIntegrity.versionsInBuckets)', versionsInBucketsQuery(ANCHORED_EVENT_TYPES, B, [eventBucket - 1, eventBucket])],
    ['a poll page\'s facts for 8 voters (pageFacts: their ballots, unread marks and the badge)', pageFactsQuery([...voters.map((v) => ['v', v.citizen_id, v.poll_id] as ['v', string, string]), ...voters.map((v) => ['r', v.citizen_id] as ['r', string]), ['b', voters[0]?.poll_id ?? '']])],
    ['a cast batch of 76 new ballot streams (appendBatchStatement; run in a transaction rolled back)', appendBatchStatement(Array.from({ length: 76 }, () => ({ streamId: `ballot-explain-${randomUUID()}`, events: [{ type: 'BallotCast', data: {} }], expected: 'no_stream' as const })))],
    ['1,000 events by id (EventIntegrity.eventsById)', `SELECT id, stream_id, stream_revision::text, type, data, metadata, recorded_at, transaction_id::text, global_position::text FROM events WHERE id = ANY(ARRAY[${idList}]::uuid[])`],
    ['leaves of changed events (loadLeafHashesBy event_id)', `SELECT leaf_index, event_id, poll_id, entry_hash FROM ledger_entries WHERE event_id IN (${ids.slice(0, 50).map((r) => `'${r.event_id}'`).join(',') || "''"}) ORDER BY leaf_index`],
    ['tally look-up after a final round (publishedResultsToVerify)', `SELECT e.poll_id, e.entry_text, e.leaf_index FROM ledger_entries e LEFT JOIN poll_verification v ON v.poll_id = e.poll_id WHERE e.event_type = 'PollResultPublished' AND e.leaf_index >= ${leafBucket * B} AND e.leaf_index < ${(leafBucket + 1) * B} AND (v.status IS NULL OR v.status = 'pending') UNION SELECT e.poll_id, e.entry_text, e.leaf_index FROM poll_verification v JOIN ledger_entries e ON e.poll_id = v.poll_id AND e.event_type = 'PollResultPublished' WHERE v.status = 'pending' AND e.leaf_index < ${(leafBucket + 1) * B} ORDER BY leaf_index`],
  ];
  const out: string[] = [];
  for (const [name, text] of queries) {
    const query = typeof text === 'string' ? sql.raw(text) : text;
    // EXPLAIN ANALYZE runs the statement: each runs in a transaction rolled back (the append inserts).
    const trx = await kysely.startTransaction().execute();
    const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${query}`.execute(trx).finally(() => trx.rollback().execute());
    // Id lists make some lines thousands of characters long: the plan's shape is what matters.
    out.push(`${name}:`, '```', ...rows.map((r) => (r['QUERY PLAN'].length > 160 ? `${r['QUERY PLAN'].slice(0, 160)}…` : r['QUERY PLAN'])), '```');
  }
  return out.join('\n');
};
