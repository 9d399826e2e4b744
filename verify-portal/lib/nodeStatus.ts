/**
 * "Node status": each node's latest checkpoint, whether the four agree, and which node (by published
 * key) signed two checkpoints that cannot both be true. Evidence comes from the notes the nodes serve:
 * the newest page of /v1/signed (what each node signed, with its own signature; at most MAX_SIGNED_PAGE
 * a node, so the check costs the same in a log's tenth year as in its first) and /v1/checkpoint (final
 * notes carrying several nodes' signatures). A key that signed two roots for one size, or a checkpoint the
 * quorum-signed tree does not extend, is misbehaving; both signed notes are the evidence, and anyone can
 * re-check them against the published keys.
 */
import { openNote, parseCheckpoint, parseVerifierKeys, toBase64, verifyConsistency, fromBase64, type Checkpoint } from '../../src/ledger/index.ts';
import { errorText, firstAnswer, quorumCheckpoints, type QuorumCheckpoint, type VerifyContext } from './common.ts';

export interface NodeView {
  url: string;
  reachable: boolean;
  error?: string;
  /** The node's latest final checkpoint. */
  latest?: { size: number; root: string; signers: string[]; note: string };
  /** How many checkpoint bodies this node says it signed (the newest page of them is checked). */
  signedCount?: number;
  /** The node's key name, from its /v1/info. */
  name?: string;
  /** What the node says is wrong with its store (/v1/info): it serves no checkpoints or proofs then. */
  storeProblem?: string;
}

export interface Misbehaviour {
  /** The published key's name. */
  signer: string;
  reason: string;
  /** Two signed notes, each carrying a valid signature by `signer`, that contradict each other. */
  evidence: [string, string];
}

export interface NodeStatusReport {
  nodes: NodeView[];
  /** Whether every reachable node's latest checkpoint lies on one history. */
  agree: boolean;
  agreementDetail: string;
  misbehaving: Misbehaviour[];
  /** Nodes that report a store problem, by key name and URL. */
  storeProblems: { name: string; url: string; problem: string }[];
  /** Distinct signed bodies checked for consistency with the quorum tree, out of all seen. */
  consistencyChecked: number;
  bodiesSeen: number;
}

interface SignedBody {
  body: string;
  checkpoint: Checkpoint;
  note: string;
}

/** The most distinct signed bodies checked against the quorum tree (one request each), newest first. */
const MAX_CONSISTENCY_CHECKS = 64;

