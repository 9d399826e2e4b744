import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PabulibParseError, pabulibRule, pabulibToPollDefinition, parsePabulib, pollToPabulib, serializePabulib } from './pabulib.ts';

const dataDir = new URL('../../../shared/data/pabulib/', import.meta.url);
const FILES = ['Netherlands_Assen_2024.pb', 'Poland_Swiecie_2023.pb', 'Poland_Warszawa_2017_Mlynow.pb', 'Poland_Warszawa_2025_Wola.pb'];
const when = { opensAt: '2024-06-15T00:00:00Z', closesAt: '2024-06-30T00:00:00Z' };

function parseError(text: string): PabulibParseError {
  try {
    parsePabulib(text);
  } catch (e) {
    if (e instanceof PabulibParseError) return e;
    throw e;
  }
  throw new Error('parsed without error');
}

const SMALL = 'META\nkey;value\nbudget;100\nrule;greedy\nPROJECTS\nproject_id;cost;name\n1;60;One\n2;50;Two\nVOTES\nvoter_id;vote\nv1;1,2\nv2;2\n';

describe('parsePabulib on the real files', () => {
  for (const file of FILES) {
    it(`${file}: counts match META and the votes column, and it round-trips`, () => {
      const pb = parsePabulib(readFileSync(new URL(file, dataDir), 'utf8'));
      expect(pb.projects).toHaveLength(Number(pb.meta.num_projects));
      expect(pb.votes).toHaveLength(Number(pb.meta.num_votes));
      const approvals = new Map<string, number>();
      for (const v of pb.votes) for (const id of v.vote) approvals.set(id, (approvals.get(id) ?? 0) + 1);
      for (const p of pb.projects) expect(p.votes, p.id).toBe(approvals.get(p.id) ?? 0);
      expect(pb.projects.some((p) => p.selected)).toBe(true);
      expect(parsePabulib(serializePabulib(pb))).toEqual(pb);
    });
  }

  it('reads typed project columns', () => {
    const pb = parsePabulib(readFileSync(new URL('Poland_Warszawa_2017_Mlynow.pb', dataDir), 'utf8'));
    const p = pb.projects.find((x) => x.id === '726')!;
    expect(p).toMatchObject({ cost: 125000, votes: 454, selected: true, category: ['public transit and roads', 'environmental protection', 'public space'] });
    expect(pb.votes[0]).toMatchObject({ voterId: '170', vote: ['861', '974', '891'], fields: { age: '35', sex: 'M' } });
  });
});

describe('parsePabulib format details', () => {
  it('handles quoted fields with ;, doubled quotes and line breaks, CRLF, a BOM and blank lines', () => {
    const text =
      '\uFEFFMETA\r\nkey;value\r\nbudget;100\r\n\r\ndescription;"A; ""quoted""\r\nline"\r\nPROJECTS\r\nproject_id;cost;name\r\n1;10;"x;y"\r\nVOTES\r\nvoter_id;vote\r\nv1;1\r\n';
    const pb = parsePabulib(text);
    expect(pb.meta).toEqual({ budget: '100', description: 'A; "quoted"\r\nline' });
    expect(pb.projects[0]!.name).toBe('x;y');
    expect(parsePabulib(serializePabulib(pb))).toEqual(pb);
  });

  it('reports malformed input with the line', () => {
    expect(parseError('budget;100\n')).toMatchObject({ line: 1, message: expect.stringMatching(/before any data/) });
    expect(parseError(SMALL.replace('2;50;Two', '2;50'))).toMatchObject({ line: 8, message: expect.stringMatching(/expected 3 fields, found 2/) });
    expect(parseError(SMALL.replace('2;50;Two', '2;fifty;Two'))).toMatchObject({ line: 8, message: expect.stringMatching(/cost is not a number/) });
    expect(parseError(SMALL.replace('v2;2', 'v2;3'))).toMatchObject({ line: 12, message: expect.stringMatching(/unknown project "3"/) });
    expect(parseError(SMALL.replace('v2;2', 'v1;2'))).toMatchObject({ line: 12, message: expect.stringMatching(/duplicate voter_id/) });
    expect(parseError(SMALL.replace('1;60;One', '2;60;One'))).toMatchObject({ line: 8, message: expect.stringMatching(/duplicate project_id/) });
    expect(parseError(SMALL.replace('1;60;One', '1;60;"One'))).toMatchObject({ line: 7, message: expect.stringMatching(/unterminated/) });
    expect(parseError(SMALL.replace(/VOTES[^]*/, ''))).toMatchObject({ message: expect.stringMatching(/missing section VOTES/) });
    expect(parseError(SMALL.replace('project_id;cost;name', 'id;cost;name'))).toMatchObject({ line: 6, message: expect.stringMatching(/no column project_id/) });
  });
});

