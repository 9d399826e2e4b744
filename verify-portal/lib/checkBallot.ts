/**
 * "Check a ballot": from a tracker code or a receipt, fetch what is missing from the ledger nodes and
 * re-verify everything locally (src/ledger verifyReceipt): the tracker, the entry hash, a quorum of the
 * published keys' signatures, the origin, the inclusion proof, and consistency from the receipt's
 * checkpoint to the latest quorum-signed one served by another node.
 */
import { normalizeTracker, verifyReceipt, type Receipt } from '../../src/ledger/index.ts';
import { errorText, firstAnswer, line, peekCheckpoint, quorumCheckpoints, type CheckLine, type VerifyContext } from './common.ts';

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
  const lines: CheckLine[] = [];
  let receipt: unknown;
  let receiptFrom = -1;
  if ('tracker' in input) {
    const code = normalizeTracker(input.tracker);
    if (!code) return { ok: false, lines: [line('found', false, `"${input.tracker.slice(0, 40)}" is not a tracker code: 12 letters and digits, XXXX-XXXX-XXXX`)] };
    try {
      const found = await firstAnswer(ctx, async (c) => {
        const r = await c.tracker(code);
        if (!r) throw new Error(`${c.url} does not know ${code}`);
        return r;
      });
      receipt = found.value;
      receiptFrom = found.from;
      lines.push(line('found', true, `${ctx.clients[found.from]!.url} returned a receipt for ${code}`));
    } catch (e) {
      return { ok: false, lines: [line('found', false, `no node returned a receipt for ${code}: ${errorText(e)}`)] };
    }
  } else {
    receipt = input.receipt;
  }

  const latest = await latestWithProof(receipt, receiptFrom, ctx);
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
 * checkpoint to it.
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
  try {
    const proof = await firstAnswer(ctx, (c) => c.consistencyProof(own.size, best.checkpoint.size), best.from);
    return { note: best.note, consistencyProof: proof.value, size: best.checkpoint.size };
  } catch (e) {
    return { error: `no node served a consistency proof from ${own.size} to ${best.checkpoint.size}: ${errorText(e)}` };
  }
}
