/**
 * The portal's browser code. Every check runs here, with the pure src/ledger code (noble hashes and
 * signatures), against answers fetched straight from the ledger nodes: the portal server is trusted
 * only to deliver this code and the published keys, both of which anyone can compare with other copies.
 * Results are drawn with textContent only, never innerHTML, because everything shown came from a node.
 */
import { nobleEd25519, nobleSha256 } from '../../src/ledger/index.ts';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { auditPoll, type PollAudit } from '../lib/auditPoll.ts';
import { checkBallot, parseBallotInput, type BallotCheck, type BallotInput } from '../lib/checkBallot.ts';
import type { CheckLine, VerifyContext } from '../lib/common.ts';
import { t, langOf } from '../lib/messages.ts';
import { nodeStatus, type NodeStatusReport } from '../lib/nodeStatus.ts';
import type { PageConfig } from '../pages.ts';

const lang = langOf(document.documentElement.lang);
const config = JSON.parse(document.getElementById('portal-config')!.textContent!) as PageConfig;
const ctx: VerifyContext = {
  clients: config.nodes.map((u) => createNodeClient(u)),
  verifierKeys: config.verifierKeys,
  origin: config.origin,
  quorum: config.quorum,
  h: nobleSha256,
  ed: nobleEd25519,
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

const result = (): HTMLElement => document.getElementById('result')!;

/** One line per check: ✓/✗ and words (never colour alone), the detail behind a <details>. */
function renderLines(lines: CheckLine[]): HTMLElement {
  return el(
    'ol',
    { class: 'checks' },
    ...lines.map((l) =>
      el(
        'li',
        { class: l.ok ? 'ok' : 'fail', 'data-code': l.code, 'data-ok': String(l.ok) },
        el('span', { class: 'mark', 'aria-hidden': 'true' }, l.ok ? '✓' : '✗'),
        el('span', { class: 'visually-hidden' }, `${t(lang, l.ok ? 'check.ok' : 'check.failed')}: `),
        el('span', { class: 'what' }, t(lang, `check.${l.code}.${l.ok ? 'ok' : 'fail'}`)),
        el('details', {}, el('summary', {}, t(lang, 'check.detail')), el('code', {}, l.detail)),
      ),
    ),
  );
}

function summary(ok: boolean | null, text: string, extra: Record<string, string> = {}): HTMLElement {
  return el('p', { class: `verdict ${ok === null ? 'pending' : ok ? 'ok' : 'fail'}`, id: 'verdict', role: 'status', ...extra }, text);
}

function busy(on: boolean): void {
  result().setAttribute('aria-busy', String(on));
  document.querySelectorAll('button').forEach((b) => (b.disabled = on));
}

// ---- check a ballot ----------------------------------------------------------------------------------

async function runBallot(input: BallotInput | { error: string }): Promise<void> {
  busy(true);
  let check: BallotCheck;
  try {
    check = 'error' in input ? { ok: false, lines: [{ code: 'entry-hash', ok: false, detail: input.error }] } : await checkBallot(input, ctx);
  } finally {
    busy(false);
  }
  const out = result();
  const replacedBy = check.ok && check.receipt ? await laterBallotReplacing(check.receipt.entry) : null;
  out.replaceChildren(
    summary(check.ok, t(lang, check.ok ? (replacedBy ? 'ballot.okReplaced' : 'ballot.ok') : 'ballot.fail'), { 'data-ok': String(check.ok), ...(replacedBy ? { 'data-replaced': 'true' } : {}) }),
    ...(replacedBy ? [el('p', { class: 'notice replaced', id: 'replaced' }, t(lang, 'ballot.replaced', { at: new Date(replacedBy.at).toLocaleString(lang === 'ko' ? 'ko-KR' : 'en-GB', { timeZone: 'Asia/Seoul', dateStyle: 'medium', timeStyle: 'short' }) }))] : []),
    renderLines(check.lines),
  );
  const entry = check.receipt?.entry;
  if (entry && typeof entry === 'object') {
    out.append(
      el('details', { class: 'entry' }, el('summary', {}, t(lang, 'ballot.entry')), el('pre', {}, JSON.stringify(check.receipt, null, 2))),
    );
  }
  out.querySelector<HTMLElement>('#verdict')?.focus();
}

/**
 * The voter's later ballot in the same poll that replaced this one (a re-vote), if any: the ledger keeps
 * both, and only the last counts. Found among the poll's entries on the nodes (the first that answers).
 */
async function laterBallotReplacing(entry: { pollId: string; kind: string; data: unknown }): Promise<{ at: string } | null> {
  // A re-vote's `replaces` names the ballot id of the ballot it supersedes.
  const ballotId = (entry.data as { ballotId?: unknown } | null)?.ballotId;
  if (entry.kind !== 'ballot' || typeof ballotId !== 'string') return null;
  for (const client of ctx.clients) {
    try {
      const entries = await client.pollEntries(entry.pollId);
      if (!entries) continue;
      for (const { entry: text } of entries) {
        const other = JSON.parse(text) as { kind?: string; at?: string; data?: { replaces?: unknown } };
        if (other.kind === 'ballot' && other.data?.replaces === ballotId && typeof other.at === 'string') return { at: other.at };
      }
      return null;
    } catch {
      // Try the next node.
    }
  }
  return null;
}

function initBallot(): void {
  const form = document.getElementById('ballot-form') as HTMLFormElement;
  const text = document.getElementById('tracker') as HTMLTextAreaElement;
  const file = document.getElementById('receipt-file') as HTMLInputElement;
  const zone = document.getElementById('drop-zone')!;
  const fromFile = async (f: File | undefined): Promise<void> => {
    if (f) await runBallot(parseBallotInput(await f.text()));
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (text.value.trim() !== '') void runBallot(parseBallotInput(text.value));
    else void fromFile(file.files?.[0]);
  });
  file.addEventListener('change', () => void fromFile(file.files?.[0]));
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    void fromFile(e.dataTransfer?.files[0]);
  });
  const preset = new URLSearchParams(location.search).get('tracker');
  if (preset) {
    text.value = preset;
    void runBallot(parseBallotInput(preset));
  }
}

