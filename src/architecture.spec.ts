import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

/** The import graph's rules (.dependency-cruiser.cjs), checked here so that `npm test`, and so CI, runs them. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const config = createRequire(import.meta.url)(join(repoRoot, '.dependency-cruiser.cjs')) as IConfiguration;

/** Every forbidden arrow under `roots` of `baseDir`, as `rule: from -> to`. */
const violations = async (baseDir: string, roots: string[], tsConfig = true): Promise<string[]> => {
  const { tsConfig: _ts, ...options } = config.options ?? {};
  const result = await cruise(roots, {
    ...options,
    ...(tsConfig ? { tsConfig: { fileName: join(baseDir, 'tsconfig.json') } } : {}),
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden ?? [] },
  });
  const output = result.output as ICruiseResult;
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
};

describe('the import graph', () => {
  it('has no forbidden arrow and no cycle in src and verify-portal', async () => {
    expect(await violations(repoRoot, ['src', 'verify-portal'])).toEqual([]);
  });

  it('reports each kind of forbidden arrow', async () => {
    // A small tree with one of each: the check would let none of them onto main.
    const dir = mkdtempSync(join(tmpdir(), 'architecture-'));
    try {
      const file = (path: string, text: string) => {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), text);
      };
      file('src/infra/http/routes/page.ts', 'export const page = 1;\n');
      file('src/infra/polls/service.ts', "import type { page } from '../http/routes/page.ts';\nexport type P = typeof page;\n");
      file('src/domain/poll.ts', "import { db } from '../infra/db.ts';\nexport const poll = db;\n");
      file('src/infra/db.ts', 'export const db = 1;\n');
      file('src/app/useCase.ts', "import { db } from '../infra/db.ts';\nexport const useCase = db;\n");
      file('src/ledger/a.ts', "import { b } from './b.ts';\nexport const a = () => b;\n");
      file('src/ledger/b.ts', "import { a } from './a.ts';\nexport const b = () => a;\n");
      file('verify-portal/page.ts', "import { useCase } from '../src/app/useCase.ts';\nexport const portal = useCase;\n");
      file('src/infra/portalUser.ts', "import { portal } from '../../verify-portal/page.ts';\nexport const x = portal;\n");
      const found = await violations(dir, ['src', 'verify-portal'], false);
      expect(found.sort()).toEqual(
        [
          'app-never-imports-portal: src/infra/portalUser.ts -> verify-portal/page.ts',
          'app-through-ports: src/app/useCase.ts -> src/infra/db.ts',
          'domain-is-pure: src/domain/poll.ts -> src/infra/db.ts',
          'no-cycles: src/ledger/a.ts -> src/ledger/b.ts',
          'portal-shares-only-ledger-and-domain: verify-portal/page.ts -> src/app/useCase.ts',
          'routes-only-from-http-and-composition: src/infra/polls/service.ts -> src/infra/http/routes/page.ts',
        ].sort(),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
