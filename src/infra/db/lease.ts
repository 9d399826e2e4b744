import pg from 'pg';
import type { Logger } from '../logger.ts';

/** The first key of the two-key advisory locks the app's leases use (the second is hashtext(name)). */
export const LEASE_LOCK_NAMESPACE = 7_401_002;

export interface LeaseOptions {
  /**
   * The app's PostgreSQL pool, whose settings the lease's own connection copies (outside the pool, so
   * it never takes a connection from requests); null (embedded PGlite) holds the lease at once: an
   * embedded database has one process, so one holder by construction.
   */
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
 * A single-active lease on PostgreSQL: a session-level advisory lock taken on a connection of its own
 * (kept outside the request pool) for as long as it is held. The lock is the server's, so a holder that
 * dies loses it when PostgreSQL ends its session: at once when the process exits, and for a host that
 * vanishes without closing its socket after `idle_session_timeout` (set on the lease's session to a few
 * `retryMs`; the holder's connection check every `retryMs` keeps a live session from ever going idle
 * that long). A standby's next try then takes the lease over: no expiry clock in a table and no row to
 * clean up. When the holder's check fails it stops its work at once (the server may already have given
 * the lock to another instance). Written here because the job is one lock and a loop; a leader-election
 * library would bring its own store (etcd, Redis) that this deployment does not otherwise need.
 */
export const startLease = (options: LeaseOptions): Lease => {
  const { pool, name, retryMs, logger } = options;
  let stopped = false;
  let holding = false;
  // `wake` ends whichever pause is running (stop() uses it); `wakeHold` only a holder's pause, so a late
  // second 'error' from a dead connection cannot cut short the back-off after a lost hold.
  let wake: () => void = () => undefined;
  let wakeHold: () => void = () => undefined;
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

  /** Set when a hold ended without stop(): the next try waits longer (see the loop). */
  let lostHold = false;
  /** Runs the work while held; returns when stopped or when the connection check fails (throws). */
  const hold = async (check: () => Promise<void>, release: () => Promise<void>) => {
    holding = true;
    logger.info({ lease: name }, 'lease taken: this instance runs it');
    try {
      await options.onAcquired();
      firstDone();
      while (!stopped) {
        const paused = pause(retryMs);
        wakeHold = wake;
        await paused;
        if (!stopped) await check();
      }
    } finally {
      holding = false;
      wakeHold = () => undefined;
      await options.onReleased().catch((err: unknown) => logger.error({ err, lease: name }, 'stopping the leased work failed'));
      await release().catch(() => undefined);
      if (!stopped) {
        lostHold = true;
        logger.warn({ lease: name }, 'lease lost: this instance stopped running it');
      }
    }
  };

  // The lease's own connection, kept between tries and made anew only after it broke.
  let client: pg.Client | null = null;
  let broken: Error | null = null;
  const connection = async (config: pg.PoolOptions): Promise<pg.Client> => {
    if (client && !broken) return client;
    await client?.end().catch(() => undefined);
    [client, broken] = [null, null];
    const fresh = new pg.Client(config);
    // A client whose server session ends emits 'error' between queries; unheard, that would end the
    // process. Heard, it ends a hold at once.
    fresh.on('error', (err: Error) => {
      if (client !== fresh) return;
      broken = err;
      wakeHold();
    });
    await fresh.connect();
    // PostgreSQL 14+; on an older server only a process exit (or TCP keepalive) frees the lock.
    await fresh.query(`SET idle_session_timeout = ${Math.max(5 * retryMs, 10_000)}`).catch((err: unknown) => logger.warn({ err, lease: name }, 'idle_session_timeout not set'));
    return (client = fresh);
  };

  const tryOnce = async (): Promise<void> => {
    if (!pool) {
      await hold(async () => undefined, async () => undefined);
      return;
    }
    const conn = await connection(pool.options);
    try {
      const { rows } = await conn.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS taken', [LEASE_LOCK_NAMESPACE, name]);
      if (!rows[0]?.taken) return;
      await hold(
        async () => {
          if (broken) throw broken;
          await conn.query('SELECT 1');
        },
        async () => {
          if (!broken) await conn.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LEASE_LOCK_NAMESPACE, name]);
        },
      );
    } catch (err) {
      broken ??= err as Error; // reconnect before the next try
      throw err;
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
      // A holder that just lost its connection is the likeliest to be unwell (and its lock is free at
      // once): it gives the standbys a few tries' head start instead of racing them for the lock.
      const backOff = lostHold ? Math.max(5 * retryMs, 1000) : retryMs;
      lostHold = false;
      if (!stopped) await pause(backOff);
    }
  })();

  return {
    held: () => holding,
    firstTry,
    stop: async () => {
      stopped = true;
      wake();
      await loop;
      await client?.end().catch(() => undefined);
    },
  };
};
