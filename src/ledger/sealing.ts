/**
 * The app's side of the nodes' threshold key and of opening sealed polls: it relays bytes between the
 * nodes and never holds a share. A key ceremony asks every node for its dealing (each share inside is
 * encrypted to its recipient node's transport key, so the relay cannot read it) and hands all dealings
 * to every node, which completes its own share and answers the public key set; the set is used only when
 * all four agree and it recomputes from its commitments. Opening asks the nodes for their decryption
 * shares batch by batch, checks each node's proof (a wrong share is left out and its node named) and
 * opens the ballots with any 3 good ones.
 */
import type { PollDefinition } from '../domain/pollDefinition.ts';
import { parseEntryText } from './node/entryChecker.ts';
import type { LedgerEntry } from './entry.ts';
import { batchCount, countedInMemory, NotEnoughShares, countedSealedBallots, OPENING_EVENT, openBatch, type CountedSealed, type CountedSealedSource, type OpeningData } from './sealedOpening.ts';
import type { ShareBatch } from './threshold/decryption.ts';
import { keySetProblem, PARTICIPANTS, THRESHOLD, type Dealing, type PublicKeySet } from './threshold/vss.ts';


/** The ballot entry of poll `pollId` an entry text holds, or null (a refusal, another poll, another kind). */
export const ballotEntryOfPoll = (text: string, pollId: string): LedgerEntry | null => {
  const e = parseEntryText(text);
  return !('reason' in e) && e.kind === 'ballot' && e.pollId === pollId ? e : null;
};

/** A poll's counted sealed ballots from its entry texts in log order, all in memory (tests, small polls). */
export const countedSealedFromEntries = (definition: Pick<PollDefinition, 'settings'>, pollId: string, entries: Iterable<string>): CountedSealed => {
  const ballots: LedgerEntry[] = [];
  for (const text of entries) {
    const e = ballotEntryOfPoll(text, pollId);
    if (e) ballots.push(e);
  }
  return countedInMemory(countedSealedBallots(definition, ballots));
};

export interface SealingClientOptions {
  /** Base URLs of nodes 1..4, in node order. */
  nodes: readonly string[];
  token: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

class NodeAnswer extends Error {
  constructor(
    readonly node: number,
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface ThresholdInfo {
  nodeId: number;
  transportKey: string;
  current: PublicKeySet | null;
}

export function createSealingClient(options: SealingClientOptions) {
  const doFetch = options.fetch ?? fetch;
  const log = options.log ?? (() => undefined);
  const call = async <T>(i: number, path: string, body?: unknown): Promise<T> => {
    const url = new URL(path, options.nodes[i]);
    let res: Response;
    try {
      res = await doFetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
      });
    } catch (e) {
      throw new NodeAnswer(i + 1, 0, 'unreachable', `node ${i + 1} is unreachable: ${(e as Error).message}`);
    }
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw new NodeAnswer(i + 1, res.status, String(json.code ?? 'error'), `node ${i + 1}: ${String(json.reason ?? res.status)}`, json);
    return json as T;
  };
  const all = <T>(fn: (i: number) => Promise<T>) => Promise.allSettled(options.nodes.map((_, i) => fn(i)));

  /** The key set at least THRESHOLD nodes report as current and that checks out; null if none. */
  const agreedKeySet = async (): Promise<PublicKeySet | null> => {
    const infos = await all((i) => call<ThresholdInfo>(i, '/v1/threshold'));
    const votes = new Map<string, { set: PublicKeySet; n: number }>();
    for (const r of infos) {
      const set = r.status === 'fulfilled' ? r.value.current : null;
      if (!set || keySetProblem(set) !== undefined) continue;
      const v = votes.get(set.keyId) ?? { set, n: 0 };
      v.n++;
      votes.set(set.keyId, v);
    }
    const best = [...votes.values()].sort((a, b) => b.n - a.n)[0];
    return best && best.n >= THRESHOLD ? best.set : null;
  };

  /**
   * Runs a key ceremony for a new epoch with all four nodes. Returns the key set all four completed,
   * or throws with what went wrong (a node unreachable, or the dealer a node complained about).
   */
  const runCeremony = async (epoch: string): Promise<PublicKeySet> => {
    if (options.nodes.length !== PARTICIPANTS) throw new Error(`a key ceremony needs ${PARTICIPANTS} nodes`);
    const infos = await Promise.all(options.nodes.map((_, i) => call<ThresholdInfo>(i, '/v1/threshold')));
    const transportKeys = Object.fromEntries(infos.map((info, i) => [String(i + 1), info.transportKey]));
    const dealings = await Promise.all(options.nodes.map((_, i) => call<Dealing>(i, '/v1/threshold/deal', { epoch, transportKeys })));
    const sets = await Promise.all(options.nodes.map((_, i) => call<PublicKeySet>(i, '/v1/threshold/complete', { epoch, dealings })));
    const ids = new Set(sets.map((s) => s.keyId));
    if (ids.size !== 1) throw new Error(`the nodes completed different key sets (${[...ids].join(', ')}): a dealer sent different dealings`);
    const problem = keySetProblem(sets[0]);
    if (problem) throw new Error(`the key set does not check out: ${problem}`);
    log('key ceremony complete', { epoch, keyId: sets[0]!.keyId });
    return sets[0]!;
  };

