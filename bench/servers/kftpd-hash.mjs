/**
 * kftpd with the verification cache off (`--users.verificationCache=false`): every login runs
 * the scrypt hash, as every reference server runs its crypt() on every login. kftpd's default
 * caches successful verifications, so in the short-sessions metric (one user logging in 1,000
 * or 5,000 times) the plain kftpd column pays the hash once; this column is kftpd at equal login
 * cost, and the difference between the two is the share of the hash. Only the short-sessions
 * metric runs: nothing else logs in more than a few times.
 */
import { calibratedLogN } from '../lib/hash-cost.mjs';
import kftpd, { launchingWith } from './kftpd.mjs';

export default {
  name: 'kftpd-hash',
  role: 'variant',
  reuse: kftpd.reuse,
  loginCost() {
    const c = calibratedLogN();
    return `scrypt N=2^${c.logN}, r=8, p=1 (${c.scryptMs.toFixed(2)} ms CPU here) on every login (users.verificationCache: false)`;
  },
  metrics: ['sessions'],

  async prepare(env) {
    return kftpd.prepare.call(this, env);
  },

  async start(env, ports) {
    return kftpd.start.call(this, launchingWith(env, 'kftpd-hash', ['--users.verificationCache=false']), ports);
  },
};
