/**
 * A ledger node's memory over a long log: one LedgerNode in this process (its own files, the real
 * propose / finalize path, one fdatasync per round) takes N ballot entries of one poll in rounds of
 * BATCH; the three other nodes' signatures are made here with their keys, so no other node holds
 * anything. Prints one JSON line per phase: RSS, V8 heap used and array buffers after a full GC; `fill`
 * also the process's CPU per entry and the node's alone (its propose and finalize), `open` the time of a
 * receipt (a look-up by tracker and its inclusion proof).
 *
 *   node --expose-gc --import tsx bench/ledgerMemory.ts fill 250000 DIR   # empty store, then N entries
 *   LEDGER_MEMORY_POLL_SIZE=10000 ... fill N DIR, then ... open DIR       # the same in polls of 10,000, each closed
 *   node --expose-gc --import tsx bench/ledgerMemory.ts open DIR          # a fresh process starting on DIR
 *   node --expose-gc --import tsx bench/ledgerMemory.ts sealed 250000 DIR # a sealed poll: fill, close, open, tally
 *   node --expose-gc --import tsx bench/ledgerMemory.ts reopen-sealed DIR # a fresh process on that store: shares, tally
 *
 * `sealed` runs a key ceremony (node 1 and three ThresholdStores in their own directories), fills one
 * sealed poll with N sealed ballots, closes it, has node 1 give its decryption shares for the first and
 * the last batch (the real work, and what makes it read the poll's counted ballots), anchors an opening
 * entry for every batch and asks node 1 for the tally. The ballots are sealed with one encapsulation
 * reused for all of them (a bench shortcut: sealing each afresh costs minutes), so this process can open
 * them itself from the shared point; the opening entries carry the openings, not the other nodes' shares
 * (a node's own check of an opening does not redo the shares unless a ballot is claimed unopenable;
 * the auditors do), so opening 250,000 ballots costs seconds here, not the minutes of the real thing.
 * Each phase also reports the process's peak RSS so far (maxRSS): the opening's high-water mark.
 *
 * The same file copied into a checkout of older code (git archive) measures that code the same way.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { utf8 } from '../src/ledger/bytes.ts';
import { checkpointHash, formatCheckpoint, GENESIS_PREV } from '../src/ledger/checkpoint.ts';
import { hashLeaf, MerkleFrontier } from '../src/ledger/merkle.ts';
import { nodeEd25519, nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { generateSignerKey, parseSignerKey, signatureLine } from '../src/ledger/note.ts';
import { LedgerNode } from '../src/ledger/node/ledgerNode.ts';
import { loadOrMakeSeed } from '../src/ledger/node/store.ts';
import { ballotEntry, ballotText, closePollEntry, CLOSES_AT, DURING, entryText, openPollEntries, ORIGIN } from '../src/ledger/node/testing.ts';
import { toHex } from '../src/ledger/bytes.ts';
import { ballotTrackerCode, type LedgerEntry } from '../src/ledger/entry.ts';
import { ThresholdStore } from '../src/ledger/node/thresholdStore.ts';
import { OPEN_BATCH, OPENING_EVENT, type OpenedBallot, type OpeningData } from '../src/ledger/sealedOpening.ts';
import { G, pointFromHex, randomScalar } from '../src/ledger/threshold/group.ts';
import { installEncapsulations, openSealed, sealSelections, type SealedBallot } from '../src/ledger/threshold/seal.ts';
import { useSodiumMultiply } from '../src/ledger/threshold/sodium.ts';

const h = nodeSha256;
const ed = nodeEd25519;
const BATCH = Number(process.env.LEDGER_MEMORY_BATCH ?? 2000);
const POLL_SIZE = Number(process.env.LEDGER_MEMORY_POLL_SIZE ?? 0);
const quiet = (): void => {};

const gc = (globalThis as { gc?: () => void }).gc;
function memory(phase: string, extra: Record<string, unknown> = {}): void {
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
  const peak = mib(process.resourceUsage().maxRSS * 1024);
  console.log(JSON.stringify({ phase, rssMiB: mib(m.rss), peakRssMiB: peak, heapUsedMiB: mib(m.heapUsed), arrayBuffersMiB: mib(m.arrayBuffers), externalMiB: mib(m.external), ...extra }));
}

/** Node 1's options, and signers standing in for nodes 2-4 (seeds derived from the directory, so `open` knows them). */
function setup(dir: string): { node: () => LedgerNode; others: ReturnType<typeof parseSignerKey>[] } {
  const dataDir = join(dir, 'ledger-node-1');
  mkdirSync(dataDir, { recursive: true });
  loadOrMakeSeed(join(dataDir, 'seed'), quiet);
  const others = [2, 3, 4].map((id) => generateSignerKey(h, ed, `ledger-node-${id}`, h(utf8(`bench seed ${id}`))));
  const keys = others.map((k) => k.verifierKey);
  return {
    node: () => new LedgerNode({ id: 1, dataDir, origin: ORIGIN, peers: [], keys, log: quiet }),
    others: others.map((k) => parseSignerKey(h, ed, k.signerKey)),
  };
}

