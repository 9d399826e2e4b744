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

/** The stored opening batches of a poll, by batch number (reads batch 0 first for the count). */
export const openingBatches = (readStream: ReadStream) => async (pollId: string): Promise<Map<number, OpeningData>> => {
  const out = new Map<number, OpeningData>();
  const first = (await readStream(openingStreamId(pollId, 0)))[0]?.data as OpeningData | undefined;
  if (!first) return out;
  out.set(0, first);
  const batches = Math.ceil(first.total / Math.max(1, first.openings.length));
  for (let b = 1; b < batches; b++) {
    const data = (await readStream(openingStreamId(pollId, b)))[0]?.data as OpeningData | undefined;
    if (data) out.set(b, data);
  }
  return out;
};

/**
 * The ballots a sealed poll's tally counts: every opened ballot of its opening (unopenable ones are
 * not counted). The opening already holds one counted ballot per voter, so each is its own voter here.
 * Throws SealedPollNotOpened until every batch is stored.
 */
export const openedBallots = (readStream: ReadStream) => async (pollId: string): Promise<TallyBallot[]> => {
  const batches = await openingBatches(readStream)(pollId);
  const first = batches.get(0);
  if (!first) {
    // A sealed poll nobody voted in opens as nothing at all.
    throw new SealedPollNotOpened(pollId);
  }
  const opened = [...batches.values()].reduce((n, b) => n + b.openings.length, 0);
  if (opened < first.total) throw new SealedPollNotOpened(pollId);
  const out: TallyBallot[] = [];
  for (const data of [...batches.entries()].sort((a, b) => a[0] - b[0]).map(([, d]) => d)) {
    for (const o of data.openings) if (!('unopenable' in o)) out.push({ voterTag: o.eventId, selections: o.selections, castAt: data.openedAt });
  }
  return out;
};
