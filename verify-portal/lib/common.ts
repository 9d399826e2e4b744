/**
 * What the portal's checks share: the trusted configuration, the check line shape and the search for
 * the latest quorum-signed checkpoint. Pure apart from the injected node clients; runs in the browser
 * and in the CLI.
 */
import { parseNote, parseCheckpoint, parseVerifierKeys, openSignedCheckpoint, type Checkpoint, type Ed25519, type Sha256 } from '../../src/ledger/index.ts';
import type { NodeClient } from '../../src/ledger/nodeClient.ts';

/** Signatures from distinct published node keys that make a checkpoint trustworthy (3 of 4). */
export const QUORUM = 3;

export interface VerifyContext {
  /** One client per ledger node. */
  clients: readonly NodeClient[];
  /** The published node keys (note.ts verifier key format), fixed by configuration. */
  verifierKeys: readonly string[];
  origin: string;
  quorum: number;
  h: Sha256;
  ed: Ed25519;
}

/** One line of a verification: a stable code, its outcome and the technical reason (English). */
export interface CheckLine {
  code: string;
  ok: boolean;
  detail: string;
}

export const line = (code: string, ok: boolean, detail: string): CheckLine => ({ code, ok, detail });

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The checkpoint body of a note without checking any signature; null if unreadable. */
export function peekCheckpoint(note: unknown): Checkpoint | null {
  if (typeof note !== 'string') return null;
  try {
    return parseCheckpoint(parseNote(note).text);
  } catch {
    return null;
  }
}

export interface QuorumCheckpoint {
  note: string;
  checkpoint: Checkpoint;
  signers: string[];
  /** Index in ctx.clients of the node that served it. */
  from: number;
}

/**
 * Every node's latest checkpoint that carries at least `quorum` valid signatures from the published
 * keys and names our origin, largest first; unreachable nodes and unsigned notes are skipped.
 */
export async function quorumCheckpoints(ctx: VerifyContext): Promise<QuorumCheckpoint[]> {
  const verifiers = parseVerifierKeys(ctx.h, ctx.verifierKeys);
  const notes = await Promise.allSettled(ctx.clients.map((c) => c.checkpoint()));
  const out: QuorumCheckpoint[] = [];
  notes.forEach((r, from) => {
    if (r.status !== 'fulfilled' || r.value === null) return;
    try {
      const signed = openSignedCheckpoint(ctx.ed, r.value, verifiers);
      if (signed.signers.length >= ctx.quorum && signed.checkpoint.origin === ctx.origin) {
        out.push({ note: r.value, checkpoint: signed.checkpoint, signers: signed.signers, from });
      }
    } catch {
      // an unreadable note counts for nothing
    }
  });
  return out.sort((a, b) => b.checkpoint.size - a.checkpoint.size);
}

/** Runs `fn` against each client in turn (starting at `first`) until one answers without throwing. */
export async function firstAnswer<T>(ctx: VerifyContext, fn: (c: NodeClient, i: number) => Promise<T>, first = 0): Promise<{ value: T; from: number }> {
  let last: unknown = new Error('no ledger nodes configured');
  for (let k = 0; k < ctx.clients.length; k++) {
    const i = (first + k) % ctx.clients.length;
    try {
      return { value: await fn(ctx.clients[i]!, i), from: i };
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