/** Rounds of entries through the node's propose / finalize, the other three signatures made here. */
function rounds(node: LedgerNode, others: ReturnType<typeof parseSignerKey>[]): { round: (texts: string[]) => Promise<void>; size: () => number; nodeCpuMicros: () => number } {
  const frontier = MerkleFrontier.empty(h);
  let prev: string | null = null;
  let nodeCpu = 0;
  const round = async (texts: string[]): Promise<void> => {
    const start = frontier.size;
    for (const t of texts) frontier.append(hashLeaf(h, utf8(t)));
    const body = formatCheckpoint({ origin: ORIGIN, size: frontier.size, rootHash: frontier.root(), prev: prev ? checkpointHash(h, prev) : GENESIS_PREV, extensions: [] });
    const note = (signature: string): string => `${body}\n${signature}${others.map((s) => signatureLine(ed, body, s)).join('')}`;
    // The node's own work only (its propose and finalize; the process's CPU, so the fdatasync too).
    const before = process.cpuUsage();
    const { signature } = await node.propose({ start, entries: texts, checkpoint: body });
    const proposed = process.cpuUsage(before);
    const finalNote = note(signature);
    const beforeFinalize = process.cpuUsage();
    await node.finalize({ note: finalNote });
    const finalized = process.cpuUsage(beforeFinalize);
    nodeCpu += proposed.user + proposed.system + finalized.user + finalized.system;
    prev = body;
  };
  return { round, size: () => frontier.size, nodeCpuMicros: () => nodeCpu };
}