/** Builds the status report; never throws. */
export async function nodeStatus(ctx: VerifyContext): Promise<NodeStatusReport> {
  const verifiers = parseVerifierKeys(ctx.h, ctx.verifierKeys);
  const views = await Promise.all(
    ctx.clients.map(async (c): Promise<{ view: NodeView; notes: string[] }> => {
      try {
        // A node with a store problem refuses its checkpoint (503) but still says why in /v1/info.
        const info = await c.info();
        const view: NodeView = { url: c.url, reachable: true, name: info.name };
        if (info.storeProblem) {
          view.storeProblem = info.storeProblem;
          const signed = await c.signed().catch(() => null);
          if (signed) view.signedCount = signed.count;
          return { view, notes: signed?.checkpoints ?? [] };
        }
        const [note, page] = await Promise.all([c.checkpoint(), c.signed()]);
        const signed = page.checkpoints;
        view.signedCount = page.count;
        if (note) {
          try {
            const opened = openNote(ctx.ed, note, verifiers);
            const cp = parseCheckpoint(opened.text);
            view.latest = { size: cp.size, root: toBase64(cp.rootHash), signers: [...new Set(opened.valid.map((v) => v.name))], note };
          } catch (e) {
            view.error = `unreadable checkpoint: ${errorText(e)}`;
          }
        }
        return { view, notes: note ? [note, ...signed] : signed };
      } catch (e) {
        return { view: { url: c.url, reachable: false, error: errorText(e) }, notes: [] };
      }
    }),
  );

  // Every (signer, body) pair with a valid signature, whichever node served the note.
  const bySigner = new Map<string, Map<string, SignedBody>>();
  const allBodies = new Map<string, Checkpoint>();
  for (const { notes } of views) {
    for (const note of notes) {
      let opened;
      let cp: Checkpoint;
      try {
        opened = openNote(ctx.ed, note, verifiers);
        cp = parseCheckpoint(opened.text);
      } catch {
        continue;
      }
      if (cp.origin !== ctx.origin) continue;
      allBodies.set(opened.text, cp);
      for (const v of opened.valid) {
        const bodies = bySigner.get(v.verifier.name) ?? new Map<string, SignedBody>();
        if (!bodies.has(opened.text)) bodies.set(opened.text, { body: opened.text, checkpoint: cp, note });
        bySigner.set(v.verifier.name, bodies);
      }
    }
  }

  const misbehaving: Misbehaviour[] = [];
  for (const [signer, bodies] of bySigner) {
    const atSize = new Map<number, SignedBody>();
    for (const b of bodies.values()) {
      const other = atSize.get(b.checkpoint.size);
      if (other && toBase64(other.checkpoint.rootHash) !== toBase64(b.checkpoint.rootHash)) {
        misbehaving.push({ signer, reason: `signed two different roots for tree size ${b.checkpoint.size}`, evidence: [other.note, b.note] });
        break;
      }
      atSize.set(b.checkpoint.size, b);
    }
  }

  const quorum = await quorumCheckpoints(ctx);
  const reference = quorum[0];
  const { agree, detail } = await agreement(ctx, quorum);

  // Bodies the quorum tree does not extend: checked newest first, at most MAX_CONSISTENCY_CHECKS.
  let checked = 0;
  if (reference) {
    const inconsistent = new Map<string, string>();
    const candidates = [...allBodies.entries()]
      .filter(([, cp]) => cp.size <= reference.checkpoint.size)
      .sort((a, b) => b[1].size - a[1].size)
      .slice(0, MAX_CONSISTENCY_CHECKS);
    await Promise.all(
      candidates.map(async ([body, cp]) => {
        if (await consistentWith(ctx, cp, reference)) return;
        inconsistent.set(body, `signed a ${cp.size}-leaf tree that the quorum-signed ${reference.checkpoint.size}-leaf tree does not extend`);
      }),
    );
    checked = candidates.length;
    for (const [signer, bodies] of bySigner) {
      if (misbehaving.some((m) => m.signer === signer)) continue;
      const bad = [...bodies.values()].find((b) => inconsistent.has(b.body));
      if (bad) misbehaving.push({ signer, reason: inconsistent.get(bad.body)!, evidence: [bad.note, reference.note] });
    }
  }

  return {
    nodes: views.map((v) => v.view),
    storeProblems: views.flatMap(({ view }) => (view.storeProblem ? [{ name: view.name ?? view.url, url: view.url, problem: view.storeProblem }] : [])),
    agree,
    agreementDetail: detail,
    misbehaving,
    consistencyChecked: checked,
    bodiesSeen: allBodies.size,
  };
}

/** Whether `cp` is a prefix of the reference tree, by a consistency proof from any node. */
async function consistentWith(ctx: VerifyContext, cp: Checkpoint, reference: QuorumCheckpoint): Promise<boolean> {
  try {
    await firstAnswer(
      ctx,
      async (c) => {
        const proof = (await c.consistencyProof(cp.size, reference.checkpoint.size)).map((p) => fromBase64(p) ?? new Uint8Array());
        verifyConsistency(ctx.h, cp.size, reference.checkpoint.size, proof, cp.rootHash, reference.checkpoint.rootHash);
      },
      reference.from,
    );
    return true;
  } catch {
    return false;
  }
}

/** All quorum-signed latest checkpoints lie on one history: each is a prefix of the largest. */
async function agreement(ctx: VerifyContext, quorum: QuorumCheckpoint[]): Promise<{ agree: boolean; detail: string }> {
  const reference = quorum[0];
  if (!reference) return { agree: false, detail: `no node serves a checkpoint signed by ${ctx.quorum} of the published keys` };
  for (const other of quorum.slice(1)) {
    if (!(await consistentWith(ctx, other.checkpoint, reference))) {
      return { agree: false, detail: `${ctx.clients[other.from]!.url} holds a ${other.checkpoint.size}-leaf tree that ${ctx.clients[reference.from]!.url}'s ${reference.checkpoint.size}-leaf tree does not extend` };
    }
  }
  const unsigned = ctx.clients.length - quorum.length;
  return {
    agree: true,
    detail: `${quorum.length} nodes serve quorum-signed checkpoints on one history (sizes ${quorum.map((q) => q.checkpoint.size).join(', ')})${unsigned > 0 ? `; ${unsigned} served none` : ''}`,
  };
}
