/**
 * @module test/unit/deploy/kubernetes-cluster-store
 * `render kubernetes` with a shared protection store (cluster.redis.*): the URL reaches the
 * pods in the ConfigMap; the password and CA files come from the `<name>-redis` Secret,
 * mounted whole, and the pod config points at them; without a store, or without files,
 * nothing is added. The StatefulSet still passes the real Kubernetes schema.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { CLUSTER_STORE_PATHS } from '../../../src/deploy/cluster-store.js';
import { CONFIG_KEY } from '../../../src/deploy/kubernetes/config-map.js';
import { only, render, scenario } from './kubernetes-fixtures.js';
import type { Loose } from './kubernetes-fixtures.js';
import { validateCore } from './kubernetes-validate.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const base = scenario('defaults, 3 replicas');
const withStore = {
  ...base,
  cluster: { redis: { url: 'rediss://kftpd@valkey.kftpd.svc:6379/0', passwordFile: '/operator/laptop/redis-password', caFile: '/operator/laptop/ca.pem' } },
};

test('the store URL, password and CA reach the pods: ConfigMap and the <name>-redis Secret mounted whole', async () => {
  const { objects } = render(withStore);
  const statefulSet = only(objects, 'StatefulSet');
  validateCore(statefulSet);
  const spec = statefulSet.spec.template.spec;
  const volume = spec.volumes.find((v: Loose) => v.name === 'redis');
  assert.deepEqual(volume, {
    name: 'redis',
    secret: {
      secretName: 'kftpd-redis',
      items: [
        { key: 'password', path: 'password' },
        { key: 'ca.crt', path: 'ca.crt' },
      ],
    },
  });
  const mount: Loose = spec.containers[0].volumeMounts.find((m: Loose) => m.name === 'redis');
  assert.deepEqual(mount, { name: 'redis', mountPath: CLUSTER_STORE_PATHS.dir, readOnly: true });
  assert.equal((mount as Loose).subPath, undefined, 'whole mount: Secret updates arrive');

  const dir = await mkdtemp(join(tmpdir(), 'kftpd-render-redis-'));
  dirs.push(dir);
  const file = join(dir, 'kftpd.yaml');
  await writeFile(file, only(objects, 'ConfigMap').data[CONFIG_KEY] as string);
  const pod = (await loadConfig({ file, env: {}, args: [] })).config;
  assert.equal(pod.cluster.redis.url, 'rediss://kftpd@valkey.kftpd.svc:6379/0');
  assert.equal(pod.cluster.redis.passwordFile, CLUSTER_STORE_PATHS.passwordFile);
  assert.equal(pod.cluster.redis.caFile, CLUSTER_STORE_PATHS.caFile);
  assert.equal(`${mount.mountPath}/password`, pod.cluster.redis.passwordFile);
});

test('a store without password or CA files, and no store at all, add no volume', () => {
  for (const input of [base, { ...base, cluster: { redis: { url: 'redis://valkey:6379' } } }]) {
    const spec = only(render(input).objects, 'StatefulSet').spec.template.spec;
    assert.equal(spec.volumes.some((v: Loose) => v.name === 'redis'), false);
    assert.equal(spec.containers[0].volumeMounts.some((m: Loose) => m.name === 'redis'), false);
  }
  const passwordOnly = only(render({ ...base, cluster: { redis: { url: 'redis://valkey:6379', passwordFile: 'x' } } }).objects, 'StatefulSet').spec.template.spec;
  assert.deepEqual(
    passwordOnly.volumes.find((v: Loose) => v.name === 'redis').secret.items,
    [{ key: 'password', path: 'password' }],
  );
});
