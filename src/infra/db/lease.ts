import type pg from 'pg';
import type { Logger } from '../logger.ts';

/** The first key of the two-key advisory locks the app's leases use (the second is hashtext(name)). */
export const LEASE_LOCK_NAMESPACE = 7_401_002;

export interface LeaseOptions {
  /** The PostgreSQL pool the lease takes its connection from; null (embedded PGlite) holds the lease at once: an embedded database has one process, so one holder by construction. */
  pool: pg.Pool | null;
  /** What is leased (one lock per name). */
  name: string;
  /** How often a standby tries to take the lease, and how often the holder checks its connection, ms. */
  retryMs: number;
  logger: Logger;
  /** Starts the work only one instance may do; a throw gives the lease back and the next try starts again. */
  onAcquired: () => Promise<void>;
  /** Stops that work; called before the lock is released, so a successor never overlaps a stopping holder. */
  onReleased: () => Promise<void>;
}

export interface Lease {
  /** Whether this instance holds the lease now. */
  held(): boolean;
  /** Resolves after the first try (and, if it took the lease, after onAcquired). */
  readonly firstTry: Promise<void>;
  /** Stops trying; a holder stops its work and releases the lock. */
  stop(): Promise<void>;
}

/**
 * A single-active lease on PostgreSQL: a session-level advisory lock taken on one connection reserved
 * from the pool for as long as it is held. The lock is the server's, so a holder that dies (process,
 * host or connection) loses it the moment PostgreSQL ends its session, and a standby's next try takes it
 * over: no expiry clock to tune and no row to clean up. The holder checks its connection every
 * `retryMs`; when the check fails it stops its work at once (the server may already have given the lock
 * to another instance). Written here because the job is one lock and a loop; a leader-election library
 * would bring its own store (etcd, Redis) that this deployment does not otherwise need.
 */
export const startLease = (options: LeaseOptions): Lease => {
  const { pool, name, retryMs, logger } = options;
  let stopped = false;
  let holding = false;
  let wake: () => void = () => undefined;
  let firstDone: () => void = () => undefined;
  const firstTry = new Promise<void>((resolve) => (firstDone = resolve));
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** Runs the work while held; returns when stopped or when the connection check fails (throws). */
  const hold = async (check: () => Promise<void>, release: () => Promise<void>) => {
    holding = true;
    logger.info({ lease: name }, 'lease taken: this instance runs it');
    try {
      await options.onAcquired();
      firstDone();
      while (!stopped) {
        await pause(retryMs);
        if (!stopped) await check();
      }
    } finally {
      holding = false;
      await options.onReleased().catch((err: unknown) => logger.error({ err, lease: name }, 'stopping the leased work failed'));
      await release().catch(() => undefined);
      if (!stopped) logger.warn({ lease: name }, 'lease lost: this instance stopped running it');
    }
  };

  const tryOnce = async (): Promise<void> => {
    if (!pool) {
      await hold(async () => undefined, async () => undefined);
      return;
    }
    const client = await pool.connect();
    // A reserved client whose server session ends emits 'error' between queries; unheard, that would
    // end the process. Heard, it ends the hold at once.
    let broken: Error | null = null;
    const onError = (err: Error) => {
      broken = err;
      wake();
    };
    client.on('error', onError);
    try {
      const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken', [LEASE_LOCK_NAMESPACE, name]);
      if (!rows[0]?.taken) return;
      await hold(
        async () => {
          if (broken) throw broken;
          await client.query('SELECT 1');
        },
        async () => {
          if (!broken) await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LEASE_LOCK_NAMESPACE, name]);
        },
      );
    } finally {
      if (broken) client.release(broken); // destroyed, with the listener still on it
      else {
        client.off('error', onError);
        client.release();
      }
    }
  };

  const loop = (async () => {
    while (!stopped) {
      try {
        await tryOnce();
      } catch (err) {
        logger.warn({ err, lease: name }, 'lease try failed');
      }
      firstDone();
      if (!stopped) await pause(retryMs);
    }
  })();

  return {
    held: () => holding,
    firstTry,
    stop: async () => {
      stopped = true;
      wake();
      await loop;
    },
  };
};
