/**
 * The full-history check of what the nodes signed (`npm run audit-signed`): every checkpoint body each
 * node has signed, from its first round, compared with the root the ledger itself has at that size.
 * The log is downloaded once up to the latest quorum-signed checkpoint and hashed into a Merkle
 * frontier (log-size state); the four nodes' signed lists (GET /v1/signed, a page of 1,000 at a time,
 * each in signing order, so by growing size) are merged by size and each body is compared when the
 * frontier reaches its size. Memory is a page of entries, a page of notes per node and the frontier,
 * however long the log has run: the portal's node status checks the newest page of each node; this
 * checks them all.
 *
 * A body whose root is not the log's at its size is proof of misbehaviour by each key that signed it
 * (the body, the quorum checkpoint and the log are the evidence; anyone can recompute the root).
 */
import { bytesEqual, hashLeaf, MerkleFrontier, openNote, parseCheckpoint, parseVerifierKeys, toBase64, utf8, type Checkpoint } from '../../src/ledger/index.ts';
import { ENTRIES_PAGE, type NodeClient } from '../../src/ledger/nodeClient.ts';
import { errorText, line, quorumCheckpoints, type CheckLine, type VerifyContext } from './common.ts';
import type { Misbehaviour } from './nodeStatus.ts';

export interface SignedHistoryReport {
  lines: CheckLine[];
  misbehaving: Misbehaviour[];
  /** Bodies compared with the log, over all nodes. */
  compared: number;
  /** Bodies signed beyond the quorum checkpoint the audit downloaded to (signed while it ran). */
  beyond: number;
  ok: boolean;
}

/** A signed note opened against the published keys; checkpoint null when unreadable. */
interface Head {
  note: string;
  checkpoint: Checkpoint | null;
  signers: string[];
}

/** One node's signed list, read a page at a time. */
class SignedCursor {
  private page: string[] = [];
  private at = 0;
  private next: number | null = 0;
  count = 0;
  read = 0;
  /** Size of the last body read, to see a list out of signing order. */
  lastSize = -1;
  problem: string | null = null;

  constructor(readonly client: NodeClient) {}

  /** The next note, or null at the end (or after a failed read, recorded in `problem`). */
  async peek(): Promise<string | null> {
    while (this.at >= this.page.length && this.next !== null && !this.problem) {
      try {
        const page = await this.client.signed(this.next);
        this.page = page.checkpoints;
        this.at = 0;
        this.count = page.count;
        // A page that does not move on would loop for ever: a node that serves one is read no further.
        this.next = page.next !== null && page.next > this.next ? page.next : null;
      } catch (e) {
        this.problem = `its signed bodies could not be read: ${errorText(e)}`;
      }
    }
    return this.at < this.page.length ? this.page[this.at]! : null;
  }

  /** The next note, opened (once). */
  head: Head | null = null;

  take(): void {
    this.at++;
    this.read++;
    this.head = null;
  }
}

export async function auditSignedHistory(ctx: VerifyContext, onProgress?: (p: { entries: number; total: number; bodies: number }) => void): Promise<SignedHistoryReport> {
  const lines: CheckLine[] = [];
  const misbehaving: Misbehaviour[] = [];
  const quorum = await quorumCheckpoints(ctx);
  const reference = quorum[0];
  if (!reference) {
    lines.push(line('checkpoint', false, `no node serves a checkpoint signed by ${ctx.quorum} of the published keys`));
    return { lines, misbehaving, compared: 0, beyond: 0, ok: false };
  }
  lines.push(line('checkpoint', true, `${reference.checkpoint.size} entries, signed by ${reference.signers.join(', ')}`));
  const verifiers = parseVerifierKeys(ctx.h, ctx.verifierKeys);
  const source = ctx.clients[reference.from]!;
  const total = reference.checkpoint.size;
  const frontier = MerkleFrontier.empty(ctx.h);
  const growTo = async (size: number): Promise<void> => {
    while (frontier.size < size) {
      const from = frontier.size;
      const page = await source.entries(from, Math.min(size, from + ENTRIES_PAGE));
      for (const e of page) frontier.append(hashLeaf(ctx.h, utf8(e.entry)));
      onProgress?.({ entries: frontier.size, total, bodies: compared });
    }
  };
  const readHead = (note: string): Head => {
    try {
      const opened = openNote(ctx.ed, note, verifiers);
      return { note, checkpoint: parseCheckpoint(opened.text), signers: [...new Set(opened.valid.map((v) => v.name))] };
    } catch {
      return { note, checkpoint: null, signers: [] };
    }
  };
  const cursors = ctx.clients.map((c) => new SignedCursor(c));
  const wrong = new Map<SignedCursor, string>();
  let compared = 0;
  let beyond = 0;
  try {
    for (;;) {
      // The cursor whose next body is the smallest (the frontier only moves forward); an unreadable
      // note is taken at once, without a comparison.
      let pick: (Head & { cursor: SignedCursor }) | null = null;
      for (const cursor of cursors) {
        const note = await cursor.peek();
        if (note === null) continue;
        cursor.head ??= readHead(note);
        const head = cursor.head;
        if (!head.checkpoint) {
          pick = { ...head, cursor };
          break;
        }
        if (!pick || head.checkpoint.size < pick.checkpoint!.size) pick = { ...head, cursor };
      }
      if (!pick) break;
      const { cursor, note, checkpoint, signers } = pick;
      cursor.take();
      if (!checkpoint || checkpoint.origin !== ctx.origin || signers.length === 0) continue;
      if (checkpoint.size < cursor.lastSize || checkpoint.size < frontier.size) {
        if (!wrong.has(cursor)) wrong.set(cursor, `its signed bodies are not in signing order (a ${checkpoint.size}-entry body after a ${cursor.lastSize}-entry one)`);
        continue;
      }
      cursor.lastSize = checkpoint.size;
      if (checkpoint.size > total) {
        beyond++;
        continue;
      }
      // Out of order across nodes cannot happen here: every cursor's next body is at least the frontier's size.
      await growTo(checkpoint.size);
      compared++;
      if (!bytesEqual(frontier.root(), checkpoint.rootHash)) {
        for (const signer of signers) {
          if (misbehaving.some((m) => m.signer === signer)) continue;
          misbehaving.push({ signer, reason: `signed a ${checkpoint.size}-entry tree whose root is not the ledger's at that size (${toBase64(frontier.root())})`, evidence: [note, reference.note] });
        }
        if (!wrong.has(cursor)) wrong.set(cursor, `it serves a body signed by ${signers.join(', ')} whose root at size ${checkpoint.size} is not the ledger's`);
      }
    }
    await growTo(total);
  } catch (e) {
    lines.push(line('log-root', false, `the log could not be read from ${source.url}: ${errorText(e)}`));
    return { lines, misbehaving, compared, beyond, ok: false };
  }
  // The comparisons stand only if the downloaded log is the quorum's.
  const logOk = bytesEqual(frontier.root(), reference.checkpoint.rootHash);
  lines.push(line('log-root', logOk, logOk ? `${total} entries from ${source.url} hash to the quorum checkpoint's root` : `the entries from ${source.url} do not hash to the quorum checkpoint's root: the comparisons below are void`));
  for (const cursor of cursors) {
    const why = cursor.problem ?? wrong.get(cursor) ?? null;
    lines.push(line('signed-history', logOk && why === null, `${cursor.client.url}: ${why ?? `${cursor.read} of ${cursor.count} signed bodies read, each with the ledger's root at its size`}`));
  }
  return { lines, misbehaving, compared, beyond, ok: lines.every((l) => l.ok) && misbehaving.length === 0 };
}
