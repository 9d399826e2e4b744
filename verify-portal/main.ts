/**
 * `tsx verify-portal/main.ts`: the portal on its own, configured by PORTAL_PORT, LEDGER_NODES (four
 * comma-separated URLs), LEDGER_KEYS (their verifier keys, comma-separated) and LEDGER_ORIGIN; SITE_URL
 * (optional) is the citizen site the header links back to.
 * The keys come from configuration on purpose: see the portal page's "Node keys this portal trusts".
 */
import { startPortal } from './server.ts';

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
const nodes = list(process.env.LEDGER_NODES);
const verifierKeys = list(process.env.LEDGER_KEYS);
const origin = process.env.LEDGER_ORIGIN ?? '';
if (nodes.length === 0 || verifierKeys.length === 0 || origin === '') {
  console.error('set LEDGER_NODES (node URLs), LEDGER_KEYS (their verifier keys) and LEDGER_ORIGIN (the log origin)');
  process.exit(2);
}
const siteUrl = process.env.SITE_URL;
const portal = await startPortal({ port: Number(process.env.PORTAL_PORT ?? 3100), host: process.env.PORTAL_HOST ?? '127.0.0.1', nodes, verifierKeys, origin, ...(siteUrl ? { siteUrl } : {}) });
console.log(`verification portal: ${portal.url}/`);
const stop = (): void => void portal.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
