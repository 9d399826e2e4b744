/**
 * A memory probe for ledger node processes: loaded with `--import`, it appends one JSON line every
 * 250 ms to `$NODE_MEMORY_PROBE_DIR/node-<pid>.jsonl` (default: the system's temporary directory) with
 * the process's RSS, V8 heap (total, used, each space's size), external memory and array buffers, and
 * the heap used when the last mark-compact was reported (read shortly after it, so an upper bound on the
 * live set). Through the app's ledger supervisor:
 *
 *   NODE_MEMORY_PROBE_DIR=/tmp/probe LEDGER_NODE_EXEC_ARGV="--import $PWD/bench/nodeMemoryProbe.mjs" npm run bench -- sealed
 *
 * Plain JavaScript, so that Node loads it before tsx. Tells garbage (old space growing between
 * mark-compacts) from a live set and from memory off the heap.
 */
import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

const file = join(process.env.NODE_MEMORY_PROBE_DIR ?? tmpdir(), `node-${process.pid}.jsonl`);
const mib = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;
let afterMarkCompact = null;
let markCompacts = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
    markCompacts++;
    afterMarkCompact = mib(process.memoryUsage().heapUsed);
  }
}).observe({ entryTypes: ['gc'] });
const id = process.argv.includes('--id') ? process.argv[process.argv.indexOf('--id') + 1] : null;
setInterval(() => {
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, mib(s.space_size)]));
  appendFileSync(file, `${JSON.stringify({ t: Date.now(), id, rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers), afterMarkCompact, markCompacts, spaces })}\n`);
}, 250).unref();
