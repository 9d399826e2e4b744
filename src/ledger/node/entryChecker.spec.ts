import { describe, expect, it } from 'vitest';
import { nodeSha256 } from '../nodeCrypto.ts';
import { EntryChecker } from './entryChecker.ts';
import { ballotEntry, ballotText, entryText, openPollEntries, pollDefinition } from './testing.ts';

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
});
