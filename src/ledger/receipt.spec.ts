import { describe, expect, it } from 'vitest';
import { toBase64 } from './bytes.ts';
import { GENESIS_PREV, formatCheckpoint } from './checkpoint.ts';
import { ballotTrackerCode, canonicalEntryBytes, type LedgerEntry } from './entry.ts';
import { nobleEd25519, nobleSha256 as h } from './hash.ts';
import { MerkleTree, hashLeaf } from './merkle.ts';
import { nodeEd25519 } from './nodeCrypto.ts';
import { generateSignerKey, parseSignerKey, signNote, type NoteSigner } from './note.ts';
import { buildReceipt, verifyReceipt, type Receipt, type ReceiptVerification, type VerifyReceiptOptions } from './receipt.ts';

const ORIGIN = 'vote.example.org/ledger';
const keys = [1, 2, 3, 4].map((i) => generateSignerKey(h, nobleEd25519, `node${i}`, new Uint8Array(32).fill(i)));
const signers: NoteSigner[] = keys.map((k) => parseSignerKey(h, nobleEd25519, k.signerKey));
const options: VerifyReceiptOptions = { verifierKeys: keys.map((k) => k.verifierKey), quorum: 3, origin: ORIGIN };

function ballot(i: number): LedgerEntry {
  const salt = i.toString(16).padStart(2, '0').repeat(32);
  const eventId = `event-${i}`;
  return {
    kind: 'ballot',
    pollId: 'poll-1',
    eventType: 'BallotCast',
    eventId,
    at: `2025-03-01T09:${String(i % 60).padStart(2, '0')}:00Z`,
    data: { voterTag: `tag-${i}`, selections: { selections: { q1: ['a'] } }, salt, tracker: ballotTrackerCode(salt, eventId) },
  };
}
const pollEntry: LedgerEntry = { kind: 'poll', pollId: 'poll-1', eventType: 'PollOpened', eventId: 'event-p', at: '2025-03-01T09:00:00Z', data: {} };

function ledger(entries: LedgerEntry[]): { tree: MerkleTree; checkpoint: (size: number, by?: NoteSigner[]) => string } {
  const tree = new MerkleTree(h);
  for (const e of entries) tree.append(hashLeaf(h, canonicalEntryBytes(e)));
  const checkpoint = (size: number, by = signers.slice(0, 3)): string =>
    signNote(nobleEd25519, formatCheckpoint({ origin: ORIGIN, size, rootHash: tree.root(size), prev: GENESIS_PREV, extensions: [] }), by);
  return { tree, checkpoint };
}

const entries = [pollEntry, ...Array.from({ length: 20 }, (_, i) => ballot(i + 1))];
const { tree, checkpoint } = ledger(entries);

function receiptFor(index: number, size = 12, by?: NoteSigner[]): Receipt {
  return buildReceipt({
    origin: ORIGIN,
    entry: entries[index]!,
    leafIndex: index,
    checkpoint: checkpoint(size, by),
    inclusionProof: tree.inclusionProof(index, size),
  });
}

const failed = (v: ReceiptVerification): string[] => v.checks.filter((c) => !c.ok).map((c) => c.code);

