/**
 * The 250,000-voter participatory-budget scenario for k6 (v1+, which runs TypeScript directly):
 *
 *   npm run load:provision -- --voters 250000 --create-poll      # writes load-tests/.data/voters.jsonl
 *   k6 run load-tests/k6/budget250k.ts                            # env: see below
 *
 * Two arrival-rate phases, one after the other: a steady phase, then a peak. Each iteration is one
 * voter (a distinct line of the voters file): load the poll page, then cast one ballot through the JSON
 * API with the session cookie and the x-csrf-token header. Thresholds fail the run on p99 latency,
 * errors and dropped iterations (k6 counts an arrival as dropped when no VU was free to start it).
 *
 * Env: VOTERS_FILE (relative to this script), BASE_URL, POLL_ID (default: from the file's header),
 * STEADY_RATE (700/s), PEAK_RATE (1000/s), PEAK_FRACTION (0.2), PAGE_PATH (/polls/{pollId}),
 * FETCH_CSRF=1 to ask GET /api/session for the token instead of using the file's.
 */
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import { selectionOf } from '../runner/selection.ts';

interface Header {
  baseUrl?: string;
  pollId?: string;
  questionId?: string;
  optionIds?: string[];
  maxChoices?: number;
  count: number;
}
interface Voter {
  cookie: string;
  csrf: string;
}

const file = __ENV.VOTERS_FILE ?? '../.data/voters.jsonl';
const lines = new SharedArray('voters-file', () => open(file).split('\n').filter((l) => l.trim() !== ''));
const header = JSON.parse(lines[0] as string) as Header;
const voterCount = lines.length - 1;
const voterAt = (i: number): Voter => JSON.parse(lines[i + 1] as string) as Voter;

const BASE_URL = __ENV.BASE_URL ?? header.baseUrl ?? 'http://127.0.0.1:3000';
const POLL_ID = __ENV.POLL_ID ?? header.pollId ?? '';
const QUESTION = header.questionId ?? 'q1';
const OPTIONS = header.optionIds ?? [];
const MAX_CHOICES = header.maxChoices ?? 5;
const PAGE_PATH = (__ENV.PAGE_PATH ?? '/polls/{pollId}').replace('{pollId}', POLL_ID);
const STEADY_RATE = Number(__ENV.STEADY_RATE ?? 700);
const PEAK_RATE = Number(__ENV.PEAK_RATE ?? 1000);
const PEAK_FRACTION = Number(__ENV.PEAK_FRACTION ?? 0.2);

const peakVoters = Math.round(voterCount * PEAK_FRACTION);
const steadyVoters = voterCount - peakVoters;
const steadySeconds = Math.max(1, Math.ceil(steadyVoters / STEADY_RATE));
const peakSeconds = Math.max(1, Math.ceil(peakVoters / PEAK_RATE));

const accepted = new Counter('ballots_accepted');

export const options: Options = {
  discardResponseBodies: false,
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: STEADY_RATE,
      timeUnit: '1s',
      duration: `${steadySeconds}s`,
      preAllocatedVUs: Math.ceil(STEADY_RATE / 4),
      maxVUs: 2000,
      env: { VOTER_OFFSET: '0', VOTER_LIMIT: String(steadyVoters) },
    },
    peak: {
      executor: 'constant-arrival-rate',
      rate: PEAK_RATE,
      timeUnit: '1s',
      duration: `${peakSeconds}s`,
      startTime: `${steadySeconds}s`,
      preAllocatedVUs: Math.ceil(PEAK_RATE / 4),
      maxVUs: 2000,
      env: { VOTER_OFFSET: String(steadyVoters), VOTER_LIMIT: String(peakVoters) },
    },
  },
  thresholds: {
    'http_req_duration{name:ballot}': ['p(99)<100'],
    'http_req_duration{name:page}': ['p(99)<200'],
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    dropped_iterations: ['count==0'],
  },
};

export default function voter(): void {
  const n = exec.scenario.iterationInTest;
  if (n >= Number(__ENV.VOTER_LIMIT)) return;
  const index = Number(__ENV.VOTER_OFFSET) + n;
  const v = voterAt(index);
  const page = http.get(`${BASE_URL}${PAGE_PATH}`, { headers: { Cookie: v.cookie }, tags: { name: 'page' } });
  if (!check(page, { 'page 200': (r) => r.status === 200 })) return;
  let csrf = v.csrf;
  if (__ENV.FETCH_CSRF === '1') {
    const session = http.get(`${BASE_URL}/api/session`, { headers: { Cookie: v.cookie }, tags: { name: 'session' } });
    csrf = String(session.json('csrfToken') ?? '');
  }
  const body = JSON.stringify({ selections: { [QUESTION]: selectionOf(index, OPTIONS, MAX_CHOICES) } });
  const ballot = http.post(`${BASE_URL}/api/polls/${POLL_ID}/ballots`, body, {
    headers: { Cookie: v.cookie, 'x-csrf-token': csrf, 'content-type': 'application/json', accept: 'application/json' },
    tags: { name: 'ballot' },
  });
  if (check(ballot, { 'ballot 201': (r) => r.status === 201 })) accepted.add(1);
}
