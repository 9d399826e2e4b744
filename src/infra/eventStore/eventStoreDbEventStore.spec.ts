import { describe, it } from 'vitest';
import { eventStoreContract } from './contract.ts';
import { createEventStoreDbEventStore } from './eventStoreDbEventStore.ts';

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

if (connectionString) {
  eventStoreContract('EventStoreDB', async () => {
    const store = createEventStoreDbEventStore(connectionString, { pollIntervalMs: 20 });
    return { store, close: () => store.close() };
  });
} else {
  describe('event store contract: EventStoreDB', () => {
    it.skip('skipped: no EventStoreDB (set EVENTSTORE_CONNECTION_STRING to run the contract suite against one)', () => {});
  });
}
