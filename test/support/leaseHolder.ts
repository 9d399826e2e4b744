/**
 * A lease holder in its own process, for the lease test that freezes it (SIGSTOP) as a hung host would:
 * `tsx test/support/leaseHolder.ts <postgres url> <lease name>`; prints "held" once it holds the lease.
 */
import pg from 'pg';
import { startLease } from '../../src/infra/db/lease.ts';
import { createLogger } from '../../src/infra/logger.ts';

const [url, name] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 1 });
startLease({
  pool, name: name!, retryMs: 200, logger: createLogger('silent'),
  onAcquired: async () => void process.stdout.write('held\n'),
  onReleased: async () => undefined,
});
