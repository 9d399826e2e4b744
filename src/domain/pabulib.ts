/**
 * Pabulib `.pb` files (pabulib.org): parse, turn into a budget poll, and write back.
 *
 * Format: three sections, each introduced by a line `META`, `PROJECTS` or `VOTES`, then a header row,
 * then rows; fields separated by `;`, optionally double-quoted (a quote inside is doubled, and a quoted
 * field may span lines), as Python's csv module writes them. Pure and browser-safe: text in, text out.
 */
import type { BallotSelections, BudgetRule, PollDefinition } from './pollDefinition.ts';

export interface PabulibProject {
  id: string;
  cost: number;
  name?: string;
  /** Approval count as the file states it (not recomputed). */
  votes?: number;
  score?: number;
  /** 1/0 in the file: the official outcome. */
  selected?: boolean;
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

/** Splits into records; a quoted field may contain `;`, `""` and line breaks. */
function tokenize(text: string): Row[] {
  const rows: Row[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let quotedField = false;
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch === '\n' || ch === '\r') {
        fields.push(field);
        if (ch === '\r' && text[i + 1] === '\n') i++;
        if (ch !== undefined) line++;
        i++;
        break;
      }
      if (ch === ';') {
        fields.push(field);
        field = '';
        quotedField = false;
        i++;
      } else if (ch === '"' && field === '' && !quotedField) {
        quotedField = true;
        i++;
        for (;;) {
          const c = text[i];
          if (c === undefined) throw new PabulibParseError(start, 'unterminated quoted field');
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        const after = text[i];
        if (after !== undefined && after !== ';' && after !== '\n' && after !== '\r') {
          throw new PabulibParseError(line, 'unexpected text after a closing quote');
        }
      } else {
        field += ch;
        i++;
      }
    }
    if (!(fields.length === 1 && fields[0]!.trim() === '')) rows.push({ line: start, fields });
  }
  return rows;
}