async function fill(n: number, dir: string): Promise<void> {
  const { node: make, others } = setup(dir);
  const node = make();
  memory('empty store');
  const { round, size, nodeCpuMicros } = rounds(node, others);
  const frontier = { get size() { return size(); } };
  const pollId = 'mem';
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await round(openPollEntries(pollId));
  // With LEDGER_MEMORY_POLL_SIZE, a poll closes after that many ballots and the next opens (poll
  // 'mem' first, then 'mem-1', 'mem-2', ...): what a node holds per open poll is then dropped as it goes.
  let current = pollId;
  for (let i = 0; i < n; i += BATCH) {
    const texts: string[] = [];
    for (let k = i; k < Math.min(n, i + BATCH); k++) {
      if (POLL_SIZE > 0 && k > 0 && k % POLL_SIZE === 0) {
        texts.push(closePollEntry(current));
        current = `${pollId}-${k / POLL_SIZE}`;
        texts.push(...openPollEntries(current));
      }
      texts.push(ballotText({ pollId: current, voter: `v${k}` }));
    }
    await round(texts);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  // This process's CPU (the node's work plus making the entries and the other nodes' signatures here).
  const cpuMicrosPerEntry = Math.round(((cpu.user + cpu.system) / n) * 100) / 100;
  const nodeCpuMicrosPerEntry = Math.round((nodeCpuMicros() / n) * 100) / 100;
  if (node.size !== frontier.size || node.info().finalSize !== frontier.size) throw new Error(`node holds ${node.size}, final ${node.info().finalSize}, expected ${frontier.size}`);
  memory(`after ${n} ballots${POLL_SIZE > 0 ? ` in polls of ${POLL_SIZE}` : ''}`, { size: node.size, seconds: Math.round(seconds), entriesPerSecond: Math.round(n / seconds), cpuMicrosPerEntry, nodeCpuMicrosPerEntry, loadAverage: (await import('node:os')).loadavg()[0] });
  node.close();
}

async function sealed(n: number, dir: string): Promise<void> {
  await useSodiumMultiply(); // as a node process does
  const { node: make, others } = setup(dir);
  const node = make();
  const stores = [2, 3, 4].map((id) => {
    const d = join(dir, `ledger-node-${id}`);
    mkdirSync(d, { recursive: true });
    return new ThresholdStore(d, id, loadOrMakeSeed(join(d, 'seed'), quiet), quiet);
  });
  const epoch = 'bench';
  const transportKeys = Object.fromEntries([node.thresholdInfo().transportKey, ...stores.map((s) => s.transportKey)].map((k, i) => [String(i + 1), k]));
  const dealings = [await node.deal({ epoch, transportKeys }), ...stores.map((s) => s.deal(epoch, transportKeys))];
  const keySet = await node.completeCeremony({ epoch, dealings });
  for (const s of stores) s.complete(epoch, dealings);
  // One encapsulation for every ballot (see the file's comment): this process can then open them.
  const r = randomScalar();
  const shared = pointFromHex(keySet.jointKey).multiply(r).toBytes();
  const encapsulation = { ephemeral: G.multiply(r).toBytes(), shared };
  installEncapsulations(keySet.jointKey, () => encapsulation);
  memory('empty store, key ceremony done');

  const { round, size } = rounds(node, others);
  const pollId = 'sealed-mem';
  await round(openPollEntries(pollId, { resultsVisibility: 'sealed' }));
  const first = size();
  let started = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const texts: string[] = [];
    for (let k = i; k < Math.min(n, i + BATCH); k++) {
      const eventId = `${pollId}-e${k}`;
      const voterTag = toHex(h(utf8(`tag|${pollId}|v${k}`)));
      const salt = toHex(h(utf8(eventId)));
      const sealedChoices = sealSelections(keySet, { pollId, voterTag, ballotId: eventId }, { selections: { q1: [['a', 'b', 'c'][k % 3]!] } });
      const entry: LedgerEntry = { kind: 'ballot', pollId, eventType: 'BallotCast', eventId, at: DURING, data: { voterTag, ballotId: eventId, sealed: sealedChoices, salt, tracker: ballotTrackerCode(salt, eventId, h) } };
      texts.push(entryText(entry));
    }
    await round(texts);
  }
  memory(`after ${n} sealed ballots`, { size: size(), entriesPerSecond: Math.round(n / ((performance.now() - started) / 1000)) });
  await round([closePollEntry(pollId)]);
  const openingSize = size();
  const batches = Math.ceil(n / OPEN_BATCH);

  // Node 1's real shares for the first and the last batch.
  started = performance.now();
  for (const batch of [0, batches - 1]) {
    const answer = await node.openShares({ pollId, size: openingSize, batch });
    if (answer.total !== n || answer.shares.node !== 1) throw new Error(`node 1 counts ${answer.total} sealed ballots, expected ${n}`);
  }
  memory('node 1 gave its shares for the first and the last batch', { seconds: Math.round((performance.now() - started) / 100) / 10 });

  // Every batch's opening entry, its openings made here from the shared point.
  started = performance.now();
  const openedAt = '2025-03-09T00:00:00.000Z';
  const PER_ROUND = 4;
  for (let b = 0; b < batches; b += PER_ROUND) {
    const texts: string[] = [];
    for (let batch = b; batch < Math.min(batches, b + PER_ROUND); batch++) {
      const from = first + batch * OPEN_BATCH;
      const openings: OpenedBallot[] = node.entries(from, Math.min(first + n, from + OPEN_BATCH)).map(({ entry }) => {
        const e = JSON.parse(entry) as LedgerEntry & { data: { voterTag: string; ballotId: string; sealed: SealedBallot } };
        const opened = openSealed(keySet.jointKey, { pollId, voterTag: e.data.voterTag, ballotId: e.data.ballotId }, e.data.sealed, shared);
        if (!opened) throw new Error(`ballot ${e.eventId} does not open`);
        return { eventId: e.eventId, selections: opened.selections, nonce: opened.nonce };
      });
      const data: OpeningData = { pollId, keyId: keySet.keyId, size: openingSize, batch, total: n, openings, shares: [], openedAt };
      texts.push(entryText({ kind: 'poll', pollId, eventType: OPENING_EVENT, eventId: `${pollId}-opened-${batch}`, at: openedAt, data }));
    }
    await round(texts);
  }
  memory(`opening anchored: ${batches} batches`, { size: size(), seconds: Math.round((performance.now() - started) / 1000) });
  started = performance.now();
  const tally = await node.tally({ pollId, size: size() });
  const counted = (tally.tally as { ballots: number }).ballots;
  if (counted !== n) throw new Error(`the tally counts ${counted} ballots, expected ${n}`);
  memory('tally signed', { seconds: Math.round((performance.now() - started) / 100) / 10 });
  node.close();
}

