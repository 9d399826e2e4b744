/**
 * Pabulib `.pb` files (pabulib.org): parse, turn into a budget poll, and write back.
 *
 * Format: three sections, each introduced by a line `META`, `PROJECTS` or `VOTES`, then a header row,
 * then rows; fields separated by `;`, optionally double-quoted (a quote inside is doubled, and a quoted
 * field may span lines). Records are read by csv-parse with relaxed quotes, as the format's usual readers
 * (Python's csv module, pandas) accept them: a quote inside an unquoted field (`"Odkupmy" i my - ...`) is
 * kept as text. What csv-parse cannot know (sections, the META header checked before the body, typed
 * columns, exact decimal amounts, META counts) is done here. Pure: text in, text out.
 */
import { CsvRecordsError, csvRecords } from './csvRecords.ts';
import type { BallotSelections, BudgetRule, PollBudget, PollDefinition } from './pollDefinition.ts';

export interface PabulibProject {
  id: string;
  /** The cost as a number whose shortest digits are exactly the decimal written (see {@link parseAmount}). */
  cost: number;
  name?: string;
  /** Approval count as the file states it (not recomputed). */
  votes?: number;
  score?: number;
  /** `selected` = 1 in the file: the official outcome of the file's rule. */
  selected?: boolean;
  /** The `selected` column as written: 0, 1, or 2 (funded for another reason, said in a comment). */
  selectedCode?: string;
  category?: string[];
  target?: string[];
  latitude?: number;
  longitude?: number;
  /** Every column as written, typed ones included, in header order. */
  fields: Record<string, string>;
}

export interface PabulibVote {
  voterId: string;
  vote: string[];
  /** Cumulative / scoring ballots only. */
  points?: number[];
  /** Every column as written, in header order. */
  fields: Record<string, string>;
}

export interface PabulibFile {
  meta: Record<string, string>;
  projectColumns: string[];
  projects: PabulibProject[];
  voteColumns: string[];
  votes: PabulibVote[];
}

export class PabulibParseError extends Error {
  readonly code = 'PABULIB_PARSE';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'PabulibParseError';
  }
}

/** A record and the line it starts on. */
interface Row {
  line: number;
  fields: string[];
}

/** The records of `text`, whose first line is line `firstLine` of the file. */
function records(text: string, firstLine: number): Row[] {
  try {
    return csvRecords(text, [';']).map((r) => ({ line: firstLine - 1 + r.line, fields: r.fields }));
  } catch (error) {
    if (!(error instanceof CsvRecordsError)) throw error;
    throw new PabulibParseError(firstLine - 1 + error.line, error.reason === 'a quote is never closed' ? 'unterminated quoted field' : error.reason);
  }
}

/**
 * The records of `text` (from a PROJECTS or VOTES line on), read section by section: each section's
 * rows after its marker line are read on their own, so that csv-parse sees one column count per read
 * (a column count that changes from the previous record costs it an error object per record, most of
 * the time of a 15,000-voter file). A section that ended inside a quoted field would fail to read on its
 * own; then the whole text is read at once, so the outcome and any error are what one read gives.
 */
function sectionRecords(text: string, firstLine: number): Row[] {
  const marker = /^[ \t]*(PROJECTS|VOTES)[ \t]*(\r\n|\r|\n|$)/gim;
  const cuts: { at: number; bodyAt: number; name: string }[] = [];
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    if (m.index === marker.lastIndex) marker.lastIndex++;
    cuts.push({ at: m.index, bodyAt: m.index + m[0].length, name: m[1]! });
  }
  if (cuts.length === 0 || cuts[0]!.at !== 0) return records(text, firstLine);
  const lineOf = lineCounter(text, firstLine);
  const out: Row[] = [];
  try {
    cuts.forEach((cut, i) => {
      out.push({ line: lineOf(cut.at), fields: [cut.name] });
      const end = i + 1 < cuts.length ? cuts[i + 1]!.at : text.length;
      // A loop, not push(...rows): a section can have more rows than a call can take arguments.
      if (cut.bodyAt < end) for (const row of records(text.slice(cut.bodyAt, end), lineOf(cut.bodyAt))) out.push(row);
    });
  } catch (error) {
    if (error instanceof PabulibParseError) return records(text, firstLine);
    throw error;
  }
  return out;
}