// ---- check a poll ------------------------------------------------------------------------------------

function recountTable(audit: PollAudit): HTMLElement | null {
  const tally = audit.recount;
  if (!tally) return null;
  const wrap = el('section', { class: 'recount', 'aria-labelledby': 'recount-h' }, el('h2', { id: 'recount-h' }, t(lang, 'poll.recount')));
  // Question and option texts from the poll's own definition on the ledger; ids only where it has none.
  const definition = audit.definition;
  const questionText = (id: string) => definition?.questions.find((q) => q.id === id)?.text ?? id;
  const optionLabel = (qid: string, oid: string) => definition?.questions.find((q) => q.id === qid)?.options.find((o) => o.id === oid)?.label ?? oid;
  for (const q of tally.questions) {
    wrap.append(
      el(
        'table',
        {},
        el('caption', {}, questionText(q.questionId)),
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, t(lang, 'poll.option')), el('th', { scope: 'col' }, t(lang, 'poll.votes')))),
        el('tbody', {}, ...q.options.map((o) => el('tr', { 'data-option': o.optionId }, el('th', { scope: 'row' }, optionLabel(q.questionId, o.optionId)), el('td', {}, String(o.count))))),
      ),
    );
  }
  if (tally.budget) {
    const qid = tally.questions[0]?.questionId ?? '';
    wrap.append(el('p', {}, `${t(lang, 'poll.funded')}: ${tally.budget.funded.map((id) => optionLabel(qid, id)).join(', ')}`));
  }
  return wrap;
}

async function runPoll(pollId: string): Promise<void> {
  const progress = document.getElementById('progress')!;
  busy(true);
  result().replaceChildren();
  let audit: PollAudit;
  try {
    audit = await auditPoll(pollId, ctx, (p) => {
      progress.textContent = t(lang, 'poll.progress', { done: p.done.toLocaleString(), total: p.total.toLocaleString() });
    });
  } finally {
    busy(false);
  }
  progress.textContent = '';
  const ok = audit.verdict === 'verified' ? true : audit.verdict === 'failed' ? false : null;
  const out = result();
  out.replaceChildren(summary(ok, t(lang, `poll.verdict.${audit.verdict}`), { 'data-verdict': audit.verdict }), renderLines(audit.lines));
  const table = recountTable(audit);
  if (table) out.append(table);
  if (audit.openData) {
    const blob = new Blob([JSON.stringify(audit.openData)], { type: 'application/json' });
    out.append(el('p', {}, el('a', { class: 'button', id: 'download', href: URL.createObjectURL(blob), download: `poll-${pollId}-audit.json` }, t(lang, 'poll.download'))));
  }
  out.querySelector<HTMLElement>('#verdict')?.focus();
}