  /** The agreed key set, or a new one from a ceremony when no node has any yet. */
  const ensureKeySet = async (newEpoch: () => string): Promise<PublicKeySet | null> => {
    const agreed = await agreedKeySet();
    if (agreed) return agreed;
    const infos = await all((i) => call<ThresholdInfo>(i, '/v1/threshold'));
    // Only a fresh ledger starts a ceremony by itself; nodes that hold disagreeing keys need an operator.
    if (infos.some((r) => r.status === 'fulfilled' && r.value.current)) return null;
    if (infos.some((r) => r.status === 'rejected')) return null;
    try {
      return await runCeremony(newEpoch());
    } catch (e) {
      log('key ceremony failed', { error: (e as Error).message, ...(e instanceof NodeAnswer ? { node: e.node, code: e.code, dealer: e.body.dealer } : {}) });
      return null;
    }
  };

  /**
   * Opens every batch of a closed sealed poll's counted ballots at log size `size`: asks each node for
   * its shares, opens with any 3 that verify. Returns the opening data per batch, or the status of why
   * it waits (fewer than 3 nodes gave good shares), naming wrong and silent nodes.
   */
  const openPoll = async (input: {
    pollId: string;
    definition: PollDefinition;
    size: number;
    keySet: PublicKeySet;
    /**
     * The poll's counted sealed ballots at log size `size` (the app's own copy of what the nodes hold),
     * read a batch at a time: see countedSealedFromEntries for a list of entry texts.
     */
    counted: CountedSealedSource;
    /** Batches already opened (their entries exist): skipped. */
    done: ReadonlySet<number>;
    now: () => string;
    /** Called with each opened batch, in order, so the caller can append it before the next one. */
    onBatch: (data: OpeningData) => Promise<void>;
  }): Promise<{ status: 'opened'; batches: number } | { status: 'waiting'; reason: string; wrongNodes: number[]; silentNodes: number[] }> => {
    const counted = input.counted;
    const batches = batchCount(counted.total);
    // Three nodes' shares open a batch, so only three are asked (each share costs its node a scalar
    // multiplication per ballot); the others are asked only when one of those is silent or wrong. The
    // next batch's shares are asked for while this one is checked and opened, so the nodes and the
    // opener work at the same time.
    let preferred = options.nodes.map((_, i) => i).slice(0, THRESHOLD);
    type Answer = PromiseSettledResult<{ shares: ShareBatch; total: number }>;
    const ask = (b: number, nodes: readonly number[]): Promise<Map<number, Answer>> =>
      Promise.allSettled(nodes.map((i) => call<{ shares: ShareBatch; total: number }>(i, `/v1/polls/${encodeURIComponent(input.pollId)}/shares`, { size: input.size, batch: b }))).then(
        (rs) => new Map(rs.map((r, k) => [nodes[k]!, r])),
      );
    const todo = Array.from({ length: batches }, (_, b) => b).filter((b) => !input.done.has(b));
    let next: Promise<Map<number, Answer>> | null = todo.length > 0 ? ask(todo[0]!, preferred) : null;
    for (let t = 0; t < todo.length; t++) {
      const b = todo[t]!;
      const answers = await next!;
      next = t + 1 < todo.length ? ask(todo[t + 1]!, preferred) : null;
      const given = (m: Map<number, Answer>) => [...m.values()].flatMap((r) => (r.status === 'fulfilled' ? [r.value.shares] : []));
      const refs = await counted.batch(b);
      let opened: ReturnType<typeof openBatch> | null = null;
      let failure: unknown = null;
      try {
        opened = openBatch(input.keySet, input.pollId, refs, given(answers));
      } catch (e) {
        failure = e;
      }
      if (!opened) {
        // Ask the nodes not asked yet, and open with every answer (a wrong one is named again).
        const others = options.nodes.map((_, i) => i).filter((i) => !answers.has(i));
        for (const [i, r] of await ask(b, others)) answers.set(i, r);
        try {
          opened = openBatch(input.keySet, input.pollId, refs, given(answers));
          failure = null;
        } catch (e) {
          failure = e;
        }
        // From now on ask first the nodes whose shares served.
        const served = new Set((opened?.shares ?? []).map((sh) => sh.node - 1));
        preferred = [...served, ...options.nodes.map((_, i) => i)].filter((i, k, all) => all.indexOf(i) === k).slice(0, THRESHOLD);
      }
      const silentNodes = [...answers].flatMap(([i, r]) => (r.status === 'rejected' ? [i + 1] : [])).sort((x, y) => x - y);
      if (!opened) {
        await next?.catch(() => undefined);
        const wrongNodes = failure instanceof NotEnoughShares ? failure.wrongNodes : [];
        const reasons = [...answers.values()].flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
        return { status: 'waiting', reason: [(failure as Error).message, ...reasons].join('; '), wrongNodes, silentNodes };
      }
      if (opened.wrongNodes.length > 0) log('WRONG DECRYPTION SHARES', { pollId: input.pollId, batch: b, nodes: opened.wrongNodes });
      if (silentNodes.length > 0) log('nodes gave no decryption shares', { pollId: input.pollId, batch: b, nodes: silentNodes });
      await input.onBatch({
        pollId: input.pollId,
        keyId: input.keySet.keyId,
        size: input.size,
        batch: b,
        total: counted.total,
        openings: opened.openings,
        shares: opened.shares,
        openedAt: input.now(),
      });
    }
    return { status: 'opened', batches };
  };

  return { agreedKeySet, runCeremony, ensureKeySet, openPoll };
}

export type SealingClient = ReturnType<typeof createSealingClient>;
export { OPENING_EVENT };
