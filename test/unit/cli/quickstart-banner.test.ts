/**
 * @module test/unit/quickstart-banner.test
 * The quick-start banner: the FTP lines, and with SFTP on, the sftp line to try and the host
 * key fingerprints to compare with what the client shows on its first connection.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quickstartBanner } from '../../../src/cli/quickstart.js';

const quick = { usersFile: '/s/users.yaml', user: 'kftpd', password: 'pw', created: true };

describe('quick-start banner', () => {
  it('prints the sftp line and the host key fingerprints when SFTP is on', () => {
    const text = quickstartBanner(quick, '127.0.0.1', 2121, 'data', null, { port: 2222, fingerprints: ['ssh-ed25519 SHA256:abc'] });
    assert.match(text, /curl -u kftpd:pw ftp:\/\/127\.0\.0\.1:2121\//);
    assert.match(text, /^ {2}sftp -P 2222 kftpd@127\.0\.0\.1$/m);
    assert.match(text, /host key: ssh-ed25519 SHA256:abc/);
  });

  it('has no SFTP lines when SFTP is off', () => {
    // Not /sftp/i: the served folder's absolute path may contain those letters (a checkout named *sftp*).
    assert.doesNotMatch(quickstartBanner(quick, '127.0.0.1', 2121, 'data', null), /^ {2}sftp |host key/m);
  });
});
