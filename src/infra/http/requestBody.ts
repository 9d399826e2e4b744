/**
 * What a request may carry before any route sees it: JSON and urlencoded bodies parsed with co-body
 * (the parser @koa/bodyparser wraps; used directly because @koa/bodyparser does not pass qs options
 * through, and qs's default `arrayLimit` of 20 turned a budget ballot with 21 ticked projects into an
 * object), a size limit per route, and text that PostgreSQL and JSON can store: no NUL character, no
 * lone UTF-16 surrogate, no malformed percent-encoding in the path. Every refusal is a RequestRefused
 * with a stable code, which the error handler answers in the request's language.
 */
import parse from 'co-body';
import type { Context, Middleware } from 'koa';

/** A request refused before it reached a route: 400 (malformed), 413 (too large) or 415. */
export class RequestRefused extends Error {
  readonly expose = true;
  constructor(
    readonly status: 400 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Bytes a body may have, by route; the first matching pattern wins. */
export interface BodyLimit {
  path: RegExp;
  bytes: number;
}

const KB = 1024;
const MB = 1024 * KB;

/**
 * The default limits. Voter rolls (pasted or through the API as `{ csv }`) are the largest bodies:
 * about 200,000 numbers in 5 MB. Poll definitions and the admin poll form (200 options of 2,000
 * characters) need up to 2 MB. Everything else (sign-in, ballots of 150 projects, comments, lifecycle
 * buttons) fits in 64 KB.
 */
export const BODY_LIMITS: readonly BodyLimit[] = [
  { path: /^\/(api|admin)\/polls\/[^/]+\/roll$/, bytes: 6 * MB },
  { path: /^\/(api\/polls|admin\/polls|admin\/polls\/[^/]+\/edit|polls\/new)$/, bytes: 2 * MB },
  { path: /./, bytes: 64 * KB },
];

export const bodyLimitOf = (path: string, limits: readonly BodyLimit[] = BODY_LIMITS): number =>
  limits.find((l) => l.path.test(path))?.bytes ?? 64 * KB;

/**
 * qs options for urlencoded forms: dotted names nest (`questions.0.options.1.label`), repeated names
 * stay arrays (a checkbox per project: real budget votes have 50-150), and a form beyond the limits is
 * refused instead of being silently truncated or reshaped.
 */
export const FORM_OPTIONS = { allowDots: true, arrayLimit: 1000, parameterLimit: 10_000, depth: 8, throwOnLimitExceeded: true } as const;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const refusalOfParseError = (error: unknown, limit: number): RequestRefused => {
  const e = error as { type?: string; status?: number; name?: string };
  if (e.type === 'entity.too.large') return new RequestRefused(413, 'request.too-large', `The request body is larger than ${Math.round(limit / KB)} KB`);
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new RequestRefused(415, 'request.unsupported-encoding', 'The request body has an encoding this server does not read');
  if (e.name === 'RangeError') return new RequestRefused(413, 'request.too-many-fields', 'The form has too many fields');
  if (e.name === 'SyntaxError') return new RequestRefused(400, 'request.malformed-json', 'The request body is not valid JSON');
  return new RequestRefused(400, 'request.malformed-body', 'The request body could not be read');
};

/**
 * Parses JSON (`application/json`, `+json`) and urlencoded bodies into `ctx.request.body`, which is
 * always a plain object ({} without a body). A body already set (the multipart upload reader) is kept;
 * other content types are not read.
 */
export const requestBody = (limits: readonly BodyLimit[] = BODY_LIMITS): Middleware => async (ctx, next) => {
  if (!BODY_METHODS.has(ctx.method) || ctx.request.body !== undefined) return next();
  const limit = bodyLimitOf(ctx.path, limits);
  let body: unknown = {};
  try {
    if (ctx.request.is('application/json', 'application/*+json')) body = await parse.json(ctx, { limit, strict: true });
    else if (ctx.request.is('application/x-www-form-urlencoded')) body = await parse.form(ctx, { limit, queryString: FORM_OPTIONS });
  } catch (error) {
    throw refusalOfParseError(error, limit);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestRefused(400, 'request.not-an-object', 'The request body must be a JSON object');
  ctx.request.body = body;
  await next();
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text PostgreSQL and JSON can hold as it is: no NUL and no lone surrogate. */
export const isStorableText = (s: string): boolean => !s.includes('\u0000') && !LONE_SURROGATE.test(s);

/** Whether every string (and key) in a parsed body or query is storable text; nesting is bounded by the parsers. */
export const allStorable = (value: unknown, depth = 0): boolean => {
  if (typeof value === 'string') return isStorableText(value);
  if (depth > 64 || value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every((v) => allStorable(v, depth + 1));
  return Object.entries(value).every(([k, v]) => isStorableText(k) && allStorable(v, depth + 1));
};

/** The path with percent-escapes decoded, or null when they are malformed (`%E0%A4%A`). */
export const decodedPath = (path: string): string | null => {
  try {
    return decodeURIComponent(path);
  } catch {
    return null;
  }
};

const refuseText = (): RequestRefused =>
  new RequestRefused(400, 'request.invalid-text', 'The request contains a character that is not allowed (a NUL character or a broken Unicode sequence)');

/** Before body parsing: the path must decode to storable text, and so must the query. */
export const checkPathAndQuery: Middleware = async (ctx, next) => {
  const path = decodedPath(ctx.path);
  if (path === null) throw new RequestRefused(400, 'request.malformed-url', 'The address has a malformed percent-encoding');
  if (!isStorableText(path) || !allStorable(ctx.query)) throw refuseText();
  await next();
};

/** After body parsing (and after the upload reader): every string of the body must be storable text. */
export const checkBodyText: Middleware = async (ctx: Context, next) => {
  if (ctx.request.body !== undefined && !allStorable(ctx.request.body)) throw refuseText();
  await next();
};