/** The line of a character offset of `text`, whose first line is line `firstLine` (offsets asked in order). */
function lineCounter(text: string, firstLine: number): (offset: number) => number {
  let line = firstLine;
  let at = 0;
  return (offset) => {
    for (; at < offset; at++) {
      const c = text.charCodeAt(at);
      if (c === 10 || (c === 13 && text.charCodeAt(at + 1) !== 10)) line++;
    }
    return line;
  };
}

function setOwn(record: Record<string, string>, key: string, value: string): void {
  // A column or meta key named __proto__ must stay plain data: defineProperty, not assignment (the only
  // key an assignment would not store as data; assignment keeps the objects fast for every other key).
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

function num(row: Row, column: string, text: string): number {
  const t = text.trim();
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) throw new PabulibParseError(row.line, `${column} is not a number: ${JSON.stringify(text)}`);
  return v;
}

/** Most decimals a budget or cost may have: cents (grosze). Every Pabulib file has at most 2. */
export const AMOUNT_DECIMALS = 2;

/**
 * A money amount as written (`322239.55`, `400000.0`, `1330900`), checked to be a plain decimal with at
 * most {@link AMOUNT_DECIMALS} decimals and at most 15 significant digits, so the returned number's
 * shortest digits are exactly that decimal: the budget rules read it back as the decimal, never as the
 * binary fraction. Returns an error text for anything else.
 */
export function parseAmount(text: string): number | string {
  const t = text.trim();
  const m = /^(\d+)(?:\.(\d+))?$/.exec(t);
  if (!m) return `is not a number: ${JSON.stringify(text)}`;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  if (frac.length > AMOUNT_DECIMALS) return `has more than ${AMOUNT_DECIMALS} decimals: ${JSON.stringify(text)}`;
  const int = m[1]!.replace(/^0+(?=\d)/, '');
  if (int.length > 13) return `is too large: ${JSON.stringify(text)}`;
  const value = Number(`${int}${frac ? `.${frac}` : ''}`);
  return value;
}

// Without white space (\s is exactly what trim removes), the pieces need no trim: a VOTES row of a
// 15,000-voter file then makes no array and no string beyond what split makes.
const list = (s: string): string[] => (!/\s/.test(s) ? (s === '' ? [] : s.split(',')) : s.trim() === '' ? [] : s.split(',').map((x) => x.trim()));
/** A vote's project ids, each once: a project listed twice in one vote (real files have it) is one approval. */
function voteIds(text: string): string[] {
  const ids = list(text);
  // Votes are short: a scan beats building a Set for each of thousands of rows.
  if (ids.length > 32) return [...new Set(ids)];
  for (let i = 1; i < ids.length; i++) {
    if (ids.lastIndexOf(ids[i]!, i - 1) >= 0) {
      const once: string[] = [];
      for (const id of ids) if (!once.includes(id)) once.push(id);
      return once;
    }
  }
  return ids;
}
const present = (s: string | undefined): s is string => s !== undefined && s.trim() !== '' && s.trim() !== 'None';

const SECTIONS = ['meta', 'projects', 'votes'] as const;
type Section = (typeof SECTIONS)[number];

/** Vote types a budget poll takes (approval ballots; choose-1 is approval of exactly one project). */
export const SUPPORTED_VOTE_TYPES = ['approval', 'choose-1'] as const;

const REFUSED_VOTE_TYPES: Record<string, string> = {
  cumulative: 'voters spread points over projects, and a budget poll takes approval ballots (each project approved or not); importing would lose the points',
  scoring: 'voters give each project a score, and a budget poll takes approval ballots (each project approved or not); importing would lose the scores',
  ordinal: 'voters rank projects, and a budget poll takes approval ballots (each project approved or not); importing would lose the order',
};

/** How this project counts a Pabulib rule: the poll's budget rule and options, and whether it is the file's rule. */
export interface PabulibRuleInfo {
  name: string;
  budget: Pick<PollBudget, 'rule' | 'completion' | 'comparison' | 'stopAtFirstMisfit'>;
  /** False where the file's rule is not one these rules compute (unknown or city-specific): counted with greedy. */
  reproduces: boolean;
}

