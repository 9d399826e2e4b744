/** RFC 8785 (JCS) canonical JSON: the bytes the ledger hashes and signs, for entries, sealed ballots and tallies. */
import canonicalizeModule from 'canonicalize';
import { utf8 } from './bytes.ts';

// canonicalize is CommonJS (module.exports = fn) but its typings declare an ES default export, so under
// NodeNext TypeScript sees `{ default: fn }` while Node and esbuild hand over the function itself.
const canonicalize = ((canonicalizeModule as unknown as { default?: unknown }).default ??
  canonicalizeModule) as (value: unknown) => string | undefined;

/**
 * RFC 8785 (JCS) canonical JSON of any plain JSON value, as UTF-8. Throws TypeError for values JSON
 * cannot represent (undefined, NaN, Infinity).
 */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return utf8(canonicalJsonText(value));
}

/** RFC 8785 canonical JSON as a string (what canonicalJsonBytes encodes). Throws as canonicalJsonBytes. */
export function canonicalJsonText(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (e) {
    throw new TypeError(`value is not canonical JSON: ${(e as Error).message}`);
  }
  if (text === undefined) throw new TypeError('value is not canonical JSON: undefined');
  return text;
}
