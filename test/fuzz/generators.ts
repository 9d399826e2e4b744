/**
 * What the fuzz suite sends (fast-check arbitraries) and what it demands of every answer. Shared by the
 * app, portal and ledger-node suites. Settings: FUZZ_RUNS (runs per route; small in `npm test`),
 * FUZZ_SEED (fixed in `npm test`; `npm run fuzz` picks a random one and prints it to replay).
 */
import fc from 'fast-check';

export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 6);
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 1313);

/** fast-check settings for one route: the run count, the seed, and a message that says how to replay. */
export const fuzzParams = (route: string): fc.Parameters<unknown> => ({
  numRuns: FUZZ_RUNS,
  seed: FUZZ_SEED,
  endOnFailure: true,
  // Each route's property is seeded alike; the route name in the message says which one failed.
  reporter: (details) => {
    if (details.failed) throw new Error(`${route}: ${(details.errorInstance as Error | undefined)?.message ?? ''}\n${fc.defaultReportMessage(details)}\nreplay: FUZZ_SEED=${FUZZ_SEED} FUZZ_RUNS=${FUZZ_RUNS} npm run fuzz`);
  },
});

/** Strings a careless or hostile client sends: NUL, lone surrogates, huge numbers, paths, markup, long text. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\uFFFF', '💥', '1e400', '-1', '0', '99999999999999999999', 'NaN', 'null', 'true',
    '../../etc/passwd', '%', '%E0%A4%A', '<script>alert(1)</script>', "' OR 1=1 --", 'javascript:alert(1)', '010-1234-5678', '+821012345678', '2025-13-45T99:99',
    '9999-99-99|id', 'LTF8eA', 'general', 'policy', 'open', 'closed', 'ko', 'en', 'on', 'q1', 'a', 'p1'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.bigInt().map(String),
  fc.double().map(String),
  fc.string({ minLength: 300, maxLength: 2000 }),
);

/** A path segment: a known id most of the time (so handlers run past their look-ups), else nasty. */
export const pathSegment = (known: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: known.length ? fc.constantFrom(...known) : fc.constant('x') },
    { weight: 2, arbitrary: nastyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')) || 'x') },
    { weight: 1, arbitrary: fc.constantFrom('%00', '%ED%A0%80', '%E0%A4%A', '%', '..', '%2F', 'new', '%FF', 'a%00b') },
  );

/** JSON values with deep nesting, huge numbers and nasty strings. */
export const nastyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyString,
    fc.double(),
    fc.integer(),
    fc.constant(1e308),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(nastyString, fc.constantFrom('phone', 'code', 'selections', 'title', 'questions', 'csv', 'text', 'kind', 'settings', 'q1', '__proto__', 'constructor')), tie('value'), { maxKeys: 5 }),
  ),
})).value;

/** A body shaped like what the route wants, with nasty parts: objects with the fields routes read. */
export const plausibleJson: fc.Arbitrary<unknown> = fc.record(
  {
    phone: fc.oneof(nastyString, fc.constant('010-1234-5678')),
    code: nastyString,
    csv: fc.oneof(nastyString, fc.constant('010-1234-5678\n010-9999-0000\nnot a number')),
    selections: fc.oneof(nastyJson, fc.dictionary(fc.constantFrom('q1', 'projects', 'x'), fc.array(fc.oneof(nastyString, fc.constantFrom('a', 'b', 'p1', 'p2')), { maxLength: 30 }))),
    freeText: nastyJson,
    location: fc.oneof(nastyJson, fc.record({ latitude: fc.double(), longitude: fc.double() })),
    text: nastyString,
    links: fc.oneof(nastyJson, fc.array(nastyString, { maxLength: 3 })),
    reflectedPercent: fc.oneof(fc.double(), fc.integer(), nastyString),
    status: nastyString,
    kind: fc.oneof(nastyString, fc.constantFrom('general', 'vs', 'survey', 'policy', 'budget')),
    title: nastyString,
    questions: nastyJson,
    settings: nastyJson,
  },
  { requiredKeys: [] },
);

/** Urlencoded form fields: repeated keys, dotted and bracketed names, many fields. */
export const formFields: fc.Arbitrary<Array<[string, string]>> = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom('phone', 'code', 'text', 'csv', 'title', 'kind', 'choice__q1', 'choice__projects', 'text__q1', 'latitude', 'longitude', '_action', 'questionCount',
        'questions.0.options.0.label', 'questions.0.options.250.label', 'questions.0.optionCount', 'questions.99.text', 'settings.opensAt', 'a[b][c][d][e][f][g][h][i]', 'a[]', 'a[1001]', '__proto__[x]', 'name', 'orgId', 'reason', 'displayName', 'next'),
      nastyString.map((s) => s.slice(0, 30)),
    ),
    fc.oneof(nastyString, fc.constantFrom('a', 'b', 'p1', 'on', 'addOption.0', 'removeQuestion.0', 'refresh')),
  ),
  { maxLength: 40 },
);