const RULES: Record<string, PabulibRuleInfo['budget']> = {
  greedy: { rule: 'greedy' },
  'greedy-threshold': { rule: 'greedy' },
  'greedy-no-skip': { rule: 'greedy', stopAtFirstMisfit: true },
  equalshares: { rule: 'equal-shares', completion: 'none' },
  'equalshares-comparison': { rule: 'equal-shares', completion: 'none', comparison: 'satisfaction' },
  'equalshares/add1': { rule: 'equal-shares', completion: 'add1' },
  'equalshares/add1-comparison': { rule: 'equal-shares', completion: 'add1', comparison: 'satisfaction' },
};

/** Rules Pabulib names whose outcome no general rule gives (city-specific or not known): counted with greedy. */
const NOT_REPRODUCED = ['unknown', 'greedy-custom', 'greedy-exclusive'];

/** Every rule name this project accepts in a file. */
export const PABULIB_RULES: readonly string[] = [...Object.keys(RULES), ...NOT_REPRODUCED];

/** The poll rule for a Pabulib rule name; throws RangeError for a name the format does not define. */
export function pabulibRuleInfo(rule: string | undefined): PabulibRuleInfo {
  const name = (rule ?? '').trim() || 'unknown';
  const known = RULES[name];
  if (known) return { name, budget: known, reproduces: true };
  if (NOT_REPRODUCED.includes(name)) return { name, budget: { rule: 'greedy' }, reproduces: false };
  throw new RangeError(`unsupported Pabulib rule ${JSON.stringify(rule)}: this project counts ${PABULIB_RULES.join(', ')}`);
}

/** `greedy` for Pabulib's greedy rules, `equal-shares` for its Equal Shares rules. */
export function pabulibRule(rule: string | undefined): BudgetRule {
  return pabulibRuleInfo(rule).budget.rule;
}

/**
 * Parses a `.pb` file. Throws {@link PabulibParseError} (with the 1-based line) on malformed input.
 * META is read and checked first (vote_type, rule, budget, the threshold), so a file this project cannot
 * count is refused for that reason before its body is read. Then: rows whose field count differs from
 * the header, missing required columns, amounts that are not decimals, duplicate project or voter ids,
 * votes for unknown projects, and META num_projects / num_votes that differ from the rows (a file cut
 * short).
 */
