/**
 * @module test/unit/tls/resumption-registry
 * The session-reuse rule, table by table: which scope's context a data connection gets for the
 * ticket it offers, when the offered session is refused and why, session-ID resumption, the
 * wait for a sibling still logging in, and the bounded memory of closed scopes. The same rule
 * is exercised end to end with real TLS in test/integration/ftps-protocol and ftps-interop.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { ClientHelloResumption } from '../../../src/protocol/tls-client-hello.js';
import { TlsResumptionRegistry, type TlsScope } from '../../../src/tls/resumption-registry.js';
import { generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import type { CertificateMaterial } from '../../../src/tls/session-context.js';

/** A TLS 1.3 style offer: one PSK identity that starts with the scope's key name. */
function offering(scope: TlsScope | null, sessionId = Buffer.alloc(0)): ClientHelloResumption {
  const keyName = scope ? scope.ticketKeys.subarray(0, 16) : randomBytes(16);
  return { sessionId, ticket: null, pskIdentities: [Buffer.concat([keyName, randomBytes(100)])] };
}

describe('TLS resumption registry (tls.sessionReuse rule)', () => {
  let material: CertificateMaterial;
  let clock = 1_000_000;
  const make = (options: { retainClosedMs?: number; maxClosedScopes?: number } = {}) =>
    new TlsResumptionRegistry({ material: () => material, contextOptions: { minVersion: 'TLSv1.2', ciphers: '' }, now: () => clock, ...options });

  before(async () => {
    const generated = await generateSelfSignedCertificate({ commonName: 'localhost', altNames: ['127.0.0.1'] });
    material = { key: Buffer.from(generated.keyPem), cert: Buffer.from(generated.certPem) };
  });

  function loggedIn(registry: TlsResumptionRegistry, address: string, user: string): TlsScope {
    const scope = registry.open(address);
    scope.user = user;
    return scope;
  }

  it('own ticket: own context; a sibling (same user, same address): the sibling\'s context', () => {
    const registry = make();
    const own = loggedIn(registry, '192.0.2.1', 'alice');
    const sibling = loggedIn(registry, '192.0.2.1', 'alice');
    const mine = registry.chooseForData(own, offering(own));
    assert.equal(mine.context, own.context);
    assert.equal(mine.refusal, undefined);
    assert.equal(mine.sibling, false);
    const theirs = registry.chooseForData(own, offering(sibling));
    assert.equal(theirs.context, sibling.context);
    assert.equal(theirs.sibling, true);
    assert.equal(theirs.refusal, undefined);
  });

  it('refuses another user, another address, an unknown ticket, a fresh handshake', () => {
    const registry = make();
    const own = loggedIn(registry, '192.0.2.1', 'alice');
    const bob = loggedIn(registry, '192.0.2.1', 'bob');
    const far = loggedIn(registry, '198.51.100.7', 'alice');
    const cases: [ClientHelloResumption | null, string][] = [
      [offering(bob), 'other-user'],
      [offering(far), 'other-address'],
      [offering(null), 'unknown-session'],
      [null, 'fresh-handshake'],
      [{ sessionId: randomBytes(32), ticket: null, pskIdentities: [] }, 'fresh-handshake'],
    ];
    for (const [hello, reason] of cases) {
      const choice = registry.chooseForData(own, hello);
      assert.equal(choice.refusal, reason);
      assert.equal(choice.context, own.context, `${reason}: must get the session's own context, where the offered ticket cannot resume`);
    }
  });

  it('a sibling still logging in: asks to wait, then decides on its login or its close', async () => {
    const registry = make();
    const own = loggedIn(registry, '192.0.2.1', 'alice');
    const pending = registry.open('192.0.2.1');
    const choice = registry.chooseForData(own, offering(pending));
    assert.equal(choice.pendingIssuer, pending);
    const settled = pending.loginSettled(5000);
    pending.user = 'alice';
    await settled;
    assert.equal(registry.chooseForData(own, offering(pending)).refusal, undefined);

    const never = registry.open('192.0.2.1');
    const waiting = never.loginSettled(5000);
    registry.close(never);
    await waiting;
    const after = registry.chooseForData(own, offering(never));
    assert.equal(after.refusal, 'not-logged-in');
    assert.equal(after.pendingIssuer, undefined);
  });

  it('TLS 1.2 session IDs follow the same rule', () => {
    const registry = make();
    const own = loggedIn(registry, '192.0.2.1', 'alice');
    const sibling = loggedIn(registry, '192.0.2.1', 'alice');
    const bob = loggedIn(registry, '192.0.2.1', 'bob');
    const [siblingId, bobId] = [randomBytes(32), randomBytes(32)];
    registry.rememberSessionId(sibling, siblingId, Buffer.from('sibling-session'));
    registry.rememberSessionId(bob, bobId, Buffer.from('bob-session'));
    assert.deepEqual(registry.resumeSessionId(own, siblingId), Buffer.from('sibling-session'));
    assert.equal(registry.resumeSessionId(own, bobId), null);
    assert.equal(registry.chooseForData(own, { sessionId: bobId, ticket: null, pskIdentities: [] }).refusal, 'other-user');
    assert.equal(registry.chooseForData(own, { sessionId: siblingId, ticket: null, pskIdentities: [] }).refusal, undefined);
  });

  it('keeps a closed scope\'s keys for retainClosedMs, then forgets them; bounded in number', () => {
    const registry = make({ retainClosedMs: 60_000, maxClosedScopes: 3 });
    const own = loggedIn(registry, '192.0.2.1', 'alice');
    const closed = loggedIn(registry, '192.0.2.1', 'alice');
    registry.close(closed);
    const choice = registry.chooseForData(own, offering(closed));
    assert.equal(choice.refusal, undefined);
    assert.notEqual(choice.context, own.context, 'a closed sibling\'s ticket needs a context with its keys');
    clock += 60_001;
    assert.equal(registry.chooseForData(own, offering(closed)).refusal, 'unknown-session');

    for (let i = 0; i < 10; i++) registry.close(loggedIn(registry, '192.0.2.1', 'alice'));
    registry.chooseForData(own, null);
    assert.equal(registry.size, 1 + 3, 'one open scope and at most maxClosedScopes closed ones');
  });
});
