import { readFileSync } from 'node:fs';
import { readAllCommitted } from '../../src/app/readAllCommitted.ts';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePabulib, PabulibParseError } from '../../src/domain/pabulib.ts';
import { exportPabulib, importPabulib, pabulibSources, PabulibExportError, PabulibImportError } from '../../src/app/polls/importPabulib.ts';
import { loadServerSecret, type RunningApp } from '../../src/infra/compositionRoot.ts';
import { voterTagOf } from '../../src/infra/polls/ballotIdentity.ts';
import { startTestApp } from '../support/testApp.ts';
import { official } from '../support/pollFixtures.ts';

const repoDir = new URL('./files/', import.meta.url);
// Real files kept in the repo for what they add: Warsaw grosze, greedy-threshold
// with a tie, greedy-no-skip with selected = 2, a single project (see files/README.md).
const FILES: [URL, string][] = [
  [repoDir, 'Netherlands_Assen_2024.pb'],
  [repoDir, 'Poland_Warszawa_2017_Mlynow.pb'],
  [repoDir, 'Poland_Swiecie_2023.pb'],
  [repoDir, 'Poland_Warszawa_2025_Wola.pb'],
  [repoDir, 'Poland_Warszawa_2019_Grochow_Kinowa.pb'],
  [repoDir, 'Poland_Lodz_2024_Katedralna.pb'],
  [repoDir, 'Poland_Gdynia_2020_Babie_Doly__small.pb'],
  [repoDir, 'Poland_Warszawa_2018_Przyczolek_Grochowski.pb'],
];
const CITY = official('pb-official', 'city');

/** Each ballot as its sorted approvals, the multiset sorted: what must survive export and re-parse. */
const voteMultiset = (votes: { vote: string[] }[]): string[] => votes.map((v) => [...v.vote].sort().join(',')).sort();

describe('Pabulib open data through the real app', () => {
  let app: RunningApp;
  let runImport: ReturnType<typeof importPabulib>;
  let runExport: ReturnType<typeof exportPabulib>;
  beforeAll(async () => {
    // The ledger is not under test here (it anchors the same events asynchronously); without it the file runs in seconds.
    app = await startTestApp({ LEDGER_NODES: 'none' });
    const sources = pabulibSources(app.eventStore);
    runImport = importPabulib({ commands: app.polls.commands, cast: app.polls.cast, now: () => new Date().toISOString(), newPollId: () => randomUUID(), keepSource: sources.keep });
    runExport = exportPabulib({
      loadPoll: async (pollId) => {
        await app.projections.settled();
        return app.polls.get(pollId);
      },
      loadBallots: (pollId) => app.polls.queries.loadCurrentBallots(app.db.kysely, pollId),
      loadSource: sources.load,
      voterTagOf: voterTagOf(loadServerSecret(app.config)),
    });
  });
  afterAll(async () => app?.stop());
  const eventCount = async () => (await readAllCommitted(app.eventStore)).length;


  it('refuses a malformed file with its line, and creates nothing', async () => {
    const before = await eventCount();
    const bad = 'META\nkey;value\nbudget;100\nPROJECTS\nproject_id;cost\n1;50\n2;abc\nVOTES\nvoter_id;vote\nv1;1\n';
    await expect(runImport({ text: bad, by: CITY, cast: true })).rejects.toThrow(new PabulibParseError(7, 'cost is not a number: "abc"'));
    expect(await eventCount()).toBe(before);
  });

  it('refuses a file whose ballots break its own limits before writing any event', async () => {
    const before = await eventCount();
    const overLimit = 'META\nkey;value\nbudget;100\nvote_type;approval\nrule;greedy\nmax_length;1\nPROJECTS\nproject_id;cost\n1;50\n2;60\nVOTES\nvoter_id;vote\nv1;1\nv2;1,2\n';
    const refusal = runImport({ text: overLimit, by: CITY, cast: true, close: true });
    await expect(refusal).rejects.toBeInstanceOf(PabulibImportError);
    await expect(refusal).rejects.toThrow(/voter v2/);
    const ordinal = overLimit.replace('rule;greedy', 'rule;ordinal-borda');
    await expect(runImport({ text: ordinal, by: CITY })).rejects.toThrow(/unsupported Pabulib rule/);
    const cumulative = readFileSync(new URL('Poland_Czestochowa_2020_Grabowka.pb', repoDir), 'utf8');
    await expect(runImport({ text: cumulative, by: CITY })).rejects.toThrow(/line 12: vote_type cumulative is not supported/);
    const cut = readFileSync(new URL('Poland_Warszawa_2019_Grochow_Kinowa.pb', repoDir), 'utf8').replace(/\n[^\n]*\n$/, '\n');
    await expect(runImport({ text: cut, by: CITY })).rejects.toThrow(/META num_votes says 491 but the file has 490 votes/);
    expect(await eventCount()).toBe(before);
  });

  describe.each(FILES)('%s%s', (dir, name) => {
    const text = readFileSync(new URL(name, dir), 'utf8');
    const file = parsePabulib(text);
    let pollId: string;

    it('imports, casts every ballot through the real path, closes, publishes: funded equals selected', async () => {
      const result = await runImport({ text, by: CITY, cast: true, close: true, concurrency: 128 });
      pollId = result.pollId;
      expect(result.ballotsCast).toBe(file.votes.length);
      const selected = file.projects.filter((p) => p.selected).map((p) => p.id);
      expect(result.outcome?.matchesSelected).toBe(true);

      await app.projections.settled();
      const poll = await app.polls.get(pollId);
      expect(poll?.status).toBe('ResultPublished');
      expect(poll?.orgId).toBe('city');
      expect(poll?.result?.ballots).toBe(file.votes.length);
      expect([...(poll?.result?.budget?.funded ?? [])].sort()).toEqual([...selected].sort());
      // Every project's approvals as the file states them (the file's own `votes` column).
      const counts = Object.fromEntries(poll!.result!.questions[0]!.options.map((o) => [o.optionId, o.count]));
      for (const p of file.projects) if (p.votes !== undefined) expect(counts[p.id], `project ${p.id}`).toBe(p.votes);
    });

    it('exports the closed poll as the file it was imported from: META, every column, voter ids, dates', async () => {
      const exported = parsePabulib(await runExport(pollId));
      expect(exported).toEqual(file);
      expect(voteMultiset(exported.votes)).toEqual(voteMultiset(file.votes));
    });
  });

  it('exports a poll made in the app (no source file) with index voter ids', async () => {
    const text = readFileSync(new URL('Netherlands_Assen_2024.pb', repoDir), 'utf8');
    const plain = importPabulib({ commands: app.polls.commands, cast: app.polls.cast, now: () => new Date().toISOString(), newPollId: () => randomUUID() });
    const { pollId } = await plain({ text, by: CITY, cast: true, close: true });
    const exported = parsePabulib(await runExport(pollId));
    expect(exported.votes.map((v) => v.voterId)).toEqual(exported.votes.map((_, i) => String(i + 1)));
    expect(exported.voteColumns).toEqual(['voter_id', 'vote']);
    expect(voteMultiset(exported.votes)).toEqual(voteMultiset(parsePabulib(text).votes));
  });

  it('exports only closed budget polls with a published result', async () => {
    const text = readFileSync(new URL('Netherlands_Assen_2024.pb', repoDir), 'utf8');
    const { pollId } = await runImport({ text, by: CITY, cast: true, castLimit: 10 });
    await expect(runExport(pollId)).rejects.toBeInstanceOf(PabulibExportError);
    await expect(runExport('no-such-poll')).rejects.toThrow(/does not exist/);
  });
});
