import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Benchmarks write one section each into BENCHMARKS.md between `<!-- bench:NAME -->` markers, so one
 * benchmark can be re-run without erasing the others. Figures are reported as ratios against a baseline
 * measured in the same run: these machines are shared and noisy.
 */
export interface Bench {
  name: string;
  title: string;
  run(): Promise<string>;
}

const file = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

export const machineLine = (): string =>
  `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`;

export const writeSection = (bench: Bench, body: string): void => {
  const start = `<!-- bench:${bench.name} -->`;
  const end = `<!-- /bench:${bench.name} -->`;
  const section = `${start}\n## ${bench.title}\n\nMeasured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineLine()}.\n\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n`npm run bench` (all) or `npm run bench -- NAME` (one) rewrites its section of this file.\n';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + section + text.slice(to + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
};

export const perSecond = (count: number, ms: number): number => Math.round((count * 1000) / ms);

export const fmt = (n: number): string => n.toLocaleString('en-US');

export const time = async (fn: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

/** Percentile of already sorted numbers. */
export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
