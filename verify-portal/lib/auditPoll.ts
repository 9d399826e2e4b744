/**
 * "Check a poll": the full audit of a closed poll from the ledger nodes' public API only.
 *
 * Rather than one inclusion proof per entry (one request each: 250,000 requests for a large poll), the
 * audit downloads the whole log up to the latest quorum-signed checkpoint, 1,000 entries a request, and
 * recomputes the Merkle root itself. A matching root proves every entry's inclusion at once, and more:
 * that the poll's entries are exactly those the log holds, so no node can hide a ballot from the audit
 * by leaving it out of /v1/polls/:id/entries (which is then cross-checked against the log).
 * It recounts with the nodes' own code (pollBallotsFromEntries + tallyPoll, budget rules included),
 * compares with the published result (the PollResultPublished entry) and with the nodes' signed tallies.
 * A sealed poll also has its opening checked: every commitment opened exactly once, every node's
 * decryption shares verified, every ballot decrypted again to the published choices.
 */
import type { PollDefinition } from '../../src/domain/pollDefinition.ts';
import { tallyPoll, type PollTally } from '../../src/domain/tally.ts';
import { canonicalJsonBytes, bytesEqual, hashLeaf, MerkleTree, tallyVerdict, toBase64, toHex, utf8 } from '../../src/ledger/index.ts';
import { ENTRIES_PAGE, type IndexedEntry, type NodeTally } from '../../src/ledger/nodeClient.ts';
import { pollBallotsFromEntries } from '../../src/ledger/node/entryChecker.ts';
import type { LedgerEntry } from '../../src/ledger/entry.ts';
import { auditSealedOpening } from '../../src/ledger/sealedOpening.ts';
import { keySetProblem, type PublicKeySet } from '../../src/ledger/threshold/vss.ts';
import { errorText, line, quorumCheckpoints, type CheckLine, type VerifyContext } from './common.ts';

export type AuditVerdict = 'verified' | 'failed' | 'pending';

/** Everything the audit used, as one JSON file anyone can re-check (the open-data download). */
export interface PollOpenData {
  format: 'civic-vote/poll-audit@1';
  origin: string;
  pollId: string;
  quorum: number;
  verifierKeys: string[];
  /** The quorum-signed checkpoint the audit verified the log against. */
  checkpoint: string;
  /** Each node's latest checkpoint note at audit time (null if unreachable). */
  nodeCheckpoints: { node: string; note: string | null }[];
  /** The poll's entries, canonical JSON text with their leaf index, in log order. */
  entries: IndexedEntry[];
  /** Each node's signed tally (null if it had none or was unreachable). */
  tallies: { node: string; tally: NodeTally | null }[];
  recount: PollTally | null;
  published: unknown;
}

export interface PollAudit {
  verdict: AuditVerdict;
  lines: CheckLine[];
  recount?: PollTally;
  /** The poll's definition as the ledger holds it (question and option texts for the recount table). */
  definition?: PollDefinition;
  openData?: PollOpenData;
}

export interface AuditProgress {
  done: number;
  total: number;
}