export function parsePabulib(input: string): PabulibFile {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  // META ends at the first line that is PROJECTS or VOTES.
  const boundary = /^[ \t]*(PROJECTS|VOTES)[ \t]*\r?$/im.exec(text);
  const headText = boundary ? text.slice(0, boundary.index) : text;
  const headLines = headText.split(/\r\n|\r|\n/).length - 1;
  const head = records(headText, 1);
  const { meta, metaLine, metaS } = readMeta(head, boundary ? headLines + 1 : 1);
  checkHeader(meta, metaLine);

  const rows = [...head.slice(metaS), ...(boundary ? sectionRecords(text.slice(boundary.index), headLines + 1) : [])];
  const sections = new Map<Section, { line: number; header: string[]; rows: Row[] }>();
  let current: { line: number; header: string[]; rows: Row[] } | undefined;
  for (const row of rows) {
    const name = row.fields.length === 1 ? row.fields[0]!.trim().toLowerCase() : '';
    if ((SECTIONS as readonly string[]).includes(name) && name !== 'meta') {
      if (sections.has(name as Section)) throw new PabulibParseError(row.line, `section ${name.toUpperCase()} appears twice`);
      current = { line: row.line, header: [], rows: [] };
      sections.set(name as Section, current);
      continue;
    }
    if (name === 'meta') throw new PabulibParseError(row.line, 'section META appears twice');
    if (!current) throw new PabulibParseError(row.line, 'expected PROJECTS or VOTES after META');
    if (current.header.length === 0) {
      current.header = row.fields.map((f) => f.trim());
      const dup = current.header.find((h, i) => current!.header.indexOf(h) !== i);
      if (dup !== undefined) throw new PabulibParseError(row.line, `column ${JSON.stringify(dup)} appears twice`);
      continue;
    }
    if (row.fields.length !== current.header.length) {
      throw new PabulibParseError(row.line, `expected ${current.header.length} fields, found ${row.fields.length}`);
    }
    current.rows.push(row);
  }
  const lastLine = rows.at(-1)?.line ?? head.at(-1)?.line ?? 1;
  const section = (name: Section, required: string[]) => {
    const s = sections.get(name);
    if (!s) throw new PabulibParseError(lastLine, `missing section ${name.toUpperCase()}`);
    for (const col of required) {
      if (!s.header.includes(col)) throw new PabulibParseError(s.line + 1, `${name.toUpperCase()} has no column ${col}`);
    }
    return s;
  };
  const projectsS = section('projects', ['project_id', 'cost']);
  const votesS = section('votes', ['voter_id', 'vote']);

  const record = (header: string[], row: Row): Record<string, string> => {
    const r: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) setOwn(r, header[i]!, row.fields[i]!);
    return r;
  };

  const projects: PabulibProject[] = [];
  const projectIds = new Set<string>();
  for (const row of projectsS.rows) {
    const f = record(projectsS.header, row);
    const id = f.project_id!.trim();
    if (id === '') throw new PabulibParseError(row.line, 'empty project_id');
    if (projectIds.has(id)) throw new PabulibParseError(row.line, `duplicate project_id ${JSON.stringify(id)}`);
    projectIds.add(id);
    const cost = parseAmount(f.cost!);
    if (typeof cost === 'string') throw new PabulibParseError(row.line, `cost ${cost}`);
    const p: PabulibProject = { id, cost, fields: f };
    if (f.name !== undefined) p.name = f.name;
    if (present(f.votes)) p.votes = num(row, 'votes', f.votes);
    if (present(f.score)) p.score = num(row, 'score', f.score);
    if (present(f.selected)) {
      const s = f.selected.trim();
      if (!/^\d$/.test(s)) throw new PabulibParseError(row.line, `selected must be 0, 1 or 2, got ${JSON.stringify(s)}`);
      p.selected = s === '1';
      p.selectedCode = s;
    }
    if (present(f.category)) p.category = list(f.category);
    if (present(f.target)) p.target = list(f.target);
    // Coordinates are research metadata: kept as written, typed only when they are numbers.
    if (present(f.latitude) && Number.isFinite(Number(f.latitude))) p.latitude = Number(f.latitude);
    if (present(f.longitude) && Number.isFinite(Number(f.longitude))) p.longitude = Number(f.longitude);
    projects.push(p);
  }

  const votes: PabulibVote[] = [];
  const voterIds = new Set<string>();
  for (const row of votesS.rows) {
    const f = record(votesS.header, row);
    const voterId = f.voter_id!.trim();
    if (voterId === '') throw new PabulibParseError(row.line, 'empty voter_id');
    if (voterIds.has(voterId)) throw new PabulibParseError(row.line, `duplicate voter_id ${JSON.stringify(voterId)}`);
    voterIds.add(voterId);
    const vote = voteIds(f.vote!);
    for (const id of vote) {
      if (!projectIds.has(id)) throw new PabulibParseError(row.line, `vote for unknown project ${JSON.stringify(id)}`);
    }
    const v: PabulibVote = { voterId, vote, fields: f };
    if (f.points !== undefined) {
      v.points = list(f.points).map((x) => num(row, 'points', x));
      if (v.points.length !== list(f.vote!).length) throw new PabulibParseError(row.line, 'points and vote have different lengths');
    }
    votes.push(v);
  }

  const counted = (key: string, actual: number, what: string) => {
    if (!Object.hasOwn(meta, key) || !present(meta[key])) return;
    const stated = Number(meta[key]!.trim());
    if (!Number.isInteger(stated)) throw new PabulibParseError(metaLine.get(key)!, `META ${key} is not a whole number: ${JSON.stringify(meta[key])}`);
    if (stated !== actual) {
      throw new PabulibParseError(
        metaLine.get(key)!,
        `META ${key} says ${stated} but the file has ${actual} ${what}${actual < stated ? ' (is the file cut short?)' : ''}`,
      );
    }
  };
  counted('num_projects', projects.length, 'projects');
  counted('num_votes', votes.length, 'votes');
  return { meta, projectColumns: projectsS.header, projects, voteColumns: votesS.header, votes };
}