describe('pabulibToPollDefinition', () => {
  it('builds a budget poll', () => {
    const pb = parsePabulib(readFileSync(new URL('Poland_Warszawa_2025_Wola.pb', dataDir), 'utf8'));
    const def = pabulibToPollDefinition(pb, { pollId: 'wola-2025', ...when });
    expect(def).toMatchObject({
      pollId: 'wola-2025',
      kind: 'budget',
      budget: { total: 5923822, currency: 'PLN', rule: 'greedy' },
      settings: { ...when, allowRevote: false },
    });
    const q = def.questions[0]!;
    expect(q).toMatchObject({ id: 'projects', minChoices: 1, maxChoices: 15 });
    expect(q.options).toHaveLength(63);
    expect(q.options[0]).toMatchObject({ id: pb.projects[0]!.id, cost: pb.projects[0]!.cost, district: 'Wola' });
  });

  it('uses min_length, and the project count when max_length is absent', () => {
    const pb = parsePabulib(readFileSync(new URL('Netherlands_Assen_2024.pb', dataDir), 'utf8'));
    const def = pabulibToPollDefinition(pb, { pollId: 'assen', ...when });
    expect(def.questions[0]).toMatchObject({ minChoices: 2, maxChoices: 14 });
    expect(def.budget).toEqual({ total: 100000, currency: 'EUR', rule: 'equal-shares' });
  });

  it('maps rule names and refuses the rest', () => {
    expect(pabulibRule('greedy')).toBe('greedy');
    expect(pabulibRule('equalshares/add1')).toBe('equal-shares');
    expect(pabulibRule('equalshares')).toBe('equal-shares');
    expect(() => pabulibRule('unknown')).toThrow(/unsupported/);
    expect(() => pabulibToPollDefinition(parsePabulib(SMALL.replace('rule;greedy', 'vote_type;ordinal')), { pollId: 'x', ...when })).toThrow(/vote_type/);
  });
});

describe('pollToPabulib + serializePabulib', () => {
  it('writes a closed budget poll that parses back to the same data', () => {
    const def = pabulibToPollDefinition(parsePabulib(SMALL), { pollId: 'small', ...when });
    def.questions[0]!.options[0]!.label = ' Needs "quotes"; really ';
    const ballots = [
      { voterId: 'v1', approved: ['1', '2'] },
      { voterId: 'v2', approved: ['2'] },
    ];
    const pb = pollToPabulib(def, ballots, ['2'], { country: 'Korea' });
    expect(pb.projects.map((p) => [p.id, p.votes, p.selected])).toEqual([
      ['1', 1, false],
      ['2', 2, true],
    ]);
    const text = serializePabulib(pb);
    expect(text.split('\n').slice(0, 2)).toEqual(['META', 'key;value']);
    const back = parsePabulib(text);
    expect(back).toEqual(pb);
    expect(back.meta).toMatchObject({ budget: '100', rule: 'greedy', num_votes: '2', country: 'Korea' });
    const again = pabulibToPollDefinition(back, { pollId: 'small', ...when });
    expect(again.questions[0]!.options).toEqual(def.questions[0]!.options);
    expect(again.budget).toEqual(def.budget);
  });
});
