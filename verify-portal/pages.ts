/**
 * The portal's three pages as plain HTML strings. Static text comes from the portal's dictionary in the
 * chosen language; the results are drawn by the browser code (browser/main.ts) with the same one.
 * No inline scripts or styles (the CSP forbids them): the configuration rides in a JSON script element,
 * which the browser never executes.
 */
import { t, type Lang } from './lib/messages.ts';

export type PageName = 'ballot' | 'poll' | 'nodes';

export interface PageConfig {
  nodes: string[];
  verifierKeys: string[];
  origin: string;
  quorum: number;
  /** The citizen site the header links back to, when the portal runs beside one. */
  siteUrl?: string;
}

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const PATHS: Record<PageName, string> = { ballot: '/', poll: '/poll', nodes: '/nodes' };

function nav(lang: Lang, page: PageName): string {
  const q = lang === 'en' ? '?lang=en' : '';
  const item = (name: PageName, key: string): string =>
    `<li><a href="${PATHS[name]}${q}"${name === page ? ' aria-current="page"' : ''}>${esc(t(lang, key))}</a></li>`;
  const other = lang === 'en' ? '' : '?lang=en';
  return `<nav aria-label="${esc(t(lang, 'site.title'))}"><ul>${item('ballot', 'nav.ballot')}${item('poll', 'nav.poll')}${item('nodes', 'nav.nodes')}<li><a href="${PATHS[page]}${other}" hreflang="${lang === 'en' ? 'ko' : 'en'}" lang="${lang === 'en' ? 'ko' : 'en'}">${esc(t(lang, 'nav.lang'))}</a></li></ul></nav>`;
}

/** The site's home in the visitor's language (the site is Korean first too). */
function siteLink(siteUrl: string, lang: Lang): string {
  const url = new URL(siteUrl);
  if (lang === 'en') url.searchParams.set('lang', 'en');
  return url.toString();
}

function keysSection(lang: Lang, config: PageConfig): string {
  return `<section class="keys" aria-labelledby="keys-h"><h2 id="keys-h">${esc(t(lang, 'keys.heading'))}</h2>
<p>${esc(t(lang, 'keys.why'))}</p>
<p>${esc(t(lang, 'keys.origin'))}: <code>${esc(config.origin)}</code></p>
<ul class="key-list">${config.verifierKeys.map((k) => `<li><code>${esc(k)}</code></li>`).join('')}</ul></section>`;
}

function ballotMain(lang: Lang): string {
  return `<h1>${esc(t(lang, 'ballot.heading'))}</h1>
<p>${esc(t(lang, 'ballot.intro'))}</p>
<form id="ballot-form" class="card" novalidate>
  <label for="tracker">${esc(t(lang, 'ballot.tracker'))}</label>
  <p id="tracker-hint" class="hint">${esc(t(lang, 'ballot.trackerHint'))}</p>
  <textarea id="tracker" name="tracker" rows="2" autocomplete="off" autocapitalize="characters" spellcheck="false" aria-describedby="tracker-hint"></textarea>
  <div id="drop-zone" class="drop">
    <label for="receipt-file">${esc(t(lang, 'ballot.file'))}</label>
    <input id="receipt-file" name="receipt" type="file" accept="application/json,.json">
    <p class="hint">${esc(t(lang, 'ballot.drop'))}</p>
  </div>
  <button type="submit">${esc(t(lang, 'ballot.submit'))}</button>
</form>
<div id="result" aria-live="polite"></div>`;
}

function pollMain(lang: Lang): string {
  return `<h1>${esc(t(lang, 'poll.heading'))}</h1>
<p>${esc(t(lang, 'poll.intro'))}</p>
<form id="poll-form" class="card" novalidate>
  <label for="poll-id">${esc(t(lang, 'poll.id'))}</label>
  <input id="poll-id" name="poll" type="text" autocomplete="off" spellcheck="false" required>
  <button type="submit">${esc(t(lang, 'poll.submit'))}</button>
</form>
<div id="progress" aria-live="polite"></div>
<div id="result" aria-live="polite"></div>`;
}

function nodesMain(lang: Lang): string {
  return `<h1>${esc(t(lang, 'nodes.heading'))}</h1>
<p>${esc(t(lang, 'nodes.intro'))}</p>
<button type="button" id="refresh">${esc(t(lang, 'nodes.refresh'))}</button>
<div id="result" aria-live="polite"></div>`;
}

/** A whole page. `config` is published in the page: the keys and nodes this portal trusts. */
export function renderPage(page: PageName, lang: Lang, config: PageConfig): string {
  const main = page === 'ballot' ? ballotMain(lang) : page === 'poll' ? pollMain(lang) : nodesMain(lang);
  // JSON in a script element: escape '<' so no string can close the element.
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(t(lang, `nav.${page}`))} · ${esc(t(lang, 'site.title'))}</title>
<link rel="icon" href="/favicon.ico" sizes="32x32">
<meta name="theme-color" content="#0b57a4">
<link rel="stylesheet" href="/portal.css">
<script type="application/json" id="portal-config">${json}</script>
<script type="module" src="/app.js"></script>
</head>
<body data-page="${page}">
<a class="skip" href="#main">${esc(t(lang, 'skip'))}</a>
<header>${config.siteUrl ? `<p class="back"><a href="${esc(siteLink(config.siteUrl, lang))}">← ${esc(t(lang, 'nav.site'))}</a></p>` : ''}<p class="site"><a href="/${lang === 'en' ? '?lang=en' : ''}">${esc(t(lang, 'site.title'))}</a></p><p class="tagline">${esc(t(lang, 'site.tagline'))}</p>${nav(lang, page)}</header>
<main id="main" tabindex="-1">
<noscript><p class="warn">${esc(t(lang, 'noscript'))}</p></noscript>
${main}
</main>
<footer>${keysSection(lang, config)}</footer>
</body>
</html>`;
}
