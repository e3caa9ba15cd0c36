import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { bindLogger } from '../../../src/core/bound-logger.js';
import type { Logger } from '../../../src/core/logger.js';
import { createLogger } from '../../../src/observability/logger.js';

/** The root logger kftpd runs with, writing into an array of parsed records (time dropped). */
function rootLogger(level: string): { logger: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger({ level, destination });
  return {
    logger,
    lines: () =>
      out.map((l) => {
        const { time: _time, ...record } = JSON.parse(l);
        return record;
      }),
  };
}

function session(parent: Logger, child: (l: Logger, b: object) => Logger): void {
  const log = child(parent, { session: 'abc123', remote: '192.0.2.7' });
  log.info({ event: 'session.open', local: '127.0.0.1' }, 'session opened');
  const user = log.child({ user: 'alice' });
  user.warn({ event: 'login', password: 'secret', detail: { password: 'x' } }, 'logged in');
  user.error({ event: 'failed', err: Object.assign(new Error('boom'), { code: 'EIO' }) }, 'failed');
  user.debug({ event: 'hidden' }, 'not at info');
}

describe('core/bound-logger', () => {
  it('writes the same JSON records as a pino child (bindings first, redaction, error serialiser, levels)', () => {
    const pinoChild = rootLogger('info');
    session(pinoChild.logger, (l, b) => l.child(b));
    const bound = rootLogger('info');
    session(bound.logger, bindLogger);
    const strip = (records: Array<Record<string, unknown>>) => records.map((r) => ({ ...r, err: r['err'] ? { ...(r['err']), stack: undefined } : undefined }));
    assert.deepEqual(strip(bound.lines()), strip(pinoChild.lines()));
    assert.equal(bound.lines().length, 3);
    assert.deepEqual(Object.keys(bound.lines()[1]!).slice(0, 6), ['level', 'service', 'session', 'remote', 'user', 'event']);
    assert.equal(bound.lines()[1]!['password'], '***');
  });

  it('builds nothing for a disabled level, and a record key wins over a binding of the same name', () => {
    const { logger, lines } = rootLogger('warn');
    const log = bindLogger(logger, { session: 's1', user: 'anonymous' });
    let built = 0;
    const probe = {
      get event() {
        built++;
        return 'x';
      },
    };
    log.info(probe, 'below the level');
    assert.equal(built, 0);
    log.warn({ user: 'alice' }, 'renamed');
    assert.deepEqual(lines().map((r) => r['user']), ['alice']);
  });
});
