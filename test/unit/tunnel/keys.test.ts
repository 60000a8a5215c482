import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWgKey, wgKeyPair, wgPresharedKey, wgPublicFromPrivate } from '../../../lib/tunnel/keys.ts';

const PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI = Buffer.from('302a300506032b656e032100', 'hex');

function raw(b64: string): Buffer {
  return Buffer.from(b64, 'base64');
}

describe('wgKeyPair', () => {
  it('makes 44-character base64 keys of 32 bytes with a matching public key', () => {
    for (let i = 0; i < 100; i += 1) {
      const pair = wgKeyPair();
      expect(isWgKey(pair.privateKey)).toBe(true);
      expect(isWgKey(pair.publicKey)).toBe(true);
      expect(raw(pair.privateKey)).toHaveLength(32);
      expect(wgPublicFromPrivate(pair.privateKey)).toBe(pair.publicKey);
    }
  });

  it('clamps private keys as wg genkey does', () => {
    for (let i = 0; i < 100; i += 1) {
      const d = raw(wgKeyPair().privateKey);
      expect((d[0] ?? 0) & 7).toBe(0);
      expect((d[31] ?? 0) & 0x80).toBe(0);
      expect((d[31] ?? 0) & 0x40).toBe(0x40);
    }
  });

  it('gives both sides the same X25519 shared secret', () => {
    const a = wgKeyPair();
    const b = wgKeyPair();
    const key = (priv: string) =>
      createPrivateKey({ key: Buffer.concat([PKCS8, raw(priv)]), format: 'der', type: 'pkcs8' });
    const pub = (p: string) =>
      createPublicKey({ key: Buffer.concat([SPKI, raw(p)]), format: 'der', type: 'spki' });
    const ab = diffieHellman({ privateKey: key(a.privateKey), publicKey: pub(b.publicKey) });
    const ba = diffieHellman({ privateKey: key(b.privateKey), publicKey: pub(a.publicKey) });
    expect(ab.equals(ba)).toBe(true);
  });

  it('agrees with the way the agent makes keys (openssl genpkey X25519, last 32 DER bytes)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'anex-keys-'));
    try {
      for (let i = 0; i < 5; i += 1) {
        const pem = join(dir, `k${i}.pem`);
        execFileSync('openssl', ['genpkey', '-algorithm', 'X25519', '-out', pem]);
        const priv = execFileSync('openssl', ['pkey', '-in', pem, '-outform', 'DER'])
          .subarray(-32)
          .toString('base64');
        const pub = execFileSync('openssl', ['pkey', '-in', pem, '-pubout', '-outform', 'DER'])
          .subarray(-32)
          .toString('base64');
        expect(readFileSync(pem, 'utf8')).toContain('PRIVATE KEY');
        expect(wgPublicFromPrivate(priv)).toBe(pub);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('isWgKey', () => {
  it.each([
    ['too short', 'abc='],
    ['no padding', 'A'.repeat(44)],
    ['base64url characters', `${'-'.repeat(42)}A=`],
    ['33 bytes', Buffer.alloc(33).toString('base64')],
    ['impossible last character', `${'A'.repeat(42)}B=`],
  ])('rejects %s', (_label, value) => {
    expect(isWgKey(value)).toBe(false);
  });

  it('accepts 32 zero bytes and a preshared key', () => {
    expect(isWgKey(Buffer.alloc(32).toString('base64'))).toBe(true);
    expect(isWgKey(wgPresharedKey())).toBe(true);
  });
});

describe('wgPublicFromPrivate', () => {
  it('derives the same public key from an unclamped private key as from its clamped form', () => {
    const d = raw(wgKeyPair().privateKey);
    const unclamped = Buffer.from(d);
    unclamped[0] = (unclamped[0] ?? 0) | 7;
    unclamped[31] = (unclamped[31] ?? 0) | 0x80;
    expect(wgPublicFromPrivate(unclamped.toString('base64'))).toBe(wgPublicFromPrivate(d.toString('base64')));
  });

  it('refuses a malformed key with the accepted form in the message', () => {
    expect(() => wgPublicFromPrivate('not-a-key')).toThrow(/32 bytes in standard base64/);
  });
});
