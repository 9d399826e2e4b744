import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PabulibParseError, exportImportedPabulib, pabulibBudget, pabulibRule, pabulibToPollDefinition, parsePabulib, pollToPabulib, serializePabulib } from './pabulib.ts';

const dataDir = new URL('../../test/pabulib/files/', import.meta.url);
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
const repoDir = dataDir;

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

  it('reads a section of 200,000 rows (Wrocław 2015 has files this long) and a marker line inside a quoted field', () => {
    const votes = Array.from({ length: 200_000 }, (_, i) => `v${i};1`).join('\n');
    const big = `META\nkey;value\nbudget;100\nnum_votes;200000\nvote_type;approval\nrule;greedy\nPROJECTS\nproject_id;cost\n1;10\nVOTES\nvoter_id;vote\n${votes}\n`;
    expect(parsePabulib(big).votes.length).toBe(200_000);
    // A line reading VOTES inside a quoted project name is text, not the section (read in one go then).
    const quoted = 'META\nkey;value\nbudget;100\nPROJECTS\nproject_id;cost;name\n1;10;"a\nVOTES\nb"\nVOTES\nvoter_id;vote\nv1;1\n';
    const pb = parsePabulib(quoted);
    expect(pb.projects[0]!.name).toBe('a\nVOTES\nb');
    expect(pb.votes.map((v) => v.voterId)).toEqual(['v1']);
  });

  it('keeps a META key or a column named __proto__ as plain data', () => {
    const text = 'META\nkey;value\nbudget;100\n__proto__;x\nPROJECTS\nproject_id;cost;__proto__\n1;10;y\nVOTES\nvoter_id;vote;__proto__\nv1;1;z\n';
    const pb = parsePabulib(text);
    expect(Object.getPrototypeOf(pb.meta)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(pb.meta, '__proto__')?.value).toBe('x');
    expect(Object.getOwnPropertyDescriptor(pb.projects[0]!.fields, '__proto__')?.value).toBe('y');
    expect(Object.getOwnPropertyDescriptor(pb.votes[0]!.fields, '__proto__')?.value).toBe('z');
    expect(Object.keys(pb.votes[0]!.fields)).toEqual(['voter_id', 'vote', '__proto__']);
  });

  it('reports malformed input with the line', () => {
    expect(parseError('budget;100\n')).toMatchObject({ line: 1, message: expect.stringMatching(/before any data/) });
    expect(parseError(SMALL.replace('2;50;Two', '2;50'))).toMatchObject({ line: 8, message: expect.stringMatching(/expected 3 fields, found 2/) });
    expect(parseError(SMALL.replace('2;50;Two', '2;fifty;Two'))).toMatchObject({ line: 8, message: expect.stringMatching(/cost is not a number/) });
    expect(parseError(SMALL.replace('2;50;Two', '2;50.125;Two'))).toMatchObject({ line: 8, message: expect.stringMatching(/cost has more than 2 decimals/) });
    expect(parseError(SMALL.replace('budget;100', 'budget;1e5'))).toMatchObject({ line: 3, message: expect.stringMatching(/budget is not a number/) });
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
    expect(def.budget).toEqual({ total: 100000, currency: 'EUR', rule: 'equal-shares', completion: 'add1' });
  });

  it('maps every rule name Pabulib defines for approval votes, and refuses the rest by the line', () => {
    const budgetOf = (rule: string, extra = '') => pabulibBudget(parsePabulib(SMALL.replace('rule;greedy', `rule;${rule}${extra}`)));
    expect(budgetOf('greedy')).toMatchObject({ rule: 'greedy', reproduces: true });
    expect(budgetOf('greedy').minApprovals).toBeUndefined();
    expect(budgetOf('greedy-threshold', '\nmin_project_score_threshold;30')).toMatchObject({ rule: 'greedy', minApprovals: 30 });
    expect(budgetOf('greedy-no-skip')).toMatchObject({ rule: 'greedy', stopAtFirstMisfit: true });
    expect(budgetOf('equalshares')).toMatchObject({ rule: 'equal-shares', completion: 'none' });
    expect(budgetOf('equalshares-comparison')).toMatchObject({ rule: 'equal-shares', completion: 'none', comparison: 'satisfaction' });
    expect(budgetOf('equalshares/add1')).toMatchObject({ rule: 'equal-shares', completion: 'add1' });
    expect(budgetOf('equalshares/add1-comparison')).toMatchObject({ rule: 'equal-shares', completion: 'add1', comparison: 'satisfaction' });
    for (const r of ['unknown', 'greedy-custom', 'greedy-exclusive']) expect(budgetOf(r)).toMatchObject({ rule: 'greedy', reproduces: false, ruleName: r });
    expect(pabulibRule('equalshares/add1')).toBe('equal-shares');
    expect(parseError(SMALL.replace('rule;greedy', 'rule;ordinal-borda'))).toMatchObject({ line: 4, message: expect.stringMatching(/unsupported Pabulib rule "ordinal-borda"/) });
    expect(parseError(SMALL.replace('rule;greedy', 'rule;greedy-threshold\nmin_project_score_threshold;many'))).toMatchObject({ line: 5 });
  });

  it('refuses cumulative, scoring and ordinal votes up front, with the reason, before reading the body', () => {
    // A broken body: the vote type is what gets reported.
    const broken = SMALL.replace('rule;greedy', 'rule;greedy\nvote_type;cumulative').replace('2;50;Two', '2;"50');
    expect(parseError(broken)).toMatchObject({ line: 5, message: expect.stringMatching(/vote_type cumulative is not supported: voters spread points/) });
    for (const t of ['scoring', 'ordinal']) {
      expect(parseError(SMALL.replace('rule;greedy', `rule;greedy\nvote_type;${t}`))).toMatchObject({ line: 5, message: expect.stringMatching(new RegExp(`vote_type ${t} is not supported`)) });
    }
    const real = readFileSync(new URL('Poland_Czestochowa_2020_Grabowka.pb', repoDir), 'utf8');
    expect(parseError(real)).toMatchObject({ line: 12, message: expect.stringMatching(/vote_type cumulative is not supported/) });
    // The same file with its vote type said to be approval parses, quote inside a field included.
    const asApproval = parsePabulib(real.replace('vote_type;cumulative', 'vote_type;approval'));
    expect(asApproval.projects.find((p) => p.id === '47')!.name).toMatch(/^"Odkupmy" i my - /);
  });

  it('choose-1 votes are approval of exactly one project', () => {
    const def = pabulibToPollDefinition(parsePabulib(SMALL.replace('rule;greedy', 'rule;greedy\nvote_type;choose-1').replace('v1;1,2', 'v1;1')), { pollId: 'c', ...when });
    expect(def.questions[0]).toMatchObject({ minChoices: 1, maxChoices: 1 });
  });

  it('checks META num_votes and num_projects against the rows (a file cut short)', () => {
    const counted = SMALL.replace('budget;100', 'budget;100\nnum_projects;2\nnum_votes;3');
    expect(parseError(counted)).toMatchObject({ line: 5, message: 'line 5: META num_votes says 3 but the file has 2 votes (is the file cut short?)' });
    expect(parseError(counted.replace('num_projects;2', 'num_projects;1'))).toMatchObject({ line: 4, message: expect.stringMatching(/num_projects says 1 but the file has 2 projects/) });
    expect(parsePabulib(counted.replace('num_votes;3', 'num_votes;2')).votes).toHaveLength(2);
  });

  it('reads what real files contain: mixed line ends, a project twice in one vote, selected = 2, decimal amounts', () => {
    const mixed = SMALL.replace(/\n/g, '\r\n').replace('1;60;One\r\n', '1;60;One\n');
    expect(parsePabulib(mixed).projects.map((p) => p.name)).toEqual(['One', 'Two']);
    const twice = parsePabulib(SMALL.replace('v1;1,2', 'v1;1,2,1'));
    expect(twice.votes[0]!.vote).toEqual(['1', '2']);
    // White space of any kind around an id (what trim removes), with or without a project twice.
    for (const vote of [' 1,2', '1 ,\t2', '1,\u00a02 ', '2,1, 2', '1,2,2,1']) {
      expect([...parsePabulib(SMALL.replace('v1;1,2', `v1;${vote}`)).votes[0]!.vote].sort(), JSON.stringify(vote)).toEqual(['1', '2']);
    }
    expect(parsePabulib(SMALL.replace('v1;1,2', 'v1;2,1,2')).votes[0]!.vote).toEqual(['2', '1']);
    expect(parsePabulib(SMALL.replace('v1;1,2', 'v1; ')).votes[0]!.vote).toEqual([]);
    expect(() => parsePabulib(SMALL.replace('v1;1,2', 'v1;1,,2'))).toThrow(/vote for unknown project ""/);
    const two = parsePabulib(SMALL.replace('project_id;cost;name', 'project_id;cost;name;selected').replace('1;60;One', '1;60;One;2').replace('2;50;Two', '2;50;Two;1'));
    expect(two.projects.map((p) => [p.selected, p.selectedCode])).toEqual([[false, '2'], [true, '1']]);
    const grosze = parsePabulib(SMALL.replace('budget;100', 'budget;322239.55').replace('1;60;One', '1;60.5;One'));
    expect(pabulibBudget(grosze).total).toBe(322239.55);
    expect(grosze.projects[0]!.cost).toBe(60.5);
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

describe('exportImportedPabulib', () => {
  it('gives back the file it was imported from when every ballot was counted and the outcome is official', () => {
    const text = readFileSync(new URL('Poland_Gdynia_2020_Babie_Doly__small.pb', repoDir), 'utf8');
    const source = parsePabulib(text);
    const ballots = [...source.votes].reverse().map((v) => ({ fileVoterId: v.voterId, approved: v.vote }));
    const funded = source.projects.filter((p) => p.selected).map((p) => p.id);
    const out = exportImportedPabulib(source, ballots, funded);
    expect(out).toEqual(source);
    expect(parsePabulib(serializePabulib(out))).toEqual(source);
  });

  it('writes what the poll counted where it differs, and gives other ballots new ids', () => {
    const source = parsePabulib(SMALL.replace('budget;100', 'budget;100\nnum_votes;2\ndate_begin;01.02.2024').replace('voter_id;vote', 'voter_id;vote;age').replace('v1;1,2', 'v1;1,2;33').replace('v2;2', 'v2;2;44'));
    const out = exportImportedPabulib(source, [{ fileVoterId: 'v2', approved: ['1'] }, { fileVoterId: null, approved: ['2'] }], ['1']);
    expect(out.meta).toEqual({ budget: '100', num_votes: '2', date_begin: '01.02.2024', rule: 'greedy' });
    expect(out.votes.map((v) => v.fields)).toEqual([
      { voter_id: 'v2', vote: '1', age: '44' },
      { voter_id: '1', vote: '2', age: '' },
    ]);
    expect(out.projectColumns).toEqual(['project_id', 'cost', 'name', 'selected']);
    expect(out.projects.map((p) => p.fields.selected)).toEqual(['1', '0']);
  });
});
