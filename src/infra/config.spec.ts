import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('gives embedded defaults on an empty environment', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.EVENT_STORE).toBe('postgres');
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.SMS_ADAPTER).toBe('outbox');
  });

  it('names every bad variable with the reason', () => {
    const error = (() => {
      try {
        loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', EVENT_STORE: 'eventstoredb' });
      } catch (e) {
        return e;
      }
    })() as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.problems.join('\n')).toMatch(/PORT/);
    expect(error.problems.join('\n')).toMatch(/DATABASE_URL: must be a postgres/);
  });

  it('requires the connection string for EventStoreDB', () => {
    expect(() => loadConfig({ EVENT_STORE: 'eventstoredb' })).toThrow(/EVENTSTORE_CONNECTION_STRING: is required/);
  });

  it('refuses the SMS outbox and missing secrets in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', DATABASE_URL: 'postgres://x/y' })).toThrow(/SMS_ADAPTER.*outbox[\s\S]*SERVER_SECRET/);
  });

  it('refuses a short coordinator token and a lease retry outside its range', () => {
    expect(() => loadConfig({ LEDGER_COORDINATOR_TOKEN: 'short' })).toThrow(/LEDGER_COORDINATOR_TOKEN: must be at least 32 characters/);
    expect(() => loadConfig({ LEDGER_LEASE_RETRY_MS: '5' })).toThrow(/LEDGER_LEASE_RETRY_MS/);
    expect(loadConfig({}).LEDGER_LEASE_RETRY_MS).toBe(2000);
  });
});