/** Runs the audit; never throws. `onProgress` reports downloaded-and-hashed entries. */
export async function auditPoll(pollId: string, ctx: VerifyContext, onProgress?: (p: AuditProgress) => void): Promise<PollAudit> {
  const lines: CheckLine[] = [];
  const pending = new Set<string>();
  const finish = (extra: Partial<PollAudit> = {}): PollAudit => {
    const failed = lines.some((l) => !l.ok && !pending.has(l.code));
    const verdict: AuditVerdict = failed ? 'failed' : lines.every((l) => l.ok) ? 'verified' : 'pending';
    return { verdict, lines, ...extra };
  };

  const checkpoints = await quorumCheckpoints(ctx);
  const best = checkpoints[0];
  if (!best) {
    pending.add('checkpoint');
    lines.push(line('checkpoint', false, `no node offered a checkpoint signed by ${ctx.quorum} of the published keys`));
    return finish();
  }
  const size = best.checkpoint.size;
  lines.push(line('checkpoint', true, `${size}-leaf tree, root ${toBase64(best.checkpoint.rootHash)}, signed by ${best.signers.join(', ')}`));

  // The whole log, hashed as it arrives; only the poll's entries are kept.
  const mine: IndexedEntry[] = [];
  let root: Uint8Array;
  try {
    root = await hashLog(ctx, best.from, size, pollId, mine, onProgress);
  } catch (e) {
    lines.push(line('log-root', false, `could not download the log: ${errorText(e)}`));
    return finish();
  }
  if (!bytesEqual(root, best.checkpoint.rootHash)) {
    lines.push(line('log-root', false, `recomputed root ${toBase64(root)} over ${size} entries differs from the signed ${toBase64(best.checkpoint.rootHash)}`));
    return finish();
  }
  lines.push(line('log-root', true, `recomputed the root of all ${size} entries; ${mine.length} belong to poll ${pollId}`));

  lines.push(await crossCheckPollEntries(ctx, pollId, size, mine, best.from));

  const texts = mine.map((e) => e.entry);
  const pollEvents = mine.map((e) => JSON.parse(e.entry) as { kind: string; eventType: string; data: { result?: unknown } }).filter((e) => e.kind === 'poll');
  if (!pollEvents.some((e) => e.eventType === 'PollCreated')) {
    lines.push(line('poll-found', false, `no PollCreated entry for ${pollId} among the ${size} entries`));
    return finish();
  }
  lines.push(line('poll-found', true, `poll ${pollId}: ${pollEvents.length} poll entries, ${mine.length - pollEvents.length} ballot entries`));
  const closed = pollEvents.some((e) => e.eventType === 'PollClosed');
  if (!closed) pending.add('closed');
  lines.push(line('closed', closed, closed ? 'the log holds a PollClosed entry' : 'the log holds no PollClosed entry yet'));

  lines.push(...(await sealedLines(ctx, pollId, mine, pending)));

  let recount: PollTally | undefined;
  let pollDefinition: PollDefinition | undefined;
  try {
    const { definition, ballots } = pollBallotsFromEntries(texts, pollId, mine.map((e) => e.index));
    recount = tallyPoll(definition, ballots);
    pollDefinition = definition;
    lines.push(line('recount', true, `${ballots.length} ballot entries, ${recount.ballots} voters counted (${definition.kind} poll${definition.budget ? `, ${definition.budget.rule}` : ''})`));
  } catch (e) {
    lines.push(line('recount', false, errorText(e)));
  }

  const publishedEntry = [...pollEvents].reverse().find((e) => e.eventType === 'PollResultPublished');
  const published = publishedEntry?.data.result;
  if (publishedEntry === undefined) {
    pending.add('published');
    lines.push(line('published', false, 'the log holds no PollResultPublished entry yet'));
  } else if (recount) {
    const same = sameJson(recount, published);
    lines.push(line('published', same, same ? `sha256 ${toHex(ctx.h(canonicalJsonBytes(recount)))} both` : 'the canonical JSON of the recount differs from the published result'));
  }

  const tallies = await Promise.all(ctx.clients.map((c) => c.pollTally(pollId).catch(() => null)));
  const notes = tallies.filter((x): x is NodeTally => x !== null).map((x) => x.note);
  const verdict = tallyVerdict(ctx.h, ctx.ed, notes, publishedEntry ? published : recount, {
    verifierKeys: ctx.verifierKeys,
    quorum: ctx.quorum,
    origin: ctx.origin,
    pollId,
  });
  const summary = `${verdict.verdict}: ${verdict.agreeing.length} agreeing (${verdict.agreeing.join(', ') || 'none'}), ${verdict.conflicting.length} conflicting (${verdict.conflicting.join(', ') || 'none'}), ${verdict.unreadable} unreadable`;
  if (verdict.verdict === 'pending') pending.add('signed-tallies');
  lines.push(line('signed-tallies', verdict.verdict === 'completed', summary));

  const nodeNotes = await Promise.all(ctx.clients.map((c) => c.checkpoint().catch(() => null)));
  const openData: PollOpenData = {
    format: 'civic-vote/poll-audit@1',
    origin: ctx.origin,
    pollId,
    quorum: ctx.quorum,
    verifierKeys: [...ctx.verifierKeys],
    checkpoint: best.note,
    nodeCheckpoints: ctx.clients.map((c, i) => ({ node: c.url, note: nodeNotes[i] ?? null })),
    entries: mine,
    tallies: ctx.clients.map((c, i) => ({ node: c.url, tally: tallies[i] ?? null })),
    recount: recount ?? null,
    published: published ?? null,
  };
  return finish({ recount, definition: pollDefinition, openData });
}

/**
 * A sealed poll: the nodes' key set must check out against its own commitments (and be the one at
 * least `quorum` nodes report), and the opening must open every commitment exactly once, with every
 * node's decryption shares verified and every ballot decrypting to the published choices.
 */
async function sealedLines(ctx: VerifyContext, pollId: string, mine: IndexedEntry[], pending: Set<string>): Promise<CheckLine[]> {
  const entries = mine.map((e) => ({ index: e.index, entry: JSON.parse(e.entry) as LedgerEntry }));
  let definition: PollDefinition;
  try {
    definition = pollBallotsFromEntriesDefinition(entries.map((e) => e.entry), pollId);
  } catch {
    return [];
  }
  if (definition.settings.resultsVisibility !== 'sealed') return [];
  const reported = await Promise.all(
    ctx.clients.map(async (c) => {
      try {
        const res = await fetch(new URL('/v1/threshold', c.url));
        return res.ok ? ((await res.json()) as { keySets?: PublicKeySet[] }).keySets ?? [] : [];
      } catch {
        return [];
      }
    }),
  );
  const keyId = entries.map((e) => (e.entry.data as { sealed?: { keyId?: string } }).sealed?.keyId).find((k) => typeof k === 'string');
  const candidates = reported.map((sets) => sets.find((s) => s.keyId === keyId)).filter((s): s is PublicKeySet => s !== undefined && keySetProblem(s) === undefined);
  const keySet = candidates[0];
  const agreeing = candidates.filter((s) => JSON.stringify(s) === JSON.stringify(keySet)).length;
  const out: CheckLine[] = [];
  if (!keySet || agreeing < ctx.quorum) {
    out.push(line('key-set', false, `the sealed ballots name key ${String(keyId)}; ${agreeing} nodes report a key set for it that checks out, ${ctx.quorum} needed`));
    return out;
  }
  out.push(line('key-set', true, `key ${keySet.keyId}: the joint key and the 4 verification keys follow from the published commitments, reported alike by ${agreeing} nodes`));
  const audit = auditSealedOpening(definition, entries, keySet);
  if (audit.problems.length === 1 && audit.problems[0]!.startsWith('the log holds no opening')) pending.add('sealed-opening');
  out.push(line('sealed-opening', audit.problems.length === 0, audit.problems.length === 0 ? audit.summary : audit.problems.slice(0, 5).join('; ')));
  return out;
}

