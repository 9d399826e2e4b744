/**
 * The public verification portal: a separate process on its own port that serves three pages and one
 * browser bundle, and nothing else. It holds no data and reads no database: the browser fetches from the
 * ledger nodes directly (they send CORS *) and re-verifies everything with the same src/ledger code the
 * CLI uses, bundled at start with esbuild (in memory, so there is no build step).
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { keepConnectionsBeyondProxies } from '../src/shared/keepAlive.ts';
import { parseVerifierKeys } from '../src/ledger/index.ts';
import { nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { QUORUM } from './lib/common.ts';
import { langOf } from './lib/messages.ts';
import { renderPage, type PageConfig, type PageName } from './pages.ts';

export interface PortalOptions {
  port: number;
  host?: string;
  /** Base URLs of the four ledger nodes, as the browser will reach them. */
  nodes: string[];
  /** The node keys the portal trusts and publishes: from configuration, never from the nodes. */
  verifierKeys: string[];
  origin: string;
  quorum?: number;
  /** The citizen site, for the "back to the site" link (in the visitor's language). */
  siteUrl?: string;
}

export interface RunningPortal {
  url: string;
  stop(): Promise<void>;
}

/** Bundles verify-portal/browser/main.ts for the browser; cached per process. */
let bundle: Promise<string> | undefined;
export function browserBundle(): Promise<string> {
  bundle ??= build({
    entryPoints: [fileURLToPath(new URL('./browser/main.ts', import.meta.url))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2020',
    minify: true,
    write: false,
    logLevel: 'silent',
  }).then((r) => r.outputFiles[0]!.text);
  return bundle;
}

const PAGES: Record<string, PageName> = { '/': 'ballot', '/poll': 'poll', '/nodes': 'nodes' };

/** Every path the portal serves (GET and HEAD only); tests enumerate it. */
export const PORTAL_PATHS: readonly string[] = [...Object.keys(PAGES), '/app.js', '/portal.css', '/config.json', '/healthz'];

const REFUSALS = {
  'not-found': { ko: '찾을 수 없습니다.', en: 'Not found.' },
  'method-not-allowed': { ko: '이 포털은 읽기(GET)만 받습니다.', en: 'This portal only answers GET requests.' },
  'malformed-url': { ko: '주소의 퍼센트 인코딩이 올바르지 않습니다.', en: 'The address has a malformed percent-encoding.' },
} as const;

const decodedOrNull = (path: string): string | null => {
  try {
    return decodeURIComponent(path);
  } catch {
    return null;
  }
};

/** Starts the portal; rejects if the keys do not parse or the bundle does not build. */
export async function startPortal(options: PortalOptions): Promise<RunningPortal> {
  if (options.nodes.length === 0) throw new Error('the portal needs the ledger nodes’ URLs');
  if (parseVerifierKeys(nodeSha256, options.verifierKeys).length !== options.verifierKeys.length) {
    throw new Error('every ledger verifier key must parse (name+hash+base64 key)');
  }
  const config: PageConfig = { nodes: options.nodes, verifierKeys: options.verifierKeys, origin: options.origin, quorum: options.quorum ?? QUORUM, ...(options.siteUrl ? { siteUrl: options.siteUrl } : {}) };
  const js = await browserBundle();
  const css = readFileSync(fileURLToPath(new URL('./public/portal.css', import.meta.url)), 'utf8');
  const favicon = readFileSync(fileURLToPath(new URL('./public/favicon.ico', import.meta.url)));
  const nodeOrigins = [...new Set(options.nodes.map((n) => new URL(n).origin))].join(' ');
  const headers = {
    'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${nodeOrigins}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };

  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}, cache = 'no-cache'): void => {
      res.writeHead(status, { ...headers, ...extra, 'content-type': type, 'cache-control': cache });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://portal');
    } catch {
      url = new URL('http://portal/!');
    }
    const lang = langOf(url.searchParams.get('lang'));
    /** A refusal: a stable code and a message in the page's language, as JSON like the app's API. */
    const refuse = (status: number, code: keyof typeof REFUSALS, extra: Record<string, string> = {}): void =>
      send(status, 'application/json; charset=utf-8', JSON.stringify({ error: { code, message: REFUSALS[code][lang] } }), extra);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405, 'method-not-allowed', { allow: 'GET, HEAD' });
    if (decodedOrNull(url.pathname) === null) return refuse(400, 'malformed-url');
    const page = PAGES[url.pathname];
    if (page) return send(200, 'text/html; charset=utf-8', renderPage(page, lang, config));
    if (url.pathname === '/app.js') return send(200, 'text/javascript; charset=utf-8', js);
    if (url.pathname === '/portal.css') return send(200, 'text/css; charset=utf-8', css);
    if (url.pathname === '/favicon.ico') {
      res.writeHead(200, { ...headers, 'content-type': 'image/x-icon', 'cache-control': 'public, max-age=86400' });
      res.end(req.method === 'HEAD' ? undefined : favicon);
      return;
    }
    if (url.pathname === '/config.json') return send(200, 'application/json', JSON.stringify(config));
    if (url.pathname === '/healthz') return send(200, 'application/json', '{"ok":true}');
    refuse(404, 'not-found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  keepConnectionsBeyondProxies(server);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * For `npm start`: writes DATA_DIR/ledger.json ({ nodes, verifierKeys, origin }, what `npm run verify`
 * and `npm run audit` read by default) and starts the portal for the app's own local nodes.
 */
export async function startLocalPortal(options: PortalOptions & { dataDir: string }): Promise<RunningPortal> {
  const { dataDir, ...portal } = options;
  writeFileSync(join(dataDir, 'ledger.json'), `${JSON.stringify({ nodes: portal.nodes, verifierKeys: portal.verifierKeys, origin: portal.origin }, null, 2)}\n`);
  return startPortal(portal);
}
