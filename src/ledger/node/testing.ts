/**
 * Entry builders and cluster helpers for the ledger node specs and the benchmark. Not imported by
 * production code.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PollDefinition } from '../../domain/pollDefinition.ts';
import { fromUtf8, toHex, utf8 } from '../bytes.ts';
import { ballotTrackerCode, canonicalEntryBytes, type LedgerEntry } from '../entry.ts';
import { checkpointHash, formatCheckpoint, GENESIS_PREV, parseCheckpoint } from '../checkpoint.ts';
import { hashLeaf, MerkleTree } from '../merkle.ts';
import { nodeEd25519, nodeSha256 } from '../nodeCrypto.ts';
import { distinctSigners, openNote, parseVerifierKeys } from '../note.ts';
import type { AnchorResult, Coordinator } from '../coordinator.ts';
import { startLocalLedger, type LocalLedger } from './localCluster.ts';
import { mkdirSync } from 'node:fs';
import { generateSignerKey } from '../note.ts';
import { LedgerNode, type LedgerNodeOptions } from './ledgerNode.ts';
import { loadOrMakeSeed } from './store.ts';

export const ORIGIN = 'test.civic-vote.local/ledger';
export const TOKEN = 'test-coordinator-token';
export const OPENS_AT = '2025-03-01T09:00:00.000Z';
export const CLOSES_AT = '2025-03-08T09:00:00.000Z';
export const DURING = '2025-03-04T12:00:00.000Z';

export const entryText = (entry: LedgerEntry): string => fromUtf8(canonicalEntryBytes(entry));

export function pollDefinition(pollId: string, settings: Partial<PollDefinition['settings']> = {}): PollDefinition {
  return {
    pollId,
    kind: 'general',
    title: 'Where should the new bench go?',
    tags: ['parks'],
    questions: [
      {
        id: 'q1',
        text: 'Where?',
        options: ['a', 'b', 'c'].map((id) => ({ id, label: `Option ${id}` })),
        minChoices: 1,
        maxChoices: 1,
      },
    ],
    settings: { opensAt: OPENS_AT, closesAt: CLOSES_AT, resultsVisibility: 'live', allowRevote: false, ...settings },
  };
}

/** PollCreated, PollScheduled and PollOpened entries of a poll open from OPENS_AT to CLOSES_AT. */
export function openPollEntries(pollId: string, settings: Partial<PollDefinition['settings']> = {}): string[] {
  const system = { kind: 'system' };
  const base = { kind: 'poll' as const, pollId };
  return [
    { ...base, eventType: 'PollCreated', eventId: `${pollId}-created`, at: '2025-02-20T09:00:00.000Z', data: { pollId, definition: pollDefinition(pollId, settings), createdBy: system, createdAt: '2025-02-20T09:00:00.000Z' } },
    { ...base, eventType: 'PollScheduled', eventId: `${pollId}-scheduled`, at: '2025-02-21T09:00:00.000Z', data: { pollId, opensAt: OPENS_AT, closesAt: CLOSES_AT, scheduledBy: system, scheduledAt: '2025-02-21T09:00:00.000Z' } },
    { ...base, eventType: 'PollOpened', eventId: `${pollId}-opened`, at: OPENS_AT, data: { pollId, openedBy: system, openedAt: OPENS_AT } },
  ].map(entryText);
}

export function closePollEntry(pollId: string): string {
  return entryText({ kind: 'poll', pollId, eventType: 'PollClosed', eventId: `${pollId}-closed`, at: CLOSES_AT, data: { pollId, closedBy: { kind: 'system' }, closedAt: CLOSES_AT } });
}

export interface BallotSpec {
  pollId: string;
  voter: string;
  option?: string;
  eventId?: string;
  at?: string;
  replaces?: string | null;
  tracker?: string;
}

/** A ballot entry; the salt derives from the event id so the data is fixed. */
export function ballotEntry(spec: BallotSpec): LedgerEntry {
  const eventId = spec.eventId ?? `${spec.pollId}-${spec.voter}`;
  const salt = toHex(nodeSha256(utf8(eventId)));
  const data: Record<string, unknown> = {
    voterTag: toHex(nodeSha256(utf8(`tag|${spec.pollId}|${spec.voter}`))),
    selections: { selections: { q1: [spec.option ?? 'a'] } },
    salt,
    tracker: spec.tracker ?? ballotTrackerCode(salt, eventId, nodeSha256),
  };
  if (spec.replaces !== undefined) data.replaces = spec.replaces;
  return { kind: 'ballot', pollId: spec.pollId, eventType: 'BallotCast', eventId, at: spec.at ?? DURING, data };
}

export const ballotText = (spec: BallotSpec): string => entryText(ballotEntry(spec));

/** A fresh temporary directory for one cluster. */
export const tempDataDir = (): string => mkdtempSync(join(tmpdir(), 'ledger-'));

/**
 * Four node processes on free loopback ports in a fresh directory, removed by `stop()` unless
 * LEDGER_KEEP_TEST_DATA is set (the nodes' logs are in it).
 */
