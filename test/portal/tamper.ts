/**
 * Ways to alter a real receipt, each with the checks that must fail. Used by the flow specs and the
 * browser specs, so the browser is held to the same reasons.
 */
import { formatCheckpoint, generateSignerKey, nobleEd25519, nobleSha256, parseCheckpoint, parseNote, parseSignerKey, signNote, fromBase64, toBase64, type Receipt } from '../../src/ledger/index.ts';

export type Tampering = (receipt: Receipt) => { tampered: string; expectFailed: string[] };

export const tamperings: Record<string, Tampering> = {
  'one changed byte in the entry': (r) => {
    const text = JSON.stringify(r);
    // The chosen option id, e.g. "selections":{"q1":["a"]} becomes ["b"]: one byte of the ballot.
    const i = text.indexOf('"q1":["') + 7;
    const swapped = text[i] === 'a' ? 'b' : 'a';
    return { tampered: text.slice(0, i) + swapped + text.slice(i + 1), expectFailed: ['inclusion'] };
  },
  'a dropped signature': (r) => {
    // Keep quorum - 1 signature lines: the checkpoint is then signed by too few nodes.
    const blank = r.checkpoint.indexOf('\n\n');
    const sigs = r.checkpoint.slice(blank + 2).split('\n').filter((l) => l !== '');
    return { tampered: JSON.stringify({ ...r, checkpoint: `${r.checkpoint.slice(0, blank + 2)}${sigs.slice(0, 2).join('\n')}\n` }), expectFailed: ['signatures'] };
  },
  'a wrong proof': (r) => {
    const proof = [...r.inclusionProof];
    const first = fromBase64(proof[0]!)!;
    first[0] = first[0]! ^ 1;
    proof[0] = toBase64(first);
    return { tampered: JSON.stringify({ ...r, inclusionProof: proof }), expectFailed: ['inclusion'] };
  },
  'a checkpoint from another log': (r) => {
    // The same tree, but a checkpoint of another log signed by that log's own three keys.
    const cp = parseCheckpoint(parseNote(r.checkpoint).text);
    const body = formatCheckpoint({ ...cp, origin: 'other-city.example/ledger' });
    const signers = [1, 2, 3].map((k) =>
      parseSignerKey(nobleSha256, nobleEd25519, generateSignerKey(nobleSha256, nobleEd25519, `other-node-${k}`, new Uint8Array(32).fill(k)).signerKey),
    );
    return { tampered: JSON.stringify({ ...r, origin: 'other-city.example/ledger', checkpoint: signNote(nobleEd25519, body, signers) }), expectFailed: ['origin'] };
  },
};
