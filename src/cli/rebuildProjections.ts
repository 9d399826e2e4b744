import { loadConfigOrExit } from '../infra/config.ts';
import { openInfrastructure, readModels } from '../infra/storage.ts';
import { rebuildReadModels } from '../infra/projections/runner.ts';

/** `npm run projections:rebuild`: empties every read model and replays all events into it. */
const config = loadConfigOrExit();
const { db, eventStore } = await openInfrastructure(config);
const started = performance.now();
const count = await rebuildReadModels(db.kysely, eventStore, readModels);
console.log(`rebuilt ${readModels.length} read models from ${count} events in ${Math.round(performance.now() - started)} ms`);
await eventStore.close();
await db.close();