export async function startTestLedger(): Promise<LocalLedger & { dataDir: string }> {
  const dataDir = tempDataDir();
  const ledger = await startLocalLedger({ dataDir, basePort: 0, token: TOKEN, origin: ORIGIN, startTimeoutMs: 180_000 });
  return {
    ...ledger,
    dataDir,
    stop: async () => {
      await ledger.stop();
      if (!process.env.LEDGER_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value, up to `tries` times `everyMs` apart; throws with `what` otherwise. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, tries = 100, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting: ${what}`);
}

/** Latest final note of a node, its body and its size (0 and genesis before the first). */
export async function latestFinal(url: string): Promise<{ note: string | null; body: string | null; size: number }> {
  const res = await fetch(`${url}/v1/checkpoint`);
  if (res.status === 404) return { note: null, body: null, size: 0 };
  const note = await res.text();
  const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
  return { note, body, size: parseCheckpoint(body).size };
}

/** Every entry a node holds. */
export async function nodeEntries(url: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const res = (await (await fetch(`${url}/v1/entries?start=${out.length}&end=${out.length + 1000}`)).json()) as { entries: { entry: string }[] };
    if (res.entries.length === 0) return out;
    out.push(...res.entries.map((e) => e.entry));
  }
}

/** POSTs to a coordinator route of one node. */
export async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * Proposes `texts` straight to one node, as a coordinator would: after everything the node holds, with
 * a correct root and prev, so only the entries themselves can be refused.
 */
export async function proposeDirect(url: string, texts: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
  // A node with a store problem serves neither (503): propose from nothing, which it must refuse anyway.
  const problem = ((await (await fetch(`${url}/v1/info`)).json()) as { storeProblem?: string | null }).storeProblem;
  const held = problem ? [] : await nodeEntries(url);
  const final = problem ? { body: null } : await latestFinal(url);
  const tree = new MerkleTree(nodeSha256);
  for (const t of [...held, ...texts]) tree.append(hashLeaf(nodeSha256, utf8(t)));
  const checkpoint = formatCheckpoint({
    origin: ORIGIN,
    size: tree.size,
    rootHash: tree.root(),
    prev: final.body ? checkpointHash(nodeSha256, final.body) : GENESIS_PREV,
    extensions: [],
  });
  return post(url, '/v1/propose', { start: held.length, entries: texts, checkpoint });
}

/** Names of the node keys with valid signatures on a note. */
export function signersOf(note: string, verifierKeys: readonly string[]): string[] {
  return distinctSigners(openNote(nodeEd25519, note, parseVerifierKeys(nodeSha256, verifierKeys))).map((v) => v.name).sort();
}

/** Feeds entries to a coordinator as the app does: each batch right after everything given before. */
export function feeder(coordinator: () => Coordinator): { given: string[]; anchor: (texts: string[]) => Promise<AnchorResult> } {
  const given: string[] = [];
  return {
    given,
    anchor: (texts) => {
      const start = given.length;
      given.push(...texts);
      return coordinator().anchor(texts, start);
    },
  };
}

const quietLog = (): void => {};

/**
 * Four LedgerNodes in this process, in a fresh directory, each knowing the others' keys (no peers to
 * call). `restart(k, whileStopped)` closes node k, runs `whileStopped` on its data directory, and starts
 * it again on its files.
 */
export function inProcessCluster(pageBytes?: number, limits: Pick<LedgerNodeOptions, 'trackersInMemory' | 'openPollFiles' | 'signedPage'> = {}): { nodes: LedgerNode[]; restart: (k: number, whileStopped?: (dataDir: string) => void) => LedgerNode } {
  const dir = tempDataDir();
  const dataDirs = [1, 2, 3, 4].map((id) => join(dir, `ledger-node-${id}`));
  const keys = dataDirs.map((dataDir, k) => {
    mkdirSync(dataDir, { recursive: true });
    return generateSignerKey(nodeSha256, nodeEd25519, `ledger-node-${k + 1}`, loadOrMakeSeed(join(dataDir, 'seed'), quietLog)).verifierKey;
  });
  const make = (k: number): LedgerNode =>
    new LedgerNode({ id: k + 1, dataDir: dataDirs[k]!, origin: ORIGIN, peers: [], keys: keys.filter((_, j) => j !== k), log: quietLog, pageBytes, ...limits });
  const nodes = dataDirs.map((_, k) => make(k));
  return {
    nodes,
    restart: (k, whileStopped) => {
      nodes[k]!.close();
      whileStopped?.(dataDirs[k]!);
      nodes[k] = make(k);
      return nodes[k];
    },
  };
}

/** One round through every node of an in-process cluster: propose `texts` after `held`, then finalize with all signatures; returns the body. */
export async function inProcessRound(nodes: LedgerNode[], held: string[], texts: string[], prevBody: string | null): Promise<string> {
  const tree = new MerkleTree(nodeSha256);
  for (const t of [...held, ...texts]) tree.append(hashLeaf(nodeSha256, utf8(t)));
  return signRound(nodes, held.length, texts, tree.size, tree.root(), prevBody);
}

/**
 * The round itself, for a caller that keeps its own tree (a bench of thousands of rounds): the body for
 * `size` and `rootHash` after `prevBody`, proposed with `texts` at `start` to every node and finalized
 * with all their signatures; returns the body.
 */
export async function signRound(nodes: LedgerNode[], start: number, texts: string[], size: number, rootHash: Uint8Array, prevBody: string | null): Promise<string> {
  const body = formatCheckpoint({ origin: ORIGIN, size, rootHash, prev: prevBody ? checkpointHash(nodeSha256, prevBody) : GENESIS_PREV, extensions: [] });
  const lines: string[] = [];
  for (const node of nodes) lines.push((await node.propose({ start, entries: texts, checkpoint: body })).signature);
  const note = `${body}\n${lines.join('')}`;
  for (const node of nodes) await node.finalize({ note });
  return body;
}
