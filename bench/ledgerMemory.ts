/**
 * A ledger node's memory over a long log: one LedgerNode in this process (its own files, the real
 * propose / finalize path, one fdatasync per round) takes N ballot entries of one poll in rounds of
 * BATCH; the three other nodes' signatures are made here with their keys, so no other node holds
 * anything. Prints one JSON line per phase: RSS, V8 heap used and array buffers after a full GC.
 *
 *   node --expose-gc --import tsx bench/ledgerMemory.ts fill 250000 DIR   # empty store, then N entries
 *   node --expose-gc --import tsx bench/ledgerMemory.ts open DIR          # a fresh process starting on DIR
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
import { ballotText, openPollEntries, ORIGIN } from '../src/ledger/node/testing.ts';

const h = nodeSha256;
const ed = nodeEd25519;
const BATCH = Number(process.env.LEDGER_MEMORY_BATCH ?? 2000);
const quiet = (): void => {};

const gc = (globalThis as { gc?: () => void }).gc;
function memory(phase: string, extra: Record<string, unknown> = {}): void {
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;
  console.log(JSON.stringify({ phase, rssMiB: mib(m.rss), heapUsedMiB: mib(m.heapUsed), arrayBuffersMiB: mib(m.arrayBuffers), externalMiB: mib(m.external), ...extra }));
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

async function fill(n: number, dir: string): Promise<void> {
  const { node: make, others } = setup(dir);
  const node = make();
  memory('empty store');
  const frontier = MerkleFrontier.empty(h);
  let prev: string | null = null;
  const pollId = 'mem';
  const started = performance.now();
  const round = async (texts: string[]): Promise<void> => {
    const start = frontier.size;
    for (const t of texts) frontier.append(hashLeaf(h, utf8(t)));
    const body = formatCheckpoint({ origin: ORIGIN, size: frontier.size, rootHash: frontier.root(), prev: prev ? checkpointHash(h, prev) : GENESIS_PREV, extensions: [] });
    const { signature } = await node.propose({ start, entries: texts, checkpoint: body });
    await node.finalize({ note: `${body}\n${signature}${others.map((s) => signatureLine(ed, body, s)).join('')}` });
    prev = body;
  };
  await round(openPollEntries(pollId));
  for (let i = 0; i < n; i += BATCH) {
    const texts: string[] = [];
    for (let k = i; k < Math.min(n, i + BATCH); k++) texts.push(ballotText({ pollId, voter: `v${k}` }));
    await round(texts);
  }
  const seconds = (performance.now() - started) / 1000;
  if (node.size !== frontier.size || node.info().finalSize !== frontier.size) throw new Error(`node holds ${node.size}, final ${node.info().finalSize}, expected ${frontier.size}`);
  memory(`after ${n} entries`, { size: node.size, seconds: Math.round(seconds), entriesPerSecond: Math.round(n / seconds) });
  node.close();
}

function open(dir: string): void {
  const { node: make } = setup(dir);
  const started = performance.now();
  const node = make();
  const seconds = (performance.now() - started) / 1000;
  if (node.storeProblem) throw new Error(node.storeProblem);
  memory('started on the store', { size: node.size, startSeconds: Math.round(seconds * 10) / 10 });
  // How much of that is the entry checker's state (per poll and per voter): drop it and measure again.
  (node as unknown as { checker: unknown }).checker = null;
  memory('the same without the entry checker');
  node.close();
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'fill') await fill(Number(a), b!);
else if (mode === 'open') open(a!);
else throw new Error('usage: ledgerMemory.ts fill N DIR | open DIR');
