/**
 * A sealed poll's opening as events: each opened batch (src/ledger/sealedOpening.ts, OpeningData) is one
 * `SealedBallotsOpened` event in its own stream `sealed-<pollId>-<batch>`, appended with `no_stream`, so
 * two app instances opening at once store each batch once. The anchoring service puts these events on
 * the ledger like poll events, and the tally of a sealed poll is made from them: the read models never
 * hold a sealed ballot's choices, before or after the opening.
 */
import { SealedPollNotOpened } from '../../domain/errors.ts';
import type { TallyBallot } from '../../domain/tally.ts';
import type { OpeningData } from '../../ledger/sealedOpening.ts';
import { recordInNewStream, type CommandHandlerDeps } from '../commandHandler.ts';
import type { ReadStream } from '../eventStore.ts';

/** The event type (a persisted contract: never rename). */
export const SEALED_OPENED = 'SealedBallotsOpened';

/** One opened batch of a sealed poll (stream `sealed-<pollId>-<batch>`). */
export type SealedOpeningEvent = { type: typeof SEALED_OPENED; data: OpeningData };

export const openingStreamId = (pollId: string, batch: number): string => `sealed-${pollId}-${batch}`;

/** Stores one opened batch; a batch already stored (by another instance) is left as it is. */
export const recordOpeningBatch = (store: CommandHandlerDeps) => async (data: OpeningData, eventId: string): Promise<void> => {
  const event: SealedOpeningEvent = { type: SEALED_OPENED, data };
  await recordInNewStream(store, openingStreamId(data.pollId, data.batch), [event], { duplicate: 'ignore', eventIds: [eventId] });
};

/**
 * What is stored of a poll's opening, without holding it: the size it read the ballots at, how many
 * counted ballots it has in all, the batches stored and how many ballots they open. Each batch is read
 * and dropped in turn (a batch is one event of about 200 KB with its shares: a 250,000-ballot poll has
 * 500 of them), so a pass of the opening service holds one at a time.
 */
export interface StoredOpening {
  size: number;
  total: number;
  batches: Set<number>;
  opened: number;
}

const readBatch = async (readStream: ReadStream, pollId: string, batch: number): Promise<OpeningData | undefined> =>
  (await readStream(openingStreamId(pollId, batch)))[0]?.data as OpeningData | undefined;

/** Calls `each` with every stored batch of a poll in batch order (batch 0 first, for the count); null without batch 0. */
const forEachBatch = async (readStream: ReadStream, pollId: string, each: (batch: number, data: OpeningData) => void): Promise<OpeningData | null> => {
  const first = await readBatch(readStream, pollId, 0);
  if (!first) return null;
  const { total, openings } = first;
  each(0, first);
  const batches = Math.ceil(total / Math.max(1, openings.length));
  for (let b = 1; b < batches; b++) {
    const data = await readBatch(readStream, pollId, b);
    if (data) each(b, data);
  }
  return first;
};

/** The stored opening of a poll (see StoredOpening), or null when batch 0 is not stored yet. */
export const storedOpening = (readStream: ReadStream) => async (pollId: string): Promise<StoredOpening | null> => {
  const batches = new Set<number>();
  let opened = 0;
  const first = await forEachBatch(readStream, pollId, (b, data) => {
    batches.add(b);
    opened += data.openings.length;
  });
  return first ? { size: first.size, total: first.total, batches, opened } : null;
};

/**
 * The ballots a sealed poll's tally counts: every opened ballot of its opening (unopenable ones are
 * not counted). The opening already holds one counted ballot per voter, so each is its own voter here.
 * Throws SealedPollNotOpened until every batch is stored. The batches are read one at a time and only
 * each ballot's choices kept (not the batch's shares, nonces or texts).
 */
export const openedBallots = (readStream: ReadStream) => async (pollId: string): Promise<TallyBallot[]> => {
  const out: TallyBallot[] = [];
  let opened = 0;
  const first = await forEachBatch(readStream, pollId, (_, data) => {
    opened += data.openings.length;
    for (const o of data.openings) if (!('unopenable' in o)) out.push({ voterTag: o.eventId, selections: o.selections, castAt: data.openedAt });
  });
  // A sealed poll nobody voted in opens as nothing at all.
  if (!first || opened < first.total) throw new SealedPollNotOpened(pollId);
  return out;
};
