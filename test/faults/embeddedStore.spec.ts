/**
 * One writer per embedded PGlite data directory: a second process on a data directory in
 * use is refused with what to do instead, `npm run admin:create` works while the app runs (the app does
 * the write), and an app killed with SIGKILL starts again on its directory (its lock is stale).
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectPGlite } from '../../src/infra/db/connect.ts';
import { freshDataDir, spawnApp, type AppProcess } from './support/appProcess.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A CLI of the project as an operator runs it (`npm run <name>` runs `tsx <script>`). */
const cli = async (script: string, args: string[], dataDir: string): Promise<{ code: number; stdout: string; stderr: string }> => {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: repoRoot,
      env: { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: 'warn', DATABASE_URL: '' },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

// About the embedded store only, whatever TEST_DATABASE_URL says: CI runs it once, in its PGlite pass.
const secondPass = Boolean(process.env.TEST_DATABASE_URL);
if (secondPass) console.log('the embedded-store fault test ran in the PGlite pass; not repeated in the PostgreSQL pass');

describe.skipIf(secondPass)('the embedded database has one writer', () => {
  const dataDir = freshDataDir();
  let app: AppProcess | undefined;
  const env = { DATA_DIR: dataDir, DATABASE_URL: '', LEDGER_NODES: 'none', SERVER_SECRET: 'cd'.repeat(32) };
  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('admin:create while the app runs is done by the app and kept; a second writer is refused with what to do; a killed app starts again', async () => {
    app = await spawnApp(env);

    const created = await cli('src/cli/adminCreate.ts', ['010-5555-0101', 'Fault Admin'], dataDir);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/administrator ready: citizen [0-9a-f-]{36} \(done by the running app/);
    const citizenId = /citizen ([0-9a-f-]{36})/.exec(created.stdout)![1]!;

    // A CLI that would open the database itself is refused, and told why and what to do.
    const rebuild = await cli('src/cli/rebuildProjections.ts', [], dataDir);
    expect(rebuild.code).not.toBe(0);
    expect(rebuild.stderr).toContain(`is in use by process ${app.child.pid}`);
    expect(rebuild.stderr).toContain('stop that process first');
    // So is a second app on the same directory; the first one goes on serving.
    await expect(spawnApp(env)).rejects.toThrow(/is in use by process/);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);

    // Killed as a crash would: the next start takes over the stale lock, and the administrator is there.
    await app.kill();
    app = await spawnApp(env);
    await app.stop();
    app = undefined;
    const db = await connectPGlite(`${dataDir}/app-pglite`);
    try {
      const row = await db.kysely.selectFrom('citizens').select(['id', 'roles']).where('id', '=', citizenId).executeTakeFirst();
      expect(row?.roles).toContain('admin');
    } finally {
      await db.close();
    }
  });
});