/** The poll's definition as its entries define it (PollCreated, then drafts). */
function pollBallotsFromEntriesDefinition(entries: LedgerEntry[], pollId: string): PollDefinition {
  const created = [...entries].reverse().find((e) => e.kind === 'poll' && (e.eventType === 'PollDraftUpdated' || e.eventType === 'PollCreated') && e.pollId === pollId);
  if (!created) throw new Error('no definition');
  return (created.data as { definition: PollDefinition }).definition;
}

function sameJson(a: unknown, b: unknown): boolean {
  try {
    return bytesEqual(canonicalJsonBytes(a), canonicalJsonBytes(b));
  } catch {
    return false;
  }
}

/**
 * Downloads entries [0, size) page by page (a few requests in flight, from node `from` first and the
 * others if it fails), hashes each leaf exactly as received and returns the root. Keeps the entries
 * whose pollId is `pollId`. Entry texts are parsed only when they mention the poll id.
 */
async function hashLog(
  ctx: VerifyContext,
  from: number,
  size: number,
  pollId: string,
  mine: IndexedEntry[],
  onProgress?: (p: AuditProgress) => void,
): Promise<Uint8Array> {
  const tree = new MerkleTree(ctx.h);
  const marker = JSON.stringify(pollId);
  const fetchPage = async (start: number): Promise<IndexedEntry[]> => {
    let last: unknown;
    for (let k = 0; k < ctx.clients.length; k++) {
      const client = ctx.clients[(from + k) % ctx.clients.length]!;
      try {
        return await client.entries(start, Math.min(size, start + ENTRIES_PAGE));
      } catch (e) {
        last = e;
      }
    }
    throw last;
  };
  const inFlight: Promise<IndexedEntry[]>[] = [];
  let next = 0;
  const AHEAD = 4;
  while (next < size && inFlight.length < AHEAD) {
    inFlight.push(fetchPage(next));
    next += ENTRIES_PAGE;
  }
  while (inFlight.length > 0) {
    const page = await inFlight.shift()!;
    if (next < size) {
      inFlight.push(fetchPage(next));
      next += ENTRIES_PAGE;
    }
    for (const e of page) {
      if (e.index !== tree.size) throw new Error(`expected entry ${tree.size}, got ${e.index}`);
      tree.append(hashLeaf(ctx.h, utf8(e.entry)));
      if (e.entry.includes(marker)) {
        const parsed = JSON.parse(e.entry) as { pollId?: unknown };
        if (parsed.pollId === pollId) mine.push(e);
      }
    }
    onProgress?.({ done: tree.size, total: size });
    // Let the page repaint between pages in the browser.
    await new Promise((r) => setTimeout(r, 0));
  }
  if (tree.size !== size) throw new Error(`received ${tree.size} entries, expected ${size}`);
  return tree.root(size);
}

/** The poll's entries as one node lists them (preferably not the one the log came from) must be the log's. */
async function crossCheckPollEntries(ctx: VerifyContext, pollId: string, size: number, mine: IndexedEntry[], logFrom: number): Promise<CheckLine> {
  const start = ctx.clients.length > 1 ? (logFrom + 1) % ctx.clients.length : 0;
  for (let k = 0; k < ctx.clients.length; k++) {
    const client = ctx.clients[(start + k) % ctx.clients.length]!;
    let listed: IndexedEntry[] | null;
    try {
      listed = await client.pollEntries(pollId);
    } catch {
      continue;
    }
    const upTo = (listed ?? []).filter((e) => e.index < size);
    if (upTo.length !== mine.length) {
      return line('poll-entries', false, `${client.url} lists ${upTo.length} entries of the poll below ${size}; the log holds ${mine.length}`);
    }
    const differs = upTo.findIndex((e, i) => e.index !== mine[i]!.index || e.entry !== mine[i]!.entry);
    if (differs >= 0) return line('poll-entries', false, `${client.url} lists a different entry at position ${differs} (leaf ${upTo[differs]!.index})`);
    return line('poll-entries', true, `${client.url} lists the same ${mine.length} entries`);
  }
  return line('poll-entries', false, 'no node answered /v1/polls/:id/entries');
}
