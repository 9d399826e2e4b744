/**
 * Opens sealed polls after their close, on the instance holding the anchoring lease: once every event
 * up to now is final on the ledger, it asks the nodes for decryption shares batch by batch (through the
 * sealing client, which checks every node's proof and opens with any 3 good ones) and stores each opened
 * batch as a SealedBallotsOpened event; the anchoring service then puts it on the ledger, where every
 * node checks it before signing. With fewer than 3 nodes giving good shares the poll waits, with the
 * reason in its status, and the next pass tries again: nothing is lost, nothing is opened early.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { EventStore } from '../../app/eventStore.ts';
import type { PollRow } from '../../app/projections/polls.ts';
import { recordOpeningBatch, storedOpening } from '../../app/polls/sealedOpening.ts';
import type { SealingClient } from '../../ledger/sealing.ts';
import type { PublicKeySet } from '../../ledger/threshold/vss.ts';
import type { Logger } from '../logger.ts';
import type { Anchoring } from './anchoringService.ts';
import { entryTextsAt, pollEntryTextsPage } from './ledgerStore.ts';
import { ballotEntryOfPoll } from '../../ledger/sealing.ts';
import { countedSealedChooser, OPEN_BATCH, sealedRefOf, type CountedSealedSource, type SealedBallotRef } from '../../ledger/sealedOpening.ts';

export interface SealedOpeningDeps {
  db: Kysely<any>;
  eventStore: Pick<EventStore, 'readStream' | 'append'>;
  anchoring: Pick<Anchoring, 'settled' | 'status'>;
  sealing: Pick<SealingClient, 'openPoll'>;
  keySet: () => PublicKeySet | null;
  logger: Logger;
  everyMs: number;
}

export interface SealedOpening {
  /** Per sealed poll past its close: `opened`, or why it waits. */
  status(): Record<string, string>;
  /** One pass now (tests, and the first pass after a close). */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Sealed polls past their close without a published result. */
const closedSealedPolls = async (db: Kysely<any>): Promise<PollRow[]> => {
  const { rows } = await sql<{ doc: PollRow }>`
    SELECT doc FROM polls
    WHERE doc->'definition'->'settings'->>'resultsVisibility' = 'sealed' AND (doc->>'result') IS NULL
      AND (closes_at <= now() OR status NOT IN ('Draft', 'Scheduled', 'Open'))
    ORDER BY closes_at LIMIT 20`.execute(db);
  return rows.map((r) => r.doc);
};

/** The sealed ballot of poll `pollId` an entry text holds, or null (see ballotEntryOfPoll, sealedRefOf). */
const sealedRefIn = (text: string, pollId: string): SealedBallotRef | null => {
  const e = ballotEntryOfPoll(text, pollId);
  return e ? sealedRefOf(e) : null;
};

/** Entries read per query while choosing the counted ballots (a sealed ballot's entry is about 1 KB). */
const PAGE = 2_000;

/**
 * The poll's counted sealed ballots at log size `size`, from the app's own copy of the ledger: the
 * poll's entries are read in pages and the counted ones chosen as they go by, keeping per voter only a
 * leaf index and a time (a 250,000-ballot poll held every entry text and parsed entry at once before:
 * ~2 GB of the app's memory); each batch is read back by leaf index when the opener reaches it.
 */
const countedSealedInStore = async (db: Kysely<any>, poll: PollRow, size: number): Promise<CountedSealedSource> => {
  const chooser = countedSealedChooser(poll.definition);
  for (let after = -1; ; ) {
    const page = await pollEntryTextsPage(db, poll.pollId, after, size, PAGE);
    for (const { leafIndex, entryText } of page) {
      const ref = sealedRefIn(entryText, poll.pollId);
      if (ref) chooser.offer(leafIndex, ref);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.leafIndex;
  }
  const positions = chooser.positions();
  return {
    total: positions.length,
    batch: async (b) => {
      const rows = await entryTextsAt(db, Array.from(positions.subarray(b * OPEN_BATCH, (b + 1) * OPEN_BATCH)));
      return rows.map(({ leafIndex, entryText }) => {
        const ref = sealedRefIn(entryText, poll.pollId);
        if (!ref) throw new Error(`ledger entry ${leafIndex} is no longer the sealed ballot it was`);
        return ref;
      });
    },
  };
};

export const startSealedOpening = (deps: SealedOpeningDeps): SealedOpening => {
  const status = new Map<string, string>();
  const opened = new Set<string>();
  const setStatus = (pollId: string, text: string) => {
    if (status.get(pollId) !== text && text !== 'opened') deps.logger.warn({ pollId, status: text }, 'sealed poll waits for its opening');
    status.set(pollId, text);
  };

  const openOne = async (poll: PollRow): Promise<void> => {
    const keySet = deps.keySet();
    if (!keySet) return setStatus(poll.pollId, 'waiting: the ledger nodes have no joint key');
    const stored = await storedOpening(deps.eventStore.readStream)(poll.pollId);
    if (stored && stored.opened >= stored.total) {
      opened.add(poll.pollId);
      return setStatus(poll.pollId, 'opened');
    }
    try {
      // Every ballot of the poll must be final before the counted set is read.
      await deps.anchoring.settled(30_000);
    } catch {
      return setStatus(poll.pollId, 'waiting: the ledger has not made every ballot final yet');
    }
    const size = stored?.size ?? deps.anchoring.status().finalSize;
    const result = await deps.sealing.openPoll({
      pollId: poll.pollId,
      definition: poll.definition,
      size,
      keySet,
      counted: await countedSealedInStore(deps.db, poll, size),
      done: stored?.batches ?? new Set(),
      now: () => new Date().toISOString(),
      onBatch: (data) => recordOpeningBatch(deps.eventStore)(data, randomUUID()),
    });
    if (result.status === 'opened') {
      opened.add(poll.pollId);
      setStatus(poll.pollId, 'opened');
    } else {
      const named = [
        result.silentNodes.length ? `no answer from node ${result.silentNodes.join(', ')}` : '',
        result.wrongNodes.length ? `wrong decryption shares from node ${result.wrongNodes.join(', ')}` : '',
      ].filter(Boolean);
      setStatus(poll.pollId, `waiting: fewer than 3 ledger nodes gave valid decryption shares${named.length ? ` (${named.join('; ')})` : ''}`);
    }
  };

  let running: Promise<void> | null = null;
  const runOnce = (): Promise<void> => {
    running ??= (async () => {
      for (const poll of await closedSealedPolls(deps.db)) {
        if (opened.has(poll.pollId)) continue;
        await openOne(poll).catch((err: unknown) => {
          deps.logger.error({ err, pollId: poll.pollId }, 'sealed poll opening failed');
          setStatus(poll.pollId, `waiting: ${(err as Error).message}`);
        });
      }
    })().finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void runOnce(), deps.everyMs);
  timer.unref();
  return {
    status: () => Object.fromEntries(status),
    runOnce,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
};
