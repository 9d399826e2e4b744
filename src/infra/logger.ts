import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Phone numbers, codes, names and session ids are redacted wherever they appear
 * under these keys: no personal data in logs.
 */
export const createLogger = (level: string, name = 'civic-vote'): Logger =>
  pino({
    name,
    level,
    redact: { paths: ['phone', '*.phone', 'code', '*.code', 'displayName', '*.displayName', 'req.headers.cookie', 'sessionId'], censor: '[redacted]' },
  });
