/**
 * The event union is only worth having if a renamed field in a decider's event stops the build wherever
 * the field is read. This compiles the readers against a copy of a decider file with one field renamed
 * (in memory, through the TypeScript compiler API, only the files involved) and asserts each reader
 * fails; the same compile of the unchanged files must pass, so the test fails if the readers stop
 * being typed by the union (`event.data as Record<string, any>` compiles either way).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const file = (relative: string) => path.join(root, relative);

const readers = {
  pollProjections: 'src/app/projections/polls.ts',
  citizenProjection: 'src/app/projections/citizens.ts',
  platformStats: 'src/app/projections/platformStats.ts',
  ledgerEntries: 'src/app/ledger/entries.ts',
};

const options = (() => {
  const config = ts.readConfigFile(file('tsconfig.json'), ts.sys.readFile);
  return ts.parseJsonConfigFileContent(config.config, ts.sys, root).options;
})();

/** Parsed files shared by every compile (the standard library's declarations are most of the work). */
const parsed = new Map<string, ts.SourceFile | undefined>();

/** The files among `readers` that have type errors when `edit` is applied to the text of `edited`. */
function failingReaders(edited?: { file: string; edit: (text: string) => string }): string[] {
  const host = ts.createCompilerHost(options);
  const original = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, onError) => {
    if (edited && path.resolve(name) === file(edited.file)) {
      const text = edited.edit(readFileSync(name, 'utf8'));
      return ts.createSourceFile(name, text, language);
    }
    if (!parsed.has(name)) parsed.set(name, original(name, language, onError));
    return parsed.get(name);
  };
  const program = ts.createProgram(Object.values(readers).map(file), options, host);
  return Object.values(readers).filter((reader) => program.getSemanticDiagnostics(program.getSourceFile(file(reader))).length > 0);
}

/** Renames one field in the one line declaring an event type, and checks the edit took. */
const renameInEvent = (eventType: string, field: string, renamed: string) => (text: string) => {
  const lines = text.split('\n');
  const index = lines.findIndex((line) => line.includes(`type: '${eventType}'`) && line.includes(` ${field}:`));
  expect(index, `${eventType}'s declaration of ${field}`).toBeGreaterThanOrEqual(0);
  lines[index] = lines[index]!.replace(` ${field}:`, ` ${renamed}:`);
  return lines.join('\n');
};

describe('the app event union', () => {
  it('compiles the readers as they are', () => {
    expect(failingReaders()).toEqual([]);
  });

  it('fails to compile every reader of a renamed poll event field', () => {
    const failing = failingReaders({ file: 'src/domain/poll.ts', edit: renameInEvent('PollCreated', 'createdAt', 'createdOn') });
    expect(failing).toEqual(expect.arrayContaining([readers.pollProjections, readers.ledgerEntries]));
  });

  it('fails to compile every reader of a renamed ballot event field', () => {
    const edit = (text: string) => {
      // BallotEvent's data spans several lines: rename the field inside its declaration only.
      const start = text.indexOf('export type BallotEvent');
      const end = text.indexOf('};', start);
      expect(start).toBeGreaterThanOrEqual(0);
      return text.slice(0, start) + text.slice(start, end).replace('replaces:', 'supersedes:') + text.slice(end);
    };
    const failing = failingReaders({ file: 'src/domain/ballot.ts', edit });
    expect(failing).toEqual(expect.arrayContaining([readers.pollProjections, readers.platformStats, readers.ledgerEntries]));
  });

  it('fails to compile the citizen projection when a citizen event field is renamed', () => {
    const failing = failingReaders({ file: 'src/domain/citizen.ts', edit: renameInEvent('OfficialRoleGranted', 'orgId', 'organisationId') });
    expect(failing).toEqual([readers.citizenProjection]);
  });
});