describe('verifyReceipt', () => {
  it('passes every check for a genuine ballot receipt, with noble and with node:crypto', () => {
    const receipt = receiptFor(5);
    expect(receipt.tracker).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    for (const ed of [nobleEd25519, nodeEd25519]) {
      const result = verifyReceipt(h, ed, receipt, options);
      expect(failed(result)).toEqual([]);
      expect(result.ok).toBe(true);
      expect(result.checks.map((c) => c.code)).toEqual(['tracker', 'entry-hash', 'signatures', 'origin', 'inclusion']);
    }
    // A receipt survives a JSON round trip (what the voter downloads).
    expect(verifyReceipt(h, nobleEd25519, JSON.parse(JSON.stringify(receipt)), options).ok).toBe(true);
  });

  it('accepts a poll entry receipt without tracker, and a tracker typed loosely', () => {
    expect(verifyReceipt(h, nobleEd25519, receiptFor(0), options).ok).toBe(true);
    const loose = { ...receiptFor(3), tracker: receiptFor(3).tracker.toLowerCase().replace(/-/g, '') };
    expect(verifyReceipt(h, nobleEd25519, loose, options).ok).toBe(true);
  });

  it('catches an edited ballot, a swapped tracker and a wrong leaf index', () => {
    const receipt = receiptFor(5);
    const edited = structuredClone(receipt);
    (edited.entry.data as { selections: unknown }).selections = { selections: { q1: ['b'] } };
    expect(failed(verifyReceipt(h, nobleEd25519, edited, options))).toEqual(['inclusion']);
    expect(failed(verifyReceipt(h, nobleEd25519, { ...receipt, tracker: receiptFor(6).tracker }, options))).toEqual(['tracker']);
    const forgedTracker = structuredClone(receipt);
    (forgedTracker.entry.data as { tracker: string }).tracker = receiptFor(6).tracker;
    forgedTracker.tracker = receiptFor(6).tracker;
    expect(failed(verifyReceipt(h, nobleEd25519, forgedTracker, options))).toEqual(['tracker', 'inclusion']);
    expect(failed(verifyReceipt(h, nobleEd25519, { ...receipt, leafIndex: 4 }, options))).toEqual(['inclusion']);
  });

  it('requires a quorum of distinct known keys', () => {
    expect(failed(verifyReceipt(h, nobleEd25519, receiptFor(5, 12, signers.slice(0, 2)), options))).toEqual(['signatures']);
    const strangers = [5, 6, 7].map((i) =>
      parseSignerKey(h, nobleEd25519, generateSignerKey(h, nobleEd25519, `node${i}`, new Uint8Array(32).fill(i)).signerKey),
    );
    expect(failed(verifyReceipt(h, nobleEd25519, receiptFor(5, 12, strangers), options))).toEqual(['signatures']);
    // One key listed under two names does not count twice.
    const twoNames = { ...options, verifierKeys: [...options.verifierKeys.slice(0, 2), options.verifierKeys[0]!] };
    const aliasKey = generateSignerKey(h, nobleEd25519, 'alias', new Uint8Array(32).fill(1));
    const aliasSigner = parseSignerKey(h, nobleEd25519, aliasKey.signerKey);
    const withAlias = { ...twoNames, verifierKeys: [...twoNames.verifierKeys, aliasKey.verifierKey] };
    const r = receiptFor(5, 12, [signers[0]!, signers[1]!, aliasSigner]);
    expect(failed(verifyReceipt(h, nobleEd25519, r, withAlias))).toEqual(['signatures']);
    // A tampered signature line does not count.
    const good = receiptFor(5);
    const tampered = { ...good, checkpoint: good.checkpoint.replace(/(— node1 .{10})./, (_, p: string) => `${p}${p.endsWith('A') ? 'B' : 'A'}`) };
    expect(failed(verifyReceipt(h, nobleEd25519, tampered, options))).toEqual(['signatures']);
  });

  it('checks the origin of the receipt and of the checkpoint', () => {
    expect(failed(verifyReceipt(h, nobleEd25519, receiptFor(5), { ...options, origin: 'other.example/log' }))).toEqual(['origin']);
    expect(failed(verifyReceipt(h, nobleEd25519, { ...receiptFor(5), origin: 'other.example/log' }, options))).toEqual(['origin']);
  });

  it('checks consistency with a later signed checkpoint when given one', () => {
    const receipt = receiptFor(5, 12);
    const latest = { note: checkpoint(21), consistencyProof: tree.consistencyProof(12, 21).map(toBase64) };
    const result = verifyReceipt(h, nobleEd25519, receipt, { ...options, latest });
    expect(result.ok).toBe(true);
    expect(result.checks.at(-1)?.code).toBe('consistency');

    // A forked history: entry 8 rewritten after the receipt's checkpoint.
    const fork = ledger(entries.map((e, i) => (i === 8 ? ballot(99) : e)));
    const forked = { note: fork.checkpoint(21), consistencyProof: fork.tree.consistencyProof(12, 21).map(toBase64) };
    expect(failed(verifyReceipt(h, nobleEd25519, receipt, { ...options, latest: forked }))).toEqual(['consistency']);
    const unsigned = { ...latest, note: checkpoint(21, signers.slice(0, 1)) };
    expect(failed(verifyReceipt(h, nobleEd25519, receipt, { ...options, latest: unsigned }))).toEqual(['consistency']);
    const older = { note: checkpoint(10), consistencyProof: [] };
    expect(failed(verifyReceipt(h, nobleEd25519, receipt, { ...options, latest: older }))).toEqual(['consistency']);
    const garbage = { ...latest, consistencyProof: ['!!'] };
    expect(failed(verifyReceipt(h, nobleEd25519, receipt, { ...options, latest: garbage }))).toEqual(['consistency']);
  });

  it('never throws on malformed receipts: every check fails with a reason', () => {
    const good = receiptFor(5);
    const inputs: unknown[] = [
      null,
      undefined,
      42,
      'receipt',
      [],
      {},
      { ...good, version: 2 },
      { ...good, entry: null },
      { ...good, entry: { ...good.entry, data: undefined } },
      { ...good, checkpoint: 'not a note' },
      { ...good, checkpoint: 7 },
      { ...good, inclusionProof: 'x' },
      { ...good, inclusionProof: [1, 2] },
      { ...good, leafIndex: -1 },
      { ...good, leafIndex: '5' },
      { ...good, leafIndex: 1e300 },
      { ...good, tracker: null },
      { ...good, checkpoint: good.checkpoint.replace('\n12\n', '\n012\n') },
    ];
    for (const input of inputs) {
      const result = verifyReceipt(h, nobleEd25519, input, options);
      expect(result.ok, JSON.stringify(input)?.slice(0, 80)).toBe(false);
      for (const c of result.checks) expect(c.detail.length).toBeGreaterThan(0);
    }
    const badKeys = verifyReceipt(h, nobleEd25519, good, { ...options, verifierKeys: ['junk', 'node1+00000000+AAAA'] });
    expect(failed(badKeys)).toEqual(['signatures']);
  });
});