function initPoll(): void {
  const form = document.getElementById('poll-form') as HTMLFormElement;
  const input = document.getElementById('poll-id') as HTMLInputElement;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value.trim() !== '') void runPoll(input.value.trim());
  });
  const preset = new URLSearchParams(location.search).get('poll');
  if (preset) {
    input.value = preset;
    void runPoll(preset);
  }
}

// ---- node status -------------------------------------------------------------------------------------

function renderStatus(report: NodeStatusReport): void {
  const rows = report.nodes.map((n, i) =>
    el(
      'tr',
      { 'data-node': String(i + 1) },
      el('th', { scope: 'row' }, n.url),
      el('td', {}, !n.reachable ? t(lang, 'nodes.unreachable') : n.storeProblem ? t(lang, 'nodes.storeProblem') : String(n.latest?.size ?? '-')),
      el('td', {}, el('code', {}, n.latest?.root ?? '-')),
      el('td', {}, n.latest ? `${n.latest.signers.length} (${n.latest.signers.join(', ')})` : '-'),
    ),
  );
  const table = el(
    'table',
    { class: 'nodes' },
    el('thead', {}, el('tr', {}, ...['nodes.node', 'nodes.size', 'nodes.root', 'nodes.signers'].map((k) => el('th', { scope: 'col' }, t(lang, k))))),
    el('tbody', {}, ...rows),
  );
  const misbehaving = report.misbehaving.map((m) =>
    el(
      'li',
      { class: 'fail', 'data-signer': m.signer },
      el('strong', {}, `${m.signer}: ${t(lang, 'nodes.misbehaving')}`),
      el('details', {}, el('summary', {}, t(lang, 'check.detail')), el('p', { lang: 'en' }, m.reason)),
      el('details', {}, el('summary', {}, t(lang, 'nodes.evidence')), el('pre', {}, m.evidence[0]), el('pre', {}, m.evidence[1])),
    ),
  );
  const storeProblems = report.storeProblems
    .filter((p) => !report.misbehaving.some((m) => m.signer === p.name))
    .map((p) => el('li', { class: 'fail', 'data-signer': p.name, 'data-store-problem': 'true' }, el('strong', {}, `✗ ${p.name}: ${t(lang, 'nodes.storeProblem')}`), el('details', {}, el('summary', {}, t(lang, 'check.detail')), el('p', { lang: 'en' }, p.problem))));
  const honest = config.verifierKeys
    .map((k) => k.split('+')[0]!)
    .filter((name) => !report.misbehaving.some((m) => m.signer === name) && !report.storeProblems.some((p) => p.name === name))
    .map((name) => el('li', { class: 'ok', 'data-signer': name }, `✓ ${name}: ${t(lang, 'nodes.honest')}`));
  const allWell = report.agree && report.misbehaving.length === 0 && report.storeProblems.length === 0;
  result().replaceChildren(
    summary(allWell, t(lang, !report.agree ? 'nodes.disagree' : report.storeProblems.length > 0 ? 'nodes.agreeButProblem' : 'nodes.agree'), { 'data-agree': String(report.agree) }),
    // The detail is technical English (node URLs, sizes, hashes), like every check's detail: behind "details".
    el('details', { class: 'hint' }, el('summary', {}, t(lang, 'check.detail')), el('p', { lang: 'en' }, report.agreementDetail)),
    table,
    el('ul', { class: 'signers' }, ...misbehaving, ...storeProblems, ...honest),
  );
}

async function runNodes(): Promise<void> {
  busy(true);
  try {
    renderStatus(await nodeStatus(ctx));
  } finally {
    busy(false);
  }
}

function initNodes(): void {
  document.getElementById('refresh')!.addEventListener('click', () => void runNodes());
  void runNodes();
}

const page = document.body.dataset.page;
if (page === 'ballot') initBallot();
else if (page === 'poll') initPoll();
else if (page === 'nodes') initNodes();
