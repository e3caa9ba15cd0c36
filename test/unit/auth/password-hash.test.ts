/**
 * @module test/unit/auth/password-hash.test
 * scrypt hashing: encoding, round trips, and refusal of malformed or out-of-bounds encodings.
 * Uses logN 10 except where the default cost itself is under test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SCRYPT_LOG_N,
  hashPassword,
  isPasswordHash,
  passwordHashLogN,
  verifyPassword,
} from '../../../src/auth/password-hash.js';

const FORMAT = /^\$scrypt\$ln=(\d+),r=8,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;

describe('password hashing', () => {
  it('round-trips and rejects a wrong password', async () => {
    const hash = await hashPassword('correct horse', { logN: 10 });
    assert.match(hash, FORMAT);
    assert.equal(FORMAT.exec(hash)?.[1], '10');
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horse ', hash), false);
    assert.equal(await verifyPassword('', hash), false);
    assert.equal(isPasswordHash(hash), true);
    assert.equal(passwordHashLogN(hash), 10);
  });

  it('salts every hash', async () => {
    const a = await hashPassword('same', { logN: 10 });
    const b = await hashPassword('same', { logN: 10 });
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', b), true);
  });

  it('uses logN 15 by default', async () => {
    assert.equal(DEFAULT_SCRYPT_LOG_N, 15);
    const hash = await hashPassword('default cost');
    assert.equal(FORMAT.exec(hash)?.[1], '15');
    assert.equal(await verifyPassword('default cost', hash), true);
  });

  it('treats canonically equivalent Unicode passwords alike', async () => {
    const hash = await hashPassword('caf\u00e9 ✓', { logN: 10 });
    assert.equal(await verifyPassword('cafe\u0301 ✓', hash), true);
  });

  it('accepts ln 10..20 only when hashing', async () => {
    for (const logN of [9, 21, 10.5, Number.NaN]) {
      await assert.rejects(hashPassword('x', { logN }), RangeError);
    }
  });

  it('returns false (never throws) for malformed encodings', async () => {
    const good = await hashPassword('pw', { logN: 10 });
    const [, , params, salt, key] = good.split('$');
    assert.ok(params && salt && key);
    const malformed = [
      '',
      'pw',
      '$scrypt$',
      `$scrypt$${params}$${salt}`,
      `$scrypt$${params}$${salt}$${key}$extra`,
      `$scrypt$ln=9,r=8,p=1$${salt}$${key}`,
      `$scrypt$ln=21,r=8,p=1$${salt}$${key}`,
      `$scrypt$ln=10,r=0,p=1$${salt}$${key}`,
      `$scrypt$ln=10,r=8,p=0$${salt}$${key}`,
      `$scrypt$ln=10,r=8$${salt}$${key}`,
      `$scrypt$ln=10,r=8,p=1$${salt}$${key}==`,
      `$scrypt$ln=10,r=8,p=1$${salt}$${key.slice(0, 10)}`,
      `$scrypt$ln=10,r=8,p=1$abc$${key}`,
      `$scrypt$ln=10,r=8,p=1$${salt}$${key.slice(0, -1)}!`,
      `$argon2id$v=19$m=65536,t=3,p=4$${salt}$${key}`,
      ` ${good}`,
      `${good}\n`,
    ];
    for (const encoded of malformed) {
      assert.equal(isPasswordHash(encoded), false, encoded);
      assert.equal(await verifyPassword('pw', encoded), false, encoded);
    }
    assert.equal(await verifyPassword('pw', undefined as unknown as string), false);
    assert.equal(isPasswordHash(42), false);
  });
});
