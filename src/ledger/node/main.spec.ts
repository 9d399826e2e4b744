import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ORIGIN, tempDataDir } from './testing.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Starts one node with port 0 and returns its ready line, then stops it. */
async function startOnce(dataDir: string): Promise<{ ready: boolean; nodeId: number; port: number; verifierKey: string; info: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--id', '3', '--port', '0', '--data-dir', dataDir, '--origin', ORIGIN], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buffer = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.includes('\n')) resolve(buffer.slice(0, buffer.indexOf('\n')));
      });
      child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
    });
    const ready = JSON.parse(line) as { ready: boolean; nodeId: number; port: number; verifierKey: string };
    const info = (await (await fetch(`http://127.0.0.1:${ready.port}/v1/info`)).json()) as Record<string, unknown>;
    return { ...ready, info };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

describe('npm run ledger-node', () => {
  it('prints its real port when started on port 0, makes a private seed once and keeps it', async () => {
    const parent = tempDataDir();
    const dataDir = join(parent, 'node-3');
    const first = await startOnce(dataDir);
    expect(first).toMatchObject({ ready: true, nodeId: 3 });
    expect(first.port).toBeGreaterThan(0);
    expect(first.verifierKey).toMatch(/^ledger-node-3\+[0-9a-f]{8}\+/);
    expect(first.info).toMatchObject({ nodeId: 3, origin: ORIGIN, verifierKey: first.verifierKey, size: 0 });
    expect(statSync(join(dataDir, 'seed')).mode & 0o777).toBe(0o600);
    const second = await startOnce(dataDir);
    expect(second.verifierKey).toBe(first.verifierKey);
    rmSync(parent, { recursive: true, force: true });
  });
});