function setOwn(record: Record<string, string>, key: string, value: string): void {
  // defineProperty, not assignment: a column or meta key named __proto__ must stay plain data.
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

function num(row: Row, column: string, text: string): number {
  const t = text.trim();
  const v = t === '' ? NaN : Number(t);
  if (!Number.isFinite(v)) throw new PabulibParseError(row.line, `${column} is not a number: ${JSON.stringify(text)}`);
  return v;
}

const list = (s: string): string[] => (s.trim() === '' ? [] : s.split(',').map((x) => x.trim()));
const present = (s: string | undefined): s is string => s !== undefined && s.trim() !== '' && s.trim() !== 'None';

const SECTIONS = ['meta', 'projects', 'votes'] as const;
type Section = (typeof SECTIONS)[number];

/**
 * Parses a `.pb` file. Throws {@link PabulibParseError} (with the 1-based line) on malformed input:
 * missing or repeated sections, rows whose field count differs from the header, missing required
 * columns, non-numeric costs, duplicate project or voter ids, votes for unknown projects.
 */
export function parsePabulib(text: string): PabulibFile {
  const rows = tokenize(text);
  const sections = new Map<Section, { line: number; header: string[]; rows: Row[] }>();
  let current: { line: number; header: string[]; rows: Row[] } | undefined;
  for (const row of rows) {
    const name = row.fields.length === 1 ? row.fields[0]!.trim().toLowerCase() : '';
    if ((SECTIONS as readonly string[]).includes(name)) {
      if (sections.has(name as Section)) throw new PabulibParseError(row.line, `section ${name.toUpperCase()} appears twice`);
      current = { line: row.line, header: [], rows: [] };
      sections.set(name as Section, current);
      continue;
    }
    if (!current) throw new PabulibParseError(row.line, 'expected META, PROJECTS or VOTES before any data');
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
  const lastLine = rows.at(-1)?.line ?? 1;
  const section = (name: Section, required: string[]) => {
    const s = sections.get(name);
    if (!s) throw new PabulibParseError(lastLine, `missing section ${name.toUpperCase()}`);
    for (const col of required) {
      if (!s.header.includes(col)) throw new PabulibParseError(s.line + 1, `${name.toUpperCase()} has no column ${col}`);
    }
    return s;
  };
  const metaS = section('meta', []);
  const projectsS = section('projects', ['project_id', 'cost']);
  const votesS = section('votes', ['voter_id', 'vote']);

  const meta: Record<string, string> = {};
  for (const row of metaS.rows) {
    if (row.fields.length !== 2) throw new PabulibParseError(row.line, 'META rows are key;value');
    const key = row.fields[0]!.trim();
    if (Object.hasOwn(meta, key)) throw new PabulibParseError(row.line, `META key ${JSON.stringify(key)} appears twice`);
    setOwn(meta, key, row.fields[1]!);
  }

  const record = (header: string[], row: Row): Record<string, string> => {
    const r: Record<string, string> = {};
    header.forEach((h, i) => setOwn(r, h, row.fields[i]!));
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
    const cost = num(row, 'cost', f.cost!);
    if (cost < 0) throw new PabulibParseError(row.line, `negative cost ${cost}`);
    const p: PabulibProject = { id, cost, fields: f };
    if (f.name !== undefined) p.name = f.name;
    if (present(f.votes)) p.votes = num(row, 'votes', f.votes);
    if (present(f.score)) p.score = num(row, 'score', f.score);
    if (present(f.selected)) {
      const s = f.selected.trim();
      if (s !== '0' && s !== '1') throw new PabulibParseError(row.line, `selected must be 0 or 1, got ${JSON.stringify(s)}`);
      p.selected = s === '1';
    }
    if (present(f.category)) p.category = list(f.category);
    if (present(f.target)) p.target = list(f.target);
    if (present(f.latitude)) p.latitude = num(row, 'latitude', f.latitude);
    if (present(f.longitude)) p.longitude = num(row, 'longitude', f.longitude);
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
    const vote = list(f.vote!);
    for (const id of vote) {
      if (!projectIds.has(id)) throw new PabulibParseError(row.line, `vote for unknown project ${JSON.stringify(id)}`);
    }
    const v: PabulibVote = { voterId, vote, fields: f };
    if (f.points !== undefined) {
      v.points = list(f.points).map((x) => num(row, 'points', x));
      if (v.points.length !== vote.length) throw new PabulibParseError(row.line, 'points and vote have different lengths');
    }
    votes.push(v);
  }
  return { meta, projectColumns: projectsS.header, projects, voteColumns: votesS.header, votes };
}

function metaNumber(meta: Record<string, string>, key: string): number | undefined {
  if (!Object.hasOwn(meta, key) || !present(meta[key])) return undefined;
  const v = Number(meta[key]!.trim());
  if (!Number.isFinite(v)) throw new RangeError(`META ${key} is not a number: ${JSON.stringify(meta[key])}`);
  return v;
}

/** `greedy` for Pabulib's greedy rule, `equal-shares` for its equal-shares / MES variants. */
export function pabulibRule(rule: string | undefined): BudgetRule {
  const r = (rule ?? '').trim().toLowerCase();
  if (r === 'greedy') return 'greedy';
  if (r.startsWith('equalshares') || r.startsWith('equal-shares') || r.startsWith('equal_shares') || r === 'mes' || r.startsWith('mes/') || r.startsWith('mes-')) {
    return 'equal-shares';
  }
  throw new RangeError(`unsupported Pabulib rule ${JSON.stringify(rule)}: only greedy and equal shares`);
}

/**
 * A budget poll from a parsed file: one question `projects` whose options are the projects (cost,
 * district from the project's `district` column, else META subunit/district). Only approval files
 * are accepted; Pabulib ballot constraints we cannot express (max_sum_cost) are dropped.
 */
export function pabulibToPollDefinition(
  pb: PabulibFile,
  opts: { pollId: string; opensAt: string; closesAt: string },
): PollDefinition {
  const { meta } = pb;
  const get = (k: string): string | undefined => (Object.hasOwn(meta, k) && present(meta[k]) ? meta[k]!.trim() : undefined);
  const voteType = get('vote_type') ?? 'approval';
  if (voteType !== 'approval') throw new RangeError(`unsupported vote_type ${JSON.stringify(voteType)}: only approval`);
  const budget = metaNumber(meta, 'budget');
  if (budget === undefined) throw new RangeError('META has no budget');
  const n = pb.projects.length;
  if (n === 0) throw new RangeError('no projects');
  const minChoices = Math.min(metaNumber(meta, 'min_length') ?? 1, n);
  const maxChoices = Math.max(Math.min(metaNumber(meta, 'max_length') ?? n, n), minChoices, 1);
  const area = get('subunit') ?? get('district');
  const title = get('description') ?? [get('unit'), get('instance')].filter(Boolean).join(' ') ?? opts.pollId;
  const def: PollDefinition = {
    pollId: opts.pollId,
    kind: 'budget',
    title: title === '' ? opts.pollId : title,
    tags: ['participatory-budget', 'pabulib'],
    questions: [
      {
        id: 'projects',
        text: title === '' ? opts.pollId : title,
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
    settings: { opensAt: opts.opensAt, closesAt: opts.closesAt, resultsVisibility: 'sealed', allowRevote: false },
    budget: { total: budget, currency: get('currency') ?? 'XXX', rule: pabulibRule(get('rule')) },
  };
  const description = get('comment');
  if (description !== undefined) def.description = description;
  return def;
}

/** One counted ballot of a closed budget poll: the voter's (pseudonymous) id and approved project ids. */
export interface PabulibBallot {
  voterId: string;
  approved: readonly string[];
}

/**
 * The Pabulib view of a closed budget poll: META from the definition (plus `extraMeta`), PROJECTS with
 * cost, votes (counted from the ballots), name and selected, VOTES one row per ballot.
 */
export function pollToPabulib(
  def: PollDefinition,
  ballots: readonly PabulibBallot[],
  selected: readonly string[],
  extraMeta: Readonly<Record<string, string>> = {},
): PabulibFile {
  if (def.kind !== 'budget' || !def.budget || def.questions.length !== 1) throw new RangeError(`poll ${def.pollId} is not a budget poll`);
  const q = def.questions[0]!;
  const counts = new Map(q.options.map((o) => [o.id, 0]));
  for (const b of ballots) for (const id of new Set(b.approved)) {
    const c = counts.get(id);
    if (c === undefined) throw new RangeError(`ballot ${b.voterId} approves unknown project ${JSON.stringify(id)}`);
    counts.set(id, c + 1);
  }
  const chosen = new Set(selected);
  const meta: Record<string, string> = {};
  const put = (k: string, v: string | undefined) => v !== undefined && setOwn(meta, k, v);
  put('description', def.title);
  put('num_projects', String(q.options.length));
  put('num_votes', String(ballots.length));
  put('budget', String(def.budget.total));
  put('vote_type', 'approval');
  put('rule', def.budget.rule === 'greedy' ? 'greedy' : 'equalshares/add1');
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
    return { id: o.id, cost: o.cost, name: o.label, votes: counts.get(o.id)!, selected: chosen.has(o.id), fields };
  });
  const votes = ballots.map((b): PabulibVote => {
    const fields: Record<string, string> = {};
    setOwn(fields, 'voter_id', b.voterId);
    setOwn(fields, 'vote', b.approved.join(','));
    return { voterId: b.voterId, vote: [...b.approved], fields };
  });
  return { meta, projectColumns, projects, voteColumns: ['voter_id', 'vote'], votes };
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
