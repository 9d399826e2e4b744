import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { nobleEd25519, nobleSha256 } from './hash.ts';
import { sha512 } from '@noble/hashes/sha2.js';
import { nodeDigest, nodeEd25519, nodeSha256 } from './nodeCrypto.ts';
import { fromHex, toHex, utf8 } from './bytes.ts';

const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('node:crypto and noble produce identical bytes', () => {
  it('SHA-256 on random inputs of many lengths', () => {
    for (let i = 0; i < 300; i++) {
      const data = rand(i % 150);
      expect(toHex(nodeSha256(data))).toBe(toHex(nobleSha256(data)));
    }
    expect(toHex(nodeSha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('SHA-256 and SHA-512 both ways node:crypto gives them (one-shot crypto.hash, and createHash where Node lacks it), on views into larger buffers too', () => {
    const sha256Ways = [nodeDigest('sha256'), nodeDigest('sha256', null)];
    const sha512Ways = [nodeDigest('sha512'), nodeDigest('sha512', null)];
    for (let i = 0; i < 200; i++) {
      const whole = rand(i + 8);
      const data = whole.subarray(3, 3 + i);
      for (const h of sha256Ways) expect(toHex(h(data))).toBe(toHex(nobleSha256(data)));
      for (const h of sha512Ways) expect(toHex(h(data))).toBe(toHex(sha512(data)));
    }
  });

  it('Ed25519 public keys and signatures, verified both ways', () => {
    for (let i = 0; i < 100; i++) {
      const seed = rand(32);
      const msg = rand(i * 3);
      const pub = nobleEd25519.publicKeyOf(seed);
      expect(toHex(nodeEd25519.publicKeyOf(seed))).toBe(toHex(pub));
      const sig = nobleEd25519.sign(seed, msg);
      expect(toHex(nodeEd25519.sign(seed, msg))).toBe(toHex(sig));
      expect(nodeEd25519.verify(pub, msg, sig)).toBe(true);
      expect(nobleEd25519.verify(pub, msg, sig)).toBe(true);
      const bad = sig.slice();
      bad[i % 64]! ^= 1;
      expect(nodeEd25519.verify(pub, msg, bad)).toBe(false);
      expect(nobleEd25519.verify(pub, msg, bad)).toBe(false);
    }
  });

  it('matches the RFC 8032 test 1 vector', () => {
    const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')!;
    const pub = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
    const sig =
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
    for (const ed of [nodeEd25519, nobleEd25519]) {
      expect(toHex(ed.publicKeyOf(seed))).toBe(pub);
      expect(toHex(ed.sign(seed, new Uint8Array(0)))).toBe(sig);
    }
  });

  it('both answer false, never throw, for malformed keys and signatures', () => {
    const seed = rand(32);
    const msg = utf8('hello');
    const pub = nobleEd25519.publicKeyOf(seed);
    const sig = nobleEd25519.sign(seed, msg);
    const notAPoint = fromHex('02'.padEnd(64, '0'))!;
    for (const ed of [nodeEd25519, nobleEd25519]) {
      expect(ed.verify(pub.slice(1), msg, sig)).toBe(false);
      expect(ed.verify(pub, msg, sig.slice(1))).toBe(false);
      expect(ed.verify(new Uint8Array(32), msg, sig)).toBe(false);
      expect(ed.verify(notAPoint, msg, sig)).toBe(false);
      expect(ed.verify(pub, msg, new Uint8Array(64).fill(0xff))).toBe(false);
    }
  });
});
