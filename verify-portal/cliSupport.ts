/**
 * What `npm run verify`, `npm run audit` and `npm run audit-signed` share: where the ledger is and which keys to trust, and how
 * a check line prints. Server-side (node:fs); the checks themselves are the portal's, in lib/.
 *
 * The target comes from --nodes/--keys/--origin, else LEDGER_NODES/LEDGER_KEYS/LEDGER_ORIGIN, else
 * DATA_DIR/ledger.json ({ nodes, verifierKeys, origin }, written by `npm start` for its local nodes).
 * Keys are never learnt from the nodes themselves: a tampered node would vouch for itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createNodeClient } from '../src/ledger/nodeClient.ts';
import { nodeEd25519, nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { QUORUM, type CheckLine, type VerifyContext } from './lib/common.ts';
import { t } from './lib/messages.ts';

export class UsageError extends Error {}

const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

/** Parses argv into the positional argument, extra flags and a verification context. Throws UsageError. */
export function cliContext(argv: string[], extra: Record<string, { type: 'string' | 'boolean' }> = {}, needsArg = true): { arg: string; values: Record<string, unknown>; ctx: VerifyContext } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { nodes: { type: 'string' }, keys: { type: 'string' }, origin: { type: 'string' }, 'data-dir': { type: 'string' }, ...extra },
  });
  const arg = positionals[0] ?? '';
  if (needsArg && !arg) throw new UsageError('missing argument');
  const file = join(String(values['data-dir'] ?? process.env.DATA_DIR ?? './data'), 'ledger.json');
  const saved = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { nodes?: string[]; verifierKeys?: string[]; origin?: string }) : {};
  const nodes = list(values.nodes as string | undefined).length ? list(values.nodes as string) : list(process.env.LEDGER_NODES).length ? list(process.env.LEDGER_NODES) : (saved.nodes ?? []);
  const verifierKeys = list(values.keys as string | undefined).length ? list(values.keys as string) : list(process.env.LEDGER_KEYS).length ? list(process.env.LEDGER_KEYS) : (saved.verifierKeys ?? []);
  const origin = (values.origin as string | undefined) || process.env.LEDGER_ORIGIN || saved.origin || '';
  if (nodes.length === 0 || verifierKeys.length === 0 || origin === '') {
    throw new UsageError(`no ledger target: pass --nodes URL,… --keys VKEY,… --origin ORIGIN, set LEDGER_NODES/LEDGER_KEYS/LEDGER_ORIGIN, or run next to ${file}`);
  }
  return {
    arg,
    values,
    ctx: { clients: nodes.map((u) => createNodeClient(u)), verifierKeys, origin, quorum: QUORUM, h: nodeSha256, ed: nodeEd25519 },
  };
}

/** `✓ code  plain sentence (technical detail)`, one line per check. */
export const formatLine = (l: CheckLine): string => `${l.ok ? '✓' : '✗'} ${l.code.padEnd(15)} ${t('en', `check.${l.code}.${l.ok ? 'ok' : 'fail'}`)} (${l.detail})`;

/** Runs a CLI main: exit 0 if it returns true, 1 if false, 2 on usage errors. */
export function runCli(usage: string, main: () => Promise<boolean>): void {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error(e instanceof UsageError ? `${e.message}\nusage: ${usage}` : e);
      process.exit(2);
    },
  );
}
