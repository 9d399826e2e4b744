#!/usr/bin/env node
/**
 * `node scripts/runBundled.mjs src/cli/x.ts [args…]`: runs a TypeScript command from a one-file esbuild
 * bundle of our own sources (packages stay external, loaded from node_modules as usual), kept in
 * node_modules/.cache/civic-vote/ and rebuilt when the entry or any file it imports changed.
 *
 * Why: `tsx` starts two Node processes and an esbuild service and transforms every file on each run,
 * about a second before the first line of a command runs on a loaded machine. For a short command
 * (`pb:tally` counts a 15,000-voter file in a fraction of that) the start-up was most of the time.
 * Plain JavaScript so that Node runs it without a loader; esbuild is loaded only to rebuild.
 * Only for commands whose sources do not locate files through import.meta.url (the bundle lives
 * elsewhere); the storage-backed commands keep tsx.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [entryArg, ...args] = process.argv.slice(2);
if (!entryArg) {
  console.error('usage: node scripts/runBundled.mjs <entry.ts> [args…]');
  process.exit(2);
}
const entry = resolve(entryArg);
const cacheDir = join(root, 'node_modules', '.cache', 'civic-vote');
const out = join(cacheDir, `${basename(entry, '.ts')}.mjs`);
const inputsFile = `${out}.inputs.json`;

/** The bundle is fresh when it was built from this entry after every input last changed. */
function fresh() {
  try {
    const { entry: builtFrom, inputs } = JSON.parse(readFileSync(inputsFile, 'utf8'));
    if (builtFrom !== entry) return false;
    const built = statSync(out).mtimeMs;
    return inputs.every((file) => statSync(join(root, file)).mtimeMs < built);
  } catch {
    return false;
  }
}

if (!fresh()) {
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    outfile: out,
    logLevel: 'warning',
  });
  mkdirSync(cacheDir, { recursive: true });
  // Written aside and renamed: two runs rebuilding at once never see half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  const inputs = Object.keys(result.metafile.inputs);
  writeFileSync(`${inputsFile}.${process.pid}.tmp`, JSON.stringify({ entry, inputs }));
  renameSync(tmp, out);
  renameSync(`${inputsFile}.${process.pid}.tmp`, inputsFile);
}

// The command sees its own arguments, as under tsx.
process.argv = [process.argv[0], out, ...args];
await import(pathToFileURL(out).href);
