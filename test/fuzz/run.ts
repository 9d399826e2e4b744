/**
 * `npm run fuzz`: the fuzz suite with many runs per route (FUZZ_RUNS, 2000 by default) and a random
 * seed (or FUZZ_SEED to replay one), printed first so a failure can be replayed. `npm test` runs the
 * same suite with a fixed seed and a few runs per route.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

const seed = process.env.FUZZ_SEED ?? String(randomInt(1, 2 ** 31 - 1));
const runs = process.env.FUZZ_RUNS ?? '2000';
console.log(`fuzz: seed ${seed}, ${runs} runs per route (replay: FUZZ_SEED=${seed} FUZZ_RUNS=${runs} npm run fuzz)`);
const started = Date.now();
const result = spawnSync('npx', ['vitest', 'run', 'test/fuzz', ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, FUZZ_SEED: seed, FUZZ_RUNS: runs } });
console.log(`fuzz: ${result.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s; seed ${seed}, ${runs} runs per route`);
process.exit(result.status ?? 1);
