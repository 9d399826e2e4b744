import { z } from 'zod';

/**
 * Configuration from environment variables, validated once at start. Every bad value produces one line
 * naming the variable and what is wrong with it, and start-up stops.
 */
const port = z.coerce.number().int().min(0).max(65535);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().default('127.0.0.1'),
    PORT: port.default(3000),
    PORTAL_PORT: port.default(3100),
    /** First of four consecutive ports for the local ledger nodes that `npm start` spawns. */
    LEDGER_BASE_PORT: port.default(3201),
    /** Comma-separated base URLs of the four ledger nodes; empty: spawn them locally. */
    LEDGER_NODES: z.string().optional(),
    /** Bearer token the nodes accept from the coordinator; every app instance of a deployment needs the same one. Default: made once in DATA_DIR. */
    LEDGER_COORDINATOR_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
    /** How long `npm start` waits for 3 of its 4 local ledger nodes to be ready, ms (the fourth may join later). */
    LEDGER_START_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(60_000),
    /** How often an instance without the anchoring lease tries to take it over, ms. */
    LEDGER_LEASE_RETRY_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
    PUBLIC_BASE_URL: z.string().url().optional(),
    /** Behind a load balancer: trust X-Forwarded-Proto/For (Secure cookies, client addresses for rate limits). */
    TRUST_PROXY: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    DATA_DIR: z.string().default('./data'),
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    EVENT_STORE: z.enum(['postgres', 'eventstoredb']).default('postgres'),
    EVENTSTORE_CONNECTION_STRING: z.string().regex(/^(esdb|kurrentdb)(\+discover)?:\/\//, 'must be an esdb:// connection string').optional(),
    /** 64 hex chars. Keys voter tags and voter-roll hashes; generated and kept in DATA_DIR in development. */
    SERVER_SECRET: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex characters (32 bytes)').optional(),
    SMS_ADAPTER: z.enum(['outbox', 'http']).default('outbox'),
    SMS_HTTP_URL: z.string().url().optional(),
    SMS_HTTP_TOKEN: z.string().min(1).optional(),
    SMS_SENDER: z.string().default('CivicVote'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Milliseconds between anchoring blocks. */
    ANCHOR_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
    /** Log positions (and leaves) per digest the tamper watch compares between passes; it re-reads only buckets that moved. */
    TAMPER_WATCH_BUCKET: z.coerce.number().int().min(1).max(1_000_000).default(1024),
    /**
     * Older buckets each tamper-watch pass digests besides the newest: a sweep over the whole log takes
     * (buckets / window) passes. Each older bucket is read from disk more often than not (a sweep goes
     * through history nothing else reads): at 32, about 6,000 blocks every 2 s pass at the full
     * scenario's size, evicting the pages the vote needs from PostgreSQL's shared buffers; 4 finds an
     * edit to old history within about 6 minutes at 250,000 ballots, and the newest buckets are checked
     * every pass whatever the window.
     */
    TAMPER_WATCH_WINDOW: z.coerce.number().int().min(1).default(4),
    /** Milliseconds between tamper-watch passes (longer when a pass is slow: a pass never takes more than ~1/5 of the time). */
    TAMPER_WATCH_MS: z.coerce.number().int().min(100).max(600_000).default(2000),
    /** Policy polls refuse ballots when no quorum could sign for longer than this. */
    POLICY_QUORUM_GRACE_MS: z.coerce.number().int().min(0).default(30_000),
    /** Hosts (comma-separated) whose https images poll answers may show besides this site's own paths; none by default. */
    IMAGE_HOSTS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))
      .refine((hosts) => hosts.every((h) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(h)), 'must be comma-separated host names (images.example.org)'),
    SEED_DEMO_DATA: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  })
  .superRefine((c, ctx) => {
    if (c.EVENT_STORE === 'eventstoredb' && !c.EVENTSTORE_CONNECTION_STRING)
      ctx.addIssue({ code: 'custom', path: ['EVENTSTORE_CONNECTION_STRING'], message: 'is required when EVENT_STORE=eventstoredb' });
    if (c.SMS_ADAPTER === 'http' && (!c.SMS_HTTP_URL || !c.SMS_HTTP_TOKEN))
      ctx.addIssue({ code: 'custom', path: ['SMS_HTTP_URL'], message: 'SMS_HTTP_URL and SMS_HTTP_TOKEN are required when SMS_ADAPTER=http' });
    if (c.NODE_ENV === 'production') {
      if (c.SMS_ADAPTER === 'outbox')
        ctx.addIssue({ code: 'custom', path: ['SMS_ADAPTER'], message: 'the development outbox cannot run in production: set SMS_ADAPTER=http' });
      if (!c.SERVER_SECRET) ctx.addIssue({ code: 'custom', path: ['SERVER_SECRET'], message: 'is required in production' });
      if (!c.DATABASE_URL && c.EVENT_STORE === 'postgres')
        ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'is required in production (embedded PGlite is for development)' });
    }
  });

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): Config => {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success)
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`));
  return parsed.data;
};

/** For entry points (npm start, CLIs): the configuration, or the list of problems and exit code 2. */
export const loadConfigOrExit = (env: NodeJS.ProcessEnv = process.env): Config => {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
};
