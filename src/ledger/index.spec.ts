import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

describe('the pure ledger API', () => {
  it('bundles for the browser without any node:* module, and the bundle verifies a signature', async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL('./index.ts', import.meta.url))],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s*["']node:|require\(["']node:|["']node:crypto["']/);

    // Run the bundle itself: canonicalize (CommonJS) and the noble modules must resolve inside it.
    const api = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as typeof import('./index.ts');
    const h = api.nobleSha256;
    const keys = api.generateSignerKey(h, api.nobleEd25519, 'node1', new Uint8Array(32).fill(1));
    const signer = api.parseSignerKey(h, api.nobleEd25519, keys.signerKey);
    const note = api.signNote(api.nobleEd25519, 'hello\n', [signer]);
    expect(api.countValidSignatures(api.nobleEd25519, note, [api.parseVerifierKey(h, keys.verifierKey)])).toBe(1);
    expect(api.toHex(api.canonicalJsonBytes({ b: 1, a: 2 }))).toBe(api.toHex(api.utf8('{"a":2,"b":1}')));
  });
});
