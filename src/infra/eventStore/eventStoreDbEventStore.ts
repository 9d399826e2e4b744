import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  jsonEvent,
  type AppendExpectedRevision,
  type ReadPosition,
  type ResolvedEvent,
} from '@eventstore/db-client';
import {
  StreamConflictError,
  type AppendRequest,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type RecordedEvent,
} from '../../app/eventStore.ts';
import { catchUpSubscription, sharedReads } from './catchUpSubscription.ts';

const toVendorRevision = (expected: ExpectedRevision): AppendExpectedRevision =>
  expected === 'no_stream' ? NO_STREAM : expected === 'exists' ? STREAM_EXISTS : expected === 'any' ? ANY : expected;

// Commit and prepare positions are below 2^63: zero-padding makes the checkpoint strings sort as numbers.
const pad = (n: bigint) => n.toString().padStart(20, '0');

const parseCheckpoint = (checkpoint: string) => {
  const match = /^(\d+):(\d+)$/.exec(checkpoint);
  if (!match) throw new Error(`not an EventStoreDB checkpoint: ${checkpoint}`);
  return { commit: BigInt(match[1]!), prepare: BigInt(match[2]!) };
};

const toRecorded = (resolved: ResolvedEvent): RecordedEvent | null => {
  const event = resolved.event;
  if (!event || event.type.startsWith('$') || event.streamId.startsWith('$') || !event.isJson) return null;
  const position = event.position ?? resolved.commitPosition;
  const commit = typeof position === 'bigint' ? position : position?.commit ?? 0n;
  const prepare = typeof position === 'bigint' ? position : position?.prepare ?? 0n;
  return {
    id: event.id,
    streamId: event.streamId,
    streamRevision: event.revision,
    type: event.type,
    data: event.data as Record<string, unknown>,
    metadata: (event.metadata ?? {}) as Record<string, unknown>,
    recordedAt: event.created instanceof Date ? event.created : new Date(Number(event.created) / 10_000),
    checkpoint: `${pad(commit)}:${pad(prepare)}`,
  };
};

/**
 * EventStoreDB adapter. Vendor errors and types stay here: WrongExpectedVersionError becomes our
 * StreamConflictError. appendMany appends request by request (EventStoreDB has no multi-stream
 * transaction). The catch-up subscription pages through $all with readAll (positions are commit order
 * in EventStoreDB, so there is no late-commit problem), skipping system events, and shares its loop with
 * the PostgreSQL adapter.
 */
export const createEventStoreDbEventStore = (connectionString: string, options: { pollIntervalMs?: number } = {}): EventStore => {
  const client = EventStoreDBClient.connectionString(connectionString);
  const appended = new EventEmitter();
  appended.setMaxListeners(0);

  const appendOne = async (request: AppendRequest): Promise<AppendResult | StreamConflictError> => {
    try {
      const result = await client.appendToStream(
        request.streamId,
        request.events.map((e) => jsonEvent({ id: e.id ?? randomUUID(), type: e.type, data: e.data, metadata: e.metadata ?? {} })),
        { expectedRevision: toVendorRevision(request.expected) },
      );
      appended.emit('appended');
      return { nextExpectedRevision: result.nextExpectedRevision };
    } catch (error) {
      if (error instanceof WrongExpectedVersionError) {
        const actual = typeof error.actualVersion === 'bigint' ? error.actualVersion : 'no_stream';
        return new StreamConflictError(request.streamId, request.expected, actual);
      }
      throw error;
    }
  };

  const readAll = async (after: string | null, limit: number): Promise<RecordedEvent[]> => {
    const out: RecordedEvent[] = [];
    let from: ReadPosition = after ? parseCheckpoint(after) : START;
    // readAll includes the event at its start position: that one was delivered already.
    let alreadyDelivered = after;
    for (;;) {
      let lastKey: string | null = null;
      for await (const resolved of client.readAll({ fromPosition: from, maxCount: limit + 1, direction: FORWARDS })) {
        const position = resolved.event?.position;
        if (!position) continue;
        const key = `${pad(position.commit)}:${pad(position.prepare)}`;
        lastKey = key;
        if (key === alreadyDelivered) continue;
        const recorded = toRecorded(resolved);
        if (recorded) out.push(recorded);
        if (out.length >= limit) return out;
      }
      if (out.length > 0 || lastKey === null || lastKey === alreadyDelivered) return out;
      // The page held system events only: go on after it.
      from = parseCheckpoint(lastKey);
      alreadyDelivered = lastKey;
    }
  };
  // The read models and the anchoring service follow the log in step: one read serves both.
  const subscriptionReads = sharedReads(readAll);

  return {
    append: async (streamId, events, expected) => {
      const outcome = await appendOne({ streamId, events, expected });
      if (outcome instanceof StreamConflictError) throw outcome;
      return outcome;
    },
    appendMany: async (requests) => {
      const outcomes: Array<AppendResult | StreamConflictError> = [];
      for (const request of requests) outcomes.push(await appendOne(request));
      return outcomes;
    },
    readStream: async (streamId) => {
      const out: RecordedEvent[] = [];
      try {
        for await (const resolved of client.readStream(streamId, { fromRevision: START, direction: FORWARDS })) {
          const recorded = toRecorded(resolved);
          if (recorded) out.push(recorded);
        }
      } catch (error) {
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      }
      return out;
    },
    readAll,
    headCheckpoint: async () => {
      for await (const resolved of client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 100 })) {
        const recorded = toRecorded(resolved);
        if (recorded) return recorded.checkpoint;
      }
      return null;
    },
    subscribeAll: (from, handler) =>
      catchUpSubscription({ readAll: subscriptionReads(), from, handler, wake: appended, pollIntervalMs: options.pollIntervalMs ?? 100 }),
    close: async () => {
      appended.removeAllListeners();
      await client.dispose();
    },
  };
};
