/**
 * Entry builders and cluster helpers for the ledger node specs and the benchmark. Not imported by
 * production code.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PollDefinition } from '../../domain/pollDefinition.ts';
import { fromUtf8, toHex, utf8 } from '../bytes.ts';
import { ballotTrackerCode, canonicalEntryBytes, type LedgerEntry } from '../entry.ts';
import { nodeSha256 } from '../nodeCrypto.ts';
import { startLocalLedger, type LocalLedger } from './localCluster.ts';

export const ORIGIN = 'test.civic-vote.local/ledger';
export const TOKEN = 'test-coordinator-token';
export const OPENS_AT = '2025-03-01T09:00:00.000Z';
export const CLOSES_AT = '2025-03-08T09:00:00.000Z';
export const DURING = '2025-03-04T12:00:00.000Z';

export const entryText = (entry: LedgerEntry): string => fromUtf8(canonicalEntryBytes(entry));

export function pollDefinition(pollId: string, settings: Partial<PollDefinition['settings']> = {}): PollDefinition {
  return {
    pollId,
    kind: 'general',
    title: 'Where should the new bench go?',
    tags: ['parks'],
    questions: [
      {
        id: 'q1',
        text: 'Where?',
        options: ['a', 'b', 'c'].map((id) => ({ id, label: `Option ${id}` })),
        minChoices: 1,
        maxChoices: 1,
      },
    ],
    settings: { opensAt: OPENS_AT, closesAt: CLOSES_AT, resultsVisibility: 'live', allowRevote: false, ...settings },
  };
}

/** PollCreated, PollScheduled and PollOpened entries of a poll open from OPENS_AT to CLOSES_AT. */
export function openPollEntries(pollId: string, settings: Partial<PollDefinition['settings']> = {}): string[] {
  const system = { kind: 'system' };
  const base = { kind: 'poll' as const, pollId };
  return [
    { ...base, eventType: 'PollCreated', eventId: `${pollId}-created`, at: '2025-02-20T09:00:00.000Z', data: { pollId, definition: pollDefinition(pollId, settings), createdBy: system, createdAt: '2025-02-20T09:00:00.000Z' } },
    { ...base, eventType: 'PollScheduled', eventId: `${pollId}-scheduled`, at: '2025-02-21T09:00:00.000Z', data: { pollId, opensAt: OPENS_AT, closesAt: CLOSES_AT, scheduledBy: system, scheduledAt: '2025-02-21T09:00:00.000Z' } },
    { ...base, eventType: 'PollOpened', eventId: `${pollId}-opened`, at: OPENS_AT, data: { pollId, openedBy: system, openedAt: OPENS_AT } },
  ].map(entryText);
}

export function closePollEntry(pollId: string): string {
  return entryText({ kind: 'poll', pollId, eventType: 'PollClosed', eventId: `${pollId}-closed`, at: CLOSES_AT, data: { pollId, closedBy: { kind: 'system' }, closedAt: CLOSES_AT } });
}

export interface BallotSpec {
  pollId: string;
  voter: string;
  option?: string;
  eventId?: string;
  at?: string;
  replaces?: string | null;
  tracker?: string;
}

/** A ballot entry; the salt derives from the event id so the data is fixed. */
export function ballotEntry(spec: BallotSpec): LedgerEntry {
  const eventId = spec.eventId ?? `${spec.pollId}-${spec.voter}`;
  const salt = toHex(nodeSha256(utf8(eventId)));
  const data: Record<string, unknown> = {
    voterTag: toHex(nodeSha256(utf8(`tag|${spec.pollId}|${spec.voter}`))),
    selections: { selections: { q1: [spec.option ?? 'a'] } },
    salt,
    tracker: spec.tracker ?? ballotTrackerCode(salt, eventId, nodeSha256),
  };
  if (spec.replaces !== undefined) data.replaces = spec.replaces;
  return { kind: 'ballot', pollId: spec.pollId, eventType: 'BallotCast', eventId, at: spec.at ?? DURING, data };
}

export const ballotText = (spec: BallotSpec): string => entryText(ballotEntry(spec));

/** A fresh temporary directory for one cluster. */
export const tempDataDir = (): string => mkdtempSync(join(tmpdir(), 'ledger-'));

/** Four node processes on free loopback ports in a fresh directory. */
export async function startTestLedger(): Promise<LocalLedger & { dataDir: string }> {
  const dataDir = tempDataDir();
  const ledger = await startLocalLedger({ dataDir, basePort: 0, token: TOKEN, origin: ORIGIN });
  return { ...ledger, dataDir };
}

/** Polls `probe` until it returns a value, up to `tries` times `everyMs` apart; throws with `what` otherwise. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, tries = 100, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting: ${what}`);
}