function readMeta(head: Row[], firstBodyLine: number): { meta: Record<string, string>; metaLine: Map<string, number>; metaS: number } {
  const first = head[0];
  if (!first || !(first.fields.length === 1 && first.fields[0]!.trim().toLowerCase() === 'meta')) {
    throw new PabulibParseError(first?.line ?? firstBodyLine, 'expected META before any data');
  }
  const header = head[1];
  if (!header || header.fields.map((f) => f.trim()).join(';') !== 'key;value') {
    throw new PabulibParseError(header?.line ?? first.line + 1, 'META must start with the header key;value');
  }
  const meta: Record<string, string> = {};
  const metaLine = new Map<string, number>();
  for (const row of head.slice(2)) {
    if (row.fields.length !== 2) throw new PabulibParseError(row.line, `META rows are key;value, found ${row.fields.length} fields`);
    const key = row.fields[0]!.trim();
    if (Object.hasOwn(meta, key)) throw new PabulibParseError(row.line, `META key ${JSON.stringify(key)} appears twice`);
    setOwn(meta, key, row.fields[1]!);
    metaLine.set(key, row.line);
  }
  return { meta, metaLine, metaS: head.length };
}

/** The header checks made before the body is read: what kind of vote, which rule, the budget. */
function checkHeader(meta: Record<string, string>, metaLine: Map<string, number>): void {
  const get = (k: string) => (Object.hasOwn(meta, k) && present(meta[k]) ? meta[k]!.trim() : undefined);
  const lineOf = (k: string) => metaLine.get(k) ?? 2;
  const voteType = get('vote_type') ?? 'approval';
  if (!(SUPPORTED_VOTE_TYPES as readonly string[]).includes(voteType)) {
    const why = REFUSED_VOTE_TYPES[voteType] ?? `only ${SUPPORTED_VOTE_TYPES.join(' and ')} votes are supported`;
    throw new PabulibParseError(lineOf('vote_type'), `vote_type ${voteType} is not supported: ${why}`);
  }
  try {
    pabulibRuleInfo(get('rule'));
  } catch (error) {
    if (error instanceof RangeError) throw new PabulibParseError(lineOf('rule'), error.message);
    throw error;
  }
  const budget = get('budget');
  if (budget === undefined) throw new PabulibParseError(lineOf('budget'), 'META has no budget');
  const amount = parseAmount(budget);
  if (typeof amount === 'string') throw new PabulibParseError(lineOf('budget'), `budget ${amount}`);
  const threshold = get('min_project_score_threshold');
  if (threshold !== undefined && !/^\d+$/.test(threshold)) {
    throw new PabulibParseError(lineOf('min_project_score_threshold'), `min_project_score_threshold must be a whole number, got ${JSON.stringify(threshold)}`);
  }
  for (const key of ['min_length', 'max_length']) {
    const v = get(key);
    if (v !== undefined && !/^\d+$/.test(v)) throw new PabulibParseError(lineOf(key), `${key} must be a whole number, got ${JSON.stringify(v)}`);
  }
}

const metaGet = (meta: Record<string, string>, k: string): string | undefined =>
  Object.hasOwn(meta, k) && present(meta[k]) ? meta[k]!.trim() : undefined;

/** The budget of a poll counted the way the file's rule says (threshold from META for the greedy rules). */
export function pabulibBudget(pb: PabulibFile): PollBudget & { reproduces: boolean; ruleName: string } {
  const { meta } = pb;
  const info = pabulibRuleInfo(metaGet(meta, 'rule'));
  const total = parseAmount(metaGet(meta, 'budget') ?? '');
  if (typeof total === 'string') throw new RangeError(`META budget ${total}`);
  const budget: PollBudget = { total, currency: metaGet(meta, 'currency') ?? 'XXX', ...info.budget };
  const threshold = Number(metaGet(meta, 'min_project_score_threshold') ?? '0');
  // A threshold of 0 or 1 changes nothing: greedy never funds a project nobody approved.
  if (info.budget.rule === 'greedy' && threshold > 1) budget.minApprovals = threshold;
  return { ...budget, reproduces: info.reproduces, ruleName: info.name };
}

