import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatXferlogLine } from '../../../src/observability/xferlog.js';

describe('xferlog line', () => {
  it('formats the 14 wu-ftpd fields', () => {
    const line = formatXferlogLine({
      endedAt: new Date(Date.UTC(2026, 10, 6, 9, 5, 7)),
      durationMs: 1500,
      remoteAddress: '203.0.113.9',
      bytes: 1234,
      path: '/in/file name.csv',
      ascii: false,
      direction: 'upload',
      anonymous: false,
      user: 'alice',
      complete: true,
      service: 'ftp',
    });
    assert.equal(line, 'Fri Nov  6 09:05:07 2026 2 203.0.113.9 1234 /in/file_name.csv b _ i r alice ftp 0 * c');
    assert.equal(line.split(' ').filter(Boolean).length, 18);
  });

  it('marks downloads, anonymous users, ASCII and incomplete transfers', () => {
    const line = formatXferlogLine({
      endedAt: new Date(Date.UTC(2026, 0, 15, 23, 59, 59)),
      durationMs: 0,
      remoteAddress: '::1',
      bytes: 0,
      path: '/a',
      ascii: true,
      direction: 'download',
      anonymous: true,
      user: 'anonymous',
      complete: false,
      service: 'ftp',
    });
    assert.equal(line, 'Thu Jan 15 23:59:59 2026 1 ::1 0 /a a _ o a anonymous ftp 0 * i');
  });

  it('names the service of SFTP transfers "sftp"', () => {
    const line = formatXferlogLine({
      endedAt: new Date(Date.UTC(2026, 0, 15, 23, 59, 59)),
      durationMs: 2000,
      remoteAddress: '198.51.100.7',
      bytes: 10,
      path: '/b',
      ascii: false,
      direction: 'upload',
      anonymous: false,
      user: 'bob',
      complete: true,
      service: 'sftp',
    });
    assert.equal(line, 'Thu Jan 15 23:59:59 2026 2 198.51.100.7 10 /b b _ i r bob sftp 0 * c');
  });
});
