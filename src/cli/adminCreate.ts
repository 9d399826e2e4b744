import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfigOrExit } from '../infra/config.ts';
import { embeddedDbDir, loadServerSecret, openInfrastructure } from '../infra/storage.ts';
import { DataDirInUseError, dataDirHolder, type DataDirLockInfo } from '../infra/db/dataDirLock.ts';
import { LOCAL_ADMIN_TOKEN_FILE } from '../infra/http/localAdmin.ts';
import { identityUseCases } from '../infra/identity/wiring.ts';

/**
 * `npm run admin:create -- <phone> [display name]`: makes the holder of a number an administrator,
 * registering them first when new, through the same use cases as the web app (events carry the actor
 * `cli`). Run it again and nothing changes. The administrator then signs in by SMS like everyone.
 *
 * On the embedded database while the app runs (`npm start` holds the data directory: only one process
 * may open it), the CLI asks the running app to do it, through the app's loopback admin endpoint and
 * the token in DATA_DIR; on PostgreSQL, or with the app stopped, it writes itself.
 */
const [phone, ...nameParts] = process.argv.slice(2);
if (!phone) {
  console.error('usage: npm run admin:create -- <phone> [display name]');
  process.exit(2);
}
const config = loadConfigOrExit();
const displayName = nameParts.join(' ').trim();

/** Through the running app; resolves to the citizen id, or throws with the app's answer. */
const throughRunningApp = async (holder: DataDirLockInfo): Promise<string> => {
  if (!holder.adminUrl) throw new DataDirInUseError(embeddedDbDir(config), holder);
  const token = readFileSync(join(resolve(config.DATA_DIR), LOCAL_ADMIN_TOKEN_FILE), 'utf8').trim();
  const res = await fetch(`${holder.adminUrl}/v1/admins`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ phone, ...(displayName ? { displayName } : {}) }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await res.json().catch(() => ({}))) as { citizenId?: string; error?: string };
  if (!res.ok || !body.citizenId) throw new Error(`the running app (process ${holder.pid}) refused: ${body.error ?? res.status}`);
  return body.citizenId;
};

const directly = async (): Promise<string> => {
  const { db, eventStore } = await openInfrastructure(config);
  try {
    const identity = identityUseCases({ config, db, eventStore, serverSecret: loadServerSecret(config) });
    return await identity.grantAdmin({ phone, ...(displayName ? { displayName } : {}), by: 'cli' });
  } finally {
    await eventStore.close();
    await db.close();
  }
};

try {
  const holder = config.DATABASE_URL ? null : dataDirHolder(embeddedDbDir(config));
  const citizenId = holder ? await throughRunningApp(holder) : await directly();
  // The id only: the number is personal data and stays out of terminals and logs.
  console.log(`administrator ready: citizen ${citizenId}${holder ? ` (done by the running app, process ${holder.pid})` : ''}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