const TITLE_MAX = 200;
const DESCRIPTION_MAX = 5000;
const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/**
 * A budget poll from a parsed file: one question `projects` whose options are the projects (cost,
 * district from the project's `district` column, else META subunit/district). Approval and choose-1
 * files only (parsePabulib refuses the others). Pabulib ballot constraints we cannot express
 * (max_sum_cost) are dropped; the poll keeps the file itself (see importPabulib) so nothing is lost.
 */
export function pabulibToPollDefinition(
  pb: PabulibFile,
  opts: { pollId: string; opensAt: string; closesAt: string },
): PollDefinition {
  const { meta } = pb;
  const get = (k: string): string | undefined => metaGet(meta, k);
  const voteType = get('vote_type') ?? 'approval';
  if (!(SUPPORTED_VOTE_TYPES as readonly string[]).includes(voteType)) {
    throw new RangeError(`unsupported vote_type ${JSON.stringify(voteType)}: only ${SUPPORTED_VOTE_TYPES.join(' and ')}`);
  }
  const n = pb.projects.length;
  if (n === 0) throw new RangeError('no projects');
  const { reproduces: _r, ruleName: _n, ...budget } = pabulibBudget(pb);
  const lengths = voteType === 'choose-1' ? { min: 1, max: 1 } : { min: Number(get('min_length') ?? 1), max: Number(get('max_length') ?? n) };
  const minChoices = Math.min(lengths.min, n);
  const maxChoices = Math.max(Math.min(lengths.max, n), minChoices, 1);
  const area = get('subunit') ?? get('district');
  const title = clip(get('description') ?? ([get('unit'), get('instance')].filter(Boolean).join(' ') || opts.pollId), TITLE_MAX);
  const def: PollDefinition = {
    pollId: opts.pollId,
    kind: 'budget',
    title,
    tags: ['participatory-budget', 'pabulib'],
    questions: [
      {
        id: 'projects',
        text: title,
        options: pb.projects.map((p) => {
          const district = present(p.fields.district) ? p.fields.district.trim() : area;
          return {
            id: p.id,
            label: p.name !== undefined && p.name.trim() !== '' ? p.name : p.id,
            ...(present(p.fields.description) ? { description: p.fields.description } : {}),
            cost: p.cost,
            ...(district !== undefined ? { district } : {}),
          };
        }),
        minChoices,
        maxChoices,
      },
    ],
    // Live, not sealed: a Pabulib file is published open data whose every ballot is already public, so
    // sealing its replayed ballots (encrypted to the ledger nodes' key until close) would hide nothing.
    settings: { opensAt: opts.opensAt, closesAt: opts.closesAt, resultsVisibility: 'live', allowRevote: false },
    budget,
  };
  const description = get('comment');
  if (description !== undefined) def.description = clip(description, DESCRIPTION_MAX);
  return def;
}

/** One counted ballot of a closed budget poll: the voter's (pseudonymous) id and approved project ids. */
export interface PabulibBallot {
  voterId: string;
  approved: readonly string[];
}

/** The Pabulib rule name for a poll's budget rule and options. */
export function pabulibRuleName(budget: PollBudget): string {
  if (budget.rule === 'greedy') return budget.stopAtFirstMisfit ? 'greedy-no-skip' : budget.minApprovals !== undefined ? 'greedy-threshold' : 'greedy';
  const base = (budget.completion ?? 'add1') === 'add1' ? 'equalshares/add1' : 'equalshares';
  return budget.comparison === 'satisfaction' ? `${base}-comparison` : base;
}

/**
 * The Pabulib view of a closed budget poll made in this app: META from the definition (plus
 * `extraMeta`), PROJECTS with cost, votes (counted from the ballots), name and selected, VOTES one row
 * per ballot. A poll imported from a file is exported by {@link exportImportedPabulib} instead.
 */