export type BodyKind = 'none' | 'json' | 'json-text' | 'form' | 'multipart' | 'text' | 'wrong-type';

/** A request body and its content type; `json-text` is raw text declared as JSON (malformed, trailing garbage, null). */
export interface FuzzBody {
  kind: BodyKind;
  contentType?: string;
  body?: string;
}

export const bodyOf: fc.Arbitrary<FuzzBody> = fc.oneof(
  fc.constant<FuzzBody>({ kind: 'none' }),
  fc.oneof(plausibleJson, nastyJson).map((v) => ({ kind: 'json' as const, contentType: 'application/json', body: JSON.stringify(v) ?? 'null' })),
  fc.constantFrom('{', '{"phone":"010-1234-5678"}x', 'null', '"x"', '[]', '1e999', '{"a":' + '['.repeat(2000), '\u0000', '{"__proto__":{"x":1}}').map((body) => ({ kind: 'json-text' as const, contentType: 'application/json', body })),
  formFields.map((fields) => ({ kind: 'form' as const, contentType: 'application/x-www-form-urlencoded', body: fields.map(([k, v]) => `${encodeURIComponentLoose(k)}=${encodeURIComponentLoose(v)}`).join('&') })),
  fc.constantFrom('x=%E0%A4%A', 'a=%00', 'a[' .repeat(50) + '=1', 'x'.repeat(70_000)).map((body) => ({ kind: 'form' as const, contentType: 'application/x-www-form-urlencoded', body })),
  nastyString.map((s) => ({ kind: 'multipart' as const, contentType: 'multipart/form-data; boundary=B', body: `--B\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n${s}\r\n--B--\r\n` })),
  nastyString.map((s) => ({ kind: 'text' as const, contentType: 'text/plain', body: s })),
  fc.constantFrom('application/xml', 'image/png', 'application/json; charset=latin1', 'multipart/form-data', 'application/x-www-form-urlencoded; charset=utf-16').map((contentType) => ({ kind: 'wrong-type' as const, contentType, body: '<a>1</a>' })),
);

/** Query strings: the parameters routes read, repeated, nasty, percent-broken. */
export const queryOf: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.constantFrom('q', 'tag', 'cursor', 'limit', 'scope', 'state', 'kind', 'district', 'tracker', 'next', 'done', 'text', 'poll', 'start', 'end', 'x'),
      fc.oneof(nastyString.map(encodeURIComponentLoose), fc.constantFrom('%00', '%E0%A4%A', '%ED%A0%80', '%', 'LTF8eA', 'OTk5OS05OS05OXxpZA', '99999999999', '-1', '1e3')),
    ),
    { maxLength: 6 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));

function encodeURIComponentLoose(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')) + '%ED%A0%80';
  }
}

/** A long run's time limit per test: about a second per request on a loaded machine, at least the default. */
export const FUZZ_TIMEOUT_MS = Math.max(180_000, FUZZ_RUNS * 60 * 1000);

export const HANGUL = /[\uAC00-\uD7A3]/;

/**
 * What every refusal must be: not 5xx; a JSON refusal has a stable code and a message in the request's
 * language; a page refusal is a page in that language.
 */
export const refusalProblem = (status: number, contentType: string, text: string, lang: 'ko' | 'en'): string | null => {
  if (status >= 500) return `answered ${status}: ${text.slice(0, 300)}`;
  if (status < 400) return null;
  if (contentType.includes('json')) {
    let body: { error?: { code?: unknown; message?: unknown }; code?: unknown; reason?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return `a ${status} whose JSON does not parse: ${text.slice(0, 200)}`;
    }
    const code = body.error?.code ?? body.code;
    const message = body.error?.message ?? body.reason;
    if (typeof code !== 'string' || !/^[a-z][a-z0-9.-]*$/.test(code)) return `a ${status} without a stable code: ${text.slice(0, 200)}`;
    if (typeof message !== 'string' || message.trim() === '') return `a ${status} (${code}) without a message`;
    if (body.error && lang === 'ko' && !HANGUL.test(message)) return `a ${status} (${code}) whose message is not Korean: ${message}`;
    if (body.error && lang === 'en' && HANGUL.test(message)) return `a ${status} (${code}) whose message is not English: ${message}`;
    return null;
  }
  // A full page names its language; an htmx fragment (no <html>) is part of a page that does.
  if (contentType.includes('html')) return text.includes(`<html lang="${lang}"`) || !/<html[\s>]/i.test(text) ? null : `a ${status} page not in ${lang}`;
  return `a ${status} with neither JSON nor a page (${contentType || 'no type'}): ${text.slice(0, 100)}`;
};
