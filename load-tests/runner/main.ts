/**
 * `npm run load:run -- --voters-file load-tests/.data/voters.jsonl --rate 500 --peak-rate 1000`
 *
 * Runs the budget-poll scenario against a running deployment on loopback, prints a summary (or JSON with
 * --json), writes the full report with --out, and exits 1 when a threshold fails. `--retries 1` lets each
 * voter try a step once more after no answer or a 5xx (an instance behind the balancer died).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { budgetPhases, DEFAULT_THRESHOLDS, formatReport, runBudgetScenario } from './scenario.ts';
import { readVotersFile } from './voters.ts';

const { values } = parseArgs({
  options: {
    'voters-file': { type: 'string', default: 'load-tests/.data/voters.jsonl' },
    'base-url': { type: 'string' },
    poll: { type: 'string' },
    voters: { type: 'string' },
    rate: { type: 'string', default: '500' },
    'peak-rate': { type: 'string' },
    'peak-fraction': { type: 'string', default: '0.2' },
    'page-path': { type: 'string', default: '/polls/{pollId}' },
    'no-page': { type: 'boolean', default: false },
    /** A constant rate for this long instead of the steady/peak/steady schedule (saturation runs). */
    'constant-seconds': { type: 'string' },
    'max-in-flight': { type: 'string', default: '2000' },
    'timeout-ms': { type: 'string', default: '10000' },
    'grace-ms': { type: 'string', default: '15000' },
    /** Tries again after no answer or a 5xx (an instance behind the balancer died); 0: none. */
    retries: { type: 'string', default: '0' },
    'p99-ms': { type: 'string', default: String(DEFAULT_THRESHOLDS.ballotP99Ms) },
    'page-p99-ms': { type: 'string', default: String(DEFAULT_THRESHOLDS.pageP99Ms) },
    'max-error-rate': { type: 'string', default: String(DEFAULT_THRESHOLDS.maxErrorRate) },
    'max-dropped': { type: 'string', default: String(DEFAULT_THRESHOLDS.maxDropped) },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const num = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
};

const { header, voters: all } = readVotersFile(values['voters-file']!);
const baseUrl = values['base-url'] ?? header.baseUrl;
const pollId = values.poll ?? header.pollId;
if (!baseUrl || !pollId) throw new Error('--base-url and --poll are needed when the voters file does not name them');
const count = values.voters ? Math.min(num('voters'), all.length) : all.length;
const rate = num('rate');
const report = await runBudgetScenario({
  baseUrl,
  pollId,
  questionId: header.questionId ?? 'q1',
  optionIds: header.optionIds ?? [],
  maxChoices: header.maxChoices ?? 5,
  voters: all.slice(0, count),
  phases: values['constant-seconds']
    ? [{ name: 'constant', rate, durationMs: num('constant-seconds') * 1000 }]
    : budgetPhases(count, rate, values['peak-rate'] ? num('peak-rate') : rate * 2, num('peak-fraction')),
  pagePath: values['no-page'] ? null : values['page-path']!,
  maxInFlight: num('max-in-flight'),
  timeoutMs: num('timeout-ms'),
  gracefulStopMs: num('grace-ms'),
  retries: num('retries'),
  thresholds: { ballotP99Ms: num('p99-ms'), pageP99Ms: num('page-p99-ms'), maxErrorRate: num('max-error-rate'), maxDropped: num('max-dropped') },
});
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2));
console.log(values.json ? JSON.stringify(report) : formatReport(report));
process.exitCode = report.ok ? 0 : 1;
