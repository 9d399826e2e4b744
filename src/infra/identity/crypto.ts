import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomInt } from 'node:crypto';

/** HMAC-SHA256 as lowercase hex. */
export const hmacHex = (key: Buffer, message: string): string => createHmac('sha256', key).update(message, 'utf8').digest('hex');

/**
 * A key for one purpose derived from the server secret, so that the secret itself signs nothing but
 * what DESIGN.md gives it (voter tags, phone hashes): cookie keys, code hashes, rate-limit keys.
 */
export const deriveKey = (serverSecret: Buffer, purpose: string): Buffer => createHmac('sha256', serverSecret).update(`civic-vote/${purpose}`).digest();

/** HMAC-SHA256(serverSecret, E.164): the number's pseudonym, the same as voter rolls use. */
export const phoneHasher = (serverSecret: Buffer) => (e164: string): string => hmacHex(serverSecret, e164);

/** A uniformly random 6-digit code (randomInt has no modulo bias). */
export const newCode = (): string => randomInt(0, 1_000_000).toString().padStart(6, '0');

const VERSION = 'v1';

/** AES-256-GCM with a fresh 96-bit IV: `v1:<base64(iv ‖ ciphertext ‖ tag)>`. */
export const encryptBlob = (key: Buffer, plaintext: string): string => {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${VERSION}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64')}`;
};

/** null for a blob that is malformed or was not made with this key (GCM authenticates it). */
export const decryptBlob = (key: Buffer, blob: string): string | null => {
  if (!blob.startsWith(`${VERSION}:`)) return null;
  const bytes = Buffer.from(blob.slice(VERSION.length + 1), 'base64');
  if (bytes.length < 28) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
};
