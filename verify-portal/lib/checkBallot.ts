/**
 * "Check a ballot": from a tracker code or a receipt, fetch what is missing from the ledger nodes and
 * re-verify everything locally (src/ledger verifyReceipt): the tracker, the entry hash, a quorum of the
 * published keys' signatures, the origin, the inclusion proof, and consistency from the receipt's
 * checkpoint to the latest quorum-signed one served by another node.
 *
 * One node is never the last word: a node that fails (down, or refusing because of a store problem)
 * or answers with a receipt or a consistency proof that does not verify is passed over for the next,
 * and the check names it. An honest ballot reads VERIFIED as long as some node serves it correctly.
 */
import { fromBase64, normalizeTracker, verifyConsistency, verifyReceipt, type Receipt } from '../../src/ledger/index.ts';
import { errorText, line, peekCheckpoint, quorumCheckpoints, type CheckLine, type VerifyContext } from './common.ts';

export type BallotInput = { tracker: string } | { receipt: unknown };

export interface BallotCheck {
  ok: boolean;
  lines: CheckLine[];
  /** The receipt that was verified (fetched for a tracker), when there was one. */
  receipt?: Receipt;
  /** Size of the latest checkpoint the consistency check reached. */
  latestSize?: number;
}

/**
 * Reads the check-a-ballot input as a person gives it: receipt JSON text (starts with `{`) or a
 * tracker code in any spelling normalizeTracker accepts.
 */
export function parseBallotInput(text: string): BallotInput | { error: string } {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      return { receipt: JSON.parse(trimmed) as unknown };
    } catch {
      return { error: 'the receipt is not valid JSON' };
    }
  }
  return { tracker: trimmed };
}

/** Verifies one ballot; never throws (unreachable nodes and hostile input become failed lines). */
export async function checkBallot(input: BallotInput, ctx: VerifyContext): Promise<BallotCheck> {
  if (!('tracker' in input)) return verifyOne(input.receipt, -1, ctx, []);
  const code = normalizeTracker(input.tracker);
  if (!code) return { ok: false, lines: [line('found', false, `"${input.tracker.slice(0, 40)}" is not a tracker code: 12 letters and digits, XXXX-XXXX-XXXX`)] };
  // Each node in turn: the first receipt that verifies wins; the others' failures are named.
  const failures: string[] = [];
  let firstFailed: BallotCheck | null = null;
  for (let i = 0; i < ctx.clients.length; i++) {
    const client = ctx.clients[i]!;
    let receipt: Receipt | null;
    try {
      receipt = await client.tracker(code);
    } catch (e) {
      failures.push(`${client.url} failed: ${errorText(e)}`);
      continue;
    }
    if (!receipt) {
      failures.push(`${client.url} does not know ${code}`);
      continue;
    }
    const check = await verifyOne(receipt, i, ctx, failures);
    if (check.ok) return check;
    failures.push(`${client.url} answered a receipt that does not verify (${check.lines.filter((l) => !l.ok).map((l) => l.code).join(', ')})`);
    firstFailed ??= check;
  }
  if (firstFailed) {
    // Every receipt a node served failed: show the first one's checks, and what the others did.
    return { ...firstFailed, lines: [line('found', false, `no node returned a receipt for ${code} that verifies: ${failures.join('; ')}`), ...firstFailed.lines.slice(1)] };
  }
  return { ok: false, lines: [line('found', false, `no node returned a receipt for ${code}: ${failures.join('; ') || 'no ledger nodes configured'}`)] };
}

/** Verifies one receipt (served by node `from`, -1 for a file); `passedOver` names nodes that failed before. */
async function verifyOne(receipt: unknown, from: number, ctx: VerifyContext, passedOver: readonly string[]): Promise<BallotCheck> {
  const lines: CheckLine[] = [];
  if (from >= 0) {
    const tracker = (receipt as { tracker?: unknown }).tracker;
    lines.push(line('found', true, `${ctx.clients[from]!.url} returned a receipt for ${String(tracker)}${passedOver.length > 0 ? ` (passed over: ${passedOver.join('; ')})` : ''}`));
  }
  const latest = await latestWithProof(receipt, from, ctx);
  const result = verifyReceipt(ctx.h, ctx.ed, receipt, {
    verifierKeys: ctx.verifierKeys,
    quorum: ctx.quorum,
    origin: ctx.origin,
    latest: 'note' in latest ? latest : undefined,
  });
  lines.push(...result.checks.map((c) => line(c.code, c.ok, c.detail)));
  if ('error' in latest) lines.push(line('consistency', false, latest.error));
  return {
    ok: lines.every((l) => l.ok),
    lines,
    receipt: typeof receipt === 'object' && receipt !== null ? (receipt as Receipt) : undefined,
    latestSize: 'size' in latest ? latest.size : undefined,
  };
}

/**
 * The latest quorum-signed checkpoint, preferably from a node other than the one that served the
 * receipt (so one node alone cannot vouch for itself), with a consistency proof from the receipt's
 * checkpoint to it. Each node's proof is checked here before it is used; a node whose proof does not
 * verify is passed over for the next, and named if none serves a good one.
 */
async function latestWithProof(
  receipt: unknown,
  receiptFrom: number,
  ctx: VerifyContext,
): Promise<{ note: string; consistencyProof: string[]; size: number } | { error: string }> {
  const own = peekCheckpoint((receipt as { checkpoint?: unknown } | null)?.checkpoint);
  if (!own) return { error: 'the receipt holds no readable checkpoint to extend' };
  const candidates = await quorumCheckpoints(ctx);
  // Prefer the largest; among equals, one from another node than the receipt's.
  candidates.sort((a, b) => b.checkpoint.size - a.checkpoint.size || Number(a.from === receiptFrom) - Number(b.from === receiptFrom));
  const best = candidates[0];
  if (!best) return { error: `no node offered a checkpoint signed by ${ctx.quorum} of the published keys` };
  if (best.checkpoint.size < own.size) {
    return { error: `the receipt's checkpoint (${own.size}) is larger than any quorum-signed checkpoint the nodes serve (${best.checkpoint.size})` };
  }
  const failures: string[] = [];
  for (let k = 0; k < ctx.clients.length; k++) {
    const client = ctx.clients[(best.from + k) % ctx.clients.length]!;
    try {
      const proof = await client.consistencyProof(own.size, best.checkpoint.size);
      verifyConsistency(ctx.h, own.size, best.checkpoint.size, proof.map((p) => fromBase64(p) ?? new Uint8Array()), own.rootHash, best.checkpoint.rootHash);
      return { note: best.note, consistencyProof: proof, size: best.checkpoint.size };
    } catch (e) {
      failures.push(`${client.url}: ${errorText(e)}`);
    }
  }
  return { error: `no node served a consistency proof from ${own.size} to ${best.checkpoint.size} that verifies: ${failures.join('; ')}` };
}
