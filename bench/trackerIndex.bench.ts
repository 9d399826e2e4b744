import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskHashIndex } from '../src/ledger/node/recordFile.ts';
import { fmt, loadAverage, percentile, type Bench } from './harness.ts';

/**
 * A ledger node's receipt look-up by tracker (GET /v1/tracker/:code) as its log grows: the node's
 * DiskHashIndex (src/ledger/node/recordFile.ts) filled with random tracker codes to 250,000, 1,000,000
 * and 4,000,000 entries (its default memory part of 65,536), and at each size the time of look-ups of
 * codes it holds and of codes it does not (the index's part only: the node then reads each candidate's
 * entry to confirm it). The 250,000 figures are the baseline of the same run: flat cost means the 4
 * million ones are no worse. BENCH_TRACKER_MAX: the largest size (default 4,000,000).
 */
const SIZES = [250_000, 1_000_000, 4_000_000].filter((n) => n <= Number(process.env.BENCH_TRACKER_MAX ?? 4_000_000));
const LOOKUPS = 20_000;

const code = (): string => randomBytes(6).toString('hex');

export const trackerIndexBench: Bench = {
  name: 'tracker-index',
  title: 'Receipt look-up by tracker as the log grows (issue 14)',
  run: async () => {
    const load = loadAverage();
    const dir = mkdtempSync(join(tmpdir(), 'bench-trackers-'));
    const index = new DiskHashIndex(join(dir, 'trackers'));
    const held: string[] = [];
    const rows: string[] = [];
    let added = 0;
    let slowestAdd = 0;
    let baseline: { hit: number; miss: number } | null = null;
    try {
      for (const size of SIZES) {
        const t0 = performance.now();
        for (; added < size; added++) {
          const key = code();
          // One in 200 kept for look-ups (a sample over the whole log, old and new alike).
          if (added % 200 === 0) held.push(key);
          const a = performance.now();
          index.add(key, added);
          slowestAdd = Math.max(slowestAdd, performance.now() - a);
        }
        const fillMs = performance.now() - t0;
        const time = (keys: string[]): { meanUs: number; p99Us: number } => {
          const each: number[] = [];
          for (const k of keys) {
            const a = performance.now();
            index.candidates(k);
            each.push((performance.now() - a) * 1000);
          }
          each.sort((x, y) => x - y);
          return { meanUs: each.reduce((s, x) => s + x, 0) / each.length, p99Us: percentile(each, 99) };
        };
        const hits = time(Array.from({ length: LOOKUPS }, (_, k) => held[(k * 7919) % held.length]!));
        const misses = time(Array.from({ length: LOOKUPS }, code));
        baseline ??= { hit: hits.meanUs, miss: misses.meanUs };
        rows.push(
          `| ${fmt(size)} | ${index.runCount} | ${hits.meanUs.toFixed(1)} (${(hits.meanUs / baseline.hit).toFixed(2)}×) | ${hits.p99Us.toFixed(1)} | ${misses.meanUs.toFixed(1)} (${(misses.meanUs / baseline.miss).toFixed(2)}×) | ${fmt(Math.round(((size - (SIZES[SIZES.indexOf(size) - 1] ?? 0)) * 1000) / fillMs))} | ${slowestAdd.toFixed(0)} |`,
        );
      }
    } finally {
      index.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return [
      `Machine load average when the run started: ${load}. One process, the index's files in the OS temp directory (page cache warm, as on a node that just wrote them); ${fmt(LOOKUPS)} look-ups of held codes (a sample across the whole log) and ${fmt(LOOKUPS)} of unknown codes at each size.`,
      '',
      '| entries | sorted runs on disk | held code: µs per look-up (vs 250,000) | held p99 µs | unknown code: µs (vs 250,000) | adds/s since the last size | slowest add, ms (a run sorted and written; merges paced over the adds) |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
  },
};
