import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';

/**
 * WireGuard keys: Curve25519 (X25519), 32 raw bytes each, written as standard base64 with
 * padding (44 characters). Node's X25519 JWK export is exactly that format once base64url is
 * turned into base64, and OpenSSL (hence Node) clamps private keys as `wg genkey` does.
 */
export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

/** Shape of a base64 WireGuard key: 43 significant chars (last one carries 4 bits) + '='. */
const KEY_SHAPE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** DER prefix of a PKCS#8 X25519 private key; the 32 raw bytes follow it. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function isWgKey(value: string): boolean {
  return KEY_SHAPE.test(value);
}

export function wgKeyPair(): WgKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string' || typeof jwk.x !== 'string') {
    throw new Error('X25519 JWK export lacks d/x');
  }
  return {
    privateKey: Buffer.from(jwk.d, 'base64url').toString('base64'),
    publicKey: Buffer.from(jwk.x, 'base64url').toString('base64'),
  };
}

/** The public key of a base64 WireGuard private key (throws on a malformed key). */
export function wgPublicFromPrivate(privateKeyBase64: string): string {
  if (!isWgKey(privateKeyBase64)) {
    throw new Error('a WireGuard key is 32 bytes in standard base64 (44 characters ending in "=")');
  }
  const raw = Buffer.from(privateKeyBase64, 'base64');
  const key = createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('X25519 JWK export lacks x');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** A WireGuard preshared key: 32 random bytes, base64 (same shape as `wg genpsk`). */
export function wgPresharedKey(): string {
  return randomBytes(32).toString('base64');
}
