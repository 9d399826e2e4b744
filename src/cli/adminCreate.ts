import { loadConfigOrExit } from '../infra/config.ts';
import { loadServerSecret, openInfrastructure } from '../infra/compositionRoot.ts';
import { identityUseCases } from '../infra/identity/wiring.ts';

/**
 * `npm run admin:create -- <phone> [display name]`: makes the holder of a number an administrator,
 * registering them first when new, through the same use cases as the web app (events carry the actor
 * `cli`). Run it again and nothing changes. The administrator then signs in by SMS like everyone.
 */
const [phone, ...nameParts] = process.argv.slice(2);
if (!phone) {
  console.error('usage: npm run admin:create -- <phone> [display name]');
  process.exit(2);
}
const config = loadConfigOrExit();
const { db, eventStore } = await openInfrastructure(config);
try {
  const identity = identityUseCases({ config, db, eventStore, serverSecret: loadServerSecret(config) });
  const displayName = nameParts.join(' ').trim();
  const citizenId = await identity.grantAdmin({ phone, ...(displayName ? { displayName } : {}), by: 'cli' });
  // The id only: the number is personal data and stays out of terminals and logs.
  console.log(`administrator ready: citizen ${citizenId}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await eventStore.close();
  await db.close();
}