/** A fresh process on the store `sealed` left: start-up, node 1's shares for the first batch (reading the poll's counted ballots), the tally. */
async function reopenSealed(dir: string): Promise<void> {
  await useSodiumMultiply();
  const { node: make } = setup(dir);
  let started = performance.now();
  const node = make();
  if (node.storeProblem) throw new Error(node.storeProblem);
  memory('started on the sealed store', { size: node.size, startSeconds: Math.round((performance.now() - started) / 100) / 10 });
  const last = JSON.parse(node.entries(node.size - 1, node.size)[0]!.entry) as LedgerEntry;
  const { pollId, size } = last.data as OpeningData;
  started = performance.now();
  await node.openShares({ pollId, size, batch: 0 });
  memory('shares for batch 0', { seconds: Math.round((performance.now() - started) / 100) / 10 });
  started = performance.now();
  await node.tally({ pollId, size: node.size });
  memory('tally signed', { seconds: Math.round((performance.now() - started) / 100) / 10 });
  node.close();
}

function open(dir: string): void {
  const { node: make } = setup(dir);
  const started = performance.now();
  const node = make();
  const seconds = (performance.now() - started) / 1000;
  if (node.storeProblem) throw new Error(node.storeProblem);
  memory('started on the store', { size: node.size, startSeconds: Math.round(seconds * 10) / 10 });
  // Receipts by tracker (the fill's ballots are v0, v1, ... of poll 'mem', or of the poll they fell in
  // with LEDGER_MEMORY_POLL_SIZE, which `open` must then be given too): 200 look-ups spread over the log.
  const opening = openPollEntries('mem').length;
  const voters = POLL_SIZE > 0 ? Math.floor(((node.size - opening) * POLL_SIZE) / (POLL_SIZE + opening + 1)) : node.size - opening;
  if (voters > 0) {
    const lookups = 200;
    const t0 = performance.now();
    for (let k = 0; k < lookups; k++) {
      const v = Math.floor((k * voters) / lookups);
      const pollId = POLL_SIZE > 0 && v >= POLL_SIZE ? `mem-${Math.floor(v / POLL_SIZE)}` : 'mem';
      const tracker = (ballotEntry({ pollId, voter: `v${v}` }).data as { tracker: string }).tracker;
      if (!node.receipt(tracker)) throw new Error(`no receipt for voter ${k}`);
    }
    memory('receipts', { lookups, microsPerReceipt: Math.round(((performance.now() - t0) * 1000) / lookups) });
  }
  // How much of that is the entry checker's state (per poll and per voter): drop it and measure again.
  (node as unknown as { checker: unknown }).checker = null;
  memory('the same without the entry checker');
  node.close();
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'fill') await fill(Number(a), b!);
else if (mode === 'open') open(a!);
else if (mode === 'sealed') await sealed(Number(a), b!);
else if (mode === 'reopen-sealed') await reopenSealed(a!);
else throw new Error('usage: ledgerMemory.ts fill N DIR | open DIR | sealed N DIR | reopen-sealed DIR');
