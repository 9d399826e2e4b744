import { writeSection, type Bench } from './harness.ts';
import { eventStoreBench } from './eventStore.bench.ts';
import { loadBench } from './load.bench.ts';
import { ledgerBench } from './ledger.bench.ts';
import { portalBench } from './portal.bench.ts';
import { tamperBench } from './tamper.bench.ts';
import { pabulibBench } from './pabulib.bench.ts';
import { scaleoutBench } from './scaleout.bench.ts';
import { sealedBench } from './sealed.bench.ts';
import { historyBench } from './history.bench.ts';
import { trackerIndexBench } from './trackerIndex.bench.ts';
import { nodeStartupBench } from './nodeStartup.bench.ts';

/**
 * `npm run bench [-- NAME ...]`: runs the named benchmarks (all by default) and rewrites their sections
 * of BENCHMARKS.md. The npm script points TEST_DATABASE_URL at 127.0.0.1:5432 unless it is set.
 */
const benches: Bench[] = [eventStoreBench, loadBench, ledgerBench, portalBench, tamperBench, pabulibBench, scaleoutBench, sealedBench, historyBench, trackerIndexBench, nodeStartupBench];
const wanted = process.argv.slice(2);
for (const bench of benches.filter((b) => wanted.length === 0 || wanted.includes(b.name))) {
  console.log(`== ${bench.title}`);
  const body = await bench.run();
  console.log(body);
  writeSection(bench, body);
}