export function pollToPabulib(
  def: PollDefinition,
  ballots: readonly PabulibBallot[],
  selected: readonly string[],
  extraMeta: Readonly<Record<string, string>> = {},
): PabulibFile {
  if (def.kind !== 'budget' || !def.budget || def.questions.length !== 1) throw new RangeError(`poll ${def.pollId} is not a budget poll`);
  const q = def.questions[0]!;
  const counts = approvalCountsOf(q.options.map((o) => o.id), ballots);
  const chosen = new Set(selected);
  const meta: Record<string, string> = {};
  const put = (k: string, v: string | undefined) => v !== undefined && setOwn(meta, k, v);
  put('description', def.title);
  put('num_projects', String(q.options.length));
  put('num_votes', String(ballots.length));
  put('budget', String(def.budget.total));
  put('vote_type', 'approval');
  put('rule', pabulibRuleName(def.budget));
  if (def.budget.minApprovals !== undefined) put('min_project_score_threshold', String(def.budget.minApprovals));
  put('date_begin', def.settings.opensAt);
  put('date_end', def.settings.closesAt);
  put('min_length', String(q.minChoices));
  put('max_length', String(q.maxChoices));
  put('currency', def.budget.currency);
  for (const [k, v] of Object.entries(extraMeta)) put(k, v);

  const hasDistrict = q.options.some((o) => o.district !== undefined);
  const projectColumns = ['project_id', 'cost', 'votes', 'name', 'selected', ...(hasDistrict ? ['district'] : [])];
  const projects = q.options.map((o): PabulibProject => {
    if (o.cost === undefined) throw new RangeError(`project ${JSON.stringify(o.id)} has no cost`);
    const fields: Record<string, string> = {};
    setOwn(fields, 'project_id', o.id);
    setOwn(fields, 'cost', String(o.cost));
    setOwn(fields, 'votes', String(counts.get(o.id)));
    setOwn(fields, 'name', o.label);
    setOwn(fields, 'selected', chosen.has(o.id) ? '1' : '0');
    if (hasDistrict) setOwn(fields, 'district', o.district ?? '');
    const sel = chosen.has(o.id);
    return { id: o.id, cost: o.cost, name: o.label, votes: counts.get(o.id)!, selected: sel, selectedCode: sel ? '1' : '0', fields };
  });
  const votes = ballots.map((b): PabulibVote => {
    const fields: Record<string, string> = {};
    setOwn(fields, 'voter_id', b.voterId);
    setOwn(fields, 'vote', b.approved.join(','));
    return { voterId: b.voterId, vote: [...b.approved], fields };
  });
  return { meta, projectColumns, projects, voteColumns: ['voter_id', 'vote'], votes };
}

function approvalCountsOf(ids: readonly string[], ballots: readonly PabulibBallot[]): Map<string, number> {
  const counts = new Map(ids.map((id) => [id, 0]));
  for (const b of ballots) for (const id of new Set(b.approved)) {
    const c = counts.get(id);
    if (c === undefined) throw new RangeError(`ballot ${b.voterId} approves unknown project ${JSON.stringify(id)}`);
    counts.set(id, c + 1);
  }
  return counts;
}

/**
 * The file a poll was imported from, brought up to date with what the poll counted: everything as the
 * file had it (META in order with its dates and keys, every project column, every vote column and the
 * voters' ids) except what the poll decides. `num_votes` is the number of counted ballots; a project's
 * `votes` is its count of approvals; `selected` is the published outcome, unless the outcome is the
 * file's own official one, in which case the column stays as written (codes like 2 included). Each
 * counted ballot of a file voter keeps that voter's row (its vote column rewritten only if it differs);
 * ballots of anyone else get new numeric ids after the file's and empty extra columns.
 *
 * @param ballots counted ballots; `fileVoterId` names the file voter who cast it, when one did.
 */
