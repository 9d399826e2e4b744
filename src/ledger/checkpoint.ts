/**
 * C2SP tlog-checkpoint bodies, with one extension line of ours that chains checkpoints together:
 *
 *   <origin>\n
 *   <tree size, decimal>\n
 *   <base64 root hash>\n
 *   prev <base64 SHA-256 of the previous checkpoint's body>\n
 *   [further extension lines]\n
 *
 * `prev` hashes the previous checkpoint's *body* (this text, without signature lines), not the signed
 * note: every node signs the same body but each copy of the note may carry a different set of
 * signatures, and signatures keep arriving after a checkpoint is final. The first checkpoint of a log
 * has prev = 32 zero bytes (GENESIS_PREV, base64 "AAAA…A=").
 */
import { bytesEqual, fromBase64, isWellFormedText, toBase64, utf8 } from './bytes.ts';
import type { Sha256 } from './hash.ts';
import { HASH_SIZE } from './merkle.ts';

export interface Checkpoint {
  /** Names the log: a schema-less URL such as `vote.example.org/ledger`. */
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** SHA-256 of the previous checkpoint body, or GENESIS_PREV. */
  prev: Uint8Array;
  /** Extension lines after `prev`, verbatim. Usually empty. */
  extensions: string[];
}

export const GENESIS_PREV: Uint8Array = new Uint8Array(HASH_SIZE);

export type CheckpointErrorCode = 'malformed' | 'bad-origin' | 'bad-size' | 'bad-root' | 'bad-prev' | 'bad-extension';

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** C2SP: an origin should be a schema-less URL without spaces or '+'; we also refuse control characters. */
export function isValidOrigin(origin: string): boolean {
  // eslint-disable-next-line no-control-regex
  return origin !== '' && isWellFormedText(origin) && !/[\p{White_Space}+\x00-\x1f\x7f]/u.test(origin);
}

function isValidExtension(line: string): boolean {
  // eslint-disable-next-line no-control-regex
  return line !== '' && isWellFormedText(line) && !/[\x00-\x1f]/.test(line);
}

/** The body text of a checkpoint, ready to be signed as a note. Throws CheckpointError on bad fields. */
export function formatCheckpoint(cp: Checkpoint): string {
  const text =
    `${cp.origin}\n${cp.size}\n${toBase64(cp.rootHash)}\nprev ${toBase64(cp.prev)}\n` +
    cp.extensions.map((e) => `${e}\n`).join('');
  parseCheckpoint(text); // one set of rules for writing and reading
  return text;
}

/** Parses and strictly validates a checkpoint body (the note text, without signatures). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('malformed', 'checkpoint must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, rootText, prevLine, ...extensions] = lines;
  if (prevLine === undefined) throw new CheckpointError('malformed', 'checkpoint needs origin, size, root and prev lines');
  if (!isValidOrigin(origin!)) throw new CheckpointError('bad-origin', 'origin is empty or holds spaces, "+" or control characters');
  if (!/^(?:0|[1-9][0-9]*)$/.test(sizeText!) || !Number.isSafeInteger(Number(sizeText))) {
    throw new CheckpointError('bad-size', 'tree size must be a decimal integer without leading zeros');
  }
  const rootHash = fromBase64(rootText!);
  if (!rootHash || rootHash.length !== HASH_SIZE) throw new CheckpointError('bad-root', 'root must be base64 of 32 bytes');
  const prev = prevLine.startsWith('prev ') ? fromBase64(prevLine.slice(5)) : null;
  if (!prev || prev.length !== HASH_SIZE) throw new CheckpointError('bad-prev', 'fourth line must be "prev <base64 of 32 bytes>"');
  if (!extensions.every(isValidExtension)) throw new CheckpointError('bad-extension', 'extension lines must be non-empty text');
  return { origin: origin!, size: Number(sizeText), rootHash, prev, extensions };
}

/** SHA-256 of a checkpoint body: the `prev` value of the checkpoint that follows it. */
export function checkpointHash(h: Sha256, body: string): Uint8Array {
  return h(utf8(body));
}

/**
 * Whether `next` may follow the checkpoint whose body is `previousBody`: same origin, `prev` names it,
 * and the tree did not shrink. The roots still need a consistency proof; this only checks the chain.
 */
export function followsCheckpoint(h: Sha256, previousBody: string, next: Checkpoint): boolean {
  const previous = parseCheckpoint(previousBody);
  return (
    previous.origin === next.origin &&
    next.size >= previous.size &&
    bytesEqual(next.prev, checkpointHash(h, previousBody))
  );
}
