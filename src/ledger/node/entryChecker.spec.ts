import { describe, expect, it } from 'vitest';
import { nodeSha256 } from '../nodeCrypto.ts';
import { EntryChecker } from './entryChecker.ts';
import { ballotEntry, ballotText, closePollEntry, entryText, openPollEntries, pollDefinition } from './testing.ts';

const checker = (...texts: string[]): EntryChecker => {
  const c = new EntryChecker(nodeSha256);
  const txn = c.begin();
  for (const t of texts) expect(txn.check(t)).toBeUndefined();
  txn.commit();
  return c;
};

describe('EntryChecker', () => {
  it('keeps nothing of a transaction that is not committed', () => {
    const c = checker(...openPollEntries('p'));
    const dropped = c.begin();
    expect(dropped.check(ballotText({ pollId: 'p', voter: 'v1' }))).toBeUndefined();
    const next = c.begin();
    expect(next.check(ballotText({ pollId: 'p', voter: 'v1' }))).toBeUndefined();
    expect(next.check(ballotText({ pollId: 'p', voter: 'v1', eventId: 'again' }))?.code).toBe('ballot.already-voted');
  });

  it('refuses poll definitions the domain would refuse, and a second PollCreated', () => {
    const [created] = openPollEntries('p');
    const bad = JSON.parse(created!) as { data: { definition: ReturnType<typeof pollDefinition> } };
    bad.data.definition.settings.closesAt = bad.data.definition.settings.opensAt;
    expect(new EntryChecker(nodeSha256).begin().check(entryText(bad as never))?.code).toBe('poll.invalid-definition');
    const other = JSON.parse(created!) as { data: { definition: { pollId: string } } };
    other.data.definition.pollId = 'q';
    expect(new EntryChecker(nodeSha256).begin().check(entryText(other as never))?.code).toBe('poll.invalid-definition');
    expect(checker(...openPollEntries('p')).begin().check(created!)?.code).toBe('poll.already-exists');
  });

  it('refuses ballots of odd shapes with a reason instead of throwing', () => {
    const c = checker(...openPollEntries('p'));
    const odd = ballotEntry({ pollId: 'p', voter: 'v1' });
    for (const selections of [{ selections: 5 }, { selections: { q1: 'a' } }, { selections: { q1: [1] } }, 'x']) {
      const refused = c.begin().check(entryText({ ...odd, data: { ...(odd.data as object), selections } }));
      expect(refused).toBeDefined();
      expect(typeof refused!.reason).toBe('string');
    }
    expect(c.begin().check(entryText({ ...odd, eventType: 'BallotSpoiled' }))?.code).toBe('malformed');
    expect(c.begin().check('not json')?.code).toBe('malformed');
  });

  it('judges a re-vote against the voter\'s last ballot read back from its log, across commits', () => {
    const texts = [...openPollEntries('r', { allowRevote: true }), ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-1' })];
    const log: string[] = [];
    const c = new EntryChecker(nodeSha256, null, { entry: (position) => log[position]! });
    const txn = c.begin();
    for (const t of texts) expect(txn.check(t)).toBeUndefined();
    log.push(...texts);
    txn.commit();
    expect(c.size).toBe(texts.length);
    expect(c.begin().check(ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-2' }))?.code).toBe('ballot.replaces');
    const second = ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-2', replaces: 'r-1' });
    const third = ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-3', replaces: 'r-2' });
    const next = c.begin();
    expect(next.check(second)).toBeUndefined();
    expect(next.check(third)).toBeUndefined();
    log.push(second, third);
    next.commit();
    expect(c.begin().check(ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-4', replaces: 'r-2' }))?.code).toBe('ballot.replaces');
    expect(c.begin().check(ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-4', replaces: 'r-3' }))).toBeUndefined();

    // A checker replaying the same log (a node's start-up) reaches the same view.
    const again = new EntryChecker(nodeSha256, null, { entry: (position) => log[position]! });
    const replay = again.begin();
    for (const t of log) expect(replay.replay(t)).not.toBeNull();
    replay.commit();
    expect(again.begin().check(ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-4', replaces: 'r-2' }))?.code).toBe('ballot.replaces');
    expect(again.begin().check(ballotText({ pollId: 'r', voter: 'v1', eventId: 'r-4', replaces: 'r-3' }))).toBeUndefined();
  });

  it('keeps a voter table only for a poll still taking ballots; after its close every ballot is refused as closed', () => {
    const c = checker(...openPollEntries('c'), ballotText({ pollId: 'c', voter: 'v1' }));
    expect(c.read().voterTables.get('c')?.count).toBe(1);
    const txn = c.begin();
    expect(txn.check(closePollEntry('c'))).toBeUndefined();
    txn.commit();
    expect(c.read().voterTables.has('c')).toBe(false);
    expect(c.begin().check(ballotText({ pollId: 'c', voter: 'v1', eventId: 'again' }))?.code).toBe('poll.closed');
    expect(c.begin().check(ballotText({ pollId: 'c', voter: 'v2' }))?.code).toBe('poll.closed');
  });
});
