import { describe, expect, it } from 'vitest';
import { ballotDecider } from '../../domain/ballot.ts';
import { pollDecider, type PollEvent } from '../../domain/poll.ts';
import { AFTER_CLOSE, BEFORE_OPEN, DURING, citizen, generalPoll, official, policyPoll } from '../../domain/fixtures.ts';
import { ballotTrackerCode, ledgerEntryProblem } from '../../ledger/entry.ts';
import { nobleSha256 } from '../../ledger/hash.ts';
import { EntryChecker } from '../../ledger/node/entryChecker.ts';
import { ANCHORED_EVENT_TYPES, entryText, ledgerEntryOf } from './entries.ts';

const recorded = (id: string, event: { type: string; data: object }) => ({ id, type: event.type, data: event.data as Record<string, unknown> });

/** A policy poll's whole life through the real deciders, plus two ballots; the events as the store holds them. */
function lifecycle() {
  const events: Array<{ id: string; type: string; data: Record<string, unknown>; metadata: Record<string, unknown> }> = [];
  let state = pollDecider.initialState;
  const run = (command: Parameters<typeof pollDecider.decide>[0]) => {
    for (const e of pollDecider.decide(command, state)) {
      state = pollDecider.evolve(state, e);
      events.push({ ...recorded(`e${events.length}`, e), metadata: { actor: 'official:official-1' } });
    }
  };
  const pollId = policyPoll.pollId;
  run({ type: 'CreatePoll', data: { definition: policyPoll, createdBy: official, now: BEFORE_OPEN } });
  run({ type: 'AddVoterRollChunk', data: { pollId, entries: ['keyed-phone-hash'], by: official, now: BEFORE_OPEN } });
  run({ type: 'SchedulePoll', data: { pollId, by: official, now: BEFORE_OPEN } });
  run({ type: 'OpenPoll', data: { pollId, by: { kind: 'system' }, now: DURING } });
  for (const [i, choice] of ['yes', 'no'].entries()) {
    const salt = String(i + 1).repeat(64);
    const eventId = `ballot-${i}`;
    const [cast] = ballotDecider.decide(
      {
        type: 'CastBallot',
        data: {
          pollId, voterTag: `tag-${i}`, ballotId: `b-${i}`, selections: { selections: { q1: [choice] } }, salt,
          tracker: ballotTrackerCode(salt, eventId), now: DURING, poll: { definition: policyPoll, status: 'Open' }, eligibility: {},
        },
      },
      ballotDecider.initialState,
    );
    events.push({ id: eventId, type: cast!.type, data: cast!.data as unknown as Record<string, unknown>, metadata: { citizenId: `citizen-secret-${i}` } });
  }
  run({ type: 'ClosePoll', data: { pollId, by: official, now: AFTER_CLOSE } });
  run({ type: 'PublishResult', data: { pollId, result: { pollId, ballots: 2, questions: [] }, by: { kind: 'system' }, now: AFTER_CLOSE } });
  return events;
}

describe('ledgerEntryOf', () => {
  it('maps every anchored poll event and ballot to a well-formed entry the ledger nodes accept in order', () => {
    const entries = lifecycle().map(ledgerEntryOf).filter((e) => e !== null);
    expect(entries.map((e) => e.eventType)).toEqual(['PollCreated', 'PollScheduled', 'PollOpened', 'BallotCast', 'BallotCast', 'PollClosed', 'PollResultPublished']);
    for (const e of entries) expect(ledgerEntryProblem(e)).toBeUndefined();
    const txn = new EntryChecker(nobleSha256).begin();
    for (const e of entries) expect(txn.check(entryText(e))).toBeUndefined();
  });

  it('never carries actor ids, citizen ids from metadata or voter-roll hashes', () => {
    const texts = lifecycle().map(ledgerEntryOf).filter((e) => e !== null).map(entryText).join('\n');
    expect(texts).not.toContain('official-1');
    expect(texts).not.toContain('citizen-secret');
    expect(texts).not.toContain('keyed-phone-hash');
    const created = ledgerEntryOf(recorded('x', { type: 'PollCreated', data: { pollId: 'p1', definition: generalPoll, createdBy: citizen, createdAt: BEFORE_OPEN } }));
    expect((created!.data as { createdBy: unknown }).createdBy).toEqual({ kind: 'citizen' });
    const byOfficial = lifecycle().map(ledgerEntryOf).find((e) => e?.eventType === 'PollScheduled');
    expect((byOfficial!.data as { scheduledBy: unknown }).scheduledBy).toEqual({ kind: 'official', orgId: 'org-parks' });
  });

  it('skips voter rolls and events of other streams', () => {
    expect(ANCHORED_EVENT_TYPES).not.toContain('VoterRollChunkAdded');
    const roll: PollEvent = { type: 'VoterRollChunkAdded', data: { pollId: 'p1', chunkIndex: 0, entries: ['h'], addedAt: BEFORE_OPEN } };
    expect(ledgerEntryOf(recorded('r', roll))).toBeNull();
    expect(ledgerEntryOf(recorded('c', { type: 'CitizenRegistered', data: { citizenId: 'c1' } }))).toBeNull();
  });

  it('gives the same canonical text for the same event, whatever the key order', () => {
    const a = ledgerEntryOf(recorded('x', { type: 'PollOpened', data: { pollId: 'p1', openedAt: DURING, openedBy: { kind: 'system' } } }))!;
    const b = ledgerEntryOf(recorded('x', { type: 'PollOpened', data: { openedBy: { kind: 'system' }, openedAt: DURING, pollId: 'p1' } }))!;
    expect(entryText(a)).toBe(entryText(b));
    expect(entryText(a)).toBe('{"at":"2025-03-04T12:00:00Z","data":{"openedAt":"2025-03-04T12:00:00Z","openedBy":{"kind":"system"},"pollId":"p1"},"eventId":"x","eventType":"PollOpened","kind":"poll","pollId":"p1"}');
  });
});
