import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { describeRun, sha256File, writeRandomFile } from '../helpers/integration.js';
import { announcedPorts, curlArgs, ftpUrlAt } from './cluster.js';
import { Topology, topologySkipReason } from './fixture.js';

const skip = topologySkipReason();

describe('topology', { timeout: 240_000 }, () => {
  const topo = new Topology();
  before(async () => {
    if (!skip) await topo.setUp();
  });
  after(async () => {
    if (!skip) await topo.tearDown(process.env.KFTPD_TOPOLOGY_KEEP === '1');
  });

  it('one transfer', async (t) => {
    if (skip) return t.skip(skip);
    const src = topo.clientFile('one.bin');
    const sum = await writeRandomFile(src, 1024 * 1024);
    const up = await topo.net.exec('client', 'curl', curlArgs(topo.pki.caFile, ['-T', src, ftpUrlAt('one.bin')]), { timeoutMs: 30_000 });
    assert.equal(up.code, 0, describeRun(up));
    console.log(announcedPorts(up));
    assert.equal(await sha256File(topo.storageFile('one.bin')), sum);
  });
});
