import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { connectPGlite } from './connect.ts';
import { migrateToLatest } from '../migrations/index.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

it('a new PGlite data directory starts from the kept copy of a fresh initdb, and works like one', async () => {
  const fresh = () => {
    const d = mkdtempSync(join(tmpdir(), 'civic-pglite-'));
    dirs.push(d);
    return join(d, 'db');
  };
  // The first new directory (on a machine without the copy) runs initdb and keeps the copy.
  const first = await connectPGlite(fresh());
  await first.close();
  const cache = new URL('../../../node_modules/.cache/civic-vote/', import.meta.url);
  expect(readdirSync(cache).some((f) => /^pglite-.*-initdb\.tar\.gz$/.test(f))).toBe(true);

  // The next one is loaded from it: a complete cluster that migrates and keeps data across a restart.
  const dir = fresh();
  const db = await connectPGlite(dir);
  expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
  await migrateToLatest(db.kysely);
  await sql`create table probe (x int)`.execute(db.kysely);
  await sql`insert into probe values (42)`.execute(db.kysely);
  await db.close();
  const again = await connectPGlite(dir);
  const { rows } = await sql<{ x: number }>`select x from probe`.execute(again.kysely);
  expect(rows).toEqual([{ x: 42 }]);
  await again.close();
});