export function exportImportedPabulib(
  source: PabulibFile,
  ballots: readonly { fileVoterId: string | null; approved: readonly string[] }[],
  funded: readonly string[],
): PabulibFile {
  const sourceVotes = new Map(source.votes.map((v) => [v.voterId, v]));
  const counts = approvalCountsOf(source.projects.map((p) => p.id), ballots.map((b, i) => ({ voterId: String(i), approved: b.approved })));
  const chosen = new Set(funded);
  const official = source.projects.filter((p) => p.selected).map((p) => p.id);
  const keepSelected = official.length === chosen.size && official.every((id) => chosen.has(id)) && source.projectColumns.includes('selected');

  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(source.meta)) setOwn(meta, k, v);
  if (Object.hasOwn(meta, 'num_votes')) setOwn(meta, 'num_votes', String(ballots.length));
  if (Object.hasOwn(meta, 'num_projects')) setOwn(meta, 'num_projects', String(source.projects.length));

  const projectColumns = source.projectColumns.includes('selected') ? [...source.projectColumns] : [...source.projectColumns, 'selected'];
  const projects = source.projects.map((p): PabulibProject => {
    const fields: Record<string, string> = {};
    for (const c of source.projectColumns) setOwn(fields, c, p.fields[c]!);
    const votes = counts.get(p.id)!;
    if (Object.hasOwn(fields, 'votes') && Number(fields.votes) !== votes) setOwn(fields, 'votes', String(votes));
    if (!keepSelected) setOwn(fields, 'selected', chosen.has(p.id) ? '1' : '0');
    const out: PabulibProject = { ...p, fields };
    if (p.votes !== undefined) out.votes = votes;
    if (!keepSelected) {
      out.selected = chosen.has(p.id);
      out.selectedCode = fields.selected!;
    }
    return out;
  });

  const byVoter = new Map<string, readonly string[]>();
  const others: (readonly string[])[] = [];
  for (const b of ballots) {
    if (b.fileVoterId !== null && sourceVotes.has(b.fileVoterId) && !byVoter.has(b.fileVoterId)) byVoter.set(b.fileVoterId, b.approved);
    else others.push(b.approved);
  }
  const votes: PabulibVote[] = [];
  for (const v of source.votes) {
    const approved = byVoter.get(v.voterId);
    if (approved === undefined) continue;
    const same = approved.length === v.vote.length && approved.every((id) => v.vote.includes(id));
    if (same) {
      votes.push(v);
      continue;
    }
    const fields: Record<string, string> = {};
    for (const c of source.voteColumns) setOwn(fields, c, v.fields[c]!);
    setOwn(fields, 'vote', approved.join(','));
    votes.push({ voterId: v.voterId, vote: [...approved], fields });
  }
  let next = 1;
  for (const approved of others) {
    while (sourceVotes.has(String(next))) next++;
    const voterId = String(next++);
    const fields: Record<string, string> = {};
    for (const c of source.voteColumns) setOwn(fields, c, '');
    setOwn(fields, 'voter_id', voterId);
    setOwn(fields, 'vote', approved.join(','));
    votes.push({ voterId, vote: [...approved], fields });
  }
  return { meta, projectColumns, projects, voteColumns: [...source.voteColumns], votes };
}

function quote(field: string): string {
  return /[;"\r\n]/.test(field) || field !== field.trim() ? `"${field.replaceAll('"', '""')}"` : field;
}

/**
 * Writes a parsed (or {@link pollToPabulib}-built) file back as `.pb` text, from each row's `fields` in
 * column order; `parsePabulib(serializePabulib(pb))` deep-equals `pb`.
 */
export function serializePabulib(pb: PabulibFile): string {
  const out: string[] = ['META', 'key;value'];
  for (const [k, v] of Object.entries(pb.meta)) out.push(`${quote(k)};${quote(v)}`);
  const section = (name: string, columns: string[], rows: { fields: Record<string, string> }[]) => {
    out.push(name, columns.map(quote).join(';'));
    for (const r of rows) out.push(columns.map((c) => quote(Object.hasOwn(r.fields, c) ? r.fields[c]! : '')).join(';'));
  };
  section('PROJECTS', pb.projectColumns, pb.projects);
  section('VOTES', pb.voteColumns, pb.votes);
  return out.join('\n') + '\n';
}

/** Approved project ids per ballot, in the shape the budget rules take. */
export function pabulibApprovals(pb: PabulibFile): string[][] {
  return pb.votes.map((v) => v.vote);
}

/** A file's votes as poll ballots for the `projects` question (for casting through the real path). */
export function pabulibBallotSelections(pb: PabulibFile): { voterId: string; selections: BallotSelections }[] {
  return pb.votes.map((v) => ({ voterId: v.voterId, selections: { selections: { projects: [...v.vote] } } }));
}
